"""OpenAI Realtime sessions: one CLIENT span per response, from its start to its `response.done`.

A Realtime session (`client.realtime.connect(model=...)`, sync or async) is a WebSocket of JSON
events. OpenAI bills it one response at a time: each server event `response.done` carries that
response's usage. So each response is a model call of its own, `chat {model}` (operation `chat`,
as costline's Responses API and audio chat calls: a response is a turn of a conversation whose
input is the conversation so far; the GenAI conventions have no realtime operation, and
openai-v2 does not trace Realtime sessions), with the usage `realtime_extract` reads.

    connect(model=M)           the requested model and the server (`websocket_base_url`, else `base_url`),
                               kept for the connection made on enter
    conn.send(response.create) the time it was asked for, and the sender's context
    conn.recv() / for ... in conn   (both parse each event with `parse_event`, wrapped here):
        session.created/.updated   the model the session runs (gen_ai.response.model)
        response.created           start the span: at the oldest unanswered `response.create` (else now),
                                   a child of the context current where the app receives the event
                                   (its attribution baggage becomes the span's tags)
        response.done              end it with the usage (`costline.usage.missing` if there is none)
        error                      an unanswered `response.create` it names (or the oldest) was refused
    conn.close() / the connection collected
                               every response started and not done ends with `costline.usage.missing`
                               (it may have been billed): a `response.created` seen, or a
                               `response.create` sent and neither answered nor refused (that span
                               starts at the send, in the sender's context)

The events and the SDK's results reach the app unchanged; telemetry errors are logged at debug
level, never raised. Events an app parses itself (`recv_bytes()` and its own JSON decoding) are
not seen.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from opentelemetry.context import Context, get_current
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Span, SpanKind

from costline.instrumentation.genai_attributes import (
    OPERATION_NAME,
    PROVIDER_NAME,
    REQUEST_MODEL,
    RESPONSE_ID,
    RESPONSE_MODEL,
    SERVER_ADDRESS,
    USAGE_MISSING,
)
from costline.instrumentation.llm_spans import LLMSpans, finish_with, server_attributes
from costline.instrumentation.openai import realtime_extract as rx
from costline.instrumentation.openai.extract import provider_for_host
from costline.instrumentation.wrapping import Target, Wrapper

log = logging.getLogger(__name__)

OPERATION = "chat"
_MODULE = "openai.resources.realtime.realtime"


class _Session:
    """One connection's responses in flight. Locked: a sync app may send in one thread and read in another."""

    def __init__(self, spans: LLMSpans, model: str | None, attributes: dict[str, Any]) -> None:
        self._spans = spans
        self._lock = threading.Lock()
        self._asked: deque[tuple[int, Context, str | None]] = deque()  # (when, sender's context, event_id)
        self._open: dict[str, Span] = {}  # response id -> its span
        self._model = model
        self._attributes = {**attributes, OPERATION_NAME: OPERATION}
        self._attributes.setdefault(PROVIDER_NAME, spans.provider)
        if model:
            self._attributes[REQUEST_MODEL] = model

    def asked(self, when: int, ctx: Context, event_id: str | None) -> None:
        with self._lock:
            self._asked.append((when, ctx, event_id))

    def observe(self, event: Any, ctx: Context) -> None:
        kind = rx.event_type(event)
        if kind == rx.RESPONSE_CREATED:
            rid = rx.response_id(event)
            with self._lock:
                if rid is None or rid in self._open:
                    return
                when = self._asked.popleft()[0] if self._asked else time.time_ns()
            span = self._start(ctx, when, rid)
            with self._lock:
                self._open[rid] = span
        elif kind == rx.RESPONSE_DONE:
            rid = rx.response_id(event)
            with self._lock:
                found = self._open.pop(rid, None) if rid is not None else None
                if found is None and self._asked:  # its response.created was not seen
                    self._asked.popleft()
            span = found if found is not None else self._start(ctx, time.time_ns(), rid)
            attributes, has_usage = rx.done_attributes(event)
            if not has_usage:
                attributes[USAGE_MISSING] = True
            finish_with(span, attributes)
        elif kind in rx.SESSION_EVENTS:
            model = rx.session_model(event)
            if model is not None:
                self._attributes[RESPONSE_MODEL] = model
        elif kind == rx.ERROR:
            self._refused(rx.error_event_id(event))

    def _refused(self, event_id: str | None) -> None:
        with self._lock:
            for i, (_when, _ctx, asked_id) in enumerate(self._asked):
                if event_id is None or asked_id == event_id:
                    del self._asked[i]
                    return

    def _start(self, ctx: Context, when: int, rid: str | None) -> Span:
        attributes = dict(self._attributes)
        if rid is not None:
            attributes[RESPONSE_ID] = rid
        model = self._model or attributes.get(RESPONSE_MODEL)
        name = f"{OPERATION} {model}" if model else OPERATION
        return self._spans.tracer.start_span(
            name, context=ctx, kind=SpanKind.CLIENT, attributes=attributes, start_time=when
        )

    def close(self) -> None:
        """End every response started and not done: its usage is missing (it may have been billed)."""
        with self._lock:
            started, self._open = list(self._open.values()), {}
            asked, self._asked = list(self._asked), deque()
        for when, ctx, _id in asked:
            started.append(self._start(ctx, when, None))
        for span in started:
            finish_with(span, {USAGE_MISSING: True})


