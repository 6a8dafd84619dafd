"""Latency costline adds: p50/p99 from a span's arrival to its export, at half the maximum rate,
for several --trace-wait values.

  load generator --gRPC--> costline serve --gRPC--> sink (records when each send's spans arrive)

The maximum rate is measured first in the same run (closed loop, as benchmarks/end_to_end.py);
then each --trace-wait gets an open-loop load at half of it. A span's latency is the time
from the moment its request was sent to the moment the sink received it (the load generator
and the sink read the same monotonic clock). Spans of the first second and the last
trace-wait of sending are left out (warm-up and drain). Prints figures; never fails a build.

  python benchmarks/latency.py [--waits 0,0.5,2,5] [--seconds 5] [--rate SPANS_PER_S]
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


def max_rate(bodies_path: str, seconds: float) -> float:
    """Closed-loop spans/s through one costline process (--trace-wait 1), counted at a sink."""
    with procs.Sink() as sink:
        port = procs.free_port()
        proc = procs.start_costline(port, sink.endpoint, "--http", "off", "--ledger", "off", "--trace-wait", "1")
        try:
            return procs.steady_rate(sink, port, bodies_path, seconds, settle=1.5)
        finally:
            procs.stop_process(proc)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def run_wait(bodies_path: str, wait: float, rate: float, seconds: float) -> dict:
    with procs.Sink(latency=True) as sink:
        port = procs.free_port()
        proc = procs.start_costline(port, sink.endpoint, "--http", "off", "--ledger", "off", "--trace-wait", str(wait))
        try:
            lg = procs.LoadGen(f"127.0.0.1:{port}", bodies_path, rate=rate, duration=seconds)
            lg.__enter__()
            lg.proc.join(seconds + 60)
            sent_at = lg.stop()
            # Everything sent must arrive: wait out the trace wait and the flush.
            deadline = time.monotonic() + wait + 15
            arrivals: list = []
            expected = len(sent_at) * 1000
            got = 0
            while time.monotonic() < deadline:
                time.sleep(0.5)
                for t, sends in sink.arrivals():
                    arrivals.append((t, sends))
                    got += sum(sends.values())
                if got >= expected:
                    break
        finally:
            procs.stop_process(proc)
    if not sent_at:
        raise RuntimeError("nothing was sent")
    first = min(sent_at.values())
    last = max(sent_at.values())
    lat: list[float] = []
    for t, sends in arrivals:
        for n, spans in sends.items():
            s = sent_at.get(n)
            if s is not None and first + 1.0 <= s <= last - wait:
                lat.extend([t - s] * spans)
    lat.sort()
    return {
        "wait": wait,
        "p50": percentile(lat, 0.5),
        "p99": percentile(lat, 0.99),
        "max": lat[-1] if lat else 0,
        "spans": len(lat),
        "sent": expected,
        "received": got,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--waits", default="0,0.5,2,5", help="comma list of --trace-wait seconds (default 0,0.5,2,5)")
    ap.add_argument("--seconds", type=float, default=5.0, help="seconds of sending per trace-wait, plus the wait")
    ap.add_argument("--rate", type=float, default=0, help="spans/s to send (default: half the measured maximum)")
    ap.add_argument("--requests", type=int, default=20, help="distinct 1 000-span template requests")
    args = ap.parse_args()
    bodies = payloads.requests(args.requests, marker=MARKER)
    tmp = tempfile.mkdtemp(prefix="costline-latency-")
    path = os.path.join(tmp, "bodies.bin")
    procs.write_bodies(path, bodies)
    if args.rate:
        rate = args.rate
        print(f"rate: {rate:,.0f} spans/s (given)")
    else:
        top = max_rate(path, 4.0)
        rate = top / 2
        print(
            f"maximum rate (one process, closed loop): {top:,.0f} spans/s -> sending at half: {rate:,.0f} spans/s "
            f"({rate / 1000:.1f} requests of 1 000 spans/s)"
        )
    print(
        f"{'--trace-wait':>12}  {'p50':>9}  {'p99':>9}  {'max':>9}  {'p50 - wait':>10}  spans measured / sent / received"
    )
    rows = []
    for w in (float(x) for x in args.waits.split(",")):
        r = run_wait(path, w, rate, args.seconds + w)
        rows.append(r)
        print(
            f"{w:>11.2f}s  {r['p50'] * 1e3:>7.1f}ms  {r['p99'] * 1e3:>7.1f}ms  {r['max'] * 1e3:>7.1f}ms  "
            f"{(r['p50'] - w) * 1e3:>8.1f}ms  {r['spans']:,} / {r['sent']:,} / {r['received']:,}",
            flush=True,
        )
    over = [r["p99"] - r["wait"] for r in rows]
    print(
        f"added beyond the wait itself: p99 - wait from {min(over) * 1e3:.0f} to {max(over) * 1e3:.0f} ms "
        f"(median {statistics.median(over) * 1e3:.0f} ms)"
    )


if __name__ == "__main__":
    main()
