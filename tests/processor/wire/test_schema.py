"""wire/schema.py: the lazy schema reads what the generated OTLP classes read."""

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline_processor.wire.schema import LazyTraceRequest, SpanView
from tests.processor.spans import set_value

values = st.one_of(
    st.text(max_size=10),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=3), max_size=2),
)


@settings(max_examples=100, deadline=None)
@given(
    st.text(max_size=20),
    st.integers(0, 5),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1),
    st.lists(st.tuples(st.text(max_size=12), values), max_size=6),
)
def test_span_view_reads_what_span_reads(name, kind, start, end, pairs):
    span = Span(
        trace_id=b"\x01" * 16,
        span_id=b"\x02" * 8,
        parent_span_id=b"\x03" * 8,
        name=name,
        kind=kind,
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        trace_state="k=v",
    )
    for k, v in pairs:
        set_value(span.attributes.add(key=k), v)
    span.events.add(name="e")
    view = SpanView.FromString(span.SerializeToString())
    assert (view.name, view.kind, view.start_time_unix_nano, view.end_time_unix_nano) == (name, kind, start, end)
    assert list(view.attributes) == [kv.SerializeToString() for kv in span.attributes]


def test_lazy_request_leaves_resources_scopes_and_spans_as_their_bytes():
    req = ExportTraceServiceRequest()
    for r in range(2):
        rs = req.resource_spans.add(schema_url=f"https://r{r}")
        rs.resource.attributes.add(key="service.name").value.string_value = f"svc{r}"
        for s in range(2):
            ss = rs.scope_spans.add(schema_url=f"https://s{s}")
            ss.scope.name = f"lib{s}"
            for i in range(3):
                ss.spans.add(trace_id=bytes([r, s, i]) * 5 + b"\x01", span_id=b"\x02" * 8, name=f"s{i}")
    lazy = LazyTraceRequest.FromString(req.SerializeToString())
    assert [
        (rs.resource, rs.schema_url, ss.scope, ss.schema_url, list(ss.spans))
        for rs in lazy.resource_spans
        for ss in rs.scope_spans
    ] == [
        (
            rs.resource.SerializeToString(),
            rs.schema_url,
            ss.scope.SerializeToString(),
            ss.schema_url,
            [s.SerializeToString() for s in ss.spans],
        )
        for rs in req.resource_spans
        for ss in rs.scope_spans
    ]
