"""Per-call overhead of costline's OpenAI instrumentation, beside the bare SDK, a hand-made span and the official one.

    python benchmarks/instrumentation_overhead.py [--calls 200] [--rounds 15]

Each variant makes real `openai` SDK calls whose HTTP layer is an in-process
`httpx2.MockTransport` answering with the fake provider's bodies, so what is timed is the
SDK plus the instrumentation, not a socket. Spans go to a BatchSpanProcessor with a
no-op exporter (the exporter thread's work is excluded, the queueing is not). The
baggage span processor and trust boundary are installed and two tags are active, as in
an app started by `opentelemetry-instrument`. The variants:

  (i)   bare SDK            no instrumentation;
  (ii)  SDK + span by hand  the same SDK call inside one plain OTel span carrying the
                            attributes of costline's span (request ones at start, response
                            and usage ones at the end; values captured beforehand, not
                            read from the call): what any span-emitting instrumentation
                            pays at least, the SDK's span machinery;
  (iii) costline            `OpenAIInstrumentor`;
  (iv)  official openai-v2  opentelemetry-instrumentation-openai-v2, if installed.

Variants run interleaved (their order rotating), round after round. Per workload it
prints the best round's mean µs per call (as `timeit` advises: on a shared machine,
interference only ever adds time) and the median round's, and the overheads as the
median over rounds of the difference to (i) and to (ii) measured in the same round.

Then, without the SDK (no HTTP, no parsing), timed the same way but a hundred times
more often: the hand-made span alone, and costline's wrapper around a stand-in for
`create` that returns a ready response. Their difference is costline's own work per
call. Prints numbers, gates nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import timeit
from collections.abc import Callable

import httpx2
import openai
from opentelemetry import context, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import costline
from costline.instrumentation import configurator
from costline.instrumentation.openai import OpenAIInstrumentor
from costline_processor.demo.fake_provider import chat_chunks, chat_json

MESSAGES = [{"role": "user", "content": "benchmark this prompt please"}]
BARE, HAND, COSTLINE, OFFICIAL = "bare SDK", "SDK + span by hand", "costline", "official openai-v2"
# Attributes costline knows before the call (the rest are set when the response is read).
_START_PREFIXES = ("gen_ai.operation.", "gen_ai.provider.", "gen_ai.request.", "server.")


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
    sync = openai.OpenAI(
        api_key="k",
        base_url="http://bench.local/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(_answer)),
    )
    async_ = openai.AsyncOpenAI(
        api_key="k",
        base_url="http://bench.local/v1",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(_answer)),
    )
    return sync, async_


def _instrumentors(provider: TracerProvider) -> dict[str, tuple[Callable[[], None], Callable[[], None]]]:
    """Variant name -> (instrument, uninstrument); the hand-made span is in the workloads."""
    nothing = (lambda: None, lambda: None)
    out: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {BARE: nothing, HAND: nothing}
    ours = OpenAIInstrumentor()
    out[COSTLINE] = (lambda: ours.instrument(tracer_provider=provider), ours.uninstrument)
    try:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as Official
    except ImportError as error:  # not installed, or its util-genai does not match
        print(f"(official openai-v2 instrumentation unavailable: {error})")
    else:
        official = Official()
        out[OFFICIAL] = (lambda: official.instrument(tracer_provider=provider), official.uninstrument)
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


class SpanShape:
    """Name and attributes of the span costline makes for one call (captured, not guessed), split in two."""

    def __init__(self, name: str, attributes: dict) -> None:
        self.name = name
        # The SDK exports sequences as tuples; costline hands it lists (finish reasons), which the
        # SDK cleans for fewer instructions than tuples, so the hand-made span gets lists too.
        attributes = {k: list(v) if isinstance(v, tuple) else v for k, v in attributes.items()}
        self.start = {k: v for k, v in attributes.items() if k.startswith(_START_PREFIXES)}
        self.end = {k: v for k, v in attributes.items() if k not in self.start}

    def __len__(self) -> int:
        return len(self.start) + len(self.end)


def _span_shapes(sync: openai.OpenAI) -> tuple[SpanShape, SpanShape]:
    """(chat, streamed chat): costline's spans for them (no tags: no baggage processor on this provider)."""
    capture = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(capture))
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    sync.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    list(
        sync.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    OpenAIInstrumentor().uninstrument()
    chat, stream = capture.get_finished_spans()
    return SpanShape(chat.name, dict(chat.attributes)), SpanShape(stream.name, dict(stream.attributes))


class ByHand:
    """The SDK call inside one plain span with a given shape: start, make current, call, set the rest, end."""

    def __init__(self, tracer: trace.Tracer, shape: SpanShape) -> None:
        self.tracer, self.shape = tracer, shape

    def call(self, sdk_call: Callable[[], object]) -> object:
        shape = self.shape
        span = self.tracer.start_span(shape.name, kind=SpanKind.CLIENT, attributes=shape.start)
        token = context.attach(trace.set_span_in_context(span))
        try:
            result = sdk_call()
        finally:
            context.detach(token)
        span.set_attributes(shape.end)
        span.end()
        return result

    def stream(self, sdk_call: Callable[[], object]) -> list:
        shape = self.shape
        span = self.tracer.start_span(shape.name, kind=SpanKind.CLIENT, attributes=shape.start)
        token = context.attach(trace.set_span_in_context(span))
        try:
            stream = sdk_call()
        finally:
            context.detach(token)
        items = list(stream)  # type: ignore[call-overload]
        span.set_attributes(shape.end)
        span.end()
        return items

    async def acall(self, sdk_call: Callable[[], object]) -> object:
        shape = self.shape
        span = self.tracer.start_span(shape.name, kind=SpanKind.CLIENT, attributes=shape.start)
        token = context.attach(trace.set_span_in_context(span))
        try:
            result = await sdk_call()  # type: ignore[misc]
        finally:
            context.detach(token)
        span.set_attributes(shape.end)
        span.end()
        return result

    async def astream(self, sdk_call: Callable[[], object]) -> list:
        shape = self.shape
        span = self.tracer.start_span(shape.name, kind=SpanKind.CLIENT, attributes=shape.start)
        token = context.attach(trace.set_span_in_context(span))
        try:
            stream = await sdk_call()  # type: ignore[misc]
        finally:
            context.detach(token)
        items = [c async for c in stream]  # type: ignore[attr-defined]
        span.set_attributes(shape.end)
        span.end()
        return items


def _workloads(hand: tuple[ByHand, ByHand] | None) -> dict[str, Callable[[int], float]]:
    """Timers per workload; with `hand`, each SDK call runs inside a hand-made span."""
    sync, async_ = _clients()  # new per round: async clients bind to one event loop

    def chat() -> object:
        return sync.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    def stream() -> object:
        return sync.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )

    async def achat() -> object:
        return await async_.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    async def astream() -> object:
        return await async_.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )

    if hand is None:

        async def read_astream() -> object:
            return [c async for c in await astream()]  # type: ignore[attr-defined]

        return {
            "sync chat": lambda n: _time_sync(chat, n),
            "async chat": lambda n: _time_async(achat, n),
            "sync chat, streamed": lambda n: _time_sync(lambda: list(stream()), n),  # type: ignore[call-overload]
            "async chat, streamed": lambda n: _time_async(read_astream, n),
        }
    plain, streamed = hand
    return {
        "sync chat": lambda n: _time_sync(lambda: plain.call(chat), n),
        "async chat": lambda n: _time_async(lambda: plain.acall(achat), n),
        "sync chat, streamed": lambda n: _time_sync(lambda: streamed.stream(stream), n),
        "async chat, streamed": lambda n: _time_async(lambda: streamed.astream(astream), n),
    }


