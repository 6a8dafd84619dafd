"""Per-call overhead of costline's OpenAI instrumentation, beside the bare SDK and the official one.

    python benchmarks/instrumentation_overhead.py [--calls 2000] [--rounds 7]

Each variant makes real `openai` SDK calls whose HTTP layer is an in-process
`httpx2.MockTransport` answering with the fake provider's bodies, so what is timed is the
SDK plus the instrumentation, not a socket. Spans go to a BatchSpanProcessor with a
no-op exporter (the exporter thread's work is excluded, the queueing is not). The
baggage span processor and trust boundary are installed and a tag is active, as in an
app started by `opentelemetry-instrument`. Variants run interleaved, round after round,
and each figure is the best round's mean µs per call (as `timeit` advises: on a shared
machine, interference only ever adds time); the medians are printed too. Prints
numbers, gates nothing.

The last line measures the floor that any span-emitting instrumentation pays: one SDK
span with the attributes of costline's chat span (start, make current, end), with no
SDK call around it. costline's own work is the overhead minus that floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable

import httpx2
import openai
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import costline
from costline.instrumentation import configurator
from costline.instrumentation.openai import OpenAIInstrumentor
from costline.processor.demo.fake_provider import chat_chunks, chat_json

MESSAGES = [{"role": "user", "content": "benchmark this prompt please"}]


class DropExporter(SpanExporter):
    def export(self, spans):  # type: ignore[no-untyped-def]
        return SpanExportResult.SUCCESS


def _answer(request: httpx2.Request) -> httpx2.Response:
    body = json.loads(request.content)
    if body.get("stream"):
        frames = [f"data: {json.dumps(c)}\n\n" for c in chat_chunks(body, "chatcmpl-b", "gpt-4o-1", "chat", False)]
        payload = "".join(frames + ["data: [DONE]\n\n"]).encode()
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=payload)
    return httpx2.Response(200, json=chat_json(body, "chatcmpl-b", "gpt-4o-1"))


def _clients() -> tuple[openai.OpenAI, openai.AsyncOpenAI]:
    sync = openai.OpenAI(api_key="k", base_url="http://bench.local/v1", max_retries=0,
                         http_client=httpx2.Client(transport=httpx2.MockTransport(_answer)))
    async_ = openai.AsyncOpenAI(api_key="k", base_url="http://bench.local/v1", max_retries=0,
                                http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(_answer)))
    return sync, async_


def _instrumentors(provider: TracerProvider) -> dict[str, tuple[Callable[[], None], Callable[[], None]]]:
    """Variant name -> (instrument, uninstrument)."""
    out: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {"bare SDK": (lambda: None, lambda: None)}
    ours = OpenAIInstrumentor()
    out["costline"] = (lambda: ours.instrument(tracer_provider=provider), ours.uninstrument)
    try:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as Official
    except ImportError as error:  # not installed, or its util-genai does not match
        print(f"(official openai-v2 instrumentation unavailable: {error})")
    else:
        official = Official()
        out["official openai-v2"] = (lambda: official.instrument(tracer_provider=provider), official.uninstrument)
    return out


def _time_sync(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - start) / calls / 1000


def _time_async(fn: Callable[[], object], calls: int) -> float:
    async def run() -> float:
        start = time.perf_counter_ns()
        for _ in range(calls):
            await fn()  # type: ignore[misc]
        return (time.perf_counter_ns() - start) / calls / 1000

    return asyncio.run(run())


def _chat_span_attributes(sync: openai.OpenAI) -> tuple[str, dict]:
    """Name and attributes of the span costline makes for one chat call (captured, not guessed)."""
    capture = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(capture))
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    sync.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    OpenAIInstrumentor().uninstrument()
    (span,) = capture.get_finished_spans()
    return span.name, {k: v for k, v in span.attributes.items() if not k.startswith("costline.customer")}


def _span_floor(provider: TracerProvider, name: str, attributes: dict, calls: int) -> float:
    from opentelemetry import context

    tracer = provider.get_tracer("floor")

    def one() -> None:
        span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        token = context.attach(trace.set_span_in_context(span))
        context.detach(token)
        span.end()

    return _time_sync(one, calls)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per variant per workload per round")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DropExporter(), max_queue_size=65536))
    trace.set_tracer_provider(provider)
    configurator.install(provider)
    variants = _instrumentors(provider)

    def workloads() -> dict[str, Callable[[int], float]]:
        sync, async_ = _clients()  # new per round: async clients bind to one event loop

        def chat() -> object:
            return sync.chat.completions.create(model="gpt-4o", messages=MESSAGES)

        def stream() -> object:
            return list(sync.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                                     stream_options={"include_usage": True}))

        async def achat() -> object:
            return await async_.chat.completions.create(model="gpt-4o", messages=MESSAGES)

        async def astream() -> object:
            s = await async_.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                                     stream_options={"include_usage": True})
            return [c async for c in s]

        return {
            "sync chat": lambda n: _time_sync(chat, n),
            "async chat": lambda n: _time_async(achat, n),
            "sync chat, streamed": lambda n: _time_sync(stream, n),
            "async chat, streamed": lambda n: _time_async(astream, n),
        }

    results: dict[tuple[str, str], list[float]] = {}
    floor_name, floor_attributes = _chat_span_attributes(_clients()[0])
    floors: list[float] = []
    with costline.attribution(customer_id="bench", feature="overhead"):
        for name, (instrument, uninstrument) in variants.items():  # warm-up: imports, caches
            instrument()
            for run in workloads().values():
                run(max(50, args.calls // 20))
            uninstrument()
        for _ in range(args.rounds):
            for name, (instrument, uninstrument) in variants.items():
                instrument()
                for workload, run in workloads().items():
                    results.setdefault((workload, name), []).append(run(args.calls))
                uninstrument()
            floors.append(_span_floor(provider, floor_name, floor_attributes, args.calls))

    names = list(variants)
    for label, pick in (("best round", min), ("median round", statistics.median)):
        print(f"\nµs per call, {label} of {args.rounds} x {args.calls} calls (in-process transport, no socket)")
        print(f"{'workload':<24}" + "".join(f"{n:>20}" for n in names)
              + "".join(f"{n + ' - bare':>28}" for n in names[1:]))
        for workload in workloads():
            figures = {n: pick(results[(workload, n)]) for n in names}
            print(f"{workload:<24}" + "".join(f"{figures[n]:>20.1f}" for n in names)
                  + "".join(f"{figures[n] - figures['bare SDK']:>+28.1f}" for n in names[1:]))
    print(f"floor: one SDK span with costline's {len(floor_attributes)} chat-span attributes "
          f"(+ the tags), no SDK call: best {min(floors):.1f} µs, median {statistics.median(floors):.1f} µs")
    provider.shutdown()


if __name__ == "__main__":
    main()