class RealtimeTracing:
    """The wrappers of one `instrument()`: the connections' sessions live here, weakly."""

    def __init__(self, spans: LLMSpans) -> None:
        self._spans = spans
        self._managers: weakref.WeakKeyDictionary[Any, tuple[str | None, dict[str, Any]]] = weakref.WeakKeyDictionary()
        self._sessions: weakref.WeakKeyDictionary[Any, tuple[_Session, weakref.finalize]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def targets(self) -> list[Target]:
        """(module, "Class.method", factory) for `SDKInstrumentor._wrap`, sync and async side by side."""
        pairs: list[tuple[str, Wrapper]] = [
            ("Realtime.connect", self.connect),
            ("AsyncRealtime.connect", self.connect),
            ("RealtimeConnectionManager.__enter__", self.enter),
            ("RealtimeConnectionManager.enter", self.enter),
            ("AsyncRealtimeConnectionManager.__aenter__", self.async_enter),
            ("AsyncRealtimeConnectionManager.enter", self.async_enter),
            ("RealtimeConnection.parse_event", self.parse_event),
            ("AsyncRealtimeConnection.parse_event", self.parse_event),
            ("RealtimeConnection.send", self.send),
            ("AsyncRealtimeConnection.send", self.async_send),
            ("RealtimeConnection.close", self.close),
            ("AsyncRealtimeConnection.close", self.async_close),
        ]
        return [(_MODULE, path, _fixed(wrapper)) for path, wrapper in pairs]

    # -- connecting ----------------------------------------------------------------------
    def connect(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        manager = wrapped(*args, **kwargs)
        try:
            model = kwargs.get("model")
            client = getattr(instance, "_client", None)
            websocket_url = getattr(client, "websocket_base_url", None)  # where the SDK connects, if set
            server = rx.websocket_server(websocket_url) if websocket_url else server_attributes(client)
            attributes = {**server, PROVIDER_NAME: provider_for_host(server.get(SERVER_ADDRESS))}
            self._managers[manager] = (model if isinstance(model, str) and model else None, attributes)
        except Exception:
            log.debug("costline: could not note a Realtime connection's model", exc_info=True)
        return manager

    def enter(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        connection = wrapped(*args, **kwargs)
        self._opened(instance, connection)
        return connection

    async def async_enter(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        connection = await wrapped(*args, **kwargs)
        self._opened(instance, connection)
        return connection

    def _opened(self, manager: Any, connection: Any) -> None:
        try:
            model, attributes = self._managers.get(manager) or (None, {})
            self._session(connection, model, attributes)
        except Exception:
            log.debug("costline: could not follow a Realtime connection", exc_info=True)

    def _session(self, connection: Any, model: str | None = None, attributes: dict | None = None) -> _Session:
        """The connection's session (made on first sight: a connection opened before `instrument()` too)."""
        with self._lock:
            found = self._sessions.get(connection)
            if found is None:
                session = _Session(self._spans, model, attributes or {})
                found = (session, weakref.finalize(connection, session.close))
                self._sessions[connection] = found
            return found[0]

    # -- events --------------------------------------------------------------------------
    def parse_event(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        event = wrapped(*args, **kwargs)
        try:
            if is_instrumentation_enabled():
                self._session(instance).observe(event, get_current())
        except Exception:
            log.debug("costline: could not read a Realtime event", exc_info=True)
        return event

    def _asking(self, args: tuple, kwargs: dict) -> tuple[int, Context, str | None] | None:
        """(now, context, event id) when the app sends `response.create`, else None."""
        try:
            event = args[0] if args else kwargs.get("event")
            if rx.event_type(event) == rx.RESPONSE_CREATE and is_instrumentation_enabled():
                return time.time_ns(), get_current(), rx.client_event_id(event)
        except Exception:
            log.debug("costline: could not read a Realtime client event", exc_info=True)
        return None

    def _asked(self, connection: Any, ask: tuple[int, Context, str | None]) -> None:
        try:
            self._session(connection).asked(*ask)
        except Exception:
            log.debug("costline: could not note a response.create", exc_info=True)

    def send(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        ask = self._asking(args, kwargs)
        result = wrapped(*args, **kwargs)
        if ask is not None:  # sent: the server will answer it
            self._asked(instance, ask)
        return result

    async def async_send(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        ask = self._asking(args, kwargs)
        result = await wrapped(*args, **kwargs)
        if ask is not None:
            self._asked(instance, ask)
        return result

    # -- closing -------------------------------------------------------------------------
    def _closed(self, connection: Any) -> None:
        try:
            with self._lock:
                found = self._sessions.pop(connection, None)
            if found is not None:
                found[1]()  # the finalizer: `_Session.close`, once
        except Exception:
            log.debug("costline: could not end a Realtime connection's spans", exc_info=True)

    def close(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        try:
            return wrapped(*args, **kwargs)
        finally:
            self._closed(instance)

    async def async_close(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        try:
            return await wrapped(*args, **kwargs)
        finally:
            self._closed(instance)


def _fixed(wrapper: Wrapper) -> Callable[[Any], Wrapper]:
    """A `Target` factory for a wrapper that does not depend on its `Site` (no other library traces Realtime)."""
    return lambda _site: wrapper


def targets(spans: LLMSpans) -> list[Target]:
    """The Realtime targets of one `instrument()`."""
    return RealtimeTracing(spans).targets()
