"""Request bodies to protobuf messages: content type, gzip, size limits.

Pure functions; the receivers call them. The size cap applies to the body after
decompression, read in bounded chunks so a gzip bomb never inflates in memory.
"""

from __future__ import annotations

import json
import zlib

from google.protobuf.message import DecodeError

from costline.processor.receive import otlp_json
from costline.processor.receive.errors import TooLarge, Undecodable, UnsupportedMediaType

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_CHUNK = 1 << 20


def media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` -> `application/json`; raises 415 for others."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    if base in (PROTOBUF, "application/protobuf"):
        return PROTOBUF
    if base == JSON:
        return JSON
    raise UnsupportedMediaType(f"unsupported content type {content_type!r}: use {PROTOBUF} or {JSON}")


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo Content-Encoding, refusing anything that inflates past `limit` bytes."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("identity", ""):
        if len(body) > limit:
            raise TooLarge(f"request body of {len(body)} bytes exceeds the {limit}-byte limit")
        return body
    if enc not in ("gzip", "deflate"):
        raise UnsupportedMediaType(f"unsupported content encoding {encoding!r}: use gzip or none")
    d = zlib.decompressobj(zlib.MAX_WBITS | 32 if enc == "gzip" else zlib.MAX_WBITS)
    out = bytearray()
    data = body
    try:
        while data:
            out += d.decompress(data, _CHUNK)
            if len(out) > limit:
                raise TooLarge(f"decompressed body exceeds the {limit}-byte limit")
            data = d.unconsumed_tail
        out += d.flush()
    except zlib.error as e:
        raise Undecodable(f"body is not valid {enc}: {e}") from None
    if len(out) > limit:
        raise TooLarge(f"decompressed body exceeds the {limit}-byte limit")
    if not d.eof:
        raise Undecodable(f"{enc} body is truncated")
    return bytes(out)


def parse_protobuf(message_type, data: bytes):
    msg = message_type()
    try:
        msg.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise Undecodable(f"body is not a valid {message_type.DESCRIPTOR.name}: {e}") from None
    return msg


def parse_json(message_type, data: bytes):
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise Undecodable(f"body is not valid JSON: {str(e)[:200]}") from None
    try:
        return otlp_json.to_message(message_type, doc)
    except otlp_json.OtlpJsonError as e:
        raise Undecodable(f"body is not valid OTLP/JSON: {e}") from None


def decode(message_type, body: bytes, content_type: str | None, encoding: str | None, limit: int):
    kind = media_type(content_type)
    data = decompress(body, encoding, limit)
    return parse_protobuf(message_type, data) if kind == PROTOBUF else parse_json(message_type, data)
