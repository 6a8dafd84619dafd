"""Span attributes encoded as bytes, to append to a span's own bytes.

Protobuf concatenates repeated fields, so appending encoded `attributes` (Span field 9)
to a span's bytes adds attributes exactly as if they had been set on the message: no
span is decoded or re-encoded on the way out. `attribute(key, value)` is the plain
encoding; the rest build the same bytes from cached pieces for the per-span hot path
(a key's prefix, a varint from a table, several attributes in one struct.pack call),
each checked equal to `attribute` by tests/processor/test_fastpath.py.

    Span.attributes   4a <length> KeyValue
    KeyValue          0a <length> key   12 <length> AnyValue
    AnyValue          0a <length> UTF-8 | 10 bool | 18 int64 varint | 21 double (8 bytes, little-endian)
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import lru_cache

from costline_processor.wire.varint import SMALL, U64, len_field, uvarint, varint

pack_double = struct.Struct("<d").pack

# Field tags (field_number << 3 | wire_type).
_SPAN_ATTRIBUTES = b"\x4a"  # Span.attributes = 9, LEN
_KV_KEY = b"\x0a"  # KeyValue.key = 1
_KV_VALUE = b"\x12"  # KeyValue.value = 2
_ANY_STRING = b"\x0a"  # AnyValue.string_value = 1
_ANY_BOOL = b"\x10"  # AnyValue.bool_value = 2, VARINT
_ANY_INT = b"\x18"  # AnyValue.int_value = 3, VARINT
_ANY_DOUBLE = b"\x21"  # AnyValue.double_value = 4, I64


def any_value(value) -> bytes:
    """Encode a str / bool / int / float as an AnyValue message body."""
    if isinstance(value, str):
        return len_field(_ANY_STRING, value.encode("utf-8", "surrogatepass"))
    if isinstance(value, bool):
        return _ANY_BOOL + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        return _ANY_INT + varint(value & U64)
    if isinstance(value, float):
        return _ANY_DOUBLE + pack_double(value)
    raise TypeError(f"cannot encode attribute value of type {type(value).__name__}")


def attribute(key: str, value) -> bytes:
    """One `Span.attributes` entry, ready to append to a span's bytes."""
    if type(value) is str:
        return string_attribute(key, value)  # tags repeat on every span of a trace: cached
    kv = _key_field(key) + len_field(_KV_VALUE, any_value(value))
    return len_field(_SPAN_ATTRIBUTES, kv)


def attributes(pairs) -> bytes:
    """The `Span.attributes` entries of (key, value) pairs, in order."""
    return b"".join([attribute(k, v) for k, v in pairs])


@lru_cache(maxsize=1 << 16)
def _key_field(key: str) -> bytes:
    return len_field(_KV_KEY, key.encode("utf-8"))


# -- the same encodings from cached pieces, for the per-span hot path ------------------------------
# Each returns exactly what `attribute(key, value)` returns for a value of that type.


@lru_cache(maxsize=1 << 16)
def string_attribute(key: str, value: str) -> bytes:
    """attribute(key, value) for a str value, cached: tags and names repeat."""
    kv = _key_field(key) + len_field(_KV_VALUE, any_value(value))
    return len_field(_SPAN_ATTRIBUTES, kv)


@lru_cache(maxsize=1024)
def double_prefix(key: str) -> bytes:
    """Everything of a double attribute of `key` before the value's 8 bytes (pack_double)."""
    kf = _key_field(key)
    return _SPAN_ATTRIBUTES + varint(len(kf) + 11) + kf + _KV_VALUE + b"\x09" + _ANY_DOUBLE


def double_attribute(key: str, value: float) -> bytes:
    return double_prefix(key) + pack_double(value)


@lru_cache(maxsize=1024)
def int_prefixes(key: str) -> tuple[bytes, ...]:
    """Per varint length 1..10 of the value, everything of an int attribute before the value's varint."""
    kf = _key_field(key)
    return (
        b"",
        *(
            _SPAN_ATTRIBUTES + varint(len(kf) + 3 + n) + kf + _KV_VALUE + bytes((1 + n,)) + _ANY_INT
            for n in range(1, 11)
        ),
    )


