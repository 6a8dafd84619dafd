"""anthropic 2.x tracing itself beside OpenInference's anthropic instrumentor: one call
non-streamed, one with `stream=True`, one with `client.messages.stream()`."""

from __future__ import annotations

import anthropic
import otel_setup
from openinference.instrumentation.anthropic import AnthropicInstrumentor

import costline

provider = otel_setup.start("openinference-anthropic-app")
AnthropicInstrumentor().instrument(tracer_provider=provider)
client = anthropic.Anthropic(base_url=otel_setup.BASE, api_key="k", max_retries=0)
tracer = provider.get_tracer("app")

with costline.attribution(**otel_setup.TAGS), tracer.start_as_current_span("POST /chat"):
    client.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=64,
        system="be brief",
        messages=[{"role": "user", "content": "one two three"}],
    )
    for _ in client.messages.create(
        model="claude-sonnet-4-5", max_tokens=64, stream=True, messages=[{"role": "user", "content": "four five"}]
    ):
        pass
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "six seven eight nine"}]
    ) as stream:
        stream.get_final_message()
provider.shutdown()
