"""Issue #6, scenario "Load": a sustained burst above capacity, with real processes on loopback.

A real `costline serve` (small buffer and export queue) exports to a slow OTLP backend in
its own process (it takes SINK_RATE spans/s, and fails one request in FAIL_EVERY so export
retries run too). Sender processes, three over gRPC and one over HTTP/protobuf, push unique
spans as fast as costline takes them for TEST_SOAK_S seconds (default 8; the one-minute
run: `TEST_SOAK_S=60 .venv/bin/python -m pytest -m soak -s tests/reliability/test_overload.py`)
and send each throttled request again after the hint. Meanwhile the test samples costline's
RSS and GET /healthz every 0.25 s. Then the senders stop, costline gets SIGTERM and drains.

Checks: costline throttled (it was over capacity), every span a sender saw acknowledged
reached the sink (lost: 0) and nothing arrived that was never sent, each model call was
priced, the buffer never held more than its bound, RSS stayed under the bound derived
below, /healthz always answered within HEALTHZ_MAX_S. One line of figures is printed.
Run twice: spans in memory only, and with --queue-dir (answers after the journal write;
after the clean stop no segment may be left, since everything was delivered).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.reliability.overload_procs import LLM_PER_TRACE, SPANS_PER_TRACE
from tests.reliability.serve_proc import rss_bytes

ROOT = Path(__file__).resolve().parents[2]
DURATION_S = float(os.environ.get("TEST_SOAK_S", "8"))
SINK_RATE = 5_000  # spans/s the backend takes: well under what costline and the senders do, so export is the bottleneck
FAIL_EVERY = 25  # the sink answers every 25th export UNAVAILABLE (costline retries it)
GRPC_SENDERS = 3
HTTP_SENDERS = 1
SAMPLE_S = 0.25
HEALTHZ_MAX_S = 2.0  # the p99 is ~40 ms; a loaded shared machine has shown one answer at 0.85 s

MAX_BUFFER_BYTES = 2 << 20  # assembly.max_buffer_bytes: ~5.9k spans of ~195 B (+160 B each, as the buffer counts)
QUEUE_BATCHES = 4  # export.queue_batches
BATCH_SPANS = 512  # export.batch_spans: a batch is ~512 x 260 B (wire + costline's attributes) = ~130 KiB
RECENT_TRACES = 2_000  # assembly.recent_traces: the late-span context, ~100 B per span, ~1.2 MiB at most
REQUEST_BYTES = 60_000  # one sender request: 300 spans of ~195 B

CONFIG = f"""\
receive: {{retry_after_s: 0.5}}
assembly: {{trace_wait_s: 1, max_buffer_bytes: {MAX_BUFFER_BYTES}, recent_traces: {RECENT_TRACES}}}
export: {{queue_batches: {QUEUE_BATCHES}, batch_spans: {BATCH_SPANS}, retry_initial_s: 0.05, retry_max_s: 0.5,
          drain_timeout_s: 120}}
