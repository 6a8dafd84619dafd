"""Logfire's own SDK set-up (`logfire.configure(send_to_logfire=False)`) exporting over OTLP to
costline, with `logfire.instrument_openai()`: a chat call non-streamed and one streamed (the
request asks for the usage chunk)."""

from __future__ import annotations

import logfire
import openai
import otel_setup
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import costline
from costline.instrumentation.baggage import CostlineBaggageSpanProcessor

logfire.configure(
    send_to_logfire=False,
    service_name="logfire-app",
    console=False,
    additional_span_processors=[
        CostlineBaggageSpanProcessor(),
        BatchSpanProcessor(otel_setup.exporter(), schedule_delay_millis=50),
    ],
)
client = openai.OpenAI(base_url=otel_setup.BASE + "/v1", api_key="k", max_retries=0)
logfire.instrument_openai(client)

with costline.attribution(**otel_setup.TAGS), logfire.span("POST /chat"):
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "one two three"}])
    for _ in client.chat.completions.create(
        model="gpt-4o-mini",
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "four five"}],
    ):
        pass
logfire.force_flush()
logfire.shutdown()
