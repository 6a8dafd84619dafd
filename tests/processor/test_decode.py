"""Request decoding: content types, gzip limits and bombs, OTLP/JSON (hex IDs, string ints)."""

import gzip
import json

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from costline_processor.receive import decode
from costline_processor.receive.errors import TooLarge, Undecodable, UnsupportedMediaType

TRACE_HEX = "5b8efff798038103d269b633813fc60c"
SPAN_HEX = "eee19b7ec3c1b174"


def otlp_json_doc():
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "my.lib", "version": "1.2"},
                        "spans": [
                            {
                                "traceId": TRACE_HEX,
                                "spanId": SPAN_HEX,
                                "parentSpanId": "",
                                "name": "chat gpt-4o",
                                "kind": 3,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000001000000000",
                                "attributes": [
                                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "1234"}},
                                    {"key": "ratio", "value": {"doubleValue": 0.5}},
                                    {"key": "ok", "value": {"boolValue": True}},
                                    {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}]}}},
                                ],
                                "status": {"code": 2, "message": "boom"},
                                "someFutureField": {"ignored": True},
                            }
                        ],
                    }
                ],
            }
        ]
    }


def test_json_ids_are_hex_not_base64():
    req = decode.decode(
        ExportTraceServiceRequest, json.dumps(otlp_json_doc()).encode(), "application/json", None, 1 << 20
    )
    span = req.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id == bytes.fromhex(TRACE_HEX) and len(span.trace_id) == 16
    assert span.span_id == bytes.fromhex(SPAN_HEX)
    assert span.start_time_unix_nano == 1700000000000000000
    assert span.kind == 3 and span.status.code == 2
    attrs = {kv.key: kv.value for kv in span.attributes}
    assert attrs["gen_ai.usage.input_tokens"].int_value == 1234
    assert attrs["ratio"].double_value == 0.5 and attrs["ok"].bool_value is True
    # json_format, by contrast, reads the hex as base64 and gets the wrong bytes
    wrong = json_format.ParseDict(otlp_json_doc(), ExportTraceServiceRequest(), ignore_unknown_fields=True)
    assert wrong.resource_spans[0].scope_spans[0].spans[0].trace_id != span.trace_id


def test_json_snake_case_and_enum_names():
    doc = {
        "resource_spans": [
            {
                "scope_spans": [
                    {
                        "spans": [
                            {
                                "trace_id": TRACE_HEX,
                                "span_id": SPAN_HEX,
                                "name": "x",
                                "kind": "SPAN_KIND_CLIENT",
                                "status": {"code": "STATUS_CODE_ERROR"},
                            }
                        ]
                    }
                ]
            }
        ]
    }
    req = decode.parse_json(ExportTraceServiceRequest, json.dumps(doc).encode())
    span = req.resource_spans[0].scope_spans[0].spans[0]
    assert span.kind == 3 and span.status.code == 2 and span.trace_id.hex() == TRACE_HEX


def test_json_int_beyond_int64_is_kept_as_the_double_it_was():
    """OpenTelemetry JS writes any integral number as intValue (2**70, 1e300): not an int64, kept as a double,
    where refusing it lost every span of the request."""
    attrs = [{"key": k, "value": {"intValue": v}} for k, v in (("big", 2**70), ("huge", 1e300), ("edge", 2**63 - 1))]
    attrs.append({"key": "low", "value": {"intValue": str(-(2**63) - 1)}})
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": TRACE_HEX, "spanId": SPAN_HEX, "name": "s",
                                                          "attributes": attrs}]}]}]}  # fmt: skip
    span = decode.parse_json(ExportTraceServiceRequest, json.dumps(doc).encode()).resource_spans[0].scope_spans[0]
    got = {kv.key: kv.value for kv in span.spans[0].attributes}
    assert got["big"].WhichOneof("value") == "double_value" and got["big"].double_value == float(2**70)
    assert got["huge"].double_value == 1e300 and got["low"].double_value == float(-(2**63) - 1)
    assert got["edge"].WhichOneof("value") == "int_value" and got["edge"].int_value == 2**63 - 1


