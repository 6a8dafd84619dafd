"""Spans framed into an export request; any export request taken apart and framed again.

The three OTLP export requests share one shape:

    Export*ServiceRequest   1: Resource{Spans,Metrics,Logs}  (repeated)
    Resource*               1: resource   2: Scope*  (repeated)   3: schema_url
    Scope*                  1: scope      2: span / metric / log record  (repeated)   3: schema_url

`request` frames buffered span bytes (each followed by the attributes appended to it)
per Origin into an ExportTraceServiceRequest, copying nothing until the one join.
`take_apart` and `put_together` split any of the three requests into its resources'
and scopes' other fields (kept as bytes, unknown fields included) and its items, and
frame such a nesting again, without decoding a span, data point or record.
"""

from __future__ import annotations

from costline_processor.wire.varint import SMALL, len_field, varint
from costline_processor.wire.varint import read as read_varint

_F1 = b"\x0a"  # field 1, LEN (resource / scope / resource_spans)
_F2 = b"\x12"  # field 2, LEN (scope_spans / spans)
_F3 = b"\x1a"  # field 3, LEN (schema_url)
_ITEMS = 2  # Resource*.scope_* and Scope*.spans / metrics / log_records
_LEN = 2  # wire type of length-delimited fields
_SPAN_PREFIX = [_F2 + v for v in SMALL]


def span_field_prefix(n: int) -> bytes:
    """`ScopeSpans.spans` tag and length for a span of `n` bytes."""
    return _SPAN_PREFIX[n] if n < 16384 else _F2 + varint(n)


def scope_spans(scope: bytes, spans: list[bytes], schema_url: str = "") -> bytes:
    parts = [len_field(_F1, scope)]
    parts.extend([_F2 + varint(len(s)) + s for s in spans])
    if schema_url:
        parts.append(len_field(_F3, schema_url.encode()))
    return b"".join(parts)


def resource_spans(resource: bytes, scopes: list[bytes], schema_url: str = "") -> bytes:
    parts = [len_field(_F1, resource)]
    parts.extend([len_field(_F2, s) for s in scopes])
    if schema_url:
        parts.append(len_field(_F3, schema_url.encode()))
    return b"".join(parts)


def export_request(resources: list[bytes]) -> bytes:
    """ExportTraceServiceRequest bytes from encoded ResourceSpans."""
    return b"".join([len_field(_F1, r) for r in resources])


def request(groups: dict) -> bytes:
    """ExportTraceServiceRequest bytes from framed spans grouped per Origin.

    `groups`: {origin: [parts, size]}, origin `(resource bytes, resource schema_url, scope
    bytes, scope schema_url, ...)`, `parts` the span frames (span_field_prefix, span bytes,
    appended attributes...) of that resource and scope and `size` their total length. Same
    bytes as export_request(resource_spans(scope_spans(...))), with one copy of the spans.
    """
    by_resource: dict[tuple, list] = {}
    for origin, (parts, size) in groups.items():
        key = (origin[0], origin[1])
        scopes = by_resource.get(key)
        if scopes is None:
            by_resource[key] = [(origin, parts, size)]
        else:
            scopes.append((origin, parts, size))
    out: list[bytes] = []
    for (resource, resource_schema), scopes in by_resource.items():
        res_field = len_field(_F1, resource)
        size = len(res_field)
        framed = []
        for origin, parts, span_bytes in scopes:
            scope, scope_schema = origin[2], origin[3]
            head = len_field(_F1, scope)
            tail = len_field(_F3, scope_schema.encode()) if scope_schema else b""
            ss_size = len(head) + span_bytes + len(tail)
            ss_head = _F2 + varint(ss_size)
            framed.append((ss_head, head, parts, tail))
            size += len(ss_head) + ss_size
        res_tail = len_field(_F3, resource_schema.encode()) if resource_schema else b""
        size += len(res_tail)
        out.append(_F1 + varint(size))
        out.append(res_field)
        for ss_head, head, parts, tail in framed:
            out.append(ss_head)
            out.append(head)
            out.extend(parts)
            if tail:
                out.append(tail)
        if res_tail:
            out.append(res_tail)
    return b"".join(out)


def bound(origin) -> int:
    """At most the bytes `request` adds around one (resource, scope)'s spans: the
    ResourceSpans and ScopeSpans tags and lengths, the resource, the scope, their schema
    URLs (each length a varint of at most 5 bytes); counted for every scope of a resource."""
    return 36 + len(origin[0]) + len(origin[2]) + 4 * (len(origin[1]) + len(origin[3]))


# -- any export request, taken apart and put together again -----------------------------------

Nesting = list[tuple[bytes, list[tuple[bytes, list[bytes]]]]]


def take_apart(body: bytes) -> Nesting:
    """[(a resource's fields other than its scopes, as bytes; [(a scope's fields other than its
    items, as bytes; [item bytes])])] of an export request. ValueError when it is malformed."""
    out = []
    for resource in _split_field(body, 1)[1]:
        head, scopes = _split_field(resource, _ITEMS)
        out.append((head, [_split_field(s, _ITEMS) for s in scopes]))
    return out


def put_together(resources: Nesting) -> bytes:
    """The export request of a nesting take_apart gives (or a part of one)."""
    out = []
    for head, scopes in resources:
        body = [head]
        for scope_head, items in scopes:
            body.append(_frame(_ITEMS, scope_head + b"".join(_frame(_ITEMS, x) for x in items)))
        out.append(_frame(1, b"".join(body)))
    return b"".join(out)


def _frame(field: int, payload: bytes) -> bytes:
    return varint(field << 3 | _LEN) + varint(len(payload)) + payload


def _split_field(data: bytes, number: int) -> tuple[bytes, list[bytes]]:
    """(every field but `number`, re-joined as wire bytes; the payloads of field `number`)."""
    other, found = [], []
    pos, end = 0, len(data)
    while pos < end:
        start = pos
        key, pos = read_varint(data, pos)
        wire = key & 7
        if wire == 0:
            _, pos = read_varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == _LEN:
            n, pos = read_varint(data, pos)
            if key >> 3 == number:
                found.append(data[pos : pos + n])
                pos += n
                continue
            pos += n
        else:
            raise ValueError(f"unsupported wire type {wire} in an export request")
        if pos > end:
            raise ValueError("truncated export request")
        other.append(data[start:pos])
    return b"".join(other), found
