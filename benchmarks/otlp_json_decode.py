"""OTLP/HTTP JSON bodies: what decoding costs before the pipeline, beside protobuf.

The same 1 000-span requests as the other benchmarks, as OTLP/JSON (hex IDs, as the spec
asks), decoded to the bytes the pipeline takes:

  protobuf            parse (the receivers' validity check)
  costline otlp_json  json.loads + receive/otlp_json (what `POST /v1/traces` with JSON runs)
  json.loads alone    the floor of any JSON path in Python
  json_format.Parse   google.protobuf's JSON parser (IDs rewritten to base64 first, as it needs)

Median of `--repeats` runs, in spans/s. Prints figures; never fails a build.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import payloads
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from costline_processor.receive import decode, otlp_json


def to_otlp_json(body: bytes) -> bytes:
    doc = json_format.MessageToDict(ExportTraceServiceRequest.FromString(body))
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for k in ("traceId", "spanId", "parentSpanId"):
                    if k in s:
                        s[k] = base64.b64decode(s[k]).hex()
    return json.dumps(doc).encode()


def timed(fn, items, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        for x in items:
            fn(x)
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    bodies = payloads.requests(args.requests)
    docs = [to_otlp_json(b) for b in bodies]
    spans = args.requests * 1000
    # the JSON path must give the pipeline the same request
    assert decode.parse_json(ExportTraceServiceRequest, docs[0]) == ExportTraceServiceRequest.FromString(bodies[0])
    print(
        f"payload: {args.requests} requests x 1000 spans; {sum(map(len, bodies)) / spans:.0f} B/span as protobuf, "
        f"{sum(map(len, docs)) / spans:.0f} B/span as OTLP/JSON; median of {args.repeats}"
    )

    def costline(doc: bytes) -> bytes:
        return decode.parse_json(ExportTraceServiceRequest, doc).SerializeToString()

    def protobuf_format(doc: bytes):
        return json_format.ParseDict(
            otlp_json._hex_ids_to_base64(json.loads(doc)), ExportTraceServiceRequest(), ignore_unknown_fields=True
        )

    rows = [
        ("protobuf parse", lambda b: ExportTraceServiceRequest.FromString(b), bodies, args.repeats),
        ("costline otlp_json (JSON)", costline, docs, args.repeats),
        ("json.loads alone", json.loads, docs, args.repeats),
        ("json_format.ParseDict (JSON)", protobuf_format, docs[: max(1, args.requests // 5)], 1),
    ]
    rates = {}
    for name, fn, items, repeats in rows:
        t = statistics.median(timed(fn, items, repeats))
        rates[name] = len(items) * 1000 / t
        print(f"  {name:<30}{rates[name]:>12,.0f} spans/s  ({t / (len(items) * 1000) * 1e6:6.2f} us/span)", flush=True)
    print(
        f"costline's JSON decoder: {rates['costline otlp_json (JSON)'] / rates['json_format.ParseDict (JSON)']:.1f}x "
        f"json_format, {rates['costline otlp_json (JSON)'] / rates['json.loads alone']:.2f} of json.loads alone"
    )


if __name__ == "__main__":
    main()
