"""Wire-level tricks for the load generator and the counting sink.

* Unique traces on every send: payload trace IDs are 8 random bytes + an 8-byte
  marker; `stamp(body, n)` replaces the marker with the send number, so a body can be
  re-sent a million times without two sends sharing a trace (costline would merge
  them) and the sink can tell which send a span belongs to.
* Counting spans without parsing them: a "lazy" schema whose Span field is `bytes`,
  so upb splits a request into span byte strings in C and never looks inside.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

MARKER = bytes.fromhex("c05713e5a7e1b0d7")  # never a real send number (they count up from 1)

_F = descriptor_pb2.FieldDescriptorProto


def _lazy_request_type():
    fdp = descriptor_pb2.FileDescriptorProto(
        name="costline_bench_lazy.proto", package="costline_bench", syntax="proto3"
    )
    ss = fdp.message_type.add(name="ScopeSpans")
    ss.field.add(name="spans", number=2, type=_F.TYPE_BYTES, label=_F.LABEL_REPEATED)
    rs = fdp.message_type.add(name="ResourceSpans")
    rs.field.add(
        name="scope_spans",
        number=2,
        type=_F.TYPE_MESSAGE,
        label=_F.LABEL_REPEATED,
        type_name=".costline_bench.ScopeSpans",
    )
    rq = fdp.message_type.add(name="Request")
    rq.field.add(
        name="resource_spans",
        number=1,
        type=_F.TYPE_MESSAGE,
        label=_F.LABEL_REPEATED,
        type_name=".costline_bench.ResourceSpans",
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("costline_bench.Request"))


LazyRequest = _lazy_request_type()


def span_bytes(body: bytes) -> list[bytes]:
    out: list[bytes] = []
    for rs in LazyRequest.FromString(body).resource_spans:
        for ss in rs.scope_spans:
            out.extend(ss.spans)
    return out


def count_spans(body: bytes) -> int:
    return sum(len(ss.spans) for rs in LazyRequest.FromString(body).resource_spans for ss in rs.scope_spans)


def stamp(body: bytes, n: int) -> bytes:
    return body.replace(MARKER, n.to_bytes(8, "big"))


def send_numbers(body: bytes) -> dict[int, int]:
    """{send number: spans} for the spans of a request (trace ID bytes 8..16)."""
    counts: dict[int, int] = {}
    for d in span_bytes(body):
        if d[:2] == b"\x0a\x10":
            n = int.from_bytes(d[10:18], "big")
            counts[n] = counts.get(n, 0) + 1
    return counts