tagging: {{required: [feature, customer_id]}}
"""

MIB = 1 << 20


def rss_bound(baseline: int) -> int:
    """What costline may hold at once, over its RSS before the burst:

    - the trace buffer, at most MAX_BUFFER_BYTES (its count is wire bytes + 160 B per span,
      measured to be what a buffered span costs: README, Performance);
    - the export queue: QUEUE_BATCHES batches refuse new requests, but traces flushed by the
      ticker or by the bound go in regardless, up to one buffer's worth more, plus a batch in
      flight per export worker (2): (QUEUE_BATCHES + 2) batches + MAX_BUFFER_BYTES, and the
      assembled-not-yet-framed spans that fill a batch (one more batch);
    - request bodies in flight: each sender has one at a time; gRPC and aiohttp hold the
      bytes, costline its copy, protobuf its parse: 4 copies each;
    - the recent_traces context: ~100 B per span, RECENT_TRACES traces of SPANS_PER_TRACE;
    - 32 MiB for what the allocators keep (pymalloc arenas, gRPC's per-connection buffers,
      malloc's per-thread arenas) once they have grown: the one figure not derived from
      the config. An unbounded buffer or queue passes it within seconds of the one-minute
      run (costline takes ~5k spans/s here: ~1.7 MiB/s of buffered spans).
    """
    batch = BATCH_SPANS * 260
    queue = (QUEUE_BATCHES + 3) * batch + MAX_BUFFER_BYTES
    requests = (GRPC_SENDERS + HTTP_SENDERS) * REQUEST_BYTES * 4
    recent = RECENT_TRACES * SPANS_PER_TRACE * 100
    return baseline + MAX_BUFFER_BYTES + queue + requests + recent + 32 * MIB


class Sampler(threading.Thread):
    """RSS and /healthz every SAMPLE_S, each health answer timed."""

    def __init__(self, pid: int, health_url: str, queue_dir: Path | None = None):
        super().__init__(daemon=True)
        self.pid, self.url, self.queue_dir = pid, health_url, queue_dir
        self.max_journal_bytes = 0
        self.stop = threading.Event()
        self.samples = 0
        self.rss: list[tuple[float, int]] = []  # (seconds since start, bytes)
        self.peak_rss = 0
        self.max_latency = 0.0
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.max_buffered_bytes = 0
        self.max_queue = 0
        self.last: dict = {}

    def peaks_by_half(self) -> tuple[int, int]:
        """Peak RSS in the first and in the second half of the run: a plateau, not a slope."""
        half = self.rss[-1][0] / 2 if self.rss else 0
        return (
            max([r for t, r in self.rss if t <= half], default=0),
            max([r for t, r in self.rss if t > half], default=0),
        )

    def run(self) -> None:
        begun = time.monotonic()
        while not self.stop.wait(SAMPLE_S):
            rss = rss_bytes(self.pid)
            self.rss.append((time.monotonic() - begun, rss))
            self.peak_rss = max(self.peak_rss, rss)
            if self.queue_dir is not None:
                self.max_journal_bytes = max(self.max_journal_bytes, _dir_bytes(self.queue_dir))
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=10) as r:
                    doc = json.loads(r.read())
                    ok = r.status == 200 and doc.get("status") == "ok"
            except Exception as e:
                self.failures.append(f"{type(e).__name__}: {e}")
                continue
            latency = time.monotonic() - started
            self.samples += 1
            self.max_latency = max(self.max_latency, latency)
            self.latencies.append(latency)
            if not ok:
                self.failures.append(f"unhealthy answer: {doc}")
            if latency > HEALTHZ_MAX_S:
                self.failures.append(f"/healthz took {latency:.2f}s")
            self.max_buffered_bytes = max(self.max_buffered_bytes, doc["buffered_bytes"])
            self.max_queue = max([self.max_queue, *doc["export_queues"].values()])
            self.last = doc


def _dir_bytes(path: Path) -> int:
    total = 0
    for f in path.iterdir():
        try:
            total += f.stat().st_size
        except FileNotFoundError:  # a segment deleted while we looked
            pass
    return total


def _helper(*args: str, log: Path) -> subprocess.Popen:
    out = open(log, "wb")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.overload_procs", *args],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    finally:
        out.close()


def _wait_for(what: str, check, timeout: float = 30, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"{what} did not come up" + (f":\n{log.read_text()[-3000:]}" if log else ""))


def _listening(log: Path, kind: str) -> str | None:
    for line in log.read_text(errors="replace").splitlines():
        if f"OTLP/{kind} receiver on " in line:
            return line.rsplit(" ", 1)[1]
    return None


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def _ids(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return [data[i : i + 8] for i in range(0, len(data), 8)]


@pytest.mark.soak
@pytest.mark.parametrize("journal", [False, True], ids=["memory", "queue-dir"])
def test_a_burst_over_capacity_is_throttled_bounded_and_loses_nothing(tmp_path, journal, figures):
    procs: list[subprocess.Popen] = []
    sink_log, costline_log = tmp_path / "sink.log", tmp_path / "costline.log"
    sink_out, port_file = tmp_path / "sink.ids", tmp_path / "sink.port"
    try:
        sink = _helper(
            "sink",
            "--port-file",
            str(port_file),
            "--out",
            str(sink_out),
            "--rate",
            str(SINK_RATE),
            "--fail-every",
            str(FAIL_EVERY),
            log=sink_log,
        )
        procs.append(sink)
        sink_port = _wait_for("the sink", lambda: port_file.exists() and port_file.read_text(), proc=sink, log=sink_log)

        config = tmp_path / "costline.yaml"
        config.write_text(CONFIG)
        journal_dir = tmp_path / "queue"
        queue_dir = ["--queue-dir", str(journal_dir)] if journal else []  # acks after the journal write
        with open(costline_log, "wb") as out:
            costline = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "costline_processor.cli",
                    "serve",
                    "--grpc",
                    "127.0.0.1:0",
                    "--http",
                    "127.0.0.1:0",
                    "--export-grpc",
                    f"127.0.0.1:{sink_port}",
                    "--config",
                    str(config),
                    "--ledger",
                    "off",
                    *queue_dir,
                ],
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        procs.append(costline)
        grpc_addr = _wait_for(
            "costline's gRPC receiver", lambda: _listening(costline_log, "gRPC"), proc=costline, log=costline_log
        )
        http_addr = _wait_for(
            "costline's HTTP receiver", lambda: _listening(costline_log, "HTTP"), proc=costline, log=costline_log
        )
        health_url = f"http://{http_addr}/healthz"
        _wait_for("/healthz", lambda: urllib.request.urlopen(health_url, timeout=5).status == 200)
        baseline = rss_bytes(costline.pid)

        sampler = Sampler(costline.pid, health_url, journal_dir if journal else None)
        sampler.start()
        senders = []
        for i in range(GRPC_SENDERS + HTTP_SENDERS):
            kind, target = ("grpc-sender", grpc_addr) if i < GRPC_SENDERS else ("http-sender", http_addr)
            out = tmp_path / f"sender{i}.ids"
            p = _helper(
                kind,
                "--target",
                target,
                "--index",
                str(i + 1),
                "--duration",
                str(DURATION_S),
                "--out",
                str(out),
                log=tmp_path / f"sender{i}.log",
            )
            procs.append(p)
            senders.append((p, out))
        for p, out in senders:
            p.wait(DURATION_S + 120)
            assert p.returncode == 0, (tmp_path / f"{out.stem}.log").read_text()[-3000:]
        sampler.stop.set()
        sampler.join(15)

        drain_started = time.monotonic()
        costline.terminate()  # SIGTERM: stop receiving, flush the buffer, drain the export queue
        costline.wait(150)
        drain_s = time.monotonic() - drain_started
        log = costline_log.read_text(errors="replace")
        assert costline.returncode == 0, log[-5000:]
        sink.terminate()
        sink.wait(30)
        assert sink.returncode == 0, sink_log.read_text()[-3000:]
    finally:
        for p in procs:
            _stop(p)

    tallies = [json.loads(Path(f"{out}.json").read_text()) for _, out in senders]
    acked = [i for _, out in senders for i in _ids(out)]
    received = _ids(sink_out)
    sink_counts = json.loads(Path(f"{sink_out}.json").read_text())
    acked_set, received_set = set(acked), set(received)
    lost = len(acked_set - received_set)
    duplicates = len(received) - len(received_set)
    unknown = len(received_set - acked_set)  # arrived but never acknowledged (a request timed out, then retried)
    throttled = sum(t["throttled"] for t in tallies)
    llm_acked = sum(t["llm_acked"] for t in tallies)
    bound = rss_bound(baseline)
    first_half, second_half = sampler.peaks_by_half()
    sending_s = max(t["seconds"] for t in tallies)  # from the first request to the last answer, slowest sender
    lat = sorted(sampler.latencies) or [0.0]
    line = (
        f"overload ({'--queue-dir' if journal else 'memory'}): {sending_s:.1f}s sending, {len(acked)} spans sent/acked, {len(received)} received, "
        f"{lost} lost, {duplicates} duplicates, {unknown} unacknowledged arrivals; "
        f"{throttled} throttled answers ({sum(t['requests'] for t in tallies)} requests, "
        f"{sum(t['retried_other'] for t in tallies)} transport retries), "
        f"{sink_counts['failed_on_purpose']} exports failed by the sink; "
        f"peak RSS {sampler.peak_rss / MIB:.1f} MiB (baseline {baseline / MIB:.1f}, bound {bound / MIB:.1f}; "
        f"peak in the first half {first_half / MIB:.1f}, second half {second_half / MIB:.1f}); "
        f"buffer peak {sampler.max_buffered_bytes / MIB:.2f} MiB of {MAX_BUFFER_BYTES / MIB:.0f}, "
        f"queue peak {sampler.max_queue} batches; /healthz {sampler.samples} answers, p50 {lat[len(lat) // 2] * 1000:.0f} ms, "
        f"p99 {lat[int(len(lat) * 0.99)] * 1000:.0f} ms, max {sampler.max_latency * 1000:.0f} ms, "
        f"{len(sampler.failures)} failed; {len(acked) / sending_s:.0f} spans/s; drain {drain_s:.1f}s"
        + (f"; journal peak {sampler.max_journal_bytes / MIB:.1f} MiB" if journal else "")
    )
    figures(line)

    assert not [e for t in tallies for e in t["errors"]], tallies
    assert len(set(acked)) == len(acked), "a sender made the same span ID twice"
    assert lost == 0, line
    assert unknown == 0 or sum(t["retried_other"] for t in tallies), line
    assert throttled > 0, f"never over capacity: {line}"
    assert sink_counts["priced"] >= llm_acked == len(acked) * LLM_PER_TRACE // SPANS_PER_TRACE, (sink_counts, line)
    assert not sampler.failures, sampler.failures[:10]
    assert sampler.samples >= DURATION_S / SAMPLE_S / 2, line
    assert sampler.max_buffered_bytes <= MAX_BUFFER_BYTES, line
    assert sampler.peak_rss <= bound, line
    if journal:  # a clean stop that delivered everything leaves no segment behind
        assert [f.name for f in journal_dir.iterdir()] in ([], ["lock"]), list(journal_dir.iterdir())
    assert "dropped" not in log, [line for line in log.splitlines() if "dropped" in line][:5]