def int_attribute(key: str, value: int) -> bytes:
    v = uvarint(value & U64)
    return int_prefixes(key)[len(v)] + v


def doubles_packer(keys: tuple[str, ...]) -> Callable[..., bytes]:
    """f(*values) -> the encoded double attributes of `keys`, in one struct.pack call."""
    prefixes = [double_prefix(k) for k in keys]
    pack = struct.Struct("<" + "".join(f"{len(p)}sd" for p in prefixes)).pack
    if len(keys) == 5:  # the cost block: no loop
        p0, p1, p2, p3, p4 = prefixes

        def five(a: float, b: float, c: float, d: float, e: float) -> bytes:
            return pack(p0, a, p1, b, p2, c, p3, d, p4, e)

        return five

    def f(*values: float) -> bytes:
        args: list[bytes | float] = []
        for p, v in zip(prefixes, values):
            args.append(p)
            args.append(v)
        return pack(*args)

    return f


def cost_packer(
    keys: tuple[str, str, str, str, str], middle: bytes, repeat_key: str | None, tail: bytes, last_key: str
) -> Callable[[float, float, float, float, float, float], bytes]:
    """f(a, b, c, d, e, r) -> in one struct.pack call: the double attributes of the five `keys`
    (values a..e), `middle` (encoded attributes), with `repeat_key` a double attribute of it
    with the value a again, `tail` (encoded attributes), and the double attribute `last_key`
    with the value r. (A priced call's block: its five costs, its price names, gen_ai.usage.cost,
    its agent path and its rollup's cost.)"""
    p0, p1, p2, p3, p4 = (double_prefix(k) for k in keys)
    head = "".join(f"{len(p)}sd" for p in (p0, p1, p2, p3, p4))
    tail = tail + double_prefix(last_key)
    if repeat_key is not None:
        middle = middle + double_prefix(repeat_key)
        pack = struct.Struct(f"<{head}{len(middle)}sd{len(tail)}sd").pack
        return lambda a, b, c, d, e, r: pack(p0, a, p1, b, p2, c, p3, d, p4, e, middle, a, tail, r)
    pack = struct.Struct(f"<{head}{len(middle)}s{len(tail)}sd").pack
    return lambda a, b, c, d, e, r: pack(p0, a, p1, b, p2, c, p3, d, p4, e, middle, tail, r)


def ints_encoder(k1: str, k2: str, k3: str) -> Callable[[int, int, int], bytes]:
    """f(a, b, c) -> the int attributes k1 = a, k2 = b, k3 = c, from cached pieces."""
    p1, p2, p3 = int_prefixes(k1), int_prefixes(k2), int_prefixes(k3)
    small = SMALL

    def f(a: int, b: int, c: int) -> bytes:
        va = small[a] if 0 <= a < 16384 else uvarint(a & U64)
        vb = small[b] if 0 <= b < 16384 else uvarint(b & U64)
        vc = small[c] if 0 <= c < 16384 else uvarint(c & U64)
        return b"".join((p1[len(va)], va, p2[len(vb)], vb, p3[len(vc)], vc))

    return f


def double_ints_encoder(key: str, k1: str, k2: str, k3: str) -> Callable[[float, int, int, int], bytes]:
    """f(x, a, b, c) -> the double attribute key = x, then the int attributes k1 = a, k2 = b,
    k3 = c, from cached pieces."""
    prefix, p1, p2, p3 = double_prefix(key), int_prefixes(k1), int_prefixes(k2), int_prefixes(k3)
    small, pack = SMALL, pack_double

    def f(x: float, a: int, b: int, c: int) -> bytes:
        va = small[a] if 0 <= a < 16384 else uvarint(a & U64)
        vb = small[b] if 0 <= b < 16384 else uvarint(b & U64)
        vc = small[c] if 0 <= c < 16384 else uvarint(c & U64)
        return b"".join((prefix, pack(x), p1[len(va)], va, p2[len(vb)], vb, p3[len(vc)], vc))

    return f
