"""Start and finish costline's model-call spans, the same way for every provider.

One `LLMSpans` per instrumented provider holds the tracer and the settings read at
instrument time. The patch modules call `start` before the SDK call and `finish` /
`fail` after it (or when a stream ends). Nothing here raises into the app: a failure
in telemetry code is logged at debug level and the call goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from costline.instrumentation import coexistence
from costline.instrumentation.context_keys import SPAN_KEY
from costline.instrumentation.genai_attributes import (
    ERROR_TYPE,
    OPERATION_NAME,
    PROVIDER_NAME,
    REQUEST_MODEL,
    SERVER_ADDRESS,
    SERVER_PORT,
    USAGE_MISSING,
    Usage,
)

log = logging.getLogger(__name__)


class LLMSpans:
    """Span lifecycle for one provider's instrumentor; settings are fixed at instrument time."""

    __slots__ = ("capture_content", "defer_to_others", "provider", "tracer")

    def __init__(self, tracer: Tracer, provider: str, *, capture_content: bool, defer_to_others: bool) -> None:
        self.tracer = tracer
        self.provider = provider
        self.capture_content = capture_content
        self.defer_to_others = defer_to_others

    def covered_elsewhere(self, wrapper_below: bool, request_wrapped: bool = False) -> bool:
        """Whether another GenAI instrumentation traces this call (and costline should not)."""
        if not self.defer_to_others:
            return False
        return wrapper_below or request_wrapped or coexistence.model_span_active()

    def start(
        self, operation: str, model: object, attributes: dict[str, object], ctx: Context | None = None
    ) -> tuple[Span, object]:
        """Start `{operation} {model}` as the current span; returns it and the context token to detach.

        `ctx`: the current context if the caller has it at hand (the same parent, sampler
        input and processors' `parent_context` as passing nothing; one lookup fewer).
        """
        attributes[OPERATION_NAME] = operation
        attributes.setdefault(PROVIDER_NAME, self.provider)  # an OpenAI-compatible host may name another
        name = operation
        if isinstance(model, str) and model:
            attributes[REQUEST_MODEL] = model
            name = f"{operation} {model}"
        span = self.tracer.start_span(name, context=ctx, kind=SpanKind.CLIENT, attributes=attributes)  # type: ignore[arg-type]
        if SPAN_KEY is not None:  # `trace.set_span_in_context`, one lookup fewer
            token = context.attach(context.set_value(SPAN_KEY, span, ctx))
        else:
            token = context.attach(trace.set_span_in_context(span, ctx))
        return span, token


_servers: dict[int, tuple[Any, dict[str, Any]]] = {}  # id(base URL) -> (URL, attributes)
_NO_DICT: dict[str, Any] = {}


def server_attributes(client: Any) -> dict[str, Any]:
    """`server.address`/`server.port` from the SDK client's base URL (the port made explicit).

    Cached per URL object (clients keep theirs), since it is asked on every call. The
    URL is read from the client's `_base_url` where it keeps it (the openai and anthropic
    base clients do): the `base_url` property costs ~1 µs per call in recent openai SDKs.
    """
    url = getattr(client, "__dict__", _NO_DICT).get("_base_url")
    if url is None:
        url = getattr(client, "base_url", None)
    cached = _servers.get(id(url))
    if cached is not None and cached[0] is url:
        return cached[1]
    host = getattr(url, "host", None)
    if not host:
        return {}
    port = getattr(url, "port", None) or (443 if getattr(url, "scheme", "https") == "https" else 80)
    if len(_servers) > 256:
        _servers.clear()
    attributes = {SERVER_ADDRESS: host, SERVER_PORT: port}
    _servers[id(url)] = (url, attributes)
    return attributes


def finish(span: Span, attributes: Mapping[str, object] | None, usage: Usage | None) -> None:
    """Record the response attributes and usage (or that usage is missing), then end the span."""
    try:
        if span.is_recording():
            found: dict[str, Any] = dict(attributes) if attributes else {}
            if usage is not None:
                found.update(usage.attributes())
            else:
                found[USAGE_MISSING] = True
            span.set_attributes(found)  # one call: the SDK locks per call
    except Exception:  # telemetry must not break the call
        log.debug("costline: could not record a response on its span", exc_info=True)
    span.end()


def finish_with(span: Span, attributes: Mapping[str, object]) -> None:
    """`finish` with the usage attributes (or the missing-usage flag) already in `attributes`."""
    try:
        if span.is_recording():
            span.set_attributes(attributes)  # type: ignore[arg-type]
    except Exception:  # telemetry must not break the call
        log.debug("costline: could not record a response on its span", exc_info=True)
    span.end()


def fail(
    span: Span,
    error: BaseException,
    usage: Usage | None = None,
    *,
    after_response: bool = False,
    attributes: Mapping[str, object] | None = None,
) -> None:
    """Record `error` (type and message) and whatever usage arrived, then end the span.

    A call that failed before any response was billed nothing, so its span carries no
    usage flag; one that failed mid-stream (`after_response`) may have been billed, so
    missing usage is flagged there.
    """
    try:
        if span.is_recording():
            if attributes:
                span.set_attributes(attributes)  # type: ignore[arg-type]
            span.set_attribute(ERROR_TYPE, type(error).__qualname__)
            span.set_status(Status(StatusCode.ERROR, str(error) or type(error).__qualname__))
            if usage is not None:
                span.set_attributes(usage.attributes())
            elif after_response:
                span.set_attribute(USAGE_MISSING, True)
    except Exception:
        log.debug("costline: could not record an error on its span", exc_info=True)
    span.end()
