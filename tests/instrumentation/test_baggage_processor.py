"""The baggage span processor: the same attributes as contrib's processor, in fewer steps."""

from __future__ import annotations

from opentelemetry import baggage, context
from opentelemetry.processor.baggage import BaggageSpanProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from costline.instrumentation.baggage import CostlineBaggageSpanProcessor, is_costline_key


def _span_attributes(processor, ctx=None) -> list[dict]:
    """Attributes of spans started (in `ctx`, or the current context) on a provider with `processor`."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    tracer.start_span("a", context=ctx, attributes={"own": 1}).end()
    tracer.start_span("b", context=ctx).end()
    return [dict(s.attributes) for s in exporter.get_finished_spans()]


def _with_baggage(entries: dict[str, object], ctx=None):
    for key, value in entries.items():
        ctx = baggage.set_baggage(key, value, context=ctx)
    return ctx


def test_same_attributes_as_contrib_processor():
    cases = [
        {},
        {"other": "x"},
        {"costline.customer_id": "acme"},
        {"costline.customer_id": "acme", "other": "x", "costline.feature": "search", "costline.n": 3},
    ]
    ours = CostlineBaggageSpanProcessor()  # one instance across cases: its memo must follow the baggage
    for entries in cases:
        ctx = _with_baggage(entries, context.Context())
        assert _span_attributes(ours, ctx) == _span_attributes(BaggageSpanProcessor(is_costline_key), ctx)
        token = context.attach(ctx)  # the current context, as when no context is passed
        try:
            assert _span_attributes(ours) == _span_attributes(BaggageSpanProcessor(is_costline_key))
        finally:
            context.detach(token)


def test_changed_baggage_is_read_again():
    ours = CostlineBaggageSpanProcessor()
    first = _with_baggage({"costline.feature": "a"}, context.Context())
    assert _span_attributes(ours, first)[0] == {"own": 1, "costline.feature": "a"}
    second = _with_baggage({"costline.feature": "b", "costline.team": "t"}, first)
    assert _span_attributes(ours, second)[1] == {"costline.feature": "b", "costline.team": "t"}
    assert _span_attributes(ours, first)[1] == {"costline.feature": "a"}
    assert _span_attributes(ours, context.Context()) == [{"own": 1}, {}]


def test_few_and_many_tags_in_baggage_order():
    """Up to three tags are set one by one, more in one call: the same attributes, in baggage order."""
    for n in (1, 3, 4, 6):
        entries = {f"costline.t{i}": f"v{i}" for i in range(n)}
        ctx = _with_baggage({"other": "x", **entries}, context.Context())
        ours = [list(a.items()) for a in _span_attributes(CostlineBaggageSpanProcessor(), ctx)]
        contrib = [list(a.items()) for a in _span_attributes(BaggageSpanProcessor(is_costline_key), ctx)]
        assert ours == contrib == [[("own", 1), *entries.items()], list(entries.items())]
