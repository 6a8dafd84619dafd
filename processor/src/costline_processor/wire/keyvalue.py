"""An attribute's KeyValue bytes decoded, and attribute keys searched for in a span's bytes.

A KeyValue is laid out `0a <key length> key 12 <value length> AnyValue`, and an AnyValue
holds one of string_value (`0a <length> UTF-8`), bool_value (`10 0|1`), int_value (`18
<varint>`, int64 as two's complement) or double_value (`21 <8 bytes little-endian>`);
arrays and maps are rarer. `decoder` makes a function that decodes those usual layouts by hand; a KeyValue laid out
any other way (fields out of order or repeated, a long key, something after the value) is
decoded by the protobuf runtime, so the result is the same either way (checked against the
runtime by tests/processor/test_fastpath.py and tests/processor/wire/test_keyvalue.py).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable

from costline_processor.wire.varint import read as read_varint

_f64 = struct.Struct("<d").unpack_from
_KEY = 0x0A  # KeyValue.key (field 1, LEN)
_VALUE = 0x12  # KeyValue.value (field 2, LEN)
_STRING = 0x0A  # AnyValue.string_value (field 1, LEN)
_BOOL = 0x10  # AnyValue.bool_value (field 2, VARINT)
_INT = 0x18  # AnyValue.int_value (field 3, VARINT)
_DOUBLE = 0x21  # AnyValue.double_value (field 4, I64)


class _Unusual(Exception):
    """A KeyValue the hand decoder does not handle: read it with the protobuf runtime."""


def key_search(heads: Iterable[str]) -> Callable[[bytes], re.Match | None]:
    """search(span bytes): a match when an attribute key starting with one of `heads` is in
    them, else None. It looks for a KeyValue's key field (`0a`, the key's length as a varint,
    the key), not for the words anywhere."""
    ordered = sorted(heads, key=len, reverse=True)
    alternatives = b"|".join(re.escape(h.encode()) for h in ordered)
    return re.compile(rb"\n[\x80-\xff]{0,9}[\x00-\x7f](?:" + alternatives + rb")").search


def decoder(
    classes: dict[bytes, tuple[str, int]], classify: Callable[[bytes], tuple[str, int]]
) -> Callable[[bytes], tuple | None]:
    """decode(KeyValue bytes) -> (key, value, bits) when its key is picked, else None.

    `classify(key bytes)` says (key, bits) and stores it in `classes`, looked up first: a
    key is picked when its bits are not 0. The value of a key not picked is not decoded,
    only checked to be the KeyValue's one value field (nothing after it can change the key).
    (A closure: the reader calls it once per attribute it has not cached, with no lookups.)
    """
    get = classes.get

    def decode(kv: bytes) -> tuple | None:
        try:
            if kv[0] != _KEY or kv[1] & 0x80:
                raise _Unusual
            ke = 2 + kv[1]
            kb = kv[2:ke]
            cls = get(kb)
            if cls is None:
                cls = classify(kb)
            if not cls[1]:
                _check_value_field(kv, ke)
                return None
            n = len(kv)
            # int_value filling the value (a count, usually), its varint of 1..3 bytes decoded inline
            if kv[ke] == _VALUE and kv[ke + 2] == _INT and kv[ke + 1] == n - ke - 2:
                v = kv[ke + 3]
                if n == ke + 4 and v < 0x80:
                    return (cls[0], v, cls[1])
                w = kv[ke + 4]
                if n == ke + 5 and v >= 0x80 and w < 0x80:
                    return (cls[0], (v & 0x7F) | w << 7, cls[1])
                if n == ke + 6 and v >= 0x80 and w >= 0x80 and kv[ke + 5] < 0x80:
                    return (cls[0], (v & 0x7F) | (w & 0x7F) << 7 | kv[ke + 5] << 14, cls[1])
            # a short string_value filling the value (a response id, a model name), decoded inline
            elif (
                n - ke < 0x80
                and kv[ke] == _VALUE
                and kv[ke + 2] == _STRING
                and kv[ke + 1] == n - ke - 2
                and kv[ke + 3] == n - ke - 4
            ):
                return (cls[0], kv[ke + 4 :].decode(), cls[1])
            return (cls[0], _value(kv, ke, n), cls[1])
        except (_Unusual, ValueError, IndexError, struct.error):  # (UnicodeDecodeError is a ValueError)
            from opentelemetry.proto.common.v1.common_pb2 import KeyValue

            m = KeyValue.FromString(kv)
            bits = classify(m.key.encode())[1]
            return (m.key, decode_value(m.value), bits) if bits else None

    return decode


def decode_value(v):
    """An opentelemetry.proto AnyValue as a Python value (None for none and for maps)."""
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [decode_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return None  # no stage reads maps
    return getattr(v, kind)


def _check_value_field(kv: bytes, p: int) -> None:
    """Raise _Unusual unless kv[p:] is empty or exactly one KeyValue.value field."""
    n = len(kv)
    if p == n:
        return
    if kv[p] != _VALUE:
        raise _Unusual
    ln = kv[p + 1]
    p += 2
    if ln & 0x80:
        ln, p = read_varint(kv, p - 1)
    if p + ln != n:
        raise _Unusual


def _value(d: bytes, p: int, end: int):
    """Decode KeyValue.value (an AnyValue) starting at `p`; the KeyValue ends at `end`."""
    if p == end:
        return None  # no value
    if d[p] != _VALUE:
        raise _Unusual
    ln = d[p + 1]
    p += 2
    if ln & 0x80:
        ln, p = read_varint(d, p - 1)
    if p + ln != end:
        raise _Unusual  # something after the value: let the runtime decide what wins
    if ln == 0:
        return None
    tag = d[p]
    if tag == _STRING:
        sl = d[p + 1]
        q = p + 2
        if sl & 0x80:
            sl, q = read_varint(d, q - 1)
        if q + sl != end:
            raise _Unusual
        return d[q:end].decode()
    if tag == _INT:
        v = d[p + 1]
        q = p + 2
        if v & 0x80:
            v, q = read_varint(d, q - 1)
        if q != end:
            raise _Unusual
        return v - (1 << 64) if v >= 1 << 63 else v
    if tag == _DOUBLE and p + 9 == end:
        return _f64(d, p + 1)[0]
    if tag == _BOOL and p + 2 == end and d[p + 1] < 2:
        return d[p + 1] == 1
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

    return decode_value(AnyValue.FromString(d[p:end]))
