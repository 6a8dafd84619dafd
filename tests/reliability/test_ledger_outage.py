"""Issue #14, item 9: a ledger outage must not make a restart re-export everything.

Real processes on loopback: `costline serve --queue-dir --ledger ledger.db` exports to a
backend that takes everything while a sender pushes; another process holds the SQLite
ledger with `BEGIN EXCLUSIVE` for LOCK_S seconds, so no row can be committed and every
journal segment stays on disk for the ledger's sake. Then costline is stopped while the
ledger is still locked (kill -9, or SIGTERM with a short drain bound), the lock goes, and
costline starts again on the same queue directory.

Before, a segment was one count for both parties: the restart replayed every segment the
ledger had not finished to the backend too, re-exporting everything acknowledged during
the outage. Now each party's finish is recorded per segment, so the restart re-exports
only what the backend had not taken: at most the README's window (one segment age, 1 s,
plus the trace wait) before the stop. The ledger still ends with every call once, exact.

TEST_SERVE_ROOT=/tmp/pre14 runs the server from another checkout (serve_proc.py).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.fakes.otlp_sink import OtlpSink
from tests.processor.test_cli_serve import free_port
from tests.reliability.test_crash import Sender, check_delivery, wait_listening

try:  # TEST_SERVE_ROOT=/path/to/checkout: the server from another tree (serve_proc.py)
    from tests.reliability.serve_proc import serve_command
except ImportError:

    def serve_command(*flags: str) -> list[str]:
        return [sys.executable, "-m", "costline_processor.cli", "serve", *flags]


LOCK_S = 10.0  # how long the ledger is locked while spans flow
TRACE_WAIT_S = 0.3
SEGMENT_AGE_S = 1.0  # journal.DEFAULT_SEGMENT_AGE_S
WINDOW_S = SEGMENT_AGE_S + TRACE_WAIT_S + 1.0  # README's window, plus a second for export latency on a busy machine

LOCKER = """\
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()  # until the test closes our stdin
db.execute("ROLLBACK")
"""


def start(port: int, sink: OtlpSink, tmp_path) -> subprocess.Popen:
    (tmp_path / "costline.yaml").write_text("export: {drain_timeout_s: 2, retry_initial_s: 0.1, retry_max_s: 0.5}\n")
    proc = subprocess.Popen(
        serve_command(
            "--grpc",
            f"127.0.0.1:{port}",
            "--http",
            "off",
            "--export-grpc",
            sink.grpc_endpoint,
            "--ledger",
            str(tmp_path / "ledger.db"),
            "--queue-dir",
            str(tmp_path / "queue"),
            "--trace-wait",
            str(TRACE_WAIT_S),
            "--config",
            str(tmp_path / "costline.yaml"),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_listening(port, proc)
    return proc


class AckClock:
    """(time, spans acknowledged) samples, to count what was acknowledged in the last seconds before a stop."""

    def __init__(self, sender: Sender):
        self.sender, self.samples = sender, []

    def sample(self) -> None:
        self.samples.append((time.monotonic(), len(self.sender.acked)))

    def run_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.sample()
            time.sleep(0.02)

    def acked_since(self, t: float) -> int:
        before = max((n for at, n in self.samples if at <= t), default=0)
        return self.samples[-1][1] - before


@pytest.mark.parametrize("stop", ["kill-9", "sigterm"])
def test_a_locked_ledger_does_not_make_a_restart_re_export_what_was_exported(tmp_path, stop, figures):
    port = free_port()
    with OtlpSink() as sink:
        proc = start(port, sink, tmp_path)
        sender = Sender(port)
        clock = AckClock(sender)
        sender.start()
        try:
            sender.wait_acked(1000)  # the ledger is created and takes rows
            locker = subprocess.Popen(
                [sys.executable, "-c", LOCKER, str(tmp_path / "ledger.db")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert locker.stdout.readline().strip() == "locked"
            acked_at_lock = len(sender.acked)
            clock.run_for(LOCK_S)
            if stop == "sigterm":
                sender.stop.set()  # a clean stop: senders first, as a deployment drains its apps
                sender.join(30)
                clock.sample()
            stopped_at = time.monotonic()
            if stop == "kill-9":
                proc.kill()
                proc.wait(10)
            else:
                proc.send_signal(signal.SIGTERM)
                out, _ = proc.communicate(timeout=60)
                assert proc.returncode == 0, out
            clock.sample()
            window = clock.acked_since(stopped_at - WINDOW_S)
            exported_before = {s.span_id for s in sink.spans()}
            arrivals_before = len(sink.spans())
            acked_in_outage = len(sender.acked) - acked_at_lock
            locker.stdin.close()  # the ledger is free again
            locker.wait(10)
            proc = start(port, sink, tmp_path)
            if stop == "kill-9":
                sender.wait_acked(len(sender.acked) + 1000)
        finally:
            sender.stop.set()
            sender.join(30)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and (
            sender.acked - {s.span_id for s in sink.spans()} or list((tmp_path / "queue").glob("*.otlp"))
        ):
            time.sleep(0.1)  # until every span is exported and every segment done (the ledger's too)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        again = [s.span_id for s in sink.spans()[arrivals_before:] if s.span_id in exported_before]
        line = (
            f"ledger locked {LOCK_S:.0f} s, then {stop} and restart: {acked_in_outage} spans acked during the "
            f"outage, {len(exported_before)} exported before the stop; re-exported after the restart "
            f"{len(again)}, window {window} (spans acked in the last {WINDOW_S:.1f} s before the stop)"
        )
        figures(line)
        check_delivery(f"ledger outage, {stop}", sender, sink, tmp_path, figures)
        assert acked_in_outage > 3 * window, f"too little traffic during the outage to tell: {line}"
        assert len(again) <= window, line
