"""The demo app for docker-compose.yml: costline's demo workload, in rounds, forever.

    opentelemetry-instrument python deploy/demo_app.py [--requests 20] [--pause 10] [--rounds 0]

Each round is `costline_processor.demo.workload` (three features, five customers on
three plans, an agent, some untagged traffic) with the round number as its seed, so
the dashboards keep moving. The process is the one `opentelemetry-instrument`
started, so the SDK, the OTLP exporter (OTEL_EXPORTER_OTLP_ENDPOINT) and costline's
instrumentation are set up exactly as for a real app. It waits for the fake provider
(OPENAI_BASE_URL) to accept connections first, and a failed round is logged, not fatal.
SIGTERM ends it cleanly, so the SDK flushes its last spans.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
import urllib.parse

from costline_processor.demo import workload


def wait_for(url: str, timeout_s: float) -> None:
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "localhost", parts.port or (443 if parts.scheme == "https" else 80)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"demo app: nothing listens on {host}:{port} after {timeout_s:.0f}s") from None
            time.sleep(0.5)


def _stop(signum, frame):  # default SIGTERM skips atexit, and with it the SDK's last flush
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20, help="app requests per round (default 20)")
    parser.add_argument("--pause", type=float, default=10.0, help="seconds between rounds (default 10)")
    parser.add_argument("--rounds", type=int, default=0, help="stop after this many rounds (default 0: never)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first round; round n uses seed + n")
    parser.add_argument("--wait", type=float, default=60.0, help="how long to wait for the provider (default 60 s)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    wait_for(os.environ.get("OPENAI_BASE_URL", "http://localhost:8099/v1"), args.wait)
    n = 0
    while not args.rounds or n < args.rounds:
        try:
            workload.main(["--requests", str(args.requests), "--seed", str(args.seed + n)])
        except Exception as e:  # a provider hiccup must not stop the demo
            print(f"demo app: round {n} failed: {e!r}", file=sys.stderr, flush=True)
        n += 1
        if not args.rounds or n < args.rounds:
            time.sleep(args.pause)
    return 0


if __name__ == "__main__":
    sys.exit(main())
