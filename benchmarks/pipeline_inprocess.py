"""In-process pipeline speed beside its floor: spans/s for parse+serialise vs what `costline serve` does
to a request between the socket and the export queue (check the bytes parse, intake, buffer,
assemble, price, roll up, encode), on one core.

Prints figures; not a test. The floor is what the protobuf runtime alone costs for the
same payloads: parse each request and serialise it again. Both are run alternately,
`--repeats` times, and the median and spread are printed (the machine is shared).

  python benchmarks/pipeline_inprocess.py [requests] [--repeats N] [--profile] [--payload lean|sdk]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import payloads
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from costline_processor.config import Config
from costline_processor.pipeline import Pipeline
from costline_processor.pricing import Pricer


def floor(bodies: list[bytes]) -> float:
    t = time.perf_counter()
    for b in bodies:
        ExportTraceServiceRequest.FromString(b).SerializeToString()
    return time.perf_counter() - t


def pipeline(bodies: list[bytes], pricer: Pricer | None = None) -> tuple[float, Pipeline]:
    cfg = Config()
    cfg.assembly.trace_wait_s = 1e9  # flush explicitly below
    p = Pipeline(cfg, pricer or Pricer(cfg.pricing))
    captured = []

    class Queue:
        saturated = False

        def put(self, batch):
            captured.append(len(batch.body))

    p.queues = [Queue()]
    t = time.perf_counter()
    for b in bodies:
        ExportTraceServiceRequest.FromString(b)  # what the receivers do to check a body
        p.accept_traces(b)
    p._flush(p.buffer.drain())
    return time.perf_counter() - t, p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("requests", nargs="?", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--profile", action="store_true", help="print a cProfile of one pipeline run instead")
    ap.add_argument(
        "--payload",
        choices=payloads.PROFILES,
        default="lean",
        help="lean: the attributes costline reads (default); sdk: what SDKs and instrumentations export",
    )
    args = ap.parse_args()
    n = args.requests
    bodies = payloads.requests(n, profile=args.payload)
    spans = n * 1000
    pricer = Pricer(Config().pricing)
    pipeline(bodies, pricer)  # warm the price cache, imports and the heap
    if args.profile:
        import cProfile
        import pstats

        cProfile.runctx(
            "pipeline(bodies, pricer)", globals(), {"bodies": bodies, "pricer": pricer}, "/tmp/inprocess.prof"
        )
        pstats.Stats("/tmp/inprocess.prof").sort_stats("tottime").print_stats(25)
        return
    floors, runs = [], []
    for _ in range(args.repeats):
        floors.append(floor(bodies))
        e, p = pipeline(bodies, pricer)
        runs.append(e)
    f, e = statistics.median(floors), statistics.median(runs)
    print(
        f"payload ({args.payload}): {n} requests x 1000 spans, {sum(map(len, bodies)) / spans:.0f} B/span on the wire; "
        f"median of {args.repeats} alternating runs"
    )
    print(
        f"floor (parse + serialise)          : {spans / f:>10,.0f} spans/s  "
        f"(runs {spans / max(floors):,.0f}..{spans / min(floors):,.0f})"
    )
    print(
        f"costline in-process (one core)     : {spans / e:>10,.0f} spans/s  ({e / spans * 1e6:.2f} us/span; "
        f"runs {spans / max(runs):,.0f}..{spans / min(runs):,.0f})"
    )
    print(f"ratio to floor                     : 1/{e / f:.1f}")
    print(f"priced calls: {p.stats.get('llm_calls', 'priced')}")


if __name__ == "__main__":
    main()
