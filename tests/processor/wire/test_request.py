"""wire/request.py: spans grouped by trace as the protobuf runtime would group them."""

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline_processor.wire.request import by_trace, scopes
from costline_processor.wire.varint import varint

IDS = st.sampled_from([b"\x01" * 16, b"\x02" * 16, b"\0" * 16, b"\x03" * 15])
SPAN_IDS = st.sampled_from([b"\x05" * 8, b"\0" * 8, b"\x06" * 7])


def _field(tag: int, payload: bytes) -> bytes:
    return bytes([tag]) + varint(len(payload)) + payload


def _origin_of(calls: list):
    def origin_of(resource, resource_schema, scope, scope_schema):
        calls.append((resource, resource_schema, scope, scope_schema))
        return (resource, scope)

    return origin_of


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.tuples(IDS, SPAN_IDS, st.booleans()), max_size=8), min_size=1, max_size=3))
def test_by_trace_groups_and_rejects_as_the_runtime_reads_the_ids(scope_specs):
    scope_fields, all_spans = [], []
    for s, specs in enumerate(scope_specs):
        scope = _field(0x0A, f"lib{s}".encode())  # InstrumentationScope.name
        spans = []
        for i, (t, sid, odd) in enumerate(specs):  # odd: span_id before trace_id (out of field order)
            ids = _field(0x12, sid) + _field(0x0A, t) if odd else _field(0x0A, t) + _field(0x12, sid)
            spans.append(ids + _field(0x2A, f"s{s}.{i}".encode()))
        all_spans += [(d, scope) for d in spans]
        scope_fields.append(_field(0x12, _field(0x0A, scope) + b"".join(_field(0x12, d) for d in spans)))
    body = _field(0x0A, _field(0x0A, b"") + b"".join(scope_fields))
    calls: list = []
    grouped, accepted, rejected, first = by_trace(body, _origin_of(calls))
    expected: dict = {}
    bad = []
    for d, scope in all_spans:
        m = Span.FromString(d)
        if len(m.trace_id) == 16 and m.trace_id != b"\0" * 16 and len(m.span_id) == 8 and m.span_id != b"\0" * 8:
            expected.setdefault(m.trace_id, []).append((d, (b"", scope)))
        else:
            bad.append(d)
    assert grouped == expected
    assert (accepted, rejected, first) == (len(all_spans) - len(bad), len(bad), bad[0] if bad else None)
    assert len(calls) == len(scope_specs)  # the origin once per scope


def test_scopes_in_request_order():
    req = ExportTraceServiceRequest()
    for r in range(2):
        rs = req.resource_spans.add(schema_url=f"r{r}")
        for s in range(2):
            ss = rs.scope_spans.add(schema_url=f"s{s}")
            ss.spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name=f"{r}.{s}")
    got = [
        (rschema, sschema, [Span.FromString(d).name for d in spans])
        for _, rschema, _, sschema, spans in scopes(req.SerializeToString())
    ]
    assert got == [("r0", "s0", ["0.0"]), ("r0", "s1", ["0.1"]), ("r1", "s0", ["1.0"]), ("r1", "s1", ["1.1"])]
