"""`server.address`/`server.port` from the SDK client, read on every call from a cache."""

from __future__ import annotations

import anthropic
import openai

from costline.instrumentation.llm_spans import server_attributes


def test_follows_the_clients_base_url_as_it_changes():
    client = openai.OpenAI(base_url="http://one.local:8001/v1", api_key="k")
    assert server_attributes(client) == {"server.address": "one.local", "server.port": 8001}
    client.base_url = "https://two.local/v1"
    assert server_attributes(client) == {"server.address": "two.local", "server.port": 443}
    other = anthropic.Anthropic(base_url="http://three.local", api_key="k")
    assert server_attributes(other) == {"server.address": "three.local", "server.port": 80}


def test_a_client_with_only_a_base_url_property_or_none():
    class URL:
        host, port, scheme = "four.local", None, "https"

    class Client:
        __slots__ = ()
        base_url = URL()

    assert server_attributes(Client()) == {"server.address": "four.local", "server.port": 443}
    assert server_attributes(object()) == {}
    assert server_attributes(None) == {}
