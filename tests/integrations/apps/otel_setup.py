"""What each app here does first: the OpenTelemetry SDK set up in code, exporting to costline.

    provider = otel_setup.start("service-name")   # global provider, OTLP exporter, costline's processor
    ...
    provider.shutdown()                            # flush

Set by the test: COSTLINE_OTLP_ENDPOINT (host:port for gRPC, http://host:port for HTTP),
COSTLINE_OTLP_PROTOCOL (grpc | http) and FAKE_PROVIDER_URL. The apps run as scripts, in
the integrations venv, one process each: the instrumentors patch the SDKs globally.
"""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from costline.instrumentation import configurator

BASE = os.environ["FAKE_PROVIDER_URL"]
# The tags every test checks on the ledger rows.
TAGS = {"customer_id": "acme", "feature": "support"}


def exporter():
    protocol = os.environ.get("COSTLINE_OTLP_PROTOCOL", "grpc")
    endpoint = os.environ["COSTLINE_OTLP_ENDPOINT"]
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint, insecure=True)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint + "/v1/traces")


def start(service: str, sampler=None) -> TracerProvider:
    """A global SDK provider with a batch OTLP exporter and costline's baggage processor."""
    kwargs = {"sampler": sampler} if sampler is not None else {}
    provider = TracerProvider(resource=Resource.create({"service.name": service}), **kwargs)
    provider.add_span_processor(BatchSpanProcessor(exporter(), schedule_delay_millis=50))
    configurator.install(provider)  # costline.* baggage -> span attributes; the trust boundary
    trace.set_tracer_provider(provider)  # anthropic>=2 traces itself only when a global provider exists
    return provider
