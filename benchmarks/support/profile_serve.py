"""Profile `costline serve` under full load with pyinstrument; print text summaries (for NOTES.md).

  python benchmarks/support/profile_serve.py [seconds] [extra serve flags...]

Needs `pip install pyinstrument` (a benchmark-only tool). py-spy would be less
intrusive, but it cannot read this machine's pyenv-built interpreter. The profile
covers only the loaded steady state: the profiler runs for the whole process, so
startup and shutdown appear too (small beside `seconds` of full load).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import payloads

from support import procs
from support.wire import MARKER


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 8
    extra = sys.argv[2:]
    bodies = payloads.requests(30, marker=MARKER)
    tmp = tempfile.mkdtemp(prefix="costline-prof-")
    path = os.path.join(tmp, "bodies.bin")
    procs.write_bodies(path, bodies)
    flat, tree = os.path.join(tmp, "flat.txt"), os.path.join(tmp, "session.json")
    with procs.Sink() as sink:
        port = procs.free_port()
        cmd = [
            sys.executable,
            "-m",
            "pyinstrument",
            "-r",
            "session",
            "-o",
            tree,
            "-m",
            "costline_processor.cli",
            "serve",
            "--grpc",
            f"127.0.0.1:{port}",
            "--export-grpc",
            sink.endpoint,
            "--log-level",
            "WARNING",
            "--http",
            "off",
            "--ledger",
            "off",
            "--trace-wait",
            "1",
            *extra,
        ]
        proc = subprocess.Popen(cmd, cwd=str(procs.ROOT), stdout=subprocess.DEVNULL)
        try:
            procs.wait_port(port, proc=proc)
            rate = procs.steady_rate(sink, port, path, seconds)
        finally:
            procs.stop_process(proc, timeout=60)
    print(f"under the profiler: {rate:,.0f} spans/s\n")
    for options, out in ((["-p", "flat=true", "-p", "show_all=true"], flat), ([], None)):
        r = subprocess.run(
            [sys.executable, "-m", "pyinstrument", "--load", tree, "-r", "text", "--no-color", "--unicode", *options],
            capture_output=True,
            text=True,
            check=True,
        )
        text = r.stdout
        if out is not None:
            Path(out).write_text(text)
            text = "\n".join(text.splitlines()[:45])
        print(text)
    print(f"(session: {tree})")


if __name__ == "__main__":
    main()
