"""wire/framing.py: framed requests equal the protobuf runtime's; take_apart / put_together keep every field."""

import contextlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline_processor.wire import framing


def _span(**attrs) -> Span:
    s = Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="chat gpt-4o", start_time_unix_nano=5)
    for k, v in attrs.items():
        kv = s.attributes.add(key=k)
        kv.value.string_value = v
    return s


def _origin(service: str, scope_name: str, resource_schema: str = "", scope_schema: str = "") -> tuple:
    res = Resource(attributes=[KeyValue(key="service.name")])
    res.attributes[0].value.string_value = service
    scope = InstrumentationScope(name=scope_name, version="1.0")
    return (
        res.SerializeToString(),
        resource_schema,
        scope.SerializeToString(),
        scope_schema,
        service,
        scope_name,
        "1.0",
    )


def test_framed_request_matches_protobuf_built_request():
    res = Resource(attributes=[KeyValue(key="service.name")])
    res.attributes[0].value.string_value = "svc"
    scope = InstrumentationScope(name="lib", version="1.0")
    spans = [_span(a="1"), _span(b="2")]
    body = framing.export_request(
        [
            framing.resource_spans(
                res.SerializeToString(),
                [
                    framing.scope_spans(
                        scope.SerializeToString(), [s.SerializeToString() for s in spans], "https://schema/ss"
                    )
                ],
                "https://schema/rs",
            )
        ]
    )
    expected = ExportTraceServiceRequest()
    rs = expected.resource_spans.add(resource=res, schema_url="https://schema/rs")
    ss = rs.scope_spans.add(scope=scope, schema_url="https://schema/ss")
    ss.spans.extend(spans)
    assert ExportTraceServiceRequest.FromString(body) == expected


def test_request_frames_spans_with_their_appended_attributes_per_resource_and_scope():
    a, b = _origin("svc-a", "lib", "https://r"), _origin("svc-b", "other", "", "https://s")
    first, second = _span(n="1").SerializeToString(), _span(n="2" * 20_000).SerializeToString()  # a 3-byte length
    appended = Span(attributes=[KeyValue(key="costline.feature")]).SerializeToString()
    groups = {}
    for origin, d, extra in ((a, first, appended), (b, second, b""), (a, second, b"")):
        g = groups.setdefault(origin, [[], 0])
        prefix = framing.span_field_prefix(len(d) + len(extra))
        g[0] += [prefix, d, extra] if extra else [prefix, d]
        g[1] += len(prefix) + len(d) + len(extra)
    got = ExportTraceServiceRequest.FromString(framing.request(groups))
    assert [
        (
            rs.resource.attributes[0].value.string_value,
            rs.schema_url,
            ss.scope.name,
            ss.schema_url,
            [s.attributes[0].value.string_value for s in ss.spans],
            [len(s.attributes) for s in ss.spans],
        )
        for rs in got.resource_spans
        for ss in rs.scope_spans
    ] == [
        ("svc-a", "https://r", "lib", "", ["1", "2" * 20_000], [2, 1]),
        ("svc-b", "", "other", "https://s", ["2" * 20_000], [1]),
    ]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3000)), min_size=1, max_size=20))
def test_bound_is_at_least_what_request_adds_around_the_spans(specs):
    origins = [_origin("s" * 200 * i, f"lib{i}", "https://ü" * i, "x" * 300 * i) for i in range(4)]
    groups: dict = {}
    for o, n in specs:
        d = _span(n="x" * n).SerializeToString()
        g = groups.setdefault(origins[o], [[], 0])
        prefix = framing.span_field_prefix(len(d))
        g[0] += [prefix, d]
        g[1] += len(prefix) + len(d)
    framed = len(framing.request(groups)) - sum(size for _, size in groups.values())
    assert framed <= sum(framing.bound(o) for o in groups)


def _logs_request() -> bytes:
    req = ExportLogsServiceRequest()
    for r in range(2):
        rl = req.resource_logs.add(schema_url=f"https://r{r}")
        rl.resource.attributes.add(key="service.name").value.string_value = f"svc{r}"
        for s in range(2):
            sl = rl.scope_logs.add(schema_url="https://s")
            sl.scope.name = f"lib{s}"
            for i in range(3):
                sl.log_records.add(severity_text=f"r{r}s{s}i{i}")
    return req.SerializeToString()


def test_take_apart_and_put_together_give_the_same_request_back():
    body = _logs_request()
    nesting = framing.take_apart(body)
    assert [len(items) for _, scopes in nesting for _, items in scopes] == [3, 3, 3, 3]
    # the same message (a scope's or resource's other fields now come before its items)
    again = ExportLogsServiceRequest.FromString(framing.put_together(nesting))
    assert again == ExportLogsServiceRequest.FromString(body)
    # each part alone is a request of its own, its resource and scope fields kept
    part = ExportLogsServiceRequest.FromString(framing.put_together([(nesting[1][0], [nesting[1][1][0]])]))
    assert part.resource_logs[0].schema_url == "https://r1"
    assert [r.severity_text for r in part.resource_logs[0].scope_logs[0].log_records] == ["r1s0i0", "r1s0i1", "r1s0i2"]


def test_take_apart_keeps_fields_it_does_not_know_and_refuses_garbage():
    unknown = bytes([15 << 3 | 0, 7]) + bytes([14 << 3 | 1]) + b"\0" * 8 + bytes([13 << 3 | 5]) + b"\0" * 4
    body = _logs_request()
    nesting = framing.take_apart(body + unknown)  # unknown fields of the request itself are not kept
    assert framing.put_together(nesting) == framing.put_together(framing.take_apart(body))
    nesting[0] = (nesting[0][0] + unknown, nesting[0][1])  # a resource's are
    again = framing.take_apart(framing.put_together(nesting))
    assert again[0][0].endswith(unknown) and again == nesting
    rng = random.Random(5)
    for cut in sorted(rng.sample(range(1, len(body)), 20)):
        with contextlib.suppress(ValueError):  # refused or read as far as it goes, never an IndexError
            framing.take_apart(body[:cut])
    with pytest.raises(ValueError):
        framing.take_apart(b"\x0b")  # wire type 3 (a group)
    with pytest.raises(ValueError):
        framing.take_apart(b"\x0a\xff")  # a length that ends mid-varint
