"""Instructions per instrumented OpenAI SDK call, counted by valgrind: overhead without the noise.

    python benchmarks/instrumentation_instructions.py [--calls 200] [--workloads "sync chat,sync chat, streamed"]

`instrumentation_overhead.py` times calls; on a shared VM its per-call differences move by
tens of µs from run to run. Instructions do not: `valgrind --tool=callgrind` counts every
instruction the process executes, the same for the same program and inputs whatever else
the machine is doing. Each variant of `instrumentation_overhead.py` (bare SDK, SDK + a
hand-made span of costline's shape, costline, official openai-v2; the same set-up:
BatchSpanProcessor with a dropping exporter, baggage processor and trust boundary
installed, two tags active) runs in its own process under callgrind twice, with 20 and
with 20 + `--calls` calls (after the same warm-up); the difference divided by `--calls` is
the instructions one steady-state call executes, start-up and imports cancelled out.

Instructions are not µs: to read them as time, the script also times the bare SDK call
natively and prints each overhead at the bare call's own rate (instructions per µs), which
leaves out what only time shows (cache misses, the exporter thread waking). Needs valgrind
(Debian package `valgrind`); ~10 minutes on one core. Prints figures, gates nothing.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import callgrind

WARMUP = 20
WORKLOADS = ("sync chat", "async chat", "sync chat, streamed")


def child(variant: str, workload: str, calls: int) -> float:
    """Set up like instrumentation_overhead.main, run `calls` calls of one workload; µs per call."""
    import instrumentation_overhead as io
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    import costline
    from costline.instrumentation import configurator

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(io.DropExporter(), max_queue_size=65536))
    trace.set_tracer_provider(provider)
    configurator.install(provider)
    variants = io._instrumentors(provider)
    if variant not in variants:
        raise SystemExit(f"variant {variant!r} unavailable")
    hand = None
    if variant == io.HAND:
        shapes = io._span_shapes(io._clients()[0])
        tracer = provider.get_tracer("by-hand")
        hand = (io.ByHand(tracer, shapes[0]), io.ByHand(tracer, shapes[1]))
    with costline.attribution(customer_id="bench", feature="overhead"):
        variants[variant][0]()
        run = io._workloads(hand)[workload]
        run(WARMUP)
        return run(calls) if calls else 0.0


def counted(variant: str, workload: str, calls: int) -> int:
    """Instructions of a whole child process under callgrind."""
    return callgrind.instructions(__file__, "--child", variant, workload, str(calls))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=200, help="calls counted per variant (beyond the 20 of the base run)")
    ap.add_argument(
        "--workloads",
        default=",".join(WORKLOADS[::2]),
        help=f"comma list of: {', '.join(WORKLOADS)} (default: sync chat, sync chat, streamed)",
    )
    ap.add_argument("--child", nargs=3, metavar=("VARIANT", "WORKLOAD", "CALLS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        us = child(args.child[0], args.child[1], int(args.child[2]))
        print(f"{us:.1f}")
        return
    import shutil

    import instrumentation_overhead as io

    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind): nothing counted")
        return
    workloads = [w.strip() for w in re.split(r",(?! streamed)", args.workloads)]
    variants = [io.BARE, io.HAND, io.COSTLINE, io.OFFICIAL]
    print(f"instructions per call (callgrind; {args.calls} calls after {WARMUP}, base run subtracted)")
    for workload in workloads:
        per_call = {}
        for v in variants:
            t = time.monotonic()
            try:
                base, full = counted(v, workload, 0), counted(v, workload, args.calls)
            except SystemExit as e:
                print(f"  {v}: {e}")
                continue
            per_call[v] = (full - base) / args.calls
            print(f"  {workload:<22}{v:<22}{per_call[v]:>12,.0f}   ({time.monotonic() - t:.0f} s)", flush=True)
        native = [
            float(
                subprocess.run(
                    [sys.executable, __file__, "--child", io.BARE, workload, str(args.calls)],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            for _ in range(5)
        ]
        bare_us = min(native)
        rate = per_call[io.BARE] / bare_us  # instructions per µs of the bare SDK call, its best run
        print(f"  bare SDK natively: {bare_us:.1f} µs per call (best of 5 runs) -> {rate:,.0f} instructions per µs")
        for v, base_name in (
            (io.HAND, io.BARE),
            (io.COSTLINE, io.BARE),
            (io.COSTLINE, io.HAND),
            (io.OFFICIAL, io.BARE),
            (io.OFFICIAL, io.HAND),
        ):
            if v in per_call and base_name in per_call:
                added = per_call[v] - per_call[base_name]
                print(f"  {v} - {base_name}: {added:+,.0f} instructions = {added / rate:+.1f} µs at that rate")


if __name__ == "__main__":
    main()
