"""Run one real SDK call, sync or async, against the fake provider, and read costline's spans."""

from __future__ import annotations

import asyncio
from operator import attrgetter
from typing import Any

import anthropic
import openai
from opentelemetry.trace import SpanKind

MODES = ("sync", "async")


def openai_client(fake: Any, mode: str, **kwargs: Any) -> Any:
    cls = openai.OpenAI if mode == "sync" else openai.AsyncOpenAI
    return cls(base_url=fake.openai_base_url, api_key="test-key", max_retries=0, **kwargs)


def anthropic_client(fake: Any, mode: str, **kwargs: Any) -> Any:
    cls = anthropic.Anthropic if mode == "sync" else anthropic.AsyncAnthropic
    return cls(base_url=fake.base_url, api_key="test-key", max_retries=0, **kwargs)


def call(client: Any, mode: str, method: str, **kwargs: Any) -> Any:
    """`client.<method>(**kwargs)`; a stream is read to the end and returned as a list."""
    fn = attrgetter(method)(client)
    if mode == "sync":
        result = fn(**kwargs)
        return list(result) if kwargs.get("stream") else result

    async def main() -> Any:
        result = await fn(**kwargs)
        return [item async for item in result] if kwargs.get("stream") else result

    return asyncio.run(main())


def model_spans(exporter: Any, scope: str | None = None) -> list[Any]:
    """Finished CLIENT spans that are model calls (have gen_ai.operation.name), oldest first."""
    spans = [
        s
        for s in exporter.get_finished_spans()
        if s.kind is SpanKind.CLIENT and "gen_ai.operation.name" in (s.attributes or {})
    ]
    if scope is not None:
        spans = [s for s in spans if s.instrumentation_scope.name == scope]
    return spans


def only_model_span(exporter: Any, scope: str | None = None) -> Any:
    spans = model_spans(exporter, scope)
    assert len(spans) == 1, [(s.name, s.instrumentation_scope.name) for s in spans]
    return spans[0]
