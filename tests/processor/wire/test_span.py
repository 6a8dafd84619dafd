"""wire/span.py: the ID offsets are where protobuf puts the IDs; the runtime path reads any layout."""

import os

from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline_processor.wire import span as wire_span
from costline_processor.wire.varint import varint

T, S, P = b"\x01" * 16, b"\x02" * 8, b"\x03" * 8


def _field(tag: int, payload: bytes) -> bytes:
    return bytes([tag]) + varint(len(payload)) + payload


def test_the_offsets_are_where_a_serialized_span_has_its_ids():
    d = Span(trace_id=T, span_id=S, parent_span_id=P, name="x", kind=2).SerializeToString()
    assert d.startswith(wire_span.ids_head(T))
    assert d.startswith(wire_span.PARENT_HEAD, wire_span.PARENT_HEAD_AT)
    assert d.startswith(wire_span.SPAN_ID_HEAD, wire_span.SPAN_ID_HEAD_AT)
    assert (d[wire_span.TRACE_ID], d[wire_span.SPAN_ID], d[wire_span.PARENT_ID]) == (T, S, P)


def test_ids_of_every_layout():
    assert wire_span.ids(Span(trace_id=T, span_id=S, name="root").SerializeToString()) == (S, b"")
    assert wire_span.ids(Span(trace_id=T, span_id=S, parent_span_id=P).SerializeToString()) == (S, P)
    assert wire_span.ids(Span(trace_id=T, span_id=S, trace_state="k=v", parent_span_id=P).SerializeToString()) == (S, P)
    assert wire_span.ids(_field(0x12, S) + _field(0x0A, T) + _field(0x22, P)) == (S, P)
    assert wire_span.ids(_field(0x0A, T) + _field(0x12, S) + _field(0x2A, b"x") + _field(0x22, P)) == (S, P)
    assert wire_span.ids(_field(0x0A, T) + _field(0x12, S) + _field(0x22, b"\x03" * 7)) == (S, b"")  # not 8 bytes


def test_trace_id_rejects_invalid_ids():
    assert wire_span.trace_id(Span(trace_id=T, span_id=S).SerializeToString()) == T
    assert wire_span.trace_id(_field(0x12, S) + _field(0x0A, T)) == T
    for tid, sid in ((b"\0" * 16, S), (T, b"\0" * 8), (T[:15], S), (T, S + b"\x01"), (b"", S), (T, b"")):
        assert wire_span.trace_id(Span(trace_id=tid, span_id=sid).SerializeToString()) is None


def test_without_attributes_removes_the_named_and_hidden_keys_only():
    span = Span(trace_id=T, span_id=os.urandom(8), name="chat")
    for key in ("costline.cost.usd", "user.id", "keep", "costline.customer_id"):
        span.attributes.append(KeyValue(key=key))
        span.attributes[-1].value.string_value = key
    seen = []

    def hide(keys):
        seen.append(keys)
        return {"user.id"}

    out = Span.FromString(wire_span.without_attributes(span.SerializeToString(), ["costline.cost.usd"], hide))
    assert [kv.key for kv in out.attributes] == ["keep", "costline.customer_id"]
    assert seen == [["costline.cost.usd", "user.id", "keep", "costline.customer_id"]]
    out.ClearField("attributes")
    span.ClearField("attributes")
    assert out == span
    assert wire_span.without_attributes(span.SerializeToString(), []) == span.SerializeToString()
