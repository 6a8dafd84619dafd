"""Calls the way apps on old openai and anthropic SDKs make them, traced by costline, against the fake provider.

Run by test_oldest_sdks.py with the old SDK first on the path (.sdk-oldest/). Prints one JSON line:
the SDK version and, per call label, the model-call spans costline made (name and usage attributes).
"""

from __future__ import annotations

import json
import sys

import anthropic
import openai
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from costline.instrumentation.anthropic import AnthropicInstrumentor
from costline.instrumentation.openai import OpenAIInstrumentor
from costline_processor.demo.fake_provider import FakeProvider

MESSAGES = [{"role": "user", "content": "what does the fox say"}]  # 5 words


def spans(exporter: InMemorySpanExporter) -> list[dict]:
    found = [
        {
            "name": s.name,
            **{k: v for k, v in (s.attributes or {}).items() if k.startswith(("gen_ai.usage", "costline"))},
        }
        for s in exporter.get_finished_spans()
        if "gen_ai.operation.name" in (s.attributes or {})
    ]
    exporter.clear()
    return found


def main() -> None:
    provider, exporter = TracerProvider(), InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    AnthropicInstrumentor().instrument(tracer_provider=provider)
    out: dict = {"version": openai.__version__, "anthropic_version": anthropic.__version__}
    with FakeProvider() as fake:
        client = openai.OpenAI(base_url=fake.openai_base_url, api_key="test-key", max_retries=0)
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        out["create"] = spans(exporter)
        list(
            client.chat.completions.create(
                model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
        )
        out["stream"] = spans(exporter)
        client.beta.chat.completions.parse(model="gpt-4o", messages=MESSAGES)
        out["beta_parse"] = spans(exporter)
        with client.beta.chat.completions.stream(
            model="gpt-4o", messages=MESSAGES, stream_options={"include_usage": True}
        ) as s:
            s.get_final_completion()
        out["beta_stream"] = spans(exporter)
        client.embeddings.create(model="text-embedding-3-small", input="what does the fox say")
        out["embeddings"] = spans(exporter)
        claude = anthropic.Anthropic(base_url=fake.base_url, api_key="test-key", max_retries=0)
        one_hour = [
            {"type": "text", "text": MESSAGES[0]["content"], "cache_control": {"type": "ephemeral", "ttl": "1h"}}
        ]
        request = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": one_hour}]}
        claude.messages.create(**request)
        out["anthropic_create"] = spans(exporter)
        list(claude.messages.create(stream=True, **request))
        out["anthropic_stream"] = spans(exporter)
        with claude.messages.stream(**request) as s:
            s.get_final_message()
        out["anthropic_helper"] = spans(exporter)
        claude.beta.prompt_caching.messages.create(**request)
        out["anthropic_prompt_caching"] = spans(exporter)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
