"""The stream proxies' per-item path: items hidden on the collector's word, a failing collector ignored."""

from __future__ import annotations

import asyncio

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from costline.instrumentation.genai_attributes import Usage
from costline.instrumentation.stream_proxies import TracedAsyncStream, TracedStream


class Collector:
    """Hides "usage", fails on "bad", counts what it read."""

    def __init__(self) -> None:
        self.read = 0

    def observe(self, item: str) -> bool:
        if item == "bad":
            raise ValueError(item)
        self.read += 1
        return item == "usage"

    def attributes(self) -> dict:
        return {"read": self.read}

    def usage(self) -> Usage | None:
        return Usage(input_tokens=1, output_tokens=2)


ITEMS = ["a", "bad", "b", "usage"]


def _span():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("t").start_span("chat m"), exporter


def test_sync_stream_items_and_the_span():
    span, exporter = _span()
    assert list(TracedStream(iter(ITEMS), span, Collector())) == ["a", "bad", "b"]
    (done,) = exporter.get_finished_spans()
    assert done.attributes["read"] == 3 and done.attributes["gen_ai.usage.output_tokens"] == 2


def test_async_stream_items_and_the_span():
    async def items():
        for item in ITEMS:
            yield item

    async def read() -> list:
        return [item async for item in TracedAsyncStream(items(), span, Collector())]

    span, exporter = _span()
    assert asyncio.run(read()) == ["a", "bad", "b"]
    (done,) = exporter.get_finished_spans()
    assert done.attributes["read"] == 3 and done.attributes["gen_ai.usage.input_tokens"] == 1


def test_sync_stream_by_next_and_loop_mixed():
    """`next()` (the proxy's `__next__`) and loops (its generator) read the one stream; the span ends once."""
    span, exporter = _span()
    stream = TracedStream(iter(["x", *ITEMS, "y"]), span, Collector())
    assert next(stream) == "x"
    seen = []
    for item in stream:
        seen.append(item)
        if item == "bad":
            break  # leaving the loop early does not end the span
    assert seen == ["a", "bad"] and exporter.get_finished_spans() == ()
    assert next(stream) == "b"
    assert list(stream) == ["y"]  # "usage" hidden
    (done,) = exporter.get_finished_spans()
    assert done.attributes["read"] == 5
    assert list(stream) == [] and len(exporter.get_finished_spans()) == 1


def test_sync_stream_error_mid_loop_ends_the_span_with_it():
    def items():
        yield "a"
        raise ConnectionError("dropped")

    span, exporter = _span()
    read = []
    try:
        for item in TracedStream(items(), span, Collector()):
            read.append(item)
    except ConnectionError:
        pass
    (done,) = exporter.get_finished_spans()
    assert read == ["a"] and done.attributes["error.type"] == "ConnectionError"
    assert done.attributes["read"] == 1 and done.status.description == "dropped"
