"""End-to-end throughput of `costline serve`, beside its floor and a pass-through peer, in one run.

  load generator (own process) --OTLP/gRPC--> target --OTLP/gRPC--> counting sink (own process)

Targets, each measured the same way on the same payloads (1 000-span requests of ~10-span
traces, a third of the spans model calls, agent fan-out, tags on roots):

  floor        parse + re-serialise every request in this process (same protobuf runtime)
  pass-through a plain Python OTLP hop from the same libraries: receive, parse, forward
  costline x1  `costline serve --ledger off` (receive, normalise, price, assemble, roll up, re-export)
  costline x2  the same with two processes on the same port (--workers 2)
  costline x1 --queue-dir   (target `queue`) the same with acknowledged spans journaled to disk

Throughput is counted at the sink (spans that made it through), in steady state, over
several windows; the median is printed with the spread, beside the CPU the target used.
Prints figures; never fails a build. Run: `python benchmarks/end_to_end.py [--help]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import payloads
from support import procs
from support.wire import MARKER


def floor(bodies: list[bytes], repeats: int = 5) -> list[float]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    spans = sum(payloads_spans(bodies))
    # Warm the heap first: parsing into fresh memory pays page faults a long-running process does
    # not (the first passes run ~30% slower); the floor is the runtime at its best.
    keep = [ExportTraceServiceRequest.FromString(b) for b in bodies]
    del keep
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        for b in bodies:
            ExportTraceServiceRequest.FromString(b).SerializeToString()
        rates.append(spans / (time.perf_counter() - t))
    return rates


def payloads_spans(bodies: list[bytes]) -> list[int]:
    from support.wire import count_spans

    return [count_spans(b) for b in bodies]


def measure(name: str, start, stop, sink: procs.Sink, bodies_path: str, args) -> dict:
    """Start a target, drive it at full speed, count at the sink over steady-state windows."""
    target, port, pids = start()
    lg = procs.LoadGen(
        f"127.0.0.1:{port}",
        bodies_path,
        connections=args.connections,
        inflight=args.inflight,
        duration=args.warmup_max + args.windows * args.window + 30,
    )
    result = {"name": name, "rates": [], "accepted": [], "cores": [], "cpu_us": []}
    try:
        lg.__enter__()
        base = sink.count()
        deadline = time.monotonic() + args.warmup_max
        while sink.count() == base and time.monotonic() < deadline:
            time.sleep(0.05)
        if sink.count() == base:
            raise RuntimeError(f"{name}: nothing reached the sink within {args.warmup_max}s")
        time.sleep(args.settle)
        for _ in range(args.windows):
            pids_now = pids()
            c0, a0, cpu0, t0 = sink.count(), lg.sent.value, procs.cpu_seconds(pids_now), time.monotonic()
            time.sleep(args.window)
            c1, a1, cpu1, t1 = sink.count(), lg.sent.value, procs.cpu_seconds(pids_now), time.monotonic()
            rate = (c1 - c0) / (t1 - t0)
            result["rates"].append(rate)
            result["accepted"].append((a1 - a0) / (t1 - t0))
            result["cores"].append((cpu1 - cpu0) / (t1 - t0))
            result["cpu_us"].append((cpu1 - cpu0) / max(1, c1 - c0) * 1e6)
        result["peak_rss"] = sum(procs.peak_rss_bytes(p) for p in pids())
        result["throttled"] = lg.throttled.value
        result["failed"] = lg.failed.value
    finally:
        lg.stop()
        stop(target)
    return result


def costline_target(sink: procs.Sink, workers: int, trace_wait: float, extra: list[str]):
    def start():
        port = procs.free_port()
        args = ["--http", "off", "--ledger", "off", "--trace-wait", str(trace_wait), *extra]
        if workers > 1:
            args += ["--workers", str(workers)]
        proc = procs.start_costline(port, sink.endpoint, *args)

        def pids():
            kids = procs.children_of(proc.pid)
            return [proc.pid, *kids]

        if workers > 1:  # every worker must listen before the load generator connects
            deadline = time.monotonic() + 30
            while len(procs.children_of(proc.pid)) < workers and time.monotonic() < deadline:
                time.sleep(0.05)
            procs.wait_listening(lambda: procs.children_of(proc.pid), port)
        return proc, port, pids

    return start, procs.stop_process


def replicas_target(sink: procs.Sink, n: int, trace_wait: float, extra: list[str]):
    """n independent `costline serve` processes on one port (gRPC binds with SO_REUSEPORT)."""

    def start():
        port = procs.free_port()
        ps = [
            procs.start_costline(
                port, sink.endpoint, "--http", "off", "--ledger", "off", "--trace-wait", str(trace_wait), *extra
            )
            for _ in range(n)
        ]
        pids = lambda: [p.pid for p in ps]
        procs.wait_listening(pids, port)
        return ps, port, pids

    def stop(ps):
        for p in ps:
            procs.stop_process(p)

    return start, stop


def hop_target(sink: procs.Sink):
    def start():
        hop = procs.PassThroughHop(sink.endpoint)
        hop.__enter__()
        return hop, hop.port, lambda: [hop.pid]

    return start, lambda hop: hop.__exit__()


def fmt(r: dict) -> str:
    rates = r["rates"]
    med = statistics.median(rates)
    spread = (max(rates) - min(rates)) / med * 100 if med else 0
    return (
        f"{med:>10,.0f} spans/s  (windows {min(rates):,.0f}..{max(rates):,.0f}, ±{spread / 2:.0f}%; "
        f"target used {statistics.median(r['cores']):.2f} cores, {statistics.median(r['cpu_us']):.1f} CPU-us/span)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=50, help="distinct 1 000-span template requests (default 50)")
    ap.add_argument("--window", type=float, default=2.0, help="seconds per measuring window (default 2)")
    ap.add_argument("--windows", type=int, default=3, help="windows per target (default 3)")
    ap.add_argument("--settle", type=float, default=1.5, help="seconds after the first export before measuring")
    ap.add_argument("--warmup-max", type=float, default=30.0)
    ap.add_argument("--trace-wait", type=float, default=1.0, help="costline --trace-wait (default 1)")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--inflight", type=int, default=2, help="requests in flight per connection")
    ap.add_argument(
        "--targets",
        default="hop,costline,costline2",
        help="comma list of hop, costline, costline2 (--workers 2), replicas2 (two serve processes), "
        "queue (costline x1 with --queue-dir in a temporary directory)",
    )
    ap.add_argument("--ledger", action="store_true", help="also measure costline x1 with the default SQLite ledger")
    ap.add_argument(
        "--payload",
        choices=payloads.PROFILES,
        default="lean",
        help="lean: the attributes costline reads (default); sdk: what SDKs and instrumentations export",
    )
    args = ap.parse_args()

    bodies = payloads.requests(args.requests, marker=MARKER, profile=args.payload)
    spans_per_body = payloads_spans(bodies)
    wire = sum(map(len, bodies)) / sum(spans_per_body)
    tmp = tempfile.mkdtemp(prefix="costline-bench-")
    bodies_path = os.path.join(tmp, "bodies.bin")
    procs.write_bodies(bodies_path, bodies)

    print(f"machine: {os.cpu_count()} cores, {platform_line()}")
    print(
        f"payload ({args.payload}): {args.requests} template requests x {spans_per_body[0]} spans, {wire:.0f} B/span on the wire; "
        f"every send gets fresh trace IDs; costline --trace-wait {args.trace_wait}; "
        f"{args.connections} connections x {args.inflight} in flight"
    )
    floors = floor(bodies)
    results = []
    with procs.Sink() as sink:
        for t in args.targets.split(","):
            if t == "hop":
                start, stop = hop_target(sink)
                results.append(measure("pass-through hop", start, stop, sink, bodies_path, args))
            elif t == "costline":
                start, stop = costline_target(sink, 1, args.trace_wait, [])
                results.append(measure("costline x1", start, stop, sink, bodies_path, args))
            elif t == "costline2":
                start, stop = costline_target(sink, 2, args.trace_wait, [])
                results.append(measure("costline --workers 2", start, stop, sink, bodies_path, args))
            elif t == "queue":
                start, stop = costline_target(sink, 1, args.trace_wait, ["--queue-dir", os.path.join(tmp, "queue")])
                results.append(measure("costline x1 --queue-dir", start, stop, sink, bodies_path, args))
            elif t == "replicas2":
                start, stop = replicas_target(sink, 2, args.trace_wait, [])
                results.append(measure("costline 2 replicas", start, stop, sink, bodies_path, args))
            else:
                raise SystemExit(f"unknown target {t!r}")
            print(f"  {results[-1]['name']:<22}{fmt(results[-1])}", flush=True)
        if args.ledger:
            start, stop = costline_target(sink, 1, args.trace_wait, [])
            start_l = lambda: _with_ledger(sink, args.trace_wait, tmp)
            results.append(measure("costline x1 + SQLite ledger", start_l, stop, sink, bodies_path, args))
            print(f"  {results[-1]['name']:<22}{fmt(results[-1])}", flush=True)
    floors += floor(bodies)
    f = statistics.median(floors)
    print()
    print(
        f"floor (parse + serialise, in-process): {f:>10,.0f} spans/s  "
        f"(runs {min(floors):,.0f}..{max(floors):,.0f}, before and after)"
    )
    hop = next((r for r in results if r["name"] == "pass-through hop"), None)
    for r in results:
        med = statistics.median(r["rates"])
        line = f"{r['name']:<28}{med:>10,.0f} spans/s   1/{f / med:5.1f} of floor ({med / f:.3f})"
        if hop is not None and r is not hop:
            line += f"   pass-through / this = {statistics.median(hop['rates']) / med:.2f}x"
        line += f"   peak RSS {r['peak_rss'] / 2**20:,.0f} MiB"
        if r["throttled"] or r["failed"]:
            line += f"   (throttled {r['throttled']}, failed {r['failed']})"
        print(line)


def _with_ledger(sink: procs.Sink, trace_wait: float, tmp: str):
    port = procs.free_port()
    ledger = os.path.join(tmp, f"ledger-{port}.db")
    proc = procs.start_costline(
        port, sink.endpoint, "--http", "off", "--ledger", ledger, "--trace-wait", str(trace_wait)
    )
    return proc, port, lambda: [proc.pid]


def platform_line() -> str:
    import platform

    from google.protobuf.internal import api_implementation

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, Python {platform.python_version()}, protobuf {api_implementation.Type()}"


if __name__ == "__main__":
    main()
