"""OTLP/JSON to protobuf, following the OTLP spec rather than protobuf-JSON.

Two differences bite `json_format.Parse`: trace and span IDs are hex, not base64
(json_format silently turns a 32-hex-digit trace ID into 24 bytes), and it decodes
only ~5k spans/s. Traces take the hand-written fast path below; metrics and logs,
which costline only forwards, take json_format after their IDs are rewritten.
64-bit integers may arrive as strings, enums as integers or names, unknown fields
are ignored, and both lowerCamelCase and snake_case field names are accepted.
"""

from __future__ import annotations

import base64
import math

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2


class OtlpJsonError(ValueError):
    """The JSON document is not an OTLP request of the expected kind."""


def to_message(message_type, doc):
    if not isinstance(doc, dict):
        raise OtlpJsonError("the top level must be an object")
    try:
        if message_type is ExportTraceServiceRequest:
            return _traces(doc)
        return json_format.ParseDict(_hex_ids_to_base64(doc), message_type(), ignore_unknown_fields=True)
    except OtlpJsonError:
        raise
    except RecursionError:
        raise OtlpJsonError("nesting too deep") from None
    except (json_format.ParseError, TypeError, ValueError, AttributeError, KeyError, OverflowError) as e:
        raise OtlpJsonError(str(e)[:300]) from None


def _get(obj: dict, camel: str, snake: str | None = None, default=None):
    v = obj.get(camel)
    if v is None and snake is not None:
        v = obj.get(snake)
    return default if v is None else v


def _list(obj: dict, camel: str, snake: str | None = None) -> list:
    v = _get(obj, camel, snake, ())
    if v == ():
        return []
    if not isinstance(v, list):
        raise OtlpJsonError(f"{camel} must be an array")
    return v


def _obj(v, what: str) -> dict:
    if not isinstance(v, dict):
        raise OtlpJsonError(f"{what} must be an object")
    return v


def _int(v, what: str) -> int:
    if isinstance(v, bool):
        raise OtlpJsonError(f"{what} must be an integer")
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            pass
    if isinstance(v, float) and v.is_integer():
        return int(v)
    raise OtlpJsonError(f"{what} must be an integer, not {v!r:.40}")


def _uint64(v, what: str) -> int:
    n = _int(v, what)
    if not 0 <= n < 1 << 64:
        raise OtlpJsonError(f"{what} out of range")
    return n


def _hexid(v, what: str) -> bytes:
    if not v:
        return b""
    if not isinstance(v, str):
        raise OtlpJsonError(f"{what} must be a hex string")
    try:
        return bytes.fromhex(v)
    except ValueError:
        raise OtlpJsonError(f"{what} is not hex: {v!r:.40}") from None


def _enum(v, enum_type, what: str) -> int:
    if isinstance(v, str) and not v.lstrip("-").isdigit():
        try:
            return enum_type.Value(v)
        except ValueError:
            raise OtlpJsonError(f"unknown {what} {v!r:.40}") from None
    return _int(v, what)


def _double(v, what: str) -> float:
    if isinstance(v, bool):
        raise OtlpJsonError(f"{what} must be a number")
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        if v in ("NaN", "Infinity", "-Infinity"):
            return float(v.replace("Infinity", "inf"))
        try:
            return float(v)
        except ValueError:
            pass
    raise OtlpJsonError(f"{what} must be a number")


def _fill_any(target, v) -> None:
    if not v:
        return  # empty AnyValue
    v = _obj(v, "attribute value")
    if (s := _get(v, "stringValue", "string_value")) is not None:
        if not isinstance(s, str):
            raise OtlpJsonError("stringValue must be a string")
        target.string_value = s
    elif (i := _get(v, "intValue", "int_value")) is not None:
        n = _int(i, "intValue")
        if -(1 << 63) <= n < 1 << 63:
            target.int_value = n
        else:  # OpenTelemetry JS writes any integral number as intValue (2**70, 1e300): kept as the double it was
            target.double_value = float(n)
    elif (d := _get(v, "doubleValue", "double_value")) is not None:
        target.double_value = _double(d, "doubleValue")
    elif (b := _get(v, "boolValue", "bool_value")) is not None:
        if not isinstance(b, bool):
            raise OtlpJsonError("boolValue must be true or false")
        target.bool_value = b
    elif (a := _get(v, "arrayValue", "array_value")) is not None:
        arr = target.array_value
        for item in _list(_obj(a, "arrayValue"), "values"):
            _fill_any(arr.values.add(), item)
    elif (kvl := _get(v, "kvlistValue", "kvlist_value")) is not None:
        _fill_attrs(target.kvlist_value.values, _list(_obj(kvl, "kvlistValue"), "values"))
    elif (by := _get(v, "bytesValue", "bytes_value")) is not None:
        try:
            target.bytes_value = base64.b64decode(by, validate=True)
        except (ValueError, TypeError):
            raise OtlpJsonError("bytesValue must be base64") from None


