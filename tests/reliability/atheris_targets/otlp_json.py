"""Fuzz target: bytes as an OTLP/JSON ExportTraceServiceRequest (decode.parse_json, i.e.
json.loads then costline's own otlp_json decoder). Allowed: decode.Undecodable; a decoded
request must serialise and parse back as protobuf (what the HTTP receiver hands on)."""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["costline"]):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from costline_processor.receive import decode
    from costline_processor.receive.errors import RequestError


def one_input(data: bytes) -> None:
    try:
        msg = decode.parse_json(ExportTraceServiceRequest, data)
    except RequestError:
        return
    decode.parse_protobuf(ExportTraceServiceRequest, msg.SerializeToString())


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
