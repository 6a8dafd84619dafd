"""The private context keys costline reads directly are where the public OTel functions look."""

from opentelemetry import context, trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, suppress_instrumentation
from opentelemetry.sdk.trace import TracerProvider

from costline.instrumentation import context_keys


def test_span_key_is_where_the_api_keeps_the_current_span():
    assert context_keys.SPAN_KEY is not None, "the installed API moved its span key: the slow path is in use"
    span = TracerProvider().get_tracer("t").start_span("s")
    ctx = trace.set_span_in_context(span)
    assert ctx.get(context_keys.SPAN_KEY) is span
    assert trace.get_current_span(context.set_value(context_keys.SPAN_KEY, span)) is span


def test_suppress_keys_are_what_is_instrumentation_enabled_reads():
    assert context_keys.SUPPRESS_KEY is not None, "the instrumentation package moved its keys"
    with suppress_instrumentation():
        ctx = context.get_current()
        assert not is_instrumentation_enabled()
        assert ctx.get(context_keys.SUPPRESS_KEY) or ctx.get(context_keys.SUPPRESS_KEY_PLAIN)
    ctx = context.get_current()
    assert is_instrumentation_enabled()
    assert not (ctx.get(context_keys.SUPPRESS_KEY) or ctx.get(context_keys.SUPPRESS_KEY_PLAIN))
