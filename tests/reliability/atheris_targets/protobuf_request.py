"""Fuzz target: bytes as an OTLP/protobuf ExportTraceServiceRequest, through the receive path.

What a receiver does with a body (decode.parse_protobuf), then intake (Intake.group: split
into span bytes, check IDs, group by trace, read the attributes stages need) and the rest
of the pipeline (buffer with small bounds, assemble, price, roll up, encode for export).
Allowed: decode.Undecodable for a body that does not parse. Anything else raised is a bug,
and so is an accepted span that is not exported exactly once.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["costline"]):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from costline_processor.config import Config
    from costline_processor.pipeline import Pipeline
    from costline_processor.pricing import Pricer
    from costline_processor.receive import decode
    from costline_processor.receive.errors import RequestError

_CONFIG = Config()
_CONFIG.assembly.trace_wait_s = 1e9
_CONFIG.assembly.max_traces = 4  # small bounds, so early flushes run too
_CONFIG.assembly.max_spans = 16
_PRICER = Pricer(_CONFIG.pricing)


class _Queue:
    saturated = False

    def __init__(self):
        self.batches = []

    def put(self, batch):
        self.batches.append(batch)


def one_input(data: bytes) -> None:
    try:
        decode.parse_protobuf(ExportTraceServiceRequest, data)
    except RequestError:
        return
    p = Pipeline(_CONFIG, _PRICER)
    q = _Queue()
    p.queues = [q]
    rejected, _ = p.accept_traces(data)
    p._flush(p.buffer.drain())
    sent = sum(
        len(ss.spans) for rs in ExportTraceServiceRequest.FromString(data).resource_spans for ss in rs.scope_spans
    )
    exported = sum(b.spans for b in q.batches)
    if exported != sent - rejected:
        raise AssertionError(f"{sent} spans sent, {rejected} rejected, {exported} exported")


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
