"""Two processes under the launcher: A tags a request and calls B over HTTP; B calls the providers.

B's model spans must carry A's tags (when B trusts its caller), the providers must
receive no attribution baggage even though B allows the providers' host for other
traffic, and a host outside A's allow-list must get none either.
"""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

import pytest

from tests.fakes.otlp_sink import OtlpSink
from tests.instrumentation.launcher import app_env, run_app, start_app

TAGS = {"customer_id": "acme", "feature": "search"}
SERVER, CLIENT = 2, 3


def costline_baggage(headers: dict) -> dict[str, str]:
    pairs = (item.split(";")[0].split("=", 1) for item in headers.get("baggage", "").split(",") if "=" in item)
    return {k.strip()[len("costline.") :]: unquote_plus(v) for k, v in pairs if k.strip().startswith("costline.")}


@pytest.fixture(scope="module", params=[True, False], ids=["b-trusts-a", "b-trusts-nobody"])
def two_services(request, fake):
    trust = request.param
    with OtlpSink() as sink:
        fake.clear()
        b_env = app_env(
            sink,
            "service-b",
            protocol="http/protobuf",
            FAKE_PROVIDER_URL=fake.base_url,
            COSTLINE_TRUST_INBOUND_BAGGAGE=str(trust).lower(),
            COSTLINE_BAGGAGE_ALLOWED_HOSTS="127.0.0.1",
        )  # even the providers' host
        b = start_app("service_b.py", b_env)
        try:
            port = int(b.stdout.readline())
            a_env = app_env(
                sink,
                "service-a",
                FAKE_PROVIDER_URL=fake.base_url,
                SERVICE_B_URL=f"http://localhost:{port}",
                COSTLINE_BAGGAGE_ALLOWED_HOSTS="localhost",
            )
            answers = json.loads(run_app("service_a.py", a_env).stdout.strip().splitlines()[-1])
            assert b.wait(timeout=30) == 0, b.stderr.read()
        finally:
            if b.poll() is None:
                b.kill()
        # A: 3 requests spans + 1 httpx span. B: 3 server spans; per /ask 2 model spans, their 2 HTTP
        # spans and 1 requests span.
        spans = sink.wait_for_spans(4 + 3 + 2 * 5)
        yield trust, answers, spans, fake.requests


def test_b_sees_the_tags_only_when_it_trusts_a(two_services):
    trust, answers, _, _ = two_services
    expected = TAGS if trust else {}
    assert answers == {"requests": expected, "httpx": expected}


def test_b_model_spans_carry_a_tags_in_one_trace(two_services):
    trust, _, spans, _ = two_services
    by_id = {s.span_id: s for s in spans}
    model_spans = [s for s in spans if s.scope.startswith("costline.instrumentation.")]
    assert sorted(s.name for s in model_spans) == ["chat claude-fake-1"] * 2 + ["chat gpt-4o"] * 2
    for span in model_spans:
        assert span.resource["service.name"] == "service-b"
        tags = {k: span.attributes.get(f"costline.{k}") for k in TAGS}
        assert tags == (TAGS if trust else {"customer_id": None, "feature": None})
        server = by_id[span.parent_span_id]  # B's server span ...
        assert server.kind == SERVER and server.resource["service.name"] == "service-b"
        client = by_id[server.parent_span_id]  # ... continues A's client span: one trace
        assert client.kind == CLIENT and client.resource["service.name"] == "service-a"
        assert span.trace_id == client.trace_id


def test_providers_receive_no_attribution_baggage(two_services):
    _, _, _, requests = two_services
    provider = [r for r in requests if r.path.startswith("/v1/")]
    assert sorted(r.path for r in provider) == ["/v1/chat/completions"] * 2 + ["/v1/messages"] * 2
    for r in provider:
        assert "traceparent" in r.headers  # B's HTTP instrumentation did inject here
        assert costline_baggage(r.headers) == {}


def test_baggage_follows_the_allow_lists(two_services):
    trust, _, _, requests = two_services
    external = [r for r in requests if r.path == "/external/from-a"]
    internal = [r for r in requests if r.path == "/internal/from-b"]
    assert len(external) == 1 and len(internal) == 2
    assert costline_baggage(external[0].headers) == {}  # not on A's allow-list
    for r in internal:  # on B's allow-list: B's tags (A's, if trusted) go on
        assert costline_baggage(r.headers) == (TAGS if trust else {})
