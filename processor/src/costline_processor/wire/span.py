"""A span's own bytes: where its IDs sit, and its attributes removed for a rewrite.

OTLP exporters write a Span's fields in field-number order, so in almost every span
the trace ID is bytes 2..18 (after `0a 10`: field 1, LEN 16), the span ID bytes 20..28
(after `12 08`: field 2, LEN 8) and, when the span has a parent and no trace_state, the
parent span ID bytes 30..38 (after `22 08`: field 4, LEN 8). The hot loops check those
heads with `startswith` and slice the IDs out (the names below, bound where a loop
needs them); `ids` and `trace_id` read any other layout with the protobuf runtime, so
the answer is the same either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

TRACE_ID_HEAD = b"\x0a\x10"  # Span.trace_id (field 1, LEN 16)
SPAN_ID_HEAD = b"\x12\x08"  # Span.span_id (field 2, LEN 8)
PARENT_HEAD = b"\x22\x08"  # Span.parent_span_id (field 4, LEN 8)
SPAN_ID_HEAD_AT = 18  # where SPAN_ID_HEAD starts in a span laid out in field order
PARENT_HEAD_AT = 28  # where PARENT_HEAD starts in one with a parent and no trace_state
TRACE_ID = slice(2, 18)
SPAN_ID = slice(20, 28)
PARENT_ID = slice(30, 38)
ZERO_TRACE_ID = b"\0" * 16
ZERO_SPAN_ID = b"\0" * 8
_TRACE_STATE = 0x1A  # Span.trace_state (field 3, LEN)
_PARENT = 0x22


def ids_head(trace_id: bytes) -> bytes:
    """What a span of this trace laid out in field order starts with: one `startswith` checks
    the layout and the trace at once (the span ID follows)."""
    return TRACE_ID_HEAD + trace_id + SPAN_ID_HEAD


def ids(d: bytes) -> tuple[bytes, bytes]:
    """(span_id, parent_span_id or b"") of a span's bytes."""
    if d.startswith(SPAN_ID_HEAD, SPAN_ID_HEAD_AT) and d.startswith(TRACE_ID_HEAD):
        if d.startswith(PARENT_HEAD, PARENT_HEAD_AT):
            return d[SPAN_ID], d[PARENT_ID]
        if len(d) > 28 and d[28] != _TRACE_STATE and d[28] != _PARENT and d.find(PARENT_HEAD, 29) < 0:
            return d[SPAN_ID], b""  # no trace_state, no parent (not even out of field order)
    span = message(d)
    parent = span.parent_span_id
    return span.span_id, parent if len(parent) == 8 else b""


def trace_id(d: bytes) -> bytes | None:
    """The trace ID of a span's bytes, or None when its trace or span ID is invalid (not 16 /
    8 bytes, or all zero). Reads with the protobuf runtime: for spans laid out unusually."""
    span = message(d)
    tid, sid = span.trace_id, span.span_id
    if len(tid) != 16 or tid == ZERO_TRACE_ID or len(sid) != 8 or sid == ZERO_SPAN_ID:
        return None
    return tid


def message(d: bytes):
    """The span's bytes as an opentelemetry.proto Span (the protobuf runtime's reading)."""
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    return Span.FromString(d)


def without_attributes(d: bytes, keys: Iterable[str], hide: Callable[[list[str]], set[str]] | None = None) -> bytes:
    """The span's bytes without its attributes whose key is in `keys` or in what `hide` (given
    every attribute key of the span) names. Decodes and re-encodes the span: the slow path, for
    the few spans that arrive carrying attributes costline writes or tags the policy removes."""
    span = message(d)
    removed = set(keys)
    if hide is not None:
        removed |= hide([kv.key for kv in span.attributes])
    keep = [kv for kv in span.attributes if kv.key not in removed]
    del span.attributes[:]
    span.attributes.extend(keep)
    return span.SerializeToString()