def test_json_logs_ids_are_hex_too():
    doc = {
        "resourceLogs": [
            {"scopeLogs": [{"logRecords": [{"traceId": TRACE_HEX, "spanId": SPAN_HEX, "body": {"stringValue": "hi"}}]}]}
        ]
    }
    req = decode.parse_json(ExportLogsServiceRequest, json.dumps(doc).encode())
    rec = req.resource_logs[0].scope_logs[0].log_records[0]
    assert rec.trace_id.hex() == TRACE_HEX and rec.span_id.hex() == SPAN_HEX


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1,2]",
        b'{"resourceSpans": 5}',
        b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}',
        b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"soon"}]}]}]}',
        b"[" * 100000,
    ],
)
def test_bad_json_is_undecodable(body):
    with pytest.raises(Undecodable):
        decode.parse_json(ExportTraceServiceRequest, body)


def test_garbage_protobuf_is_undecodable():
    with pytest.raises(Undecodable):
        decode.parse_protobuf(ExportTraceServiceRequest, b"\xff\xff\xff\xff\x0f garbage")


@pytest.mark.parametrize(
    "ctype,expected",
    [
        ("application/x-protobuf", decode.PROTOBUF),
        ("application/json; charset=utf-8", decode.JSON),
        ("Application/JSON", decode.JSON),
    ],
)
def test_media_types(ctype, expected):
    assert decode.media_type(ctype) == expected


@pytest.mark.parametrize("ctype", ["text/plain", "", None, "application/grpc"])
def test_unknown_media_type_is_415(ctype):
    with pytest.raises(UnsupportedMediaType):
        decode.media_type(ctype)


def test_gzip_roundtrip_and_unknown_encoding():
    data = b"x" * 5000
    assert decode.decompress(gzip.compress(data), "gzip", 10_000) == data
    with pytest.raises(UnsupportedMediaType):
        decode.decompress(data, "br", 10_000)


def test_gzip_bomb_is_refused_without_inflating():
    bomb = gzip.compress(b"\0" * (200 * 1024 * 1024), 9)  # 200 MiB of zeros in ~200 KiB
    assert len(bomb) < 1024 * 1024
    with pytest.raises(TooLarge):
        decode.decompress(bomb, "gzip", 64 * 1024 * 1024)


def test_oversized_plain_body_and_truncated_gzip():
    with pytest.raises(TooLarge):
        decode.decompress(b"x" * 2000, None, 1000)
    with pytest.raises(Undecodable):
        decode.decompress(gzip.compress(b"y" * 10000)[:-12], "gzip", 100_000)
    with pytest.raises(Undecodable):
        decode.decompress(b"not gzip at all", "gzip", 100_000)


def _nested(depth: int) -> dict:
    value: dict = {"stringValue": "leaf"}
    for _ in range(depth):
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    return value


@pytest.mark.parametrize("signal", ["traces", "logs"])
def test_json_is_held_to_protobufs_nesting_limit(signal):
    def doc(depth):
        if signal == "traces":
            d = otlp_json_doc()
            d["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"].append(
                {"key": "deep", "value": _nested(depth)}
            )
            return d
        return {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": _nested(depth)}]}]}]}

    message = decode.REQUESTS[signal]
    ok = decode.from_json(message, json.dumps(doc(20)).encode(), 1 << 20)
    message.FromString(ok)  # what is kept is the protobuf bytes, and they parse
    with pytest.raises(
        Undecodable, match="nested" if signal == "traces" else None
    ):  # 31 kvlist levels: 100 message levels, upb's limit
        decode.from_json(message, json.dumps(doc(40)).encode(), 1 << 20)


def test_json_is_held_to_the_size_limit_once_converted():
    body = json.dumps(otlp_json_doc()).encode()
    size = len(decode.from_json(ExportTraceServiceRequest, body, 1 << 20))
    with pytest.raises(TooLarge):
        decode.from_json(ExportTraceServiceRequest, body, size - 1)
