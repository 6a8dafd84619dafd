"""Protobuf's base encoding: varints (encoded, the small ones from a table; decoded) and LEN fields.

A varint holds 7 bits per byte, least significant first, with the high bit set on every
byte but the last; a varint is at most 10 bytes. A negative int64 is encoded as its 64-bit
two's complement (ten bytes), so callers pass `n & U64`. A length-delimited (LEN) field
is its tag, the payload's length as a varint, and the payload.
"""

from __future__ import annotations

U64 = (1 << 64) - 1


def varint(n: int) -> bytes:
    """The varint of `n` (0 <= n)."""
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


SMALL = [varint(i) for i in range(1 << 14)]  # varint(n) for 0 <= n < 16384 (one or two bytes)


def uvarint(n: int) -> bytes:
    """varint(n) for n >= 0: from a table when it fits in two bytes, inline in three."""
    if n < 16384:
        return SMALL[n]
    if n < 2097152:
        return bytes(((n & 0x7F) | 0x80, ((n >> 7) & 0x7F) | 0x80, n >> 14))
    return varint(n)


def len_field(tag: bytes, payload: bytes) -> bytes:
    """A LEN field: `tag` (field number << 3 | 2, one byte), the payload's length, the payload."""
    return tag + varint(len(payload)) + payload


def read(data: bytes, pos: int) -> tuple[int, int]:
    """(value, the position after it) of the varint at `pos`.

    ValueError when `data` ends inside it or it runs past 10 bytes.
    """
    value = shift = 0
    end = len(data)
    while True:
        if pos >= end:
            raise ValueError("truncated varint")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")
