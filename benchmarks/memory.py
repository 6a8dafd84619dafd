"""Memory: bytes per buffered span (RSS growth of `costline serve` as spans pile up in the trace
buffer), and whether the byte bound (assembly.max_buffer_bytes) holds.

1. Buffering: --trace-wait 3600 (nothing is flushed), bounds raised out of the way; RSS is
   read after a warm-up, then with 100k and 1M spans more buffered (counted by /healthz).
   Per span: RSS growth / spans; beyond its wire size: that minus the payload's bytes/span.
2. The bound: max_buffer_bytes 64 MiB, --trace-wait 3600, 400k spans (~100 MiB on the wire)
   sent: the oldest traces must flush early (exported to the sink, nothing dropped) and the
   buffer and RSS stay near the bound.

The peak RSS at the maximum rate is printed by benchmarks/end_to_end.py. Prints figures;
never fails a build.  python benchmarks/memory.py [--spans 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import payloads
from support import procs
from support.wire import MARKER

MiB = 1 << 20


def health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as r:
        return json.load(r)


_next_send = [1]  # send numbers stamp trace IDs: each load generator continues where the last stopped


def _first_send(requests: int) -> int:
    first = _next_send[0]
    _next_send[0] += requests + 64  # (a margin: a generator may start a few more than max_sends)
    return first


def send(port: int, bodies_path: str, requests: int) -> None:
    with procs.LoadGen(
        f"127.0.0.1:{port}", bodies_path, max_sends=requests, duration=600, first=_first_send(requests)
    ) as lg:
        lg.proc.join(600)
        lg.stop()


def wait_buffered(hport: int, spans: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        h = health(hport)
        if h["buffered_spans"] >= spans or time.monotonic() > deadline:
            return h
        time.sleep(0.2)


def start(sink: procs.Sink, tmp: str, assembly: str) -> tuple:
    gport, hport = procs.free_port(), procs.free_port()
    config = os.path.join(tmp, f"costline-{gport}.yaml")
    Path(config).write_text(f"assembly: {assembly}\n")
    proc = procs.start_costline(
        gport,
        sink.endpoint,
        "--http",
        f"127.0.0.1:{hport}",
        "--ledger",
        "off",
        "--trace-wait",
        "3600",
        "--config",
        config,
    )
    procs.wait_port(hport, proc=proc)
    return proc, gport, hport


def buffering(sink: procs.Sink, tmp: str, bodies_path: str, wire: float, spans: int) -> list[tuple]:
    proc, gport, hport = start(sink, tmp, "{max_spans: 5000000, max_traces: 2000000, max_buffer_bytes: 0}")
    rows = []
    try:
        send(gport, bodies_path, 20)  # warm-up: imports, caches, arenas
        h0 = wait_buffered(hport, 20_000)
        time.sleep(0.5)
        rss0, base = procs.rss_bytes(proc.pid), h0["buffered_spans"]
        print(f"  after warm-up: {base:,} spans buffered, RSS {rss0 / MiB:,.0f} MiB")
        done = 0
        for target in (100_000, spans):
            send(gport, bodies_path, (target - done) // 1000)
            done = target
            h = wait_buffered(hport, base + target)
            time.sleep(0.5)
            rss = procs.rss_bytes(proc.pid)
            n = h["buffered_spans"] - base
            per = (rss - rss0) / n
            rows.append((n, rss, per, per - wire, h["buffered_bytes"] / h["buffered_spans"]))
            print(
                f"  {n:>9,} spans more: RSS {rss / MiB:,.0f} MiB, {per:,.0f} B/span buffered = wire {wire:.0f} + "
                f"{per - wire:,.0f} B overhead (the bound counts {h['buffered_bytes'] / h['buffered_spans']:,.0f} B/span)",
                flush=True,
            )
    finally:
        proc.kill()  # nothing to drain: the spans were only measured
        proc.wait()
    return rows


def bound(sink: procs.Sink, tmp: str, bodies_path: str, wire: float, limit: int, spans: int) -> None:
    proc, gport, hport = start(sink, tmp, f"{{max_spans: 5000000, max_traces: 2000000, max_buffer_bytes: {limit}}}")
    try:
        send(gport, bodies_path, 5)
        wait_buffered(hport, 5_000)
        time.sleep(0.5)
        rss0, exported0 = procs.rss_bytes(proc.pid), sink.count()
        peak_bytes = peak_rss = 0
        with procs.LoadGen(
            f"127.0.0.1:{gport}", bodies_path, max_sends=spans // 1000, duration=600, first=_first_send(spans // 1000)
        ) as lg:
            while lg.proc.is_alive():
                h = health(hport)
                peak_bytes = max(peak_bytes, h["buffered_bytes"])
                peak_rss = max(peak_rss, procs.rss_bytes(proc.pid))
                time.sleep(0.1)
            lg.stop()
        h = health(hport)
        peak_bytes = max(peak_bytes, h["buffered_bytes"])
        peak_rss = max(peak_rss, procs.peak_rss_bytes(proc.pid))
        time.sleep(1)
        flushed = sink.count() - exported0
        held = h["buffered_spans"]
        print(
            f"  max_buffer_bytes {limit / MiB:.0f} MiB, {spans:,} spans sent ({spans * wire / MiB:,.0f} MiB on the wire):"
        )
        print(
            f"    buffer peaked at {peak_bytes / MiB:,.1f} MiB counted ({'within' if peak_bytes <= limit else 'OVER'} "
            f"the bound); {held:,} spans held, {flushed:,} flushed early and exported, "
            f"{spans + 5000 - held - flushed:,} in flight"
        )
        print(
            f"    RSS {rss0 / MiB:,.0f} MiB before, peak {peak_rss / MiB:,.0f} MiB: growth "
            f"{(peak_rss - rss0) / MiB:,.0f} MiB for a {limit / MiB:.0f} MiB bound (the rest: requests being parsed, "
            f"batches being exported)"
        )
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=1_000_000, help="spans buffered in the big step (default 1M)")
    ap.add_argument("--bound-mib", type=int, default=64, help="max_buffer_bytes for the bound check (default 64)")
    ap.add_argument("--bound-spans", type=int, default=400_000)
    args = ap.parse_args()
    bodies = payloads.requests(20, marker=MARKER)
    wire = sum(map(len, bodies)) / (len(bodies) * 1000)
    tmp = tempfile.mkdtemp(prefix="costline-memory-")
    path = os.path.join(tmp, "bodies.bin")
    procs.write_bodies(path, bodies)
    print(f"payload: 1 000-span requests, {wire:.0f} B/span on the wire; every send gets fresh trace IDs")
    with procs.Sink() as sink:
        print("buffering (nothing flushed):")
        buffering(sink, tmp, path, wire, args.spans)
        print("byte bound:")
        bound(sink, tmp, path, wire, args.bound_mib * MiB, args.bound_spans)


if __name__ == "__main__":
    main()
