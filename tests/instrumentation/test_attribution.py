"""Attribution tags: baggage entries, decorator forms, and how they reach spans in tasks and threads."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry import baggage, context

import costline
from costline.instrumentation.attribution import attribution, current_tags, with_current_context


def test_context_manager_sets_and_removes_baggage():
    assert current_tags() == {}
    with costline.attribution(customer_id="acme", feature="search") as tags:
        assert baggage.get_baggage("costline.customer_id") == "acme"
        assert baggage.get_baggage("costline.feature") == "search"
        assert tags.tags == {"customer_id": "acme", "feature": "search"}
    assert baggage.get_all() == {}


def test_nested_blocks_add_and_override():
    with attribution(customer_id="acme", feature="search"):
        with attribution(feature="export", user_id=42, team=None):
            assert current_tags() == {"customer_id": "acme", "feature": "export", "user_id": "42"}
        assert current_tags() == {"customer_id": "acme", "feature": "search"}


def test_invalid_tag_name_is_a_plain_error():
    with pytest.raises(ValueError, match="tag name"):
        attribution(**{"bad name": "x"})
    for reserved in ("usage", "usage.missing", "step.name", "reported_cost"):
        with pytest.raises(ValueError, match="reserved"):
            attribution(**{reserved: "x"})


def test_sync_decorator():
    @costline.attribution(feature="report")
    def run(x: int) -> dict:
        return {**current_tags(), "x": x}

    assert run(1) == {"feature": "report", "x": 1}
    assert current_tags() == {}


def test_async_decorator_isolates_concurrent_calls():
    tag = costline.attribution(feature="batch")

    @tag
    async def job(customer: str) -> dict:
        with attribution(customer_id=customer):
            await asyncio.sleep(0.01)
            return current_tags()

    async def main() -> list[dict]:
        return await asyncio.gather(job("a"), job("b"))

    assert asyncio.run(main()) == [{"feature": "batch", "customer_id": "a"}, {"feature": "batch", "customer_id": "b"}]


def test_spans_in_the_context_get_the_tags(exporter, tracer_provider):
    tracer = tracer_provider.get_tracer("app")
    token = context.attach(baggage.set_baggage("other.key", "not-copied"))
    try:
        with attribution(customer_id="acme"):
            with tracer.start_as_current_span("outer"):
                with tracer.start_as_current_span("inner"):
                    pass
    finally:
        context.detach(token)
    spans = {s.name: s.attributes for s in exporter.get_finished_spans()}
    assert spans["outer"] == {"costline.customer_id": "acme"}
    assert spans["inner"] == {"costline.customer_id": "acme"}


def test_asyncio_tasks_inherit_the_tags(exporter, tracer_provider):
    tracer = tracer_provider.get_tracer("app")

    async def child() -> None:
        with tracer.start_as_current_span("in-task"):
            await asyncio.sleep(0)

    async def main() -> None:
        with attribution(customer_id="acme"):
            task = asyncio.create_task(child())
        await task  # created inside the block: it copied the context then

    asyncio.run(main())
    assert exporter.get_finished_spans()[0].attributes["costline.customer_id"] == "acme"


def test_threads_need_the_context_handed_over():
    seen: dict[str, dict] = {}

    def record(name: str) -> None:
        seen[name] = current_tags()

    with attribution(customer_id="acme"):
        plain = threading.Thread(target=record, args=("plain",))
        bound = threading.Thread(target=with_current_context(record), args=("bound",))
        copied = threading.Thread(target=contextvars.copy_context().run, args=(record, "copied"))
        for t in (plain, bound, copied):
            t.start()
            t.join()
        with ThreadPoolExecutor(max_workers=2) as pool:
            pool.submit(with_current_context(record), "pool").result()
            ctx = contextvars.copy_context()
            pool.submit(ctx.run, record, "pool-copy").result()
    assert seen["plain"] == {}  # a plain thread starts with an empty context
    for name in ("bound", "copied", "pool", "pool-copy"):
        assert seen[name] == {"customer_id": "acme"}, name


def test_bound_function_can_run_twice():
    with attribution(customer_id="acme"):
        fn = with_current_context(current_tags)
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert [f.result() for f in [pool.submit(fn), pool.submit(fn)]] == [{"customer_id": "acme"}] * 2
