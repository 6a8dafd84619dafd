"""From OTLP request bytes to buffered spans, and from a buffered span to what assembly reads.

Intake does the least it can while a request waits for its answer: upb splits the
request into span byte strings (a schema whose `spans` field is `bytes`, so nothing
inside a span is parsed), each span's IDs are checked at their usual offsets, and the
span is buffered as `(wire bytes, Origin)`: no per-span message, dict or object.

Attributes are read later, once, when the trace is assembled (`SpanReader.read`): a
regular expression over the span's bytes finds whether any attribute key some stage
reads (usage, model, tags, agent steps, costline's own output) is there at all; most
spans (HTTP, database...) have none and are never decoded. For the others, upb splits
the span into its name, times and attribute KeyValue bytes (`SpanView`), and each
attribute is looked up in a bounded cache of decoded ones; a KeyValue laid out
unusually is decoded by the protobuf runtime, so the result is the same either way.
"""

from __future__ import annotations

import re
import struct
from operator import itemgetter
from typing import NamedTuple

from costline_processor.assembly.steps import STEP_KEYS, step_name
from costline_processor.assembly.tags import OUTPUT_KEYS, OUTPUT_PREFIXES, TAG_PREFIX, TagReader
from costline_processor.normalize import (
    INTERESTING_KEYS,
    INTERESTING_PREFIXES,
    MARKER_KEYS,
    UNIQUE_KEYS,
    normalize_span,
)
from costline_processor.receive.lazy import LazyTraceRequest, SpanView
from costline_processor.records import ModelCall

_Z8 = b"\0" * 8
_Z16 = b"\0" * 16
_TRACE_ID_HEAD = b"\x0a\x10"  # Span.trace_id (field 1, LEN 16)
_SPAN_ID_HEAD = b"\x12\x08"  # Span.span_id (field 2, LEN 8)
_PARENT_HEAD = b"\x22\x08"  # Span.parent_span_id (field 4, LEN 8)
_f64 = struct.Struct("<d").unpack_from


# Origin: the resource and instrumentation scope a span was sent with, shared by its
# siblings. A plain tuple of str and bytes on purpose: the garbage collector stops
# tracking such tuples, and so the (bytes, origin) tuples of buffered spans, so a
# million buffered spans cost it nothing.
#   (resource bytes, resource schema_url, scope bytes, scope schema_url, service.name, scope name, scope version)
Origin = tuple
SERVICE, SCOPE_NAME, SCOPE_VERSION = 4, 5, 6


class BufferedSpan(tuple):
    """One span waiting for its trace: `(wire bytes, Origin)`.

    The pipeline buffers plain tuples of the same shape; this class only adds
    read-only names for tests and tools.
    """

    __slots__ = ()
    data = property(itemgetter(0))
    origin = property(itemgetter(1))

    def __new__(cls, data: bytes, origin: Origin):
        return tuple.__new__(cls, (data, origin))

    @property
    def name(self) -> str:
        return _span_message(self[0]).name

    @property
    def span_id(self) -> bytes:
        return _span_message(self[0]).span_id


class SpanInfo(NamedTuple):
    """What assembly needs to know about a span that carries attributes it reads."""

    name: str
    start: int
    end: int
    tags: dict[str, str] | None
    own_tags: frozenset[str]
    step: str | None
    call: ModelCall | None
    rewrite: bool


_new_info = tuple.__new__  # SpanInfo without the generated __new__'s Python frame


