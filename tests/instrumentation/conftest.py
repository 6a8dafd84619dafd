"""Fixtures for costline.instrumentation: a fake provider, in-memory spans, instrumentors.

The global tracer provider can be set once per process, so the session gets one SDK
provider (or reuses the one another suite set) with an in-memory exporter that each
test starts empty. Instrumentors are given that provider explicitly and are
uninstrumented after each test, as contrib's conftests do.
"""

from __future__ import annotations

import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from costline.instrumentation import configurator
from costline.instrumentation.anthropic import AnthropicInstrumentor
from costline.instrumentation.openai import OpenAIInstrumentor
from costline_processor.demo.fake_provider import FakeProvider


@pytest.fixture(scope="session")
def tracer_provider() -> TracerProvider:
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        provider = current
    else:
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    configurator.install(provider)  # the baggage span processor (idempotent)
    configurator.uninstall()  # propagator/HTTP wraps only where a test asks for them
    return provider


@pytest.fixture(scope="session")
def _session_exporter(tracer_provider: TracerProvider) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def exporter(_session_exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    _session_exporter.clear()
    yield _session_exporter
    _session_exporter.clear()


@pytest.fixture(scope="session")
def fake() -> FakeProvider:
    with FakeProvider() as provider:
        yield provider


def _instrumented(instrumentor, tracer_provider: TracerProvider):
    """Instrument with defaults, yield a function to re-instrument with kwargs, uninstrument after."""

    def again(**kwargs: object) -> None:
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
        instrumentor.instrument(tracer_provider=tracer_provider, **kwargs)

    again()
    yield again
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


@pytest.fixture
def instrument_openai(tracer_provider: TracerProvider, exporter: InMemorySpanExporter):
    """OpenAI instrumented with defaults; yields a function to re-instrument with kwargs."""
    yield from _instrumented(OpenAIInstrumentor(), tracer_provider)


@pytest.fixture
def instrument_anthropic(tracer_provider: TracerProvider, exporter: InMemorySpanExporter):
    """Anthropic instrumented with defaults; yields a function to re-instrument with kwargs."""
    yield from _instrumented(AnthropicInstrumentor(), tracer_provider)


@pytest.fixture
def both(tracer_provider: TracerProvider):
    """Instrument the official openai-v2 and costline in the order asked; undo in reverse (wrapt stacks)."""
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as OfficialOpenAIInstrumentor

    done: list = []

    def instrument(order: tuple[str, ...], **costline_kwargs: object) -> None:
        for name in order:
            if name == "official":
                OfficialOpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
                done.append(OfficialOpenAIInstrumentor())
            else:
                OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, **costline_kwargs)
                done.append(OpenAIInstrumentor())

    yield instrument
    for instrumentor in reversed(done):
        instrumentor.uninstrument()


@pytest.fixture
def boundary():
    """Install the trust boundary with given settings; restore the plain propagator afterwards."""
    original = propagate.get_global_textmap()

    def install(allowed_hosts: str = "", trust_inbound: bool = False) -> None:
        configurator.install(trace.get_tracer_provider(), allowed_hosts=allowed_hosts, trust_inbound=trust_inbound)

    yield install
    configurator.uninstall()
    propagate.set_global_textmap(original)
