"""The trust boundary: costline.* baggage leaves only for allowed hosts, never for providers,
and is not taken from callers unless trusted. Checked on the wire against the fake provider."""

from __future__ import annotations

import asyncio
from urllib.parse import unquote_plus

import httpx
import httpx2
import pytest
import requests
from opentelemetry import baggage, context, propagate
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import costline
from costline.instrumentation.attribution import current_tags
from costline.instrumentation.trust_boundary import BoundaryPropagator, HostRules, outbound_to, provider_call
from tests.instrumentation.sdk_calls import anthropic_client, openai_client


def baggage_of(headers: dict) -> dict[str, str]:
    """The baggage header as a dict (values percent-decoded); {} when absent."""
    raw = headers.get("baggage", "")
    pairs = (item.split(";")[0].split("=", 1) for item in raw.split(",") if "=" in item)
    return {k.strip(): unquote_plus(v.strip()) for k, v in pairs}


@pytest.fixture
def http_clients_instrumented(tracer_provider):
    RequestsInstrumentor().instrument(tracer_provider=tracer_provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=tracer_provider)
    yield
    HTTPXClientInstrumentor().uninstrument()
    RequestsInstrumentor().uninstrument()


@pytest.fixture
def tagged():
    """Tags plus one non-costline baggage entry, which must always pass."""
    token = context.attach(baggage.set_baggage("other", "1"))
    with costline.attribution(customer_id="acme corp", feature="search"):
        yield
    context.detach(token)


TAGS = {"costline.customer_id": "acme corp", "costline.feature": "search"}


# -- rules and propagator, no network -------------------------------------------------
def test_host_rules():
    rules = HostRules(["svc-b", "*.internal", " API.Example.com "])
    assert rules.allows("svc-b") and rules.allows("SVC-B") and rules.allows("api.example.com.")
    assert rules.allows("billing.internal") and rules.allows("a.b.internal")
    assert not rules.allows("internal") and not rules.allows("svc-b.evil.com") and not rules.allows(None)
    assert not HostRules([]).allows("svc-b")


def make_propagator(allowed: str = "", trust: bool = False) -> BoundaryPropagator:
    inner = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
    return BoundaryPropagator(inner, HostRules(allowed.split(",")), trust)


def test_inject_strips_costline_entries_unless_the_destination_is_allowed(tagged):
    propagator = make_propagator("svc-b")
    for host, expected in (
        (None, {"other": "1"}),
        ("api.openai.com", {"other": "1"}),
        ("svc-b", {"other": "1", **TAGS}),
    ):
        carrier: dict[str, str] = {}
        with outbound_to(host):
            propagator.inject(carrier)
        assert baggage_of(carrier) == expected, host
    carrier = {}
    with outbound_to("svc-b"), provider_call():
        propagator.inject(carrier)
    assert baggage_of(carrier) == {"other": "1"}  # a provider call wins over the allow-list


def test_extract_drops_inbound_costline_entries_unless_trusted():
    header = {"baggage": "costline.customer_id=forged,other=1"}
    with costline.attribution(feature="local"):
        untrusted = make_propagator().extract(header)
        trusted = make_propagator(trust=True).extract(header)
    # untrusted: inbound tags are dropped, the service's own tags stay
    assert baggage.get_all(untrusted) == {"other": "1", "costline.feature": "local"}
    # trusted: the caller's baggage is taken as it came (W3C extraction replaces the local baggage)
    assert baggage.get_all(trusted) == {"other": "1", "costline.customer_id": "forged"}


def test_extract_without_inbound_baggage_keeps_local_tags():
    with costline.attribution(feature="local"):
        ctx = make_propagator().extract({"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"})
    assert baggage.get_all(ctx) == {"costline.feature": "local"}


