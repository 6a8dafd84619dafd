"""What `opentelemetry-instrument` sets up for costline, before the instrumentors load.

The launcher loads one `opentelemetry_configurator` only (the first it finds), so a
configurator of costline's own would race opentelemetry-distro's. costline instead
registers `before_instrumentors` in the `opentelemetry_pre_instrument` group, which the
launcher always runs, after the configurator and before any instrumentor:

    launcher ─► distro + configurator (SDK, exporters) ─► before_instrumentors() ─► instrumentors
                                                           │ SDK not configured? configure it (OTLP)
                                                           │ baggage span processor (costline.* → spans)
                                                           │ trust-boundary propagator around the global one
                                                           └ destination tracking on the HTTP clients

Apps that set OpenTelemetry up in code call `install(tracer_provider)` themselves.
Nothing here may stop the app from starting: failures are logged.
"""

from __future__ import annotations

import logging
import os

from opentelemetry import propagate, trace

from costline.instrumentation import destinations, install_check, settings
from costline.instrumentation.baggage import CostlineBaggageSpanProcessor
from costline.instrumentation.trust_boundary import BoundaryPropagator, HostRules

log = logging.getLogger(__name__)

try:  # the SDK's standard setup, as opentelemetry-distro's configurator uses it
    from opentelemetry.sdk._configuration import _OTelSDKConfigurator
except ImportError:  # pragma: no cover - the SDK is a dependency
    _OTelSDKConfigurator = object  # type: ignore[assignment,misc]


class CostlineConfigurator(_OTelSDKConfigurator):
    """The standard SDK setup, exporting traces over OTLP unless `OTEL_TRACES_EXPORTER` says otherwise."""

    def _configure(self, **kwargs: object) -> None:
        os.environ.setdefault("OTEL_TRACES_EXPORTER", "otlp")
        super()._configure(**kwargs)


def _sdk_configured() -> bool:
    from opentelemetry.sdk.trace import TracerProvider

    return isinstance(trace.get_tracer_provider(), TracerProvider)


def install(
    tracer_provider: object | None = None,
    *,
    allowed_hosts: object | None = None,
    trust_inbound: bool | None = None,
) -> None:
    """Add costline's span processor and trust boundary (idempotent).

    `allowed_hosts` (names or `*.suffix` globs) and `trust_inbound` default to
    `COSTLINE_BAGGAGE_ALLOWED_HOSTS` and `COSTLINE_TRUST_INBOUND_BAGGAGE`.
    """
    provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    if not install_check.has_been_installed(provider) and hasattr(provider, "add_span_processor"):
        provider.add_span_processor(CostlineBaggageSpanProcessor())
        install_check.installed(provider)
    rules = HostRules(settings.host_list(settings.BAGGAGE_ALLOWED_HOSTS, allowed_hosts))
    trusted = settings.flag(settings.TRUST_INBOUND_BAGGAGE, False, trust_inbound)
    current = propagate.get_global_textmap()
    inner = current.inner if isinstance(current, BoundaryPropagator) else current
    propagate.set_global_textmap(BoundaryPropagator(inner, rules, trusted))
    destinations.install()


def uninstall() -> None:
    """Undo the propagator and HTTP-client wraps (the span processor stays: the SDK cannot remove one)."""
    current = propagate.get_global_textmap()
    if isinstance(current, BoundaryPropagator):
        propagate.set_global_textmap(current.inner)
    destinations.uninstall()


def before_instrumentors() -> None:
    """`opentelemetry_pre_instrument` hook: configure the SDK if nobody did, then `install()`."""
    try:
        if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return  # the user turned OpenTelemetry off: add nothing
        if not _sdk_configured():
            CostlineConfigurator().configure()
        install()
    except Exception:
        log.exception("costline: could not set up attribution; the app runs without it")
