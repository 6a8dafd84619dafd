"""Cost per span of assembling one trace as traces grow from 10 to 10 000 spans (rollup must stay linear).

Two shapes: the realistic one (an agent fanning out to tools and model calls, a third of
the spans model calls, tags on the root) and a worst case for recursion and rollups: a
single chain, every span a child of the previous one, a model call at every third level.
Each trace is assembled in process (read attributes, inherit tags, price, roll up, encode),
the best of `--repeats` runs. Prints figures; never fails a build.

  python benchmarks/rollup_scaling.py [--sizes 10,100,1000,10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import payloads
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline_processor.assembly.reader import SpanReader
from costline_processor.assembly.rollup import assemble_trace
from costline_processor.assembly.tags import TagReader
from costline_processor.config import Config
from costline_processor.intake import Intake
from costline_processor.pricing import Pricer


def chain(n: int) -> list[Span]:
    tid = os.urandom(16)
    out: list[Span] = []
    for i in range(n):
        s = Span(
            trace_id=tid,
            span_id=os.urandom(8),
            name=f"step {i}",
            start_time_unix_nano=payloads.START + i,
            end_time_unix_nano=payloads.START + i + 1000,
        )
        if out:
            s.parent_span_id = out[-1].span_id
        if i == 0:
            s.attributes.add(key="costline.feature").value.string_value = "deep"
        elif i % 3 == 0:
            for k, v in (("gen_ai.operation.name", "chat"), ("gen_ai.request.model", "gpt-4o-mini")):
                s.attributes.add(key=k).value.string_value = v
            s.attributes.add(key="gen_ai.usage.input_tokens").value.int_value = 100 + i
        out.append(s)
    return out


def buffered(spans: list[Span], intake: Intake) -> tuple[bytes, list]:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "bench"
    ss = rs.scope_spans.add()
    ss.scope.name = "bench"
    ss.spans.extend(spans)
    by_trace, *_ = intake.group(req.SerializeToString())
    ((trace_id, group),) = by_trace.items()
    return trace_id, group


def per_span(trace_id: bytes, group: list, cfg: Config, pricer: Pricer, reader, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        assemble_trace(trace_id, group, {}, cfg.tagging, pricer.price, True, reader)
        best = min(best, time.perf_counter() - t)
    return best / len(group) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10,100,1000,10000")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    cfg = Config()
    pricer = Pricer(cfg.pricing)
    intake, reader = Intake(), SpanReader(TagReader(cfg.tagging))
    rng = random.Random(11)
    sizes = [int(x) for x in args.sizes.split(",")]
    shapes = {"fan-out": lambda n: payloads.trace(rng, n), "chain": chain}
    print(f"{'spans/trace':>11}  " + "  ".join(f"{s + ' us/span':>16}" for s in shapes) + "   (x of the 10-span cost)")
    base: dict[str, float] = {}
    for n in sizes:
        cells = []
        for name, make in shapes.items():
            traces = [buffered(make(n), intake) for _ in range(max(1, 2000 // n))]
            for t, g in traces[:2]:  # warm the caches
                assemble_trace(t, g, {}, cfg.tagging, pricer.price, True, reader)
            us = min(per_span(t, g, cfg, pricer, reader, args.repeats) for t, g in traces[:5])
            base.setdefault(name, us)
            cells.append(f"{us:>8.2f} ({us / base[name]:4.2f}x)")
        print(f"{n:>11,}  " + "  ".join(f"{c:>16}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