def _without_sdk(provider: TracerProvider, shape: SpanShape, calls: int, rounds: int) -> dict[str, float]:
    """Best µs per call, interleaved: the hand-made span alone; costline's wrapper around a stand-in `create`."""
    sync, _ = _clients()
    completions = sync.chat.completions
    response = sync.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES).parse()
    hand = ByHand(provider.get_tracer("by-hand"), shape)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        wrapper = type(completions).__dict__["create"]  # the wrapt FunctionWrapper costline put there
        traced, kwargs = wrapper._self_wrapper, {"model": "gpt-4o", "messages": MESSAGES}

        def stand_in(*args: object, **kw: object) -> object:
            return response

        timers = {
            "span by hand, no SDK call": lambda: hand.call(lambda: response),
            "costline's wrapper, stand-in SDK call": lambda: traced(stand_in, completions, (), kwargs),
        }
        best = dict.fromkeys(timers, float("inf"))
        for _ in range(rounds):
            for label, fn in timers.items():
                best[label] = min(best[label], timeit.timeit(fn, number=calls) / calls * 1e6)
    finally:
        instrumentor.uninstrument()
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per variant per workload per round")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DropExporter(), max_queue_size=65536))
    trace.set_tracer_provider(provider)
    configurator.install(provider)
    variants = _instrumentors(provider)
    shapes = _span_shapes(_clients()[0])
    tracer = provider.get_tracer("by-hand")
    hand = (ByHand(tracer, shapes[0]), ByHand(tracer, shapes[1]))

    def workloads(name: str) -> dict[str, Callable[[int], float]]:
        return _workloads(hand if name == HAND else None)

    results: dict[tuple[str, str], list[float]] = {}
    names = list(variants)
    with costline.attribution(customer_id="bench", feature="overhead"):
        for name, (instrument, uninstrument) in variants.items():  # warm-up: imports, caches
            instrument()
            for run in workloads(name).values():
                run(max(50, args.calls // 10))
            uninstrument()
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate who goes first
                instrument, uninstrument = variants[name]
                instrument()
                for workload, run in workloads(name).items():
                    results.setdefault((workload, name), []).append(run(args.calls))
                uninstrument()
        without_sdk = _without_sdk(provider, shapes[0], args.calls * 10, args.rounds)

    def paired(workload: str, name: str, base: str) -> float:
        return statistics.median(a - b for a, b in zip(results[(workload, name)], results[(workload, base)]))

    print(
        f"\nµs per call, {args.rounds} rounds x {args.calls} calls per variant and workload "
        f"(in-process transport, no socket); costline's span: {len(shapes[0])} attributes + 2 tags"
    )
    for label, pick in (("best round", min), ("median round", statistics.median)):
        print(f"\n{label}")
        print(f"{'workload':<22}" + "".join(f"{n:>20}" for n in names))
        for workload in workloads(BARE):
            print(f"{workload:<22}" + "".join(f"{pick(results[(workload, n)]):>20.1f}" for n in names))
    print("\noverhead per call: median over rounds of the difference within a round, µs")
    others = [n for n in names if n not in (BARE, HAND)]
    print(f"{'workload':<22}{'(ii) - (i)':>14}" + "".join(f"{n + ' - (i)':>26}{n + ' - (ii)':>26}" for n in others))
    for workload in workloads(BARE):
        row = f"{workload:<22}{paired(workload, HAND, BARE):>+14.1f}"
        for n in others:
            row += f"{paired(workload, n, BARE):>+26.1f}{paired(workload, n, HAND):>+26.1f}"
        print(row)
    print(f"\nwithout the SDK (best of {args.rounds} x {args.calls * 10} calls, chat span, 2 tags):")
    for label, us in without_sdk.items():
        print(f"  {label:<42}{us:>8.1f} µs")
    span_alone, wrapper = without_sdk.values()
    print(f"  {'costline beyond the span':<42}{wrapper - span_alone:>+8.1f} µs")
    provider.shutdown()


if __name__ == "__main__":
    main()
