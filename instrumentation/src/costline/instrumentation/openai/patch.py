"""Wrapper factories for the OpenAI SDK's model-call methods, sync and async side by side.

Each factory takes what was decided at instrument time (the `LLMSpans`, the endpoint,
settings, the wrapper's `Site`) and returns a wrapt wrapper following the call template
of `costline.instrumentation.wrapping`: it marks the call as a provider call, steps
aside when another GenAI instrumentation already traces it, and otherwise starts
`{operation} {model}`, calls the SDK, and either ends the span with the response's
usage or hands it to a stream proxy that ends it when reading ends. What is OpenAI's
own is here: reading the request (and asking for stream usage on opt-in) and the result,
and, per endpoint, how a deferred call's usage is read to complete the other library's
span (`span_completion.Completer`).

The SDK's result or exception always reaches the app unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from costline.instrumentation import parse_hook
from costline.instrumentation.genai_attributes import (
    PROVIDER_NAME,
    SERVER_ADDRESS,
    USAGE_MISSING,
    Usage,
    request_attributes,
)
from costline.instrumentation.llm_spans import LLMSpans, finish, finish_with, server_attributes
from costline.instrumentation.openai import extract
from costline.instrumentation.openai.extract import _MAX_TOKENS_PARAMS
from costline.instrumentation.openai.streams import (
    ChatChunks,
    ResponseEvents,
    TranscriptEvents,
    chat_item_usage,
    responses_item_usage,
    transcription_item_usage,
)
from costline.instrumentation.span_completion import Completer
from costline.instrumentation.stream_proxies import Collector, TracedAsyncStream, TracedStream
from costline.instrumentation.wrapping import CallPlan, Site, Wrapper, async_wrapper, sync_wrapper


@dataclass(frozen=True)
class Endpoint:
    """What differs between the OpenAI APIs costline traces."""

    operation: str
    usage: Callable[[Any], Usage | None]
    usage_into: Callable[[Any, dict[str, Any]], bool]  # `usage(...).attributes()` into a dict; False: none
    collector: Callable[[bool, bool], Collector] | None  # (hide usage chunk, capture content)
    accepts_stream_options: bool
    completer: Completer  # completes another library's span when costline defers


_install_parse_hook = partial(parse_hook.install, "openai")
_CHAT_COMPLETER = Completer(extract.chat_usage_into, chat_item_usage, _install_parse_hook)
CHAT = Endpoint("chat", extract.chat_usage, extract.chat_usage_into, ChatChunks, True, _CHAT_COMPLETER)
COMPLETIONS = Endpoint(
    "text_completion", extract.chat_usage, extract.chat_usage_into, ChatChunks, True, _CHAT_COMPLETER
)
RESPONSES = Endpoint(
    "chat",
    extract.responses_usage,
    extract.responses_usage_into,
    lambda _hide, capture: ResponseEvents(capture),
    False,
    Completer(extract.responses_usage_into, responses_item_usage, _install_parse_hook),
)
EMBEDDINGS = Endpoint("embeddings", extract.chat_usage, extract.chat_usage_into, None, False, _CHAT_COMPLETER)
_IMAGES_COMPLETER = Completer(extract.images_usage_into, lambda _event: None, _install_parse_hook)
# images.generate: a streamed one (partial images) is not read (its span says costline.usage.missing)
IMAGES = Endpoint("generate_content", extract.images_usage, extract.images_usage_into, None, False, _IMAGES_COMPLETER)

# audio.transcriptions.create: token-billed models' usage (whisper-1's, by the minute, is missing on its span)
TRANSCRIPTIONS = Endpoint(
    "generate_content",
    extract.transcription_usage,
    extract.transcription_usage_into,
    lambda _hide, capture: TranscriptEvents(capture),
    False,
    Completer(extract.transcription_usage_into, transcription_item_usage, _install_parse_hook),
)


@dataclass(frozen=True)
class CallSettings:
    """Per-method facts fixed at instrument time."""

    endpoint: Endpoint
    include_stream_usage: bool


_with_provider: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}  # id(server attributes) -> (them, + provider)


def _server_and_provider(instance: Any) -> dict[str, Any]:
    """`server_attributes` of the resource's client plus `gen_ai.provider.name` for its host (cached per URL)."""
    server = server_attributes(getattr(instance, "_client", None))
    cached = _with_provider.get(id(server))
    if cached is not None and cached[0] is server:
        return cached[1]
    attributes = {**server, PROVIDER_NAME: extract.provider_for_host(server.get(SERVER_ADDRESS))}
    if server:  # `server_attributes` keeps these per URL; an empty one is new on every call
        if len(_with_provider) > 256:
            _with_provider.clear()
        _with_provider[id(server)] = (server, attributes)
    return attributes


def _start(spans: LLMSpans, settings: CallSettings, instance: Any, kwargs: dict[str, Any]):
    """The span's start from the request; the note says (streamed?, costline added the usage option?)."""
    stream = kwargs.get("stream") is True
    injected = False
    if stream and settings.include_stream_usage and settings.endpoint.accepts_stream_options:
        kwargs, injected = extract.with_stream_usage(kwargs)
    attributes = request_attributes(kwargs, stream, _MAX_TOKENS_PARAMS)  # `extract.request_attributes`
    attributes.update(_server_and_provider(instance))
    if spans.capture_content:
        attributes.update(extract.input_messages(kwargs))
    return settings.endpoint.operation, kwargs.get("model"), attributes, kwargs, (stream, injected)


def _record(spans: LLMSpans, settings: CallSettings, span: Any, result: Any, note: tuple[bool, bool]) -> Any:
    """The value to give the app: the result, or a proxy that ends the span when the stream ends."""
    stream, injected = note
    if not stream:  # the response: its attributes and usage on the span, which ends
        response = result
        if type(result).__name__ == "LegacyAPIResponse":  # `with_raw_response`: the body is already read
            response = result.parse()
        attributes = extract.response_attributes(response)
        if spans.capture_content:
            attributes.update(extract.output_messages(response))
        # What `finish(span, attributes, endpoint.usage(...))` records, without making a `Usage`.
        if not settings.endpoint.usage_into(getattr(response, "usage", None), attributes):
            attributes[USAGE_MISSING] = True
        finish_with(span, attributes)
        return result
    collector_factory = settings.endpoint.collector
    if stream and collector_factory is not None and hasattr(result, "__next__"):
        return TracedStream(result, span, collector_factory(injected, spans.capture_content))
    if stream and collector_factory is not None and hasattr(result, "__anext__"):
        return TracedAsyncStream(result, span, collector_factory(injected, spans.capture_content))
    finish(span, None, None)  # a raw streaming response: costline cannot read it without consuming it
    return result


def _plan(spans: LLMSpans, settings: CallSettings, site: Site) -> CallPlan:
    return CallPlan(
        spans,
        site,
        partial(_start, spans, settings),
        partial(_record, spans, settings),
        completer=settings.endpoint.completer,
    )


def create(spans: LLMSpans, settings: CallSettings, site: Site) -> Wrapper:
    """Wrapper for a sync `create`/`parse` method."""
    return sync_wrapper(_plan(spans, settings, site))


def async_create(spans: LLMSpans, settings: CallSettings, site: Site) -> Wrapper:
    """Wrapper for an async `create`/`parse` method."""
    return async_wrapper(_plan(spans, settings, site))
