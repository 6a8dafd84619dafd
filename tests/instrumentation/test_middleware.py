"""ASGI and WSGI middleware: tags from headers or a callable, for the whole request."""

from __future__ import annotations

import asyncio
import io
from wsgiref.util import setup_testing_defaults

import httpx
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware as WSGIOpenTelemetryMiddleware

from costline.instrumentation.attribution import current_tags
from costline.instrumentation.middleware import CostlineASGIMiddleware, CostlineWSGIMiddleware


def asgi_app(seen: dict, tracer_provider):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            seen["lifespan_tags"] = current_tags()
            return
        seen["tags"] = current_tags()
        with tracer_provider.get_tracer("app").start_as_current_span("handler"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def get(app, headers: dict) -> httpx.Response:
    async def main() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
            return await client.get("/", headers=headers)

    return asyncio.run(main())


def test_asgi_tags_from_headers_and_callable(exporter, tracer_provider):
    seen: dict = {}

    async def tags(scope):  # e.g. the user from the auth layer
        return {"user_id": dict(scope["headers"]).get(b"x-user", b"").decode() or None}

    app = CostlineASGIMiddleware(
        asgi_app(seen, tracer_provider), headers={"X-Customer-Id": "customer_id", "x-feature": "feature"}, tags=tags
    )
    get(OpenTelemetryMiddleware(app), {"x-customer-id": "acme", "x-user": "u1", "x-other": "nope"})
    assert seen["tags"] == {"customer_id": "acme", "user_id": "u1"}
    spans = {s.name: s.attributes for s in exporter.get_finished_spans()}
    assert spans["handler"]["costline.customer_id"] == "acme"
    server = next(a for name, a in spans.items() if name.startswith("GET"))
    assert server["costline.customer_id"] == "acme" and server["costline.user_id"] == "u1"  # the server span too


def test_asgi_env_headers_and_failing_callable(monkeypatch, tracer_provider):
    monkeypatch.setenv("COSTLINE_TAG_HEADERS", "x-tenant=customer_id")
    seen: dict = {}

    def tags(scope):
        raise RuntimeError("auth layer down")

    response = get(CostlineASGIMiddleware(asgi_app(seen, tracer_provider), tags=tags), {"x-tenant": "t9"})
    assert response.status_code == 200
    assert seen["tags"] == {"customer_id": "t9"}


def test_asgi_passes_other_scopes_through(tracer_provider):
    seen: dict = {}
    app = CostlineASGIMiddleware(asgi_app(seen, tracer_provider), headers={"x": "y"})
    asyncio.run(app({"type": "lifespan"}, None, None))
    assert seen["lifespan_tags"] == {}


def wsgi_call(app, headers: dict) -> bytes:
    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
    environ["wsgi.input"] = io.BytesIO()
    body = app(environ, lambda status, headers, exc_info=None: None)
    try:
        return b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()


def test_wsgi_tags_cover_the_lazy_body(exporter, tracer_provider):
    seen: list = []
    tracer = tracer_provider.get_tracer("app")

    def app(environ, start_response):
        start_response("200 OK", [])

        def body():
            seen.append(current_tags())
            with tracer.start_as_current_span("streaming-body"):
                yield b"chunk"

        return body()

    wrapped = WSGIOpenTelemetryMiddleware(
        CostlineWSGIMiddleware(
            app,
            headers={"x-customer-id": "customer_id"},
            tags=lambda environ: {"feature": environ["PATH_INFO"].strip("/") or None},
        )
    )
    assert wsgi_call(wrapped, {"x-customer-id": "acme"}) == b"chunk"
    assert seen == [{"customer_id": "acme"}]
    body_span = next(s for s in exporter.get_finished_spans() if s.name == "streaming-body")
    assert body_span.attributes["costline.customer_id"] == "acme"


def test_wsgi_without_tags_is_untouched():
    def app(environ, start_response):
        start_response("200 OK", [])
        return [repr(current_tags()).encode()]

    assert wsgi_call(CostlineWSGIMiddleware(app), {"x-customer-id": "acme"}) == b"{}"
