"""Wrapper factories for the Anthropic SDK's `messages` methods, sync and async side by side.

Like the OpenAI wrappers (by the same template, `costline.instrumentation.wrapping`),
each one marks the provider call (no attribution baggage to Anthropic), steps aside
when another GenAI instrumentation traces the call, and otherwise makes one
`chat {model}` span. Anthropic SDKs from 2.x also start their own
call span (`anthropic.messages.create`); while costline's span is active,
`sdk_call_span` makes the SDK skip it, so a call never has two model spans.
"""

from __future__ import annotations

from contextvars import ContextVar
from functools import partial
from typing import Any

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from costline.instrumentation.anthropic import extract
from costline.instrumentation.anthropic.streams import (
    MessageEvents,
    TracedAsyncMessageStreamManager,
    TracedMessageStreamManager,
)
from costline.instrumentation.llm_spans import LLMSpans, finish, server_attributes
from costline.instrumentation.stream_proxies import TracedAsyncStream, TracedStream
from costline.instrumentation.wrapping import CallPlan, Site, Wrapper, async_wrapper, sync_wrapper

_costline_span_active: ContextVar[bool] = ContextVar("costline_anthropic_span_active", default=False)


def sdk_call_span(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """Wrapper for the SDK's own `start_api_call_span`: none while costline traces the call."""
    if _costline_span_active.get():
        return None
    return wrapped(*args, **kwargs)


def _start(spans: LLMSpans, helper: bool, instance: Any, kwargs: dict[str, Any]):
    """`chat {model}` from the request; the `stream()` helper (`helper`) always streams."""
    attributes = extract.request_attributes(kwargs, helper or kwargs.get("stream") is True)
    attributes.update(server_attributes(getattr(instance, "_client", None)))
    if spans.capture_content:
        attributes.update(extract.input_messages(kwargs))
    return "chat", kwargs.get("model"), attributes, kwargs, None


def _record_message(spans: LLMSpans, span: Any, result: Any, _note: None) -> Any:
    if hasattr(result, "__next__"):
        return TracedStream(result, span, MessageEvents(spans.capture_content))
    if hasattr(result, "__anext__"):
        return TracedAsyncStream(result, span, MessageEvents(spans.capture_content))
    message = _message_of(result)
    attributes = extract.message_attributes(message)
    if spans.capture_content:
        attributes.update(extract.output_messages(message))
    finish(span, attributes, extract.message_usage(getattr(message, "usage", None)))
    return result


def _message_of(result: Any) -> Any:
    """The `Message` behind a `with_raw_response` result whose body is read, else the result itself.

    anthropic < 1 answers a LegacyAPIResponse, 2.x an APIResponse (its `parse()` caches: the app gets the same
    object) or an AsyncAPIResponse, whose `parse()` is a coroutine: its synchronous `_parse()` reads the body
    already there. A body not read yet (`with_streaming_response`) is left to the app: its span says usage missing.
    """
    kind = type(result).__name__
    if kind == "LegacyAPIResponse":
        return result.parse()
    if kind in ("APIResponse", "AsyncAPIResponse") and getattr(result.http_response, "is_closed", False):
        return result.parse() if kind == "APIResponse" else result._parse()
    return result


def _record_helper_stream(spans: LLMSpans, span: Any, stream: Any, _note: None) -> Any:
    """Route the helper's raw event stream through a `TracedStream` (or end the span if it cannot)."""
    raw = getattr(stream, "_raw_stream", None)
    if raw is None:  # a helper that keeps its stream elsewhere: no usage to read
        finish(span, None, None)
        return stream
    proxy = TracedAsyncStream if hasattr(raw, "__anext__") else TracedStream
    stream._raw_stream = proxy(raw, span, MessageEvents(spans.capture_content))
    return stream


def _plan(spans: LLMSpans, site: Site, helper: bool) -> CallPlan:
    record = _record_helper_stream if helper else _record_message
    return CallPlan(spans, site, partial(_start, spans, helper), partial(record, spans), _costline_span_active)


def _enter(manager: Any, /, **_request: Any) -> Any:
    """Send the helper's request (its kwargs went to `stream()`, which made `manager`)."""
    return manager.__enter__()


def _aenter(manager: Any, /, **_request: Any) -> Any:
    return manager.__aenter__()


def messages_create(spans: LLMSpans, site: Site) -> Wrapper:
    """Wrapper for `Messages.create` / `Messages.parse`."""
    return sync_wrapper(_plan(spans, site, helper=False))


def async_messages_create(spans: LLMSpans, site: Site) -> Wrapper:
    """Wrapper for `AsyncMessages.create` / `AsyncMessages.parse`."""
    return async_wrapper(_plan(spans, site, helper=False))


def _stream_helper(spans: LLMSpans, site: Site, template: Any, enter: Any, manager_proxy: Any) -> Wrapper:
    """Wrapper for a `stream()` helper: the request runs, traced, when its manager is entered."""
    # Whether instrumentation is on is asked once, when `stream()` makes the manager.
    enter_traced = template(_plan(spans, site, helper=True), check_enabled=False)

    def traced_stream(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        manager = wrapped(*args, **kwargs)
        if not is_instrumentation_enabled():
            return manager
        return manager_proxy(manager, lambda inner: enter_traced(enter, instance, (inner,), kwargs))

    return traced_stream


def messages_stream(spans: LLMSpans, site: Site) -> Wrapper:
    """Wrapper for `Messages.stream()`."""
    return _stream_helper(spans, site, sync_wrapper, _enter, TracedMessageStreamManager)


def async_messages_stream(spans: LLMSpans, site: Site) -> Wrapper:
    """Wrapper for `AsyncMessages.stream()`."""
    return _stream_helper(spans, site, async_wrapper, _aenter, TracedAsyncMessageStreamManager)
