"""Wrapper factories for the Anthropic SDK's `messages` methods, sync and async side by side.

Like the OpenAI wrappers, each one marks the provider call (no attribution baggage
to Anthropic), steps aside when another GenAI instrumentation traces the call, and
otherwise makes one `chat {model}` span. Anthropic SDKs from 2.x also start their own
call span (`anthropic.messages.create`); while costline's span is active,
`sdk_call_span` makes the SDK skip it, so a call never has two model spans.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from costline.instrumentation.anthropic import extract
from costline.instrumentation.anthropic.streams import (
    MessageEvents,
    TracedAsyncMessageStreamManager,
    TracedMessageStreamManager,
)
from costline.instrumentation.llm_spans import LLMSpans, detach, fail, finish, server_attributes
from costline.instrumentation.stream_proxies import TracedAsyncStream, TracedStream
from costline.instrumentation.trust_boundary import enter_provider_call, exit_provider_call

log = logging.getLogger(__name__)

_costline_span_active: ContextVar[bool] = ContextVar("costline_anthropic_span_active", default=False)


@dataclass(frozen=True)
class CallSettings:
    """Per-method facts fixed at instrument time."""

    wrapper_below: bool  # another library's wrapper was already on this method
    request_wrapped: Callable[[], bool]  # is the SDK client's `request` wrapped by another library?


def sdk_call_span(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """Wrapper for the SDK's own `start_api_call_span`: none while costline traces the call."""
    if _costline_span_active.get():
        return None
    return wrapped(*args, **kwargs)


def _start(spans: LLMSpans, instance: Any, kwargs: dict[str, Any], stream: bool):
    attributes = extract.request_attributes(kwargs, stream)
    attributes.update(server_attributes(getattr(instance, "_client", None)))
    if spans.capture_content:
        attributes.update(extract.input_messages(kwargs))
    return spans.start("chat", kwargs.get("model"), attributes)


def _wrap_result(spans: LLMSpans, span: Any, result: Any) -> Any:
    try:
        if hasattr(result, "__next__"):
            return TracedStream(result, span, MessageEvents(spans.capture_content))
        if hasattr(result, "__anext__"):
            return TracedAsyncStream(result, span, MessageEvents(spans.capture_content))
        message = result.parse() if type(result).__name__ == "LegacyAPIResponse" else result
        attributes = extract.message_attributes(message)
        if spans.capture_content:
            attributes.update(extract.output_messages(message))
        finish(span, attributes, extract.message_usage(getattr(message, "usage", None)))
    except Exception:
        log.debug("costline: could not record an Anthropic response", exc_info=True)
        if span.is_recording():
            span.end()
    return result


def messages_create(spans: LLMSpans, settings: CallSettings) -> Callable[..., Any]:
    """Wrapper for `Messages.create` / `Messages.parse`."""

    def traced_create(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        if not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        guard = enter_provider_call()
        try:
            if spans.covered_elsewhere(settings.wrapper_below, settings.request_wrapped()):
                return wrapped(*args, **kwargs)
            try:
                span, token = _start(spans, instance, kwargs, kwargs.get("stream") is True)
            except Exception:
                log.debug("costline: could not start an Anthropic span", exc_info=True)
                return wrapped(*args, **kwargs)
            active = _costline_span_active.set(True)
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as error:
                fail(span, error)
                raise
            finally:
                _costline_span_active.reset(active)
                detach(token)
            return _wrap_result(spans, span, result)
        finally:
            exit_provider_call(guard)

    return traced_create


def async_messages_create(spans: LLMSpans, settings: CallSettings) -> Callable[..., Any]:
    """Wrapper for `AsyncMessages.create` / `AsyncMessages.parse`."""

    async def traced_async_create(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        if not is_instrumentation_enabled():
            return await wrapped(*args, **kwargs)
        guard = enter_provider_call()
        try:
            if spans.covered_elsewhere(settings.wrapper_below, settings.request_wrapped()):
                return await wrapped(*args, **kwargs)
            try:
                span, token = _start(spans, instance, kwargs, kwargs.get("stream") is True)
            except Exception:
                log.debug("costline: could not start an Anthropic span", exc_info=True)
                return await wrapped(*args, **kwargs)
            active = _costline_span_active.set(True)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as error:
                fail(span, error)
                raise
            finally:
                _costline_span_active.reset(active)
                detach(token)
            return _wrap_result(spans, span, result)
        finally:
            exit_provider_call(guard)

    return traced_async_create


def _trace_helper_stream(spans: LLMSpans, span: Any, stream: Any) -> Any:
    """Route the helper's raw event stream through a `TracedStream` (or end the span if it cannot)."""
    raw = getattr(stream, "_raw_stream", None)
    if raw is None:  # a helper that keeps its stream elsewhere: no usage to read
        finish(span, None, None)
        return stream
    proxy = TracedAsyncStream if hasattr(raw, "__anext__") else TracedStream
    stream._raw_stream = proxy(raw, span, MessageEvents(spans.capture_content))
    return stream


def messages_stream(spans: LLMSpans, settings: CallSettings) -> Callable[..., Any]:
    """Wrapper for `Messages.stream()`: the request runs when the manager is entered."""

    def traced_stream(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        manager = wrapped(*args, **kwargs)
        if not is_instrumentation_enabled():
            return manager

        def enter(inner: Any) -> Any:
            guard = enter_provider_call()
            try:
                if spans.covered_elsewhere(settings.wrapper_below, settings.request_wrapped()):
                    return inner.__enter__()
                try:
                    span, token = _start(spans, instance, kwargs, True)
                except Exception:
                    log.debug("costline: could not start an Anthropic span", exc_info=True)
                    return inner.__enter__()
                active = _costline_span_active.set(True)
                try:
                    stream = inner.__enter__()
                except BaseException as error:
                    fail(span, error)
                    raise
                finally:
                    _costline_span_active.reset(active)
                    detach(token)
                return _trace_helper_stream(spans, span, stream)
            finally:
                exit_provider_call(guard)

        return TracedMessageStreamManager(manager, enter)

    return traced_stream


def async_messages_stream(spans: LLMSpans, settings: CallSettings) -> Callable[..., Any]:
    """Wrapper for `AsyncMessages.stream()`: the request runs when the manager is entered."""

    def traced_async_stream(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        manager = wrapped(*args, **kwargs)
        if not is_instrumentation_enabled():
            return manager

        async def enter(inner: Any) -> Any:
            guard = enter_provider_call()
            try:
                if spans.covered_elsewhere(settings.wrapper_below, settings.request_wrapped()):
                    return await inner.__aenter__()
                try:
                    span, token = _start(spans, instance, kwargs, True)
                except Exception:
                    log.debug("costline: could not start an Anthropic span", exc_info=True)
                    return await inner.__aenter__()
                active = _costline_span_active.set(True)
                try:
                    stream = await inner.__aenter__()
                except BaseException as error:
                    fail(span, error)
                    raise
                finally:
                    _costline_span_active.reset(active)
                    detach(token)
                return _trace_helper_stream(spans, span, stream)
            finally:
                exit_provider_call(guard)

        return TracedAsyncMessageStreamManager(manager, enter)

    return traced_async_stream