def decode_value(v):
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [decode_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return None  # no stage reads maps
    return getattr(v, kind)


class Intake:
    """Turns requests into (trace_id, span) pairs; rejects spans with bad IDs."""

    def __init__(self, tag_reader: TagReader):
        self.tags = tag_reader
        self.reader = SpanReader(tag_reader)
        self._origins: dict[tuple, Origin] = {}

    # -- the pipeline's path: request bytes in, spans grouped by trace out ----------------
    def group(self, body: bytes) -> tuple[dict[bytes, list], int, int, str]:
        """({trace_id: [(span bytes, Origin), ...]}, accepted, rejected, first rejection message).

        `body` must already have parsed as an ExportTraceServiceRequest (the receivers
        check it), so the lazy parse below cannot fail on it.
        """
        by_trace: dict[bytes, list] = {}
        get = by_trace.get
        accepted = rejected = 0
        message = ""
        for rs in LazyTraceRequest.FromString(body).resource_spans:
            for ss in rs.scope_spans:
                origin = self._origin(rs.resource, rs.schema_url, ss.scope, ss.schema_url)
                spans = ss.spans
                run = group = None  # spans of a trace often come together: skip the lookup for those
                for d in spans:
                    # `run`: the previous span's trace ID framed by the trace and span ID heads, so one
                    # startswith checks the layout and the trace at once
                    if run is not None and d.startswith(run) and not d.startswith(_Z8, 20):
                        group.append((d, origin))
                        continue
                    if d.startswith(_SPAN_ID_HEAD, 18) and d.startswith(_TRACE_ID_HEAD) and not d.startswith(_Z8, 20):
                        trace_id = d[2:18]
                        if trace_id == _Z16:
                            trace_id = None
                    else:
                        trace_id = _checked_trace_id(d)
                    if trace_id is None:
                        rejected += 1
                        message = message or f"span {_span_message(d).name!r} has an invalid trace or span ID"
                        continue
                    group = get(trace_id)
                    if group is None:
                        group = by_trace[trace_id] = [(d, origin)]
                    else:
                        group.append((d, origin))
                    run = _TRACE_ID_HEAD + trace_id + _SPAN_ID_HEAD
                accepted += len(spans)
        return by_trace, accepted - rejected, rejected, message

    def _origin(self, resource: bytes, resource_schema: str, scope: bytes, scope_schema: str) -> Origin:
        key = (resource, resource_schema, scope, scope_schema)
        origin = self._origins.get(key)
        if origin is None:
            from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
            from opentelemetry.proto.resource.v1.resource_pb2 import Resource

            service = ""
            for kv in Resource.FromString(resource).attributes:
                if kv.key == "service.name":
                    service = kv.value.string_value
                    break
            sc = InstrumentationScope.FromString(scope)
            if len(self._origins) >= 4096:  # resources are few per sender, but senders come and go
                self._origins.clear()
            origin = self._origins[key] = (resource, resource_schema, scope, scope_schema, service, sc.name, sc.version)
        return origin

    # -- for tests and tools: a decoded request in, (trace_id, BufferedSpan) pairs out --------
    def spans(self, request) -> tuple[list[tuple[bytes, BufferedSpan]], int, str]:
        """(accepted spans in request order, rejected count, first rejection message)."""
        out: list[tuple[bytes, BufferedSpan]] = []
        rejected, message = 0, ""
        for rs in LazyTraceRequest.FromString(request.SerializeToString()).resource_spans:
            for ss in rs.scope_spans:
                origin = self._origin(rs.resource, rs.schema_url, ss.scope, ss.schema_url)
                for d in ss.spans:
                    trace_id = _checked_trace_id(d)
                    if trace_id is None:
                        rejected += 1
                        message = message or f"span {_span_message(d).name!r} has an invalid trace or span ID"
                        continue
                    out.append((trace_id, BufferedSpan(d, origin)))
        return out, rejected, message


def _checked_trace_id(d: bytes) -> bytes | None:
    """The trace ID of a span laid out unusually, or None when its IDs are invalid."""
    span = _span_message(d)
    trace_id, span_id = span.trace_id, span.span_id
    if len(trace_id) != 16 or trace_id == _Z16 or len(span_id) != 8 or span_id == _Z8:
        return None
    return trace_id


def _span_message(d: bytes):
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    return Span.FromString(d)


class _Unusual(Exception):
    """A span whose bytes the fast walk does not handle: read it with the protobuf runtime."""


_PICK, _MARKER, _TAG, _STEP, _OUTPUT, _UNIQUE = 1, 2, 4, 8, 16, 32
_MISS = object()
_NOTHING = ()  # a remembered span that reads as None
_SPAN_MEMO_ATTRIBUTES = 4  # spans with at most this many attributes are remembered whole (SpanReader._spans)
_NO_NAMES: frozenset[str] = frozenset()


class SpanReader:
    """Reads a buffered span's IDs and, when it has any, the attributes some stage reads.

    Each attribute is looked up by its KeyValue bytes in a bounded cache of decoded
    attributes (model, provider, operation and tag values repeat from span to span),
    which also says which stages the key matters to: normalize, tags and steps only run
    when a key of theirs is there.
    """

    _CACHE_MAX = 1 << 15
    _SPANS_MAX = 1 << 13

    def __init__(self, tag_reader: TagReader):
        self.tags = tag_reader
        self.policy = tag_reader.policy
        self.keys = INTERESTING_KEYS | STEP_KEYS | tag_reader.keys | OUTPUT_KEYS
        self.prefixes = tuple(dict.fromkeys((*INTERESTING_PREFIXES, TAG_PREFIX, *tag_reader.prefixes)))
        self._tag_prefixes = (TAG_PREFIX, *tag_reader.prefixes)
        self._kv: dict[bytes, tuple | None] = {}
        self._classes: dict[bytes, tuple[str, int]] = {}
        self._spans: dict[tuple, tuple] = {}  # (attributes, name, kind, origin) -> SpanInfo fields but times
        # Keys that can change what a stage decides. The rest of `keys` (server.address, service
        # tiers, telemetry.sdk.name) only qualify a model call that one of these marks.
        deciding = (MARKER_KEYS | STEP_KEYS | tag_reader.keys | OUTPUT_KEYS) | set(self.prefixes) | set(OUTPUT_PREFIXES)
        heads = sorted({_head(k) for k in deciding}, key=len, reverse=True)
        # An attribute key is `0x0a <length varint> key`: look for that, not for the words anywhere.
        self._marks = self.marks = re.compile(
            rb"\n[\x80-\xff]{0,9}[\x00-\x7f](?:" + b"|".join(re.escape(h.encode()) for h in heads) + rb")"
        ).search

    def ids(self, d: bytes) -> tuple[bytes, bytes]:
        """(span_id, parent_span_id or b"")."""
        if d.startswith(_SPAN_ID_HEAD, 18) and d.startswith(_TRACE_ID_HEAD):
            if d.startswith(_PARENT_HEAD, 28):
                return d[20:28], d[30:38]
            if len(d) > 28 and d[28] != 0x1A and d[28] != 0x22 and d.find(_PARENT_HEAD, 29) < 0:
                return d[20:28], b""  # no trace_state, no parent (not even out of field order)
        span = _span_message(d)
        parent = span.parent_span_id
        return span.span_id, parent if len(parent) == 8 else b""

    def read(self, d: bytes, origin: Origin) -> SpanInfo | None:
        """The span's SpanInfo, or None when it carries no attribute any stage reads."""
        if self._marks(d) is None:
            return None
        return self.read_marked(d, origin)

    def read_marked(self, d: bytes, origin: Origin) -> SpanInfo | None:
        """read() for a span `marks(d)` found a key in (`marks` is the regex search)."""
        view = SpanView.FromString(d)
        kvs = tuple(view.attributes[:])  # a slice is quicker than iterating upb's container
        name = view.name
        # Agent, tool and workflow spans repeat exactly: what such a span reads as is remembered whole.
        # (Model calls carry more attributes and their counts differ: not worth the lookup.)
        key = None
        if len(kvs) <= _SPAN_MEMO_ATTRIBUTES:
            key = (kvs, name, view.kind, origin)
            same = self._spans.get(key)
            if same is not None:
                if same is _NOTHING:
                    return None
                return _new_info(SpanInfo, (name, view.start_time_unix_nano, view.end_time_unix_nano, *same))
        picked: dict = {}
        found = 0
        cached = key is not None  # every attribute from the cache: no count, nothing only this span says
        get = self._kv.get
        for kv in kvs:
            hit = get(kv, _MISS)
            if hit is _MISS:
                hit = self._decode(kv)
                cached = False
            if hit is not None:
                picked[hit[0]] = hit[1]
                found |= hit[2]
        if not found:
            if cached:
                self._remember(key, _NOTHING)
            return None
        call = None
        if found & _MARKER:
            call = normalize_span(
                picked, scope_name=origin[SCOPE_NAME], scope_version=origin[SCOPE_VERSION], span_name=name,
                span_kind=view.kind,
            )
        tags, own = self.tags.read(picked) if found & _TAG else (None, _NO_NAMES)
        rewrite = bool(found & _OUTPUT)
        if tags is not None and self.policy is not None:  # tagging.trust / hash / drop: assembly/policy.py
            tags, own, hide = self.policy.apply(tags, own, origin[SERVICE])
            rewrite = rewrite or hide
        step = step_name(picked, name) if found & _STEP else None
        if call is None and tags is None and step is None and not rewrite:
            if cached:
                self._remember(key, _NOTHING)
            return None  # its picked keys change nothing: it reads like a span without them
        if cached and call is None:  # (a ModelCall is an object of its own per span)
            self._remember(key, (tags, own, step, call, rewrite))
        return _new_info(SpanInfo, (name, view.start_time_unix_nano, view.end_time_unix_nano, tags, own, step, call,
                                    rewrite))

    def _remember(self, key: tuple, value) -> None:
        if len(self._spans) >= self._SPANS_MAX:
            self._spans.clear()
        self._spans[key] = value

    def _decode(self, kv: bytes) -> tuple | None:
        """(key, value, stage bits) of a KeyValue when its key is picked, else None; cached."""
        try:
            if kv[0] != 0x0A or kv[1] & 0x80:
                raise _Unusual
            ke = 2 + kv[1]
            kb = kv[2:ke]
            cls = self._classes.get(kb)
            if cls is None:
                cls = self._classify(kb)
            if cls[1]:
                n = len(kv)
                # int_value filling the value (a count, usually), its varint of 1..3 bytes decoded inline;
                # counts rarely repeat: not cached
                if kv[ke] == 0x12 and kv[ke + 2] == 0x18 and kv[ke + 1] == n - ke - 2:
                    v = kv[ke + 3]
                    if n == ke + 4 and v < 0x80:
                        return (cls[0], v, cls[1])
                    w = kv[ke + 4]
                    if n == ke + 5 and v >= 0x80 and w < 0x80:
                        return (cls[0], (v & 0x7F) | w << 7, cls[1])
                    if n == ke + 6 and v >= 0x80 and w >= 0x80 and kv[ke + 5] < 0x80:
                        return (cls[0], (v & 0x7F) | (w & 0x7F) << 7 | kv[ke + 5] << 14, cls[1])
                # a response id: a short string_value filling the value, decoded inline (never cached)
                elif cls[1] & _UNIQUE and n - ke < 0x80 and kv[ke] == 0x12 and kv[ke + 2] == 0x0A \
                        and kv[ke + 1] == n - ke - 2 and kv[ke + 3] == n - ke - 4:
                    return (cls[0], kv[ke + 4:].decode(), cls[1])
                hit = (cls[0], _value(kv, ke, n), cls[1])
            else:
                _check_value_field(kv, ke)  # nothing after it can change the key
                hit = None
        except (_Unusual, IndexError, struct.error, UnicodeDecodeError):
            from opentelemetry.proto.common.v1.common_pb2 import KeyValue

            m = KeyValue.FromString(kv)
            bits = self._classify(m.key.encode())[1]
            hit = (m.key, decode_value(m.value), bits) if bits else None
        # counts rarely repeat, response ids never do: not cached
        if hit is None or (type(hit[1]) is not int and type(hit[1]) is not list and not hit[2] & _UNIQUE):
            if len(self._kv) >= self._CACHE_MAX:
                self._kv.clear()
            self._kv[kv] = hit
        return hit

    def _classify(self, kb: bytes) -> tuple[str, int]:
        """(key, which stages read it: _PICK | _MARKER | _TAG | _STEP | _OUTPUT bits)."""
        key = kb.decode()
        bits = 0
        if key in self.keys or key.startswith(self.prefixes):
            bits = _PICK
            if key in MARKER_KEYS or key.startswith(INTERESTING_PREFIXES):
                bits |= _MARKER
            if key.startswith(self._tag_prefixes) or key in self.tags.keys:
                bits |= _TAG
            if key in STEP_KEYS:
                bits |= _STEP
            if key in OUTPUT_KEYS or key.startswith(OUTPUT_PREFIXES):
                bits |= _OUTPUT
            if key in UNIQUE_KEYS:
                bits |= _UNIQUE
        if len(self._classes) >= self._CACHE_MAX:
            self._classes.clear()
        found = self._classes[kb] = (key, bits)
        return found


def _head(key: str) -> str:
    """`gen_ai.usage.` -> `gen_ai.`: the first dotted part, which every picked key starts with."""
    head, dot, _ = key.partition(".")
    return head + dot


def _varint_rest(d: bytes, p: int, first: int) -> tuple[int, int]:
    value = first & 0x7F
    shift = 7
    while True:
        b = d[p]
        p += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, p
        shift += 7
        if shift > 63:
            raise _Unusual


def _check_value_field(kv: bytes, p: int) -> None:
    """Raise _Unusual unless kv[p:] is empty or exactly one KeyValue.value field."""
    n = len(kv)
    if p == n:
        return
    if kv[p] != 0x12:
        raise _Unusual
    ln = kv[p + 1]
    p += 2
    if ln & 0x80:
        ln, p = _varint_rest(kv, p, ln)
    if p + ln != n:
        raise _Unusual


def _value(d: bytes, p: int, end: int):
    """Decode KeyValue.value (an AnyValue) starting at `p`; the KeyValue ends at `end`."""
    if p == end:
        return None  # no value
    if d[p] != 0x12:
        raise _Unusual
    ln = d[p + 1]
    p += 2
    if ln & 0x80:
        ln, p = _varint_rest(d, p, ln)
    if p + ln != end:
        raise _Unusual  # something after the value: let the runtime decide what wins
    if ln == 0:
        return None
    tag = d[p]
    if tag == 0x0A:  # string_value
        sl = d[p + 1]
        q = p + 2
        if sl & 0x80:
            sl, q = _varint_rest(d, q, sl)
        if q + sl != end:
            raise _Unusual
        return d[q:end].decode()
    if tag == 0x18:  # int_value
        v = d[p + 1]
        q = p + 2
        if v & 0x80:
            v, q = _varint_rest(d, q, v)
        if q != end:
            raise _Unusual
        return v - (1 << 64) if v >= 1 << 63 else v
    if tag == 0x21 and p + 9 == end:  # double_value
        return _f64(d, p + 1)[0]
    if tag == 0x10 and p + 2 == end and d[p + 1] < 2:  # bool_value
        return d[p + 1] == 1
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

    return decode_value(AnyValue.FromString(d[p:end]))