# -- on the wire --------------------------------------------------------------------
def test_requests_and_httpx_send_tags_only_to_allowed_hosts(fake, boundary, http_clients_instrumented, tagged):
    boundary(allowed_hosts="localhost")
    internal, external = f"http://localhost:{fake.port}", fake.base_url  # same server, two host names
    fake.clear()
    requests.get(f"{internal}/svc/requests")
    requests.get(f"{external}/ext/requests")
    httpx.get(f"{internal}/svc/httpx")
    httpx.post(f"{external}/ext/httpx", json={})

    async def async_calls() -> None:
        async with httpx.AsyncClient() as client:
            await client.get(f"{internal}/svc/httpx-async")
            await client.get(f"{external}/ext/httpx-async")

    asyncio.run(async_calls())
    seen = {r.path: r.headers for r in fake.requests}
    assert len(seen) == 6
    for path, headers in seen.items():
        assert "traceparent" in headers, path  # trace context always flows
        expected = {"other": "1", **TAGS} if path.startswith("/svc/") else {"other": "1"}
        assert baggage_of(headers) == expected, path


def test_llm_sdk_requests_carry_no_tags_even_to_an_allowed_host(fake, boundary, exporter, instrument_openai, tagged):
    """An HTTP instrumentation of the SDK's client (simulated by a hook that injects the
    global propagator, as such instrumentations do) must not send tags to the provider."""
    boundary(allowed_hosts="127.0.0.1")  # the provider's host is even on the allow-list
    hook_client = httpx2.Client(event_hooks={"request": [lambda request: propagate.inject(request.headers)]})
    client = openai_client(fake, "sync", http_client=hook_client)
    fake.clear()
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    client.models.list()  # control: not a model call costline traces, so the allow-list applies
    chat, models = fake.requests
    assert chat.path == "/v1/chat/completions" and "traceparent" in chat.headers
    assert baggage_of(chat.headers) == {"other": "1"}
    assert baggage_of(models.headers) == {"other": "1", **TAGS}


def test_anthropic_sdk_own_propagation_carries_no_tags(fake, boundary, tagged):
    """Uninstrumented, anthropic>=2 injects trace headers itself; the boundary strips the tags."""
    boundary(allowed_hosts="127.0.0.1")
    fake.clear()
    anthropic_client(fake, "sync").messages.create(
        model="claude-fake-1", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    (request,) = fake.requests
    assert "traceparent" in request.headers
    assert baggage_of(request.headers) == {"other": "1"}


def test_without_the_boundary_tags_would_leak(fake, http_clients_instrumented, tagged):
    """Control: the plain W3C propagator sends every entry anywhere; this is what the boundary prevents."""
    fake.clear()
    requests.get(f"{fake.base_url}/ext/plain")
    assert baggage_of(fake.requests[0].headers) == {"other": "1", **TAGS}


@pytest.mark.parametrize("trust", [False, True])
def test_inbound_baggage_at_an_asgi_edge(boundary, trust):
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    seen: dict = {}

    async def app(scope, receive, send):
        if scope["type"] == "http":
            seen.update(tags=current_tags(), other=baggage.get_baggage("other"))
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

    boundary(trust_inbound=trust)

    async def main() -> None:
        transport = httpx.ASGITransport(app=OpenTelemetryMiddleware(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            await client.get("/", headers={"baggage": "costline.customer_id=forged,other=1"})

    asyncio.run(main())
    assert seen["other"] == "1"
    assert seen["tags"] == ({"customer_id": "forged"} if trust else {})


def test_settings_come_from_the_environment(monkeypatch, boundary):
    monkeypatch.setenv("COSTLINE_BAGGAGE_ALLOWED_HOSTS", "svc-b, *.internal")
    monkeypatch.setenv("COSTLINE_TRUST_INBOUND_BAGGAGE", "true")
    from costline.instrumentation import configurator

    configurator.install()
    installed = propagate.get_global_textmap()
    assert isinstance(installed, BoundaryPropagator)
    assert installed.trust_inbound is True
    assert installed.allowed_hosts.allows("x.internal") and installed.allowed_hosts.allows("svc-b")
    configurator.install()  # idempotent: never wraps twice
    assert not isinstance(propagate.get_global_textmap().inner, BoundaryPropagator)
