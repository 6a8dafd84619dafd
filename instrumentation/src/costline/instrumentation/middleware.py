"""ASGI and WSGI middleware that set attribution tags where a request enters.

    app = CostlineASGIMiddleware(app, headers={"x-customer-id": "customer_id"},
                                 tags=lambda scope: {"user_id": user_from(scope)})
    app = CostlineWSGIMiddleware(app, headers={"x-feature": "feature"})

Tags come from configured request headers (`headers`, or `COSTLINE_TAG_HEADERS=
"x-customer-id=customer_id,x-feature=feature"`) and/or a callable given the ASGI
scope / WSGI environ (sync or, for ASGI, async) that returns a mapping. Callable tags
win over header tags. They are attached as `costline.*` baggage for the whole request
(so every span below gets them) and also set on the current span, which is the
server span when the OTel ASGI/WSGI instrumentation runs outside this middleware.
A failing tags callable is logged and the request goes on untagged.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from opentelemetry import context, trace

from costline.instrumentation import settings
from costline.instrumentation.attribution import context_with_tags, tag_entries

log = logging.getLogger(__name__)

TagSource = Callable[[Any], Any]


class _TagRules:
    def __init__(self, headers: Mapping[str, str] | None, tags: TagSource | None) -> None:
        self.headers = settings.header_map(settings.TAG_HEADERS, headers)
        self.tags = tags

    def from_headers(self, pairs: Iterable[tuple[str, str]]) -> dict[str, object]:
        if not self.headers:
            return {}
        return {self.headers[name]: value for name, value in pairs if name in self.headers}

    def merged(self, from_headers: dict[str, object], from_callable: object) -> dict[str, str]:
        tags = dict(from_headers)
        if isinstance(from_callable, Mapping):
            tags.update(from_callable)
        try:
            return tag_entries(tags)
        except ValueError:
            log.warning("costline: ignoring request tags with an invalid name: %s", sorted(tags))
            return {}


def _tag_current_span(tags: dict[str, str]) -> None:
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes(tags)


class CostlineASGIMiddleware:
    """Tags each HTTP/WebSocket request of an ASGI app."""

    def __init__(self, app: Any, headers: Mapping[str, str] | None = None, tags: TagSource | None = None) -> None:
        self.app = app
        self._rules = _TagRules(headers, tags)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        tags = await self._tags(scope)
        if not tags:
            return await self.app(scope, receive, send)
        token = context.attach(context_with_tags(tags))
        try:
            _tag_current_span(tags)
            await self.app(scope, receive, send)
        finally:
            context.detach(token)

    async def _tags(self, scope: dict) -> dict[str, str]:
        pairs = ((k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope.get("headers") or ())
        from_callable: object = None
        if self._rules.tags is not None:
            try:
                from_callable = self._rules.tags(scope)
                if inspect.isawaitable(from_callable):
                    from_callable = await from_callable
            except Exception:
                log.exception("costline: the request tags callable failed; request left untagged by it")
                from_callable = None
        return self._rules.merged(self._rules.from_headers(pairs), from_callable)


class CostlineWSGIMiddleware:
    """Tags each request of a WSGI app, including the lazy iteration of its response body."""

    def __init__(self, app: Any, headers: Mapping[str, str] | None = None, tags: TagSource | None = None) -> None:
        self.app = app
        self._rules = _TagRules(headers, tags)

    def __call__(self, environ: dict, start_response: Any) -> Any:
        tags = self._tags(environ)
        if not tags:
            return self.app(environ, start_response)
        ctx = context_with_tags(tags)
        token = context.attach(ctx)
        try:
            _tag_current_span(tags)
            body = self.app(environ, start_response)
        finally:
            context.detach(token)
        if isinstance(body, (list, tuple)):
            return body
        return _iterate_in(ctx, body)

    def _tags(self, environ: dict) -> dict[str, str]:
        pairs = ((k[5:].replace("_", "-").lower(), v) for k, v in environ.items() if k.startswith("HTTP_"))
        from_callable: object = None
        if self._rules.tags is not None:
            try:
                from_callable = self._rules.tags(environ)
            except Exception:
                log.exception("costline: the request tags callable failed; request left untagged by it")
        return self._rules.merged(self._rules.from_headers(pairs), from_callable)


def _iterate_in(ctx: context.Context, body: Any) -> Iterator[bytes]:
    """Yield `body`'s chunks with `ctx` attached while each is produced; close it like a server would."""
    iterator = iter(body)
    try:
        while True:
            token = context.attach(ctx)
            try:
                chunk = next(iterator)
            except StopIteration:
                return
            finally:
                context.detach(token)
            yield chunk
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
