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


class Agent:
    @costline.step
    def plan(self) -> str:
        return "planned"

    @costline.step()
    async def act(self) -> str:
        return "acted"


def test_an_unnamed_step_is_named_after_the_function(exporter):
    @costline.step
    def retrieve(query: str) -> str:
        return query

    @costline.step()
    def rerank() -> None:
        pass

    assert retrieve("q") == "q" and retrieve.__name__ == "retrieve"
    rerank()
    agent = Agent()
    assert agent.plan() == "planned" and asyncio.run(agent.act()) == "acted"
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == [
        "test_an_unnamed_step_is_named_after_the_function.<locals>.retrieve",
        "test_an_unnamed_step_is_named_after_the_function.<locals>.rerank",
        "Agent.plan",
        "Agent.act",
    ]
    assert all(s.attributes["costline.step.name"] == s.name for s in exporter.get_finished_spans())


def test_a_step_used_with_with_still_needs_a_name():
    with pytest.raises(ValueError, match="needs a name when used with `with`"):
        with costline.step():
            pass
    with pytest.raises(ValueError, match="non-empty name"):
        costline.step("  ")
