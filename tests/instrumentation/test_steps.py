"""costline.step: INTERNAL spans that model calls nest under."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import costline
from tests.instrumentation.sdk_calls import call, openai_client


def test_step_wraps_model_calls(fake, exporter, instrument_openai):
    with costline.step("plan") as plan_span:
        with costline.step("retrieve"):
            call(openai_client(fake, "sync"), "sync", "embeddings.create", model="emb", input="a b")
    spans = {s.name: s for s in exporter.get_finished_spans()}
    plan, retrieve, model = spans["plan"], spans["retrieve"], spans["embeddings emb"]
    assert plan.kind is SpanKind.INTERNAL and retrieve.kind is SpanKind.INTERNAL
    assert plan.attributes == {"costline.step.name": "plan"}
    assert retrieve.attributes == {"costline.step.name": "retrieve"}
    assert "gen_ai.operation.name" not in plan.attributes
    assert retrieve.parent.span_id == plan.context.span_id
    assert model.parent.span_id == retrieve.context.span_id
    assert plan_span.get_span_context().span_id == plan.context.span_id


def test_sync_decorator_records_and_reraises(exporter):
    boom = RuntimeError("no")

    @costline.step("load")
    def load() -> None:
        raise boom

    with pytest.raises(RuntimeError) as caught:
        load()
    assert caught.value is boom
    span = exporter.get_finished_spans()[0]
    assert span.attributes["error.type"] == "RuntimeError"
    assert span.status.status_code is StatusCode.ERROR


def test_async_decorator_and_context_manager(exporter):
    @costline.step("summarise")
    async def summarise() -> str:
        async with costline.step("draft"):
            await asyncio.sleep(0)
        return "ok"

    assert asyncio.run(summarise()) == "ok"
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["draft"].parent.span_id == spans["summarise"].context.span_id


def test_cancellation_ends_the_step(exporter):
    @costline.step("wait")
    async def wait() -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.create_task(wait())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert exporter.get_finished_spans()[0].attributes["error.type"] == "CancelledError"


def test_steps_carry_attribution_tags(exporter):
    with costline.attribution(feature="agent"), costline.step("act"):
        pass
    assert exporter.get_finished_spans()[0].attributes["costline.feature"] == "agent"


def test_step_needs_a_name():
    with pytest.raises(ValueError):
        costline.step(" ")
