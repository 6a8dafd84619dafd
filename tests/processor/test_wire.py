"""Wire layer: appended attribute bytes parse as real attributes; framing builds valid requests."""

import math

from hypothesis import given, strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline_processor.export import encode
from tests.fakes.otlp_sink import any_value


def _span(**attrs) -> Span:
    s = Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="chat gpt-4o", start_time_unix_nano=5)
    for k, v in attrs.items():
        kv = s.attributes.add(key=k)
        kv.value.string_value = v
    return s


def test_appended_attributes_parse_as_set_attributes():
    base = _span(existing="yes")
    added = [("costline.cost.usd", 0.00725), ("costline.rollup.llm_calls", 3), ("costline.feature", "chat"),
             ("flag", True), ("neg", -5), ("unicode", "café ✓")]
    parsed = Span.FromString(base.SerializeToString() + encode.attributes(added))
    got = {kv.key: any_value(kv.value) for kv in parsed.attributes}
    assert got == {"existing": "yes", **dict(added)}
    assert parsed.name == "chat gpt-4o" and parsed.start_time_unix_nano == 5


@given(st.lists(st.tuples(st.text(max_size=30), st.one_of(
    st.text(max_size=50), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False))), max_size=20))
def test_any_attribute_roundtrips(pairs):
    parsed = Span.FromString(_span().SerializeToString() + encode.attributes(pairs))
    got = [(kv.key, any_value(kv.value)) for kv in parsed.attributes]
    assert got == pairs


def test_nan_double_roundtrips():
    parsed = Span.FromString(encode.attributes([("x", float("nan"))]))
    assert math.isnan(parsed.attributes[0].value.double_value)


def test_framed_request_matches_protobuf_built_request():
    res = Resource(attributes=[KeyValue(key="service.name")])
    res.attributes[0].value.string_value = "svc"
    scope = InstrumentationScope(name="lib", version="1.0")
    spans = [_span(a="1"), _span(b="2")]
    body = encode.export_request([
        encode.resource_spans(res.SerializeToString(), [
            encode.scope_spans(scope.SerializeToString(), [s.SerializeToString() for s in spans], "https://schema/ss")
        ], "https://schema/rs")
    ])
    expected = ExportTraceServiceRequest()
    rs = expected.resource_spans.add(resource=res, schema_url="https://schema/rs")
    ss = rs.scope_spans.add(scope=scope, schema_url="https://schema/ss")
    ss.spans.extend(spans)
    assert ExportTraceServiceRequest.FromString(body) == expected
