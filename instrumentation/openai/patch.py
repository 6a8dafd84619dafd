"""Wrapper factories for the OpenAI SDK's model-call methods, sync and async side by side.

Each factory takes what was decided at instrument time (the `LLMSpans`, the endpoint,
settings) and returns a wrapt wrapper. A wrapper:

1. marks the call as a provider call, so no attribution baggage reaches OpenAI;
2. steps aside when another GenAI instrumentation already traces the call;
3. starts `{operation} {model}`, calls the SDK, and either ends the span with the
   response's usage or hands it to a stream proxy that ends it when reading ends.

The SDK's result or exception always reaches the app unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from costline.instrumentation.genai_attributes import PROVIDER_NAME, SERVER_ADDRESS, Usage
from costline.instrumentation.llm_spans import LLMSpans, detach, fail, finish, server_attributes
from costline.instrumentation.openai import extract
from costline.instrumentation.openai.streams import ChatChunks, ResponseEvents
from costline.instrumentation.stream_proxies import Collector, TracedAsyncStream, TracedStream
from costline.instrumentation.trust_boundary import enter_provider_call, exit_provider_call

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoint:
    """What differs between the OpenAI APIs costline traces."""

    operation: str
    usage: Callable[[Any], Usage | None]
    collector: Callable[[bool, bool], Collector] | None  # (hide usage chunk, capture content)
    accepts_stream_options: bool


CHAT = Endpoint("chat", extract.chat_usage, ChatChunks, True)
COMPLETIONS = Endpoint("text_completion", extract.chat_usage, ChatChunks, True)
RESPONSES = Endpoint("chat", extract.responses_usage, lambda _hide, capture: ResponseEvents(capture), False)
EMBEDDINGS = Endpoint("embeddings", extract.chat_usage, None, False)


@dataclass(frozen=True)
class CallSettings:
    """Per-method facts fixed at instrument time."""

    endpoint: Endpoint
    include_stream_usage: bool
    wrapper_below: bool  # another library's wrapper was already on this method
    request_wrapped: Callable[[], bool]  # is the SDK client's `request` wrapped by another library?


def _prepare(spans: LLMSpans, settings: CallSettings, instance: Any, kwargs: dict[str, Any]):
    """Request attributes, the (maybe amended) kwargs, and whether costline added the usage option."""
    stream = kwargs.get("stream") is True
    injected = False
    if stream and settings.include_stream_usage and settings.endpoint.accepts_stream_options:
        kwargs, injected = extract.with_stream_usage(kwargs)
    attributes = extract.request_attributes(kwargs, stream)
    client = getattr(instance, "_client", None)
    server = server_attributes(client)
    attributes.update(server)
    attributes[PROVIDER_NAME] = extract.provider_for_host(server.get(SERVER_ADDRESS))
    if spans.capture_content:
        attributes.update(extract.input_messages(kwargs))
    return attributes, kwargs, stream, injected


def _finish_response(spans: LLMSpans, settings: CallSettings, span: Any, result: Any) -> None:
    response = result
    if type(result).__name__ == "LegacyAPIResponse":  # `with_raw_response`: the body is already read
        response = result.parse()
    attributes = extract.response_attributes(response)
    if spans.capture_content:
        attributes.update(extract.output_messages(response))
    finish(span, attributes, settings.endpoint.usage(getattr(response, "usage", None)))


def _wrap_result(spans: LLMSpans, settings: CallSettings, span: Any, result: Any, stream: bool, injected: bool):
    """The value to give the app: the result, or a proxy that ends the span when the stream ends."""
    try:
        collector_factory = settings.endpoint.collector
        if stream and collector_factory is not None and hasattr(result, "__next__"):
            return TracedStream(result, span, collector_factory(injected, spans.capture_content))
        if stream and collector_factory is not None and hasattr(result, "__anext__"):
            return TracedAsyncStream(result, span, collector_factory(injected, spans.capture_content))
        if stream:
            finish(span, None, None)  # a raw streaming response: costline cannot read it without consuming it
        else:
            _finish_response(spans, settings, span, result)
    except Exception:
        log.debug("costline: could not record an OpenAI response", exc_info=True)
        if span.is_recording():
            span.end()
    return result


def create(spans: LLMSpans, settings: CallSettings) -> Callable[..., Any]:
    """Wrapper for a sync `create`/`parse` method."""

    def traced_create(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        if not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        guard = enter_provider_call()
        try:
            if spans.covered_elsewhere(settings.wrapper_below, settings.request_wrapped()):
                return wrapped(*args, **kwargs)
            try:
                attributes, call_kwargs, stream, injected = _prepare(spans, settings, instance, kwargs)
                span, token = spans.start(settings.endpoint.operation, call_kwargs.get("model"), attributes)
            except Exception:
                log.debug("costline: could not start an OpenAI span", exc_info=True)
                return wrapped(*args, **kwargs)
            try:
                result = wrapped(*args, **call_kwargs)
            except BaseException as error:
                fail(span, error)
                raise
            finally:
                detach(token)
            return _wrap_result(spans, settings, span, result, stream, injected)
        finally:
            exit_provider_call(guard)

    return traced_create


def async_create(spans: LLMSpans, settings: CallSettings) -> Callable[..., Any]:
    """Wrapper for an async `create`/`parse` method."""

    async def traced_async_create(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        if not is_instrumentation_enabled():
            return await wrapped(*args, **kwargs)
        guard = enter_provider_call()
        try:
            if spans.covered_elsewhere(settings.wrapper_below, settings.request_wrapped()):
                return await wrapped(*args, **kwargs)
            try:
                attributes, call_kwargs, stream, injected = _prepare(spans, settings, instance, kwargs)
                span, token = spans.start(settings.endpoint.operation, call_kwargs.get("model"), attributes)
            except Exception:
                log.debug("costline: could not start an OpenAI span", exc_info=True)
                return await wrapped(*args, **kwargs)
            try:
                result = await wrapped(*args, **call_kwargs)
            except BaseException as error:
                fail(span, error)
                raise
            finally:
                detach(token)
            return _wrap_result(spans, settings, span, result, stream, injected)
        finally:
            exit_provider_call(guard)

    return traced_async_create
