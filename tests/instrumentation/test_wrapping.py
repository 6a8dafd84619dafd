"""The shared call template (`costline.instrumentation.wrapping`), with a stand-in SDK method."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar

import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation

from costline.instrumentation import trust_boundary
from costline.instrumentation.llm_spans import LLMSpans, finish
from costline.instrumentation.wrapping import CallPlan, Site, async_wrapper, sync_wrapper

MARKER: ContextVar[bool] = ContextVar("test_wrapping_marker", default=False)


def plan(tracer_provider, *, start=None, record=None, wrapper_below=False) -> CallPlan:
    spans = LLMSpans(tracer_provider.get_tracer("test-wrapping"), "test", capture_content=False, defer_to_others=True)

    def default_start(instance, kwargs):
        return "chat", kwargs.get("model"), {}, {**kwargs, "added": True}, "note"

    return CallPlan(spans, Site(wrapper_below, lambda: False), start or default_start, record or recorder([]), MARKER)


def recorder(seen: list):
    def record(span, result, note):
        assert note == "note"
        seen.append(result)
        finish(span, None, None)
        return "recorded"

    return record


def sdk(**kwargs):
    """A stand-in SDK method: reports what it saw while it ran."""
    return {
        "kwargs": kwargs,
        "marked": MARKER.get(),
        "span": trace.get_current_span().is_recording(),
        "provider_call": trust_boundary._provider_call.get(),
    }


def test_a_traced_call(tracer_provider, exporter):
    seen: list = []
    result = sync_wrapper(plan(tracer_provider, record=recorder(seen)))(sdk, None, (), {"model": "m"})
    assert result == "recorded"
    assert seen == [{"kwargs": {"model": "m", "added": True}, "marked": True, "span": True, "provider_call": True}]
    [span] = exporter.get_finished_spans()
    assert span.name == "chat m"
    assert not MARKER.get() and not trust_boundary._provider_call.get()
    assert not trace.get_current_span().is_recording()


def test_covered_elsewhere_calls_the_sdk_untraced(tracer_provider, exporter):
    result = sync_wrapper(plan(tracer_provider, wrapper_below=True))(sdk, None, (), {"model": "m"})
    assert result == {"kwargs": {"model": "m"}, "marked": False, "span": False, "provider_call": True}
    assert exporter.get_finished_spans() == ()


def test_suppressed_instrumentation_only_calls_the_sdk(tracer_provider, exporter):
    with suppress_instrumentation():
        result = sync_wrapper(plan(tracer_provider))(sdk, None, (), {"model": "m"})
    assert result == {"kwargs": {"model": "m"}, "marked": False, "span": False, "provider_call": False}


def test_a_failing_start_calls_the_sdk_untraced(tracer_provider, exporter):
    def start(instance, kwargs):
        raise ValueError("telemetry bug")

    result = sync_wrapper(plan(tracer_provider, start=start))(sdk, None, (), {"model": "m"})
    assert result["kwargs"] == {"model": "m"} and not result["span"]
    assert exporter.get_finished_spans() == ()


def test_a_failing_record_ends_the_span_and_returns_the_result(tracer_provider, exporter):
    def record(span, result, note):
        raise ValueError("telemetry bug")

    result = sync_wrapper(plan(tracer_provider, record=record))(sdk, None, (), {"model": "m"})
    assert result["kwargs"] == {"model": "m", "added": True}
    assert len(exporter.get_finished_spans()) == 1


@pytest.mark.parametrize("error", [ValueError("boom"), KeyboardInterrupt()])
def test_the_sdk_error_is_recorded_and_reraised_unchanged(tracer_provider, exporter, error):
    def failing(**kwargs):
        raise error

    with pytest.raises(type(error)) as raised:
        sync_wrapper(plan(tracer_provider))(failing, None, (), {"model": "m"})
    assert raised.value is error
    [span] = exporter.get_finished_spans()
    assert span.attributes["error.type"] == type(error).__qualname__
    assert not MARKER.get() and not trust_boundary._provider_call.get()


def test_async_cancellation_ends_the_span(tracer_provider, exporter):
    async def waits(**kwargs):
        await asyncio.sleep(10)

    async def main():
        task = asyncio.create_task(async_wrapper(plan(tracer_provider))(waits, None, (), {"model": "m"}))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    [span] = exporter.get_finished_spans()
    assert span.attributes["error.type"] == "CancelledError"


def test_async_traced_call(tracer_provider, exporter):
    async def asdk(**kwargs):
        return sdk(**kwargs)

    seen: list = []
    result = asyncio.run(async_wrapper(plan(tracer_provider, record=recorder(seen)))(asdk, None, (), {"model": "m"}))
    assert result == "recorded"
    assert seen == [{"kwargs": {"model": "m", "added": True}, "marked": True, "span": True, "provider_call": True}]
    [span] = exporter.get_finished_spans()
    assert span.name == "chat m"


def test_without_the_private_context_keys_the_public_functions_do_the_same(tracer_provider, exporter, monkeypatch):
    """Should an OTel release move the keys costline reads directly (context_keys), calls still nest and
    suppression still holds."""
    from costline.instrumentation import coexistence, llm_spans, wrapping

    monkeypatch.setattr(wrapping, "SUPPRESS_KEY", None)
    monkeypatch.setattr(llm_spans, "SPAN_KEY", None)
    monkeypatch.setattr(coexistence, "SPAN_KEY", None)
    with suppress_instrumentation():
        result = sync_wrapper(plan(tracer_provider))(sdk, None, (), {"model": "m"})
    assert result == {"kwargs": {"model": "m"}, "marked": False, "span": False, "provider_call": False}
    seen: list = []
    parent = tracer_provider.get_tracer("app").start_span("request")
    with trace.use_span(parent, end_on_exit=True):
        assert sync_wrapper(plan(tracer_provider, record=recorder(seen)))(sdk, None, (), {"model": "m"}) == "recorded"
    assert seen[0]["span"] and seen[0]["marked"]
    call, request = exporter.get_finished_spans()
    assert call.name == "chat m" and call.parent.span_id == request.context.span_id
    assert not trace.get_current_span().is_recording()
