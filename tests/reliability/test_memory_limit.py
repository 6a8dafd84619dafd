"""Issue #14, item 3: memory is bounded by bytes while an export target is down.

Real processes on loopback: a `costline serve` with `memory.limit_mib: LIMIT_MIB`, an OTLP
backend that is down (every export answered UNAVAILABLE) until the test brings it back
(SIGUSR1), and sender processes, three over gRPC and one over HTTP, pushing 20 KB spans as
fast as costline takes them for DURATION_S seconds, each throttled request sent again
after its hint. Before the byte bound, the export queue throttled on its batch count only
(2 000 batches of 20 KB spans: gigabytes), so RSS grew for as long as the backend was
down. Now the senders are throttled at the soft limit and RSS stays near the bound; once
the backend is back, every acknowledged span reaches it.

TEST_SERVE_ROOT=/tmp/pre14 runs the server from another checkout (serve_proc.py).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.reliability.serve_proc import PeakRss, rss_bytes
from tests.reliability.test_overload import _helper, _ids, _listening, _stop, _wait_for

try:  # TEST_SERVE_ROOT=/path/to/checkout: the server from another tree (serve_proc.py)
    from tests.reliability.serve_proc import serve_command
except ImportError:

    def serve_command(*flags: str) -> list[str]:
        return [sys.executable, "-m", "costline_processor.cli", "serve", *flags]


MIB = 1 << 20
LIMIT_MIB = 64  # memory.limit_mib
SPAN_BYTES = 20_000  # each span's padding: the 20 KB spans
TRACES = 4  # per request: 24 spans, ~480 KB
DURATION_S = 6.0  # senders push this long while the backend is down
GRPC_SENDERS, HTTP_SENDERS = 3, 1
# Over the bound: the requests being parsed (each sender one, ~4 copies: gRPC's or aiohttp's,
# costline's, the parse, the journal-less intake's split) and what CPython's and gRPC's
# allocators keep once grown (as in test_overload.rss_bound).
SLACK_MIB = (GRPC_SENDERS + HTTP_SENDERS) * 4 * 0.5 + 48

CONFIG = f"""\
receive: {{retry_after_s: 0.5}}
assembly: {{trace_wait_s: 0.5}}
export: {{batch_spans: 64, retry_initial_s: 0.05, retry_max_s: 0.5, drain_timeout_s: 60}}
memory: {{limit_mib: {LIMIT_MIB}}}
"""


def test_a_down_backend_throttles_senders_at_the_memory_limit_and_loses_nothing(tmp_path, figures):
    procs: list[subprocess.Popen] = []
    sink_out, port_file, costline_log = tmp_path / "sink.ids", tmp_path / "sink.port", tmp_path / "costline.log"
    try:
        sink = _helper(
            "sink", "--port-file", str(port_file), "--out", str(sink_out), "--down", log=tmp_path / "sink.log"
        )
        procs.append(sink)
        sink_port = _wait_for("the sink", lambda: port_file.exists() and port_file.read_text(), proc=sink)
        (tmp_path / "costline.yaml").write_text(CONFIG)
        with open(costline_log, "wb") as out:
            costline = subprocess.Popen(
                serve_command(
                    "--grpc",
                    "127.0.0.1:0",
                    "--http",
                    "127.0.0.1:0",
                    "--export-grpc",
                    f"127.0.0.1:{sink_port}",
                    "--config",
                    str(tmp_path / "costline.yaml"),
                    "--ledger",
                    "off",
                ),
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        procs.append(costline)
        grpc_addr = _wait_for("gRPC", lambda: _listening(costline_log, "gRPC"), proc=costline, log=costline_log)
        http_addr = _wait_for("HTTP", lambda: _listening(costline_log, "HTTP"), proc=costline, log=costline_log)
        time.sleep(0.5)
        baseline = rss_bytes(costline.pid)
        rss = PeakRss(costline.pid, every=0.05)
        rss.start()
        senders = []
        for i in range(GRPC_SENDERS + HTTP_SENDERS):
            kind, target = ("grpc-sender", grpc_addr) if i < GRPC_SENDERS else ("http-sender", http_addr)
            out = tmp_path / f"sender{i}.ids"
            senders.append(
                (
                    _helper(
                        kind,
                        "--target",
                        target,
                        "--index",
                        str(i + 1),
                        "--duration",
                        str(DURATION_S),
                        "--traces",
                        str(TRACES),
                        "--span-bytes",
                        str(SPAN_BYTES),
                        "--out",
                        str(out),
                        log=tmp_path / f"sender{i}.log",
                    ),
                    out,
                )
            )
        procs += [p for p, _ in senders]
        time.sleep(DURATION_S + 1)  # the backend stays down while they push
        down_peak = rss.peak
        sink.send_signal(signal.SIGUSR1)  # the backend is back
        for p, out in senders:
            p.wait(90)
            assert p.returncode == 0, (tmp_path / f"{out.stem}.log").read_text()[-3000:]
        rss.stop()
        costline.terminate()
        costline.wait(90)
        log = costline_log.read_text(errors="replace")
        assert costline.returncode == 0, log[-5000:]
        sink.terminate()
        sink.wait(30)
    finally:
        for p in procs:
            _stop(p)

    tallies = [json.loads(Path(f"{out}.json").read_text()) for _, out in senders]
    acked = {i for _, out in senders for i in _ids(out)}
    received = _ids(sink_out)
    lost = len(acked - set(received))
    throttled = sum(t["throttled"] for t in tallies)
    bound = baseline + (LIMIT_MIB + SLACK_MIB) * MIB
    line = (
        f"memory bound with the backend down: {len(acked)} spans of {SPAN_BYTES // 1000} KB acked "
        f"({len(acked) * SPAN_BYTES / MIB:.0f} MiB), {len(received)} received, {lost} lost; {throttled} throttled "
        f"answers; peak RSS {rss.peak / MIB:.0f} MiB while down {down_peak / MIB:.0f} MiB (baseline "
        f"{baseline / MIB:.0f}, limit_mib {LIMIT_MIB}, bound {bound / MIB:.0f})"
    )
    figures(line)
    assert not [e for t in tallies for e in t["errors"]], tallies
    assert lost == 0, line
    assert throttled > 0, line
    assert "soft memory limit" in log, line
    assert rss.peak <= bound, line
