"""Protobuf wire encoding for enriched spans, without re-parsing them.

Spans wait in the buffer as their own wire bytes. Protobuf concatenates repeated
fields, so appending encoded `attributes` (Span field 9) to a span's bytes adds
attributes exactly as if they had been set on the message; requests are then built
by framing span bytes into ScopeSpans/ResourceSpans. One encode per batch, no
per-span message objects on the way out.
"""

from __future__ import annotations

import struct
from functools import lru_cache

_pack_double = struct.Struct("<d").pack
_U64 = (1 << 64) - 1

# Field tags (field_number << 3 | wire_type).
_SPAN_ATTRIBUTES = b"\x4a"  # Span.attributes = 9, LEN
_KV_KEY = b"\x0a"  # KeyValue.key = 1
_KV_VALUE = b"\x12"  # KeyValue.value = 2
_ANY_STRING = b"\x0a"  # AnyValue.string_value = 1
_ANY_BOOL = b"\x10"  # AnyValue.bool_value = 2, VARINT
_ANY_INT = b"\x18"  # AnyValue.int_value = 3, VARINT
_ANY_DOUBLE = b"\x21"  # AnyValue.double_value = 4, I64
_F1 = b"\x0a"  # field 1, LEN (resource / scope / resource_spans)
_F2 = b"\x12"  # field 2, LEN (scope_spans / spans)
_F3 = b"\x1a"  # field 3, LEN (schema_url)


def varint(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _len_field(tag: bytes, payload: bytes) -> bytes:
    return tag + varint(len(payload)) + payload


def any_value(value) -> bytes:
    """Encode a str / bool / int / float as an AnyValue message body."""
    if isinstance(value, str):
        return _len_field(_ANY_STRING, value.encode("utf-8", "surrogatepass"))
    if isinstance(value, bool):
        return _ANY_BOOL + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        return _ANY_INT + varint(value & _U64)
    if isinstance(value, float):
        return _ANY_DOUBLE + _pack_double(value)
    raise TypeError(f"cannot encode attribute value of type {type(value).__name__}")


def attribute(key: str, value) -> bytes:
    """One `Span.attributes` entry, ready to append to a span's bytes."""
    if type(value) is str:
        return _string_attribute(key, value)  # tags repeat on every span of a trace: cached
    kv = _key_field(key) + _len_field(_KV_VALUE, any_value(value))
    return _len_field(_SPAN_ATTRIBUTES, kv)


@lru_cache(maxsize=1 << 16)
def _key_field(key: str) -> bytes:
    return _len_field(_KV_KEY, key.encode("utf-8"))


@lru_cache(maxsize=1 << 16)
def _string_attribute(key: str, value: str) -> bytes:
    kv = _key_field(key) + _len_field(_KV_VALUE, any_value(value))
    return _len_field(_SPAN_ATTRIBUTES, kv)


def attributes(pairs) -> bytes:
    return b"".join([attribute(k, v) for k, v in pairs])


# -- the same encodings from cached pieces, for the per-span hot path ------------------------------
# Each returns exactly what `attribute(key, value)` returns for a value of that type.

string_attribute = _string_attribute  # (key, str value), cached: tags and names repeat


@lru_cache(maxsize=1024)
def _double_prefix(key: str) -> bytes:
    kf = _key_field(key)
    return _SPAN_ATTRIBUTES + varint(len(kf) + 11) + kf + _KV_VALUE + b"\x09" + _ANY_DOUBLE


def double_attribute(key: str, value: float) -> bytes:
    return _double_prefix(key) + _pack_double(value)


@lru_cache(maxsize=1024)
def int_prefixes(key: str) -> tuple[bytes, ...]:
    """Per varint length 1..10 of the value, everything of an int attribute before the value's varint."""
    kf = _key_field(key)
    return (b"",) + tuple(
        _SPAN_ATTRIBUTES + varint(len(kf) + 3 + n) + kf + _KV_VALUE + bytes((1 + n,)) + _ANY_INT for n in range(1, 11)
    )


_SMALL_VARINTS = [varint(i) for i in range(1 << 14)]
SMALL_VARINTS = _SMALL_VARINTS  # varint(n) for 0 <= n < 16384


def uvarint(n: int) -> bytes:
    """varint(n) for n >= 0: from a table when it fits in two bytes, inline in three."""
    if n < 16384:
        return _SMALL_VARINTS[n]
    if n < 2097152:
        return bytes(((n & 0x7F) | 0x80, ((n >> 7) & 0x7F) | 0x80, n >> 14))
    return varint(n)


def int_attribute(key: str, value: int) -> bytes:
    v = uvarint(value & _U64)
    return int_prefixes(key)[len(v)] + v


double_prefix = _double_prefix
pack_double = _pack_double


def doubles_packer(keys: tuple[str, ...]):
    """f(*values) -> the encoded double attributes of `keys`, in one struct.pack call."""
    prefixes = [_double_prefix(k) for k in keys]
    pack = struct.Struct("<" + "".join(f"{len(p)}sd" for p in prefixes)).pack

    def f(*values: float) -> bytes:
        args = []
        for p, v in zip(prefixes, values):
            args.append(p)
            args.append(v)
        return pack(*args)

    if len(keys) == 5:  # the cost block: no loop
        p0, p1, p2, p3, p4 = prefixes

        def f(a: float, b: float, c: float, d: float, e: float) -> bytes:  # noqa: F811
            return pack(p0, a, p1, b, p2, c, p3, d, p4, e)

    return f


_SPAN_PREFIX = [_F2 + v for v in _SMALL_VARINTS]


def span_field_prefix(n: int) -> bytes:
    """`ScopeSpans.spans` tag and length for a span of `n` bytes."""
    return _SPAN_PREFIX[n] if n < 16384 else _F2 + varint(n)


def scope_spans(scope: bytes, spans: list[bytes], schema_url: str = "") -> bytes:
    parts = [_len_field(_F1, scope)]
    parts.extend([_F2 + varint(len(s)) + s for s in spans])
    if schema_url:
        parts.append(_len_field(_F3, schema_url.encode()))
    return b"".join(parts)


def resource_spans(resource: bytes, scopes: list[bytes], schema_url: str = "") -> bytes:
    parts = [_len_field(_F1, resource)]
    parts.extend([_len_field(_F2, s) for s in scopes])
    if schema_url:
        parts.append(_len_field(_F3, schema_url.encode()))
    return b"".join(parts)


def export_request(resources: list[bytes]) -> bytes:
    """ExportTraceServiceRequest bytes from encoded ResourceSpans."""
    return b"".join([_len_field(_F1, r) for r in resources])


def request(groups: dict) -> bytes:
    """ExportTraceServiceRequest bytes from framed spans grouped per Origin.

    `groups`: {origin: [parts, size]}, origin `(resource bytes, resource schema_url, scope
    bytes, scope schema_url, ...)`, `parts` the span frames (tag, length, bytes...) of
    that resource and scope and `size` their total length. Same bytes as
    export_request(resource_spans(scope_spans(...))), with one copy of the spans.
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
        res_field = _len_field(_F1, resource)
        size = len(res_field)
        framed = []
        for origin, parts, span_bytes in scopes:
            scope, scope_schema = origin[2], origin[3]
            head = _len_field(_F1, scope)
            tail = _len_field(_F3, scope_schema.encode()) if scope_schema else b""
            ss_size = len(head) + span_bytes + len(tail)
            ss_head = _F2 + varint(ss_size)
            framed.append((ss_head, head, parts, tail))
            size += len(ss_head) + ss_size
        res_tail = _len_field(_F3, resource_schema.encode()) if resource_schema else b""
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