def _fill_attrs(target, items: list) -> None:
    for kv in items:
        kv = _obj(kv, "attribute")
        key = kv.get("key", "")
        if not isinstance(key, str):
            raise OtlpJsonError("attribute key must be a string")
        out = target.add()
        out.key = key
        _fill_any(out.value, kv.get("value"))


def _traces(doc: dict) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    for rs in _list(doc, "resourceSpans", "resource_spans"):
        rs = _obj(rs, "resourceSpans[]")
        out_rs = req.resource_spans.add()
        if res := _get(rs, "resource"):
            res = _obj(res, "resource")
            _fill_attrs(out_rs.resource.attributes, _list(res, "attributes"))
            out_rs.resource.dropped_attributes_count = _int(
                _get(res, "droppedAttributesCount", "dropped_attributes_count", 0), "droppedAttributesCount"
            )
        out_rs.schema_url = _get(rs, "schemaUrl", "schema_url", "")
        for ss in _list(rs, "scopeSpans", "scope_spans"):
            ss = _obj(ss, "scopeSpans[]")
            out_ss = out_rs.scope_spans.add()
            if scope := _get(ss, "scope"):
                scope = _obj(scope, "scope")
                out_ss.scope.name = _get(scope, "name", default="")
                out_ss.scope.version = _get(scope, "version", default="")
                _fill_attrs(out_ss.scope.attributes, _list(scope, "attributes"))
            out_ss.schema_url = _get(ss, "schemaUrl", "schema_url", "")
            for s in _list(ss, "spans"):
                _fill_span(out_ss.spans.add(), _obj(s, "span"))
    return req


def _fill_span(sp, s: dict) -> None:
    sp.trace_id = _hexid(_get(s, "traceId", "trace_id"), "traceId")
    sp.span_id = _hexid(_get(s, "spanId", "span_id"), "spanId")
    sp.parent_span_id = _hexid(_get(s, "parentSpanId", "parent_span_id"), "parentSpanId")
    if (ts := _get(s, "traceState", "trace_state")) is not None:
        sp.trace_state = ts
    if (flags := s.get("flags")) is not None:
        sp.flags = _int(flags, "flags") & 0xFFFFFFFF
    sp.name = _get(s, "name", default="")
    if (kind := s.get("kind")) is not None:
        sp.kind = _enum(kind, trace_pb2.Span.SpanKind, "span kind")
    sp.start_time_unix_nano = _uint64(_get(s, "startTimeUnixNano", "start_time_unix_nano", 0), "startTimeUnixNano")
    sp.end_time_unix_nano = _uint64(_get(s, "endTimeUnixNano", "end_time_unix_nano", 0), "endTimeUnixNano")
    _fill_attrs(sp.attributes, _list(s, "attributes"))
    sp.dropped_attributes_count = _int(
        _get(s, "droppedAttributesCount", "dropped_attributes_count", 0), "droppedAttributesCount"
    )
    for ev in _list(s, "events"):
        ev = _obj(ev, "event")
        out = sp.events.add()
        out.time_unix_nano = _uint64(_get(ev, "timeUnixNano", "time_unix_nano", 0), "timeUnixNano")
        out.name = _get(ev, "name", default="")
        _fill_attrs(out.attributes, _list(ev, "attributes"))
    for ln in _list(s, "links"):
        ln = _obj(ln, "link")
        out = sp.links.add()
        out.trace_id = _hexid(_get(ln, "traceId", "trace_id"), "link traceId")
        out.span_id = _hexid(_get(ln, "spanId", "span_id"), "link spanId")
        out.trace_state = _get(ln, "traceState", "trace_state", "")
        _fill_attrs(out.attributes, _list(ln, "attributes"))
    if status := s.get("status"):
        status = _obj(status, "status")
        if (code := status.get("code")) is not None:
            sp.status.code = _enum(code, trace_pb2.Status.StatusCode, "status code")
        sp.status.message = status.get("message", "")


_ID_KEYS = {"traceId": 16, "spanId": 8, "trace_id": 16, "span_id": 8}


def _hex_ids_to_base64(node):
    """Rewrite hex trace/span IDs so json_format (which expects base64) reads them right."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in _ID_KEYS and isinstance(v, str):
                out[k] = base64.b64encode(_hexid(v, k)).decode()
            else:
                out[k] = _hex_ids_to_base64(v)
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(v) for v in node]
    if isinstance(node, float) and not math.isfinite(node):
        return str(node)
    return node
