"""Instructions per span through the in-process pipeline, counted by valgrind: A/B without the noise.

    python benchmarks/pipeline_instructions.py [--payload lean|sdk] [--requests 10] [--runs 2]

`pipeline_inprocess.py` times the pipeline; on this shared 2-core VM its medians move by
5-10% between runs, more than most single changes gain. Instructions do not move:
`valgrind --tool=callgrind` counts what the process executes, the same for the same code
and inputs whatever else the machine is doing. The script runs `pipeline_inprocess.pipeline`
on the same payloads in two child processes under callgrind, one with a warm-up run only and
one with `--runs` more, and divides the difference by the spans of those runs: instructions
per span, start-up, imports, payload building and the warm-up cancelled out. The floor
(parse + serialise the same bodies) is counted the same way.

Instructions are not µs (cache misses and the GC's timing are not in them); use this to
compare two versions of the code, `pipeline_inprocess.py` / `end_to_end.py` for figures to
quote. Needs valgrind (Debian package `valgrind`); ~2-4 minutes. Prints figures, gates nothing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import callgrind


def child(what: str, payload: str, requests: int, runs: int) -> None:
    import gc

    import payloads
    import pipeline_inprocess as pi

    from costline_processor.config import Config
    from costline_processor.pricing import Pricer

    bodies = payloads.requests(requests, profile=payload)
    if what == "floor":
        pi.floor(bodies)
        for _ in range(runs):
            pi.floor(bodies)
        return
    pricer = Pricer(Config().pricing)
    pi.pipeline(bodies, pricer)  # warm the price cache, imports and the heap
    gc.collect()
    gc.freeze()  # as `costline serve` does: collections do not walk start-up objects
    for _ in range(runs):
        pi.pipeline(bodies, pricer)


def counted(what: str, payload: str, requests: int, runs: int) -> int:
    """Instructions of a whole child process under callgrind."""
    return callgrind.instructions(__file__, "--child", what, payload, str(requests), str(runs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--payload", choices=("lean", "sdk"), default="lean")
    ap.add_argument("--requests", type=int, default=10, help="1 000-span requests per run (default 10)")
    ap.add_argument("--runs", type=int, default=2, help="counted runs beyond the warm-up (default 2)")
    ap.add_argument("--no-floor", action="store_true", help="count the pipeline only")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        what, payload, requests, runs = args.child
        child(what, payload, int(requests), int(runs))
        return
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind): nothing counted")
        return
    spans = args.requests * 1000 * args.runs
    per_span = {}
    for what in ("pipeline",) if args.no_floor else ("floor", "pipeline"):
        base = counted(what, args.payload, args.requests, 0)
        full = counted(what, args.payload, args.requests, args.runs)
        per_span[what] = (full - base) / spans
        print(
            f"{what:<9} ({args.payload}, {args.requests} x 1000 spans x {args.runs} runs): "
            f"{per_span[what]:>10,.0f} instructions per span",
            flush=True,
        )
    if "floor" in per_span:
        print(f"ratio to floor (instructions): 1/{per_span['pipeline'] / per_span['floor']:.1f}")


if __name__ == "__main__":
    main()
