"""Keep attribution baggage inside the services that own it.

Tags travel as W3C baggage, and baggage is a request header: without a boundary it
would reach the LLM provider and any third-party API, and a caller could forge tags
that bill its usage to someone else. `BoundaryPropagator` wraps the global
propagator (the launcher hook installs it) and decides per request:

    inject  ──► is this an LLM SDK call?                    yes ─► strip costline.*
                destination host known and allowed?          no ─► strip costline.*
    extract ──► COSTLINE_TRUST_INBOUND_BAGGAGE=true?         no ─► drop inbound costline.*

The destination host comes from a context variable set around the HTTP clients'
`send` (`destinations.py`), or by `outbound_to(host)` for other clients. Unknown
destinations are treated as external: the boundary fails closed. costline's LLM
instrumentors mark the SDK call (`provider_call()`), which wins over the allow-list,
so the provider never receives tags even when its host is allowed. Only `costline.*`
entries are touched; other baggage (and the trace context) passes unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from fnmatch import fnmatchcase

from opentelemetry import baggage
from opentelemetry.context import Context, get_current
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)

from costline.instrumentation.tag_keys import PREFIX

_destination: ContextVar[str | None] = ContextVar("costline_destination_host", default=None)
_provider_call: ContextVar[bool] = ContextVar("costline_provider_call", default=False)


class HostRules:
    """An allow-list of host names: exact names, or `*.suffix` / other fnmatch globs."""

    __slots__ = ("_exact", "_globs")

    def __init__(self, patterns: Iterable[str]) -> None:
        cleaned = [p.strip().lower() for p in patterns if p and p.strip()]
        self._exact = frozenset(p for p in cleaned if not any(c in p for c in "*?["))
        self._globs = tuple(p for p in cleaned if p not in self._exact)

    def allows(self, host: str | None) -> bool:
        if not host:
            return False
        host = host.lower().rstrip(".")
        return host in self._exact or any(fnmatchcase(host, g) for g in self._globs)

    def __bool__(self) -> bool:
        return bool(self._exact or self._globs)


def host_of(url: object) -> str | None:
    """The host of an httpx/requests URL (object or string), without port or brackets."""
    host = getattr(url, "host", None)
    if isinstance(host, str):
        return host.strip("[]").lower() or None
    if isinstance(url, (str, bytes)):
        from urllib.parse import urlsplit

        text = url.decode("latin-1") if isinstance(url, bytes) else url
        return (urlsplit(text).hostname or "").lower() or None
    return None


@contextlib.contextmanager
def outbound_to(host: str | None) -> Iterator[None]:
    """Declare the destination host of the requests sent inside the block."""
    token = _destination.set(host)
    try:
        yield
    finally:
        _destination.reset(token)


@contextlib.contextmanager
def provider_call() -> Iterator[None]:
    """Mark the block as an LLM SDK call: no costline baggage goes out, whatever the host."""
    token = _provider_call.set(True)
    try:
        yield
    finally:
        _provider_call.reset(token)


# `provider_call()` without the context-manager overhead, for the instrumentors' per-call path:
# they `set(True)` it before the SDK call and `reset` the token after.
PROVIDER_CALL = _provider_call


def without_costline_baggage(ctx: Context) -> Context:
    """`ctx` with every `costline.*` baggage entry removed (unchanged if it has none)."""
    entries = baggage.get_all(ctx)
    for key in entries:
        if key.startswith(PREFIX):
            ctx = baggage.remove_baggage(key, context=ctx)
    return ctx


def _with_local_costline_entries(extracted: Context, local: Context) -> Context:
    """`extracted`, but with exactly the `costline.*` entries of `local` (inbound ones dropped)."""
    ctx = without_costline_baggage(extracted)
    for key, value in baggage.get_all(local).items():
        if key.startswith(PREFIX):
            ctx = baggage.set_baggage(key, value, context=ctx)
    return ctx


class BoundaryPropagator(TextMapPropagator):
    """Wraps a propagator so `costline.*` baggage only crosses the allowed boundary."""

    def __init__(self, inner: TextMapPropagator, allowed_hosts: HostRules, trust_inbound: bool) -> None:
        self.inner = inner
        self.allowed_hosts = allowed_hosts
        self.trust_inbound = trust_inbound

    def may_send_to(self, host: str | None) -> bool:
        return not _provider_call.get() and self.allowed_hosts.allows(host)

    def inject(
        self, carrier: CarrierT, context: Context | None = None, setter: Setter[CarrierT] = default_setter
    ) -> None:
        ctx = context if context is not None else get_current()
        if not self.may_send_to(_destination.get()):
            ctx = without_costline_baggage(ctx)
        self.inner.inject(carrier, context=ctx, setter=setter)

    def extract(
        self, carrier: CarrierT, context: Context | None = None, getter: Getter[CarrierT] = default_getter
    ) -> Context:
        extracted = self.inner.extract(carrier, context=context, getter=getter)
        if self.trust_inbound:
            return extracted
        return _with_local_costline_entries(extracted, context if context is not None else get_current())

    @property
    def fields(self) -> set[str]:
        return self.inner.fields
