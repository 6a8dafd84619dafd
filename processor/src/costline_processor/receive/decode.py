"""Request bodies to protobuf messages: content type, gzip, size limits.

Pure functions; the receivers call them. The size cap applies to the body after
decompression, read in bounded chunks so a gzip bomb never inflates in memory.

Every signal is checked, not only traces: a body costline takes is forwarded, and one
the backend cannot parse is refused there with every span or point batched beside it.
OTLP/JSON is held to protobuf's limits by parsing what it converts to (`from_json`):
JSON has no nesting limit, protobuf parsers do (upb, C++ and Java: 100 levels), and a
request only the JSON path let in would poison the batch it is exported in.
"""

from __future__ import annotations

import json
import zlib

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from costline_processor.receive import otlp_json, utf8
from costline_processor.receive.errors import TooLarge, Undecodable, UnsupportedMediaType

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_CHUNK = 1 << 20
REQUESTS = {  # what each signal's body must parse as
    "traces": ExportTraceServiceRequest,
    "metrics": ExportMetricsServiceRequest,
    "logs": ExportLogsServiceRequest,
}


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


def checked(message_type, data: bytes) -> tuple[bytes, int]:
    """(`data`, 0) when it parses as `message_type`; when it parses only with its strings read as bytes,
    (the request with what is not UTF-8 in them replaced, how many strings that changed: utf8.py);
    else Undecodable, as parse_protobuf."""
    try:
        parse_protobuf(message_type, data)
        return data, 0
    except Undecodable:
        fixed = utf8.repaired(message_type, data)
        if fixed is None:
            raise
    parse_protobuf(message_type, fixed[0])  # what the copy of the schema let in, the real one takes
    return fixed


def parse_json(message_type, data: bytes):
    return _from_json_doc(message_type, data)[0]


def _from_json_doc(message_type, data: bytes):
    """(the message, how many strings had a lone surrogate replaced: utf8.py)."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise Undecodable(f"body is not valid JSON: {str(e)[:200]}") from None
    try:
        return otlp_json.to_message(message_type, doc), 0
    except otlp_json.OtlpJsonError as e:
        error = e
    doc, changed = utf8.without_surrogates(doc)
    if changed:
        try:
            return otlp_json.to_message(message_type, doc), changed
        except otlp_json.OtlpJsonError as e:
            error = e
    raise Undecodable(f"body is not valid OTLP/JSON: {error}") from None


def from_json(message_type, data: bytes, limit: int) -> bytes:
    return checked_json(message_type, data, limit)[0]


def checked_json(message_type, data: bytes, limit: int) -> tuple[bytes, int]:
    """OTLP/JSON to the protobuf bytes costline keeps, refused (Undecodable, TooLarge) unless
    they parse as `message_type` within `limit` bytes, as a protobuf body must; and how many
    strings had a lone surrogate replaced (utf8.py)."""
    message, changed = _from_json_doc(message_type, data)
    out = message.SerializeToString()
    if len(out) > limit:
        raise TooLarge(f"request is {len(out)} bytes as protobuf, over the {limit}-byte limit")
    try:
        parse_protobuf(message_type, out)
    except Undecodable:  # what protobuf refuses in a converted body: nesting deeper than 100 levels
        raise Undecodable(
            f"body is not a valid {message_type.DESCRIPTOR.name} once converted to "
            "protobuf (values nested deeper than protobuf's 100 levels?)"
        ) from None
    return out, changed


def decode(message_type, body: bytes, content_type: str | None, encoding: str | None, limit: int):
    kind = media_type(content_type)
    data = decompress(body, encoding, limit)
    return parse_protobuf(message_type, data) if kind == PROTOBUF else parse_json(message_type, data)
