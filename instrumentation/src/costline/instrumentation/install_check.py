"""Warn, once, when tags are set but no span processor will copy them onto spans.

`costline.attribution(...)` only puts the tags in the context's baggage; the
`CostlineBaggageSpanProcessor` copies them onto spans. `opentelemetry-instrument`
adds that processor to the SDK it sets up (`configurator.before_instrumentors`), but
an app that builds its own `TracerProvider` must call `costline.install(provider)`.
Forgetting it loses every tag silently, so the first time tags are set under a
tracer provider (the global one, as the spans below will use) that lacks the
processor, this logs one warning saying what to call.

Cost per tagged request: one read of the API's global (`_TRACER_PROVIDER`, private:
`trace.get_tracer_provider()` if a release moves it) and an identity check against the
provider looked at last (~0.03 µs; `attribution` enter + exit is ~2 µs). Each provider is
inspected once (its processors, where the SDK keeps them), so one that gets the
processor after the warning is not looked at again. No provider set yet (the API's
no-op proxy), or one that is not the SDK's, is not warned about: there are no spans
to lose tags from, or costline cannot tell what that provider does with baggage.
"""

from __future__ import annotations

import logging

from opentelemetry import trace

log = logging.getLogger(__name__)

_installed: set[int] = set()  # ids of tracer providers costline.install gave the processor (`installed`)
_looked_at: set[int] = set()  # ids of tracer providers already inspected (warned about or not)
_last: object = None  # the provider inspected last (None: no provider set, nothing to inspect)
_DIRECT = hasattr(trace, "_TRACER_PROVIDER")  # where `set_tracer_provider` keeps the global provider

WARNING = (
    "costline: attribution tags are set, but the tracer provider %r has no costline span processor, "
    "so no span will carry them. Call costline.install(tracer_provider) once after building it, "
    "or run the app under opentelemetry-instrument."
)


def installed(provider: object) -> None:
    """Note that `costline.install` added the processor to `provider` (configurator.install calls this)."""
    _installed.add(id(provider))


def has_been_installed(provider: object) -> bool:
    return id(provider) in _installed


def warn_if_not_installed() -> None:
    """Log `WARNING` once per tracer provider that lacks costline's baggage span processor."""
    provider = trace._TRACER_PROVIDER if _DIRECT else trace.get_tracer_provider()
    if provider is not _last:
        _look_at(provider)


def _look_at(provider: object) -> None:
    global _last
    _last = provider
    if id(provider) in _looked_at:
        return
    _looked_at.add(id(provider))
    try:
        if _lacks_processor(provider):
            log.warning(WARNING, provider)
    except Exception:  # the check must never break the app
        log.debug("costline: could not inspect the tracer provider", exc_info=True)


def _lacks_processor(provider: object) -> bool:
    """True only for an SDK tracer provider known not to have the processor."""
    from costline.instrumentation.baggage import CostlineBaggageSpanProcessor

    if id(provider) in _installed:
        return False
    from opentelemetry.sdk.trace import TracerProvider

    if not isinstance(provider, TracerProvider):
        return False
    processors = getattr(getattr(provider, "_active_span_processor", None), "_span_processors", None)
    if processors is None:  # the SDK keeps them elsewhere now: cannot tell
        return False
    return not any(isinstance(p, CostlineBaggageSpanProcessor) for p in processors)
