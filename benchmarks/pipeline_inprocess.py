"""In-process pipeline speed beside its floor: spans/s for parse+serialise vs intake→assemble→encode.

Prints figures; not a test. The floor is what the protobuf runtime alone costs for the
same payloads: parse each request and serialise it again.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402

import payloads  # noqa: E402
from costline.processor.config import Config  # noqa: E402
from costline.processor.pipeline import Pipeline  # noqa: E402
from costline.processor.pricing import Pricer  # noqa: E402


def floor(bodies: list[bytes]) -> float:
    t = time.perf_counter()
    for b in bodies:
        ExportTraceServiceRequest.FromString(b).SerializeToString()
    return time.perf_counter() - t


def pipeline(bodies: list[bytes]) -> tuple[float, Pipeline]:
    cfg = Config()
    cfg.assembly.trace_wait_s = 1e9  # flush explicitly below
    p = Pipeline(cfg, Pricer(cfg.pricing))
    captured = []

    class Queue:
        saturated = False

        def put(self, batch):
            captured.append(len(batch.body))

    p.queues = [Queue()]
    t = time.perf_counter()
    for b in bodies:
        p.accept_traces(ExportTraceServiceRequest.FromString(b))
    p._flush(p.buffer.drain())
    return time.perf_counter() - t, p


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    bodies = payloads.requests(n)
    spans = n * 1000
    pipeline(bodies[:2])  # warm the price cache and imports
    f = min(floor(bodies) for _ in range(3))
    e, p = pipeline(bodies)
    print(f"payload: {n} requests x 1000 spans, {sum(map(len, bodies)) / spans:.0f} B/span on the wire")
    print(f"floor (parse + serialise)          : {spans / f:>10,.0f} spans/s")
    print(f"costline in-process (one core)     : {spans / e:>10,.0f} spans/s  ({e / spans * 1e6:.1f} us/span)")
    print(f"ratio to floor                     : 1/{e / f:.1f}")
    print(f"priced calls: {p.stats.get('llm_calls', 'priced')}")


if __name__ == "__main__":
    main()
