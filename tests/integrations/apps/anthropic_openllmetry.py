"""anthropic 2.x tracing itself (scope com.anthropic.sdk.python) beside OpenLLMetry's
anthropic instrumentor: one call non-streamed, one streamed with `stream=True`."""

from __future__ import annotations

import anthropic
import otel_setup
from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

import costline

provider = otel_setup.start("openllmetry-app")
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
    stream = client.messages.create(
        model="claude-sonnet-4-5", max_tokens=64, stream=True, messages=[{"role": "user", "content": "four five"}]
    )
    for _ in stream:
        pass
provider.shutdown()
