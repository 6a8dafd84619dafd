"""Issue #6, scenarios 1-3 with `--queue-dir`, as real processes on loopback.

- kill -9 of `costline serve` while senders push: after a restart on the same queue
  directory and ledger, every span acknowledged to a sender reaches the backend (at least
  once: spans exported before the crash whose journal segment was not yet deleted are
  sent again) and the ledger holds every acknowledged call exactly once.
- backend down across a graceful restart: SIGTERM exits 0 within its drain bound, the
  unexported spans stay on disk, and the next process delivers them.

Each test prints its figures: requests, spans acknowledged, received, duplicates, lost.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from decimal import Decimal

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from tests.fakes.otlp_sink import OtlpSink
from tests.processor.spans import llm, request, span
from tests.processor.test_cli_serve import free_port

COSTLINE = [sys.executable, "-m", "costline_processor.cli", "serve"]
# gpt-4o-mini, published at $0.15 per million input tokens and $0.60 per million output tokens
PRICE_IN, PRICE_OUT = Decimal("0.15") / 1_000_000, Decimal("0.60") / 1_000_000


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "costline exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"costline did not listen on {port}")


class Sender(threading.Thread):
    """Pushes requests of 10 traces x 10 spans (3 gpt-4o-mini calls each), each with fresh
    IDs, and retries a request until costline acknowledges it: refused connections while
    costline is down, UNAVAILABLE while it throttles."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.acked: set[str] = set()
        self.calls: dict[str, tuple[int, int]] = {}  # acknowledged call span id -> (input, output tokens)
        self.requests = self.retries = 0
        self.n = 0

    def build(self):
        spans, calls = [], {}
        for _ in range(10):
            trace_id = os.urandom(16)
            root = span(trace_id, "POST /answer", span_id=os.urandom(8), costline__customer_id="acme")
            agent = span(trace_id, "agent", root, span_id=os.urandom(8))
            spans += [root, agent]
            for k in range(3):
                self.n += 1
                i, o = 100 + self.n % 997, 10 + self.n % 89
                call = llm(trace_id, agent, model="gpt-4o-mini", input_tokens=i, output_tokens=o, span_id=os.urandom(8))
                tool = span(trace_id, f"tool {k}", agent, span_id=os.urandom(8))
                db = span(trace_id, "db", tool, span_id=os.urandom(8))
                spans += [call, tool, db]
                calls[call.span_id.hex()] = (i, o)
            spans.append(span(trace_id, "render", root, span_id=os.urandom(8)))
        return request(spans, service="answers"), spans, calls

    def run(self):
        channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        while not self.stop.is_set():
            req, spans, calls = self.build()
            self.requests += 1
            while True:
                try:
                    stub.Export(req, timeout=5)
                    break
                except grpc.RpcError:
                    self.retries += 1
                    time.sleep(0.05)
            self.acked.update(s.span_id.hex() for s in spans)
            self.calls.update(calls)
        channel.close()

    def wait_acked(self, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < n:
            assert time.monotonic() < deadline, f"only {len(self.acked)} spans acknowledged"
            time.sleep(0.02)


def start_costline(port: int, sink: OtlpSink, tmp_path, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            *COSTLINE,
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
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_listening(port, proc)
    return proc


def stop_costline(proc: subprocess.Popen, bound_s: float) -> tuple[float, str]:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=bound_s + 30)
    took = time.monotonic() - started
    assert proc.returncode == 0, out
    return took, out


def ledger_calls(path) -> dict[str, Decimal]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT span_id, cost_usd FROM costline_calls").fetchall()
        total, distinct = db.execute(
            "SELECT count(*), count(DISTINCT trace_id || span_id) FROM costline_calls"
        ).fetchone()
    assert total == distinct == len(rows)
    return {sid: Decimal(cost) for sid, cost in rows}


def check_delivery(name: str, sender: Sender, sink: OtlpSink, tmp_path, figures) -> None:
    received = [s.span_id for s in sink.spans()]
    unique = set(received)
    lost = sender.acked - unique
    ledger = ledger_calls(tmp_path / "ledger.db")
    missing_calls = set(sender.calls) - set(ledger)
    extra_calls = set(ledger) - set(sender.calls)
    figures(
        f"{name}: {sender.requests} requests ({sender.retries} retried), spans acknowledged {len(sender.acked)}, "
        f"received {len(received)} ({len(unique)} distinct, {len(received) - len(unique)} duplicates), "
        f"lost {len(lost)}; ledger calls {len(ledger)} of {len(sender.calls)} acknowledged, "
        f"missing {len(missing_calls)}, unexpected {len(extra_calls)}"
    )
    assert not lost, f"{len(lost)} acknowledged spans never reached the backend"
    assert not missing_calls and not extra_calls
    for sid, (i, o) in sender.calls.items():
        assert ledger[sid] == i * PRICE_IN + o * PRICE_OUT, sid
    queue_left = list((tmp_path / "queue").glob("*.otlp"))
    assert queue_left == [], f"segments left after a clean stop: {queue_left}"


def test_kill_9_while_traffic_flows_loses_no_acknowledged_span(tmp_path, figures):
    port = free_port()
    with OtlpSink() as sink:
        proc = start_costline(port, sink, tmp_path, "--trace-wait", "0.5")
        sender = Sender(port)
        sender.start()
        try:
            sender.wait_acked(4000)
            time.sleep(0.3)
            in_flight = len(sender.acked) - len(set(s.span_id for s in sink.spans()))
            proc.kill()  # SIGKILL: no drain, no flush, no atexit
            proc.wait(10)
            at_kill = len(sender.acked)
            assert in_flight > 0, "nothing was buffered when costline was killed: the test would prove nothing"
            time.sleep(0.5)
            proc = start_costline(port, sink, tmp_path, "--trace-wait", "0.5")
            sender.wait_acked(at_kill + 2000)
        finally:
            sender.stop.set()
            sender.join(30)
        took, out = stop_costline(proc, 30)
        assert "replayed" in out, out
        figures(f"kill -9 with {in_flight} acknowledged spans not yet at the backend; SIGTERM drained in {took:.2f}s")
        check_delivery("kill -9 and restart", sender, sink, tmp_path, figures)


def test_backend_down_across_a_graceful_restart(tmp_path, figures):
    port = free_port()
    config = tmp_path / "costline.yaml"
    config.write_text("export:\n  drain_timeout_s: 2\n  retry_initial_s: 0.1\n  retry_max_s: 0.5\n")
    sink = OtlpSink()
    sink.start()
    backend = sink.grpc_endpoint
    sink.stop()  # the backend is down from the start
    sink = OtlpSink(grpc_port=int(backend.rsplit(":", 1)[1]))
    proc = start_costline(port, sink, tmp_path, "--trace-wait", "0.2", "--config", str(config))
    sender = Sender(port)
    sender.start()
    try:
        sender.wait_acked(1000)
    finally:
        sender.stop.set()
        sender.join(30)
    time.sleep(0.5)  # assembled and queued, retrying against the dead backend
    took, out = stop_costline(proc, 2)
    assert took < 2 + 5, f"SIGTERM took {took:.1f}s with a 2 s drain bound"
    assert "kept in the queue dir" in out, out
    assert list((tmp_path / "queue").glob("*.otlp")), "nothing kept on disk"
    with sink:  # the backend comes back; a new costline delivers what the last one kept
        proc = start_costline(port, sink, tmp_path, "--trace-wait", "0.2", "--config", str(config))
        sink.wait_for_spans(len(sender.acked), timeout=30)
        stop_costline(proc, 2)
        figures(f"SIGTERM with the backend down returned in {took:.2f}s (bound 2 s + start-up)")
        check_delivery("backend down across a restart", sender, sink, tmp_path, figures)


@pytest.mark.parametrize("queue_dir", [True, False])
def test_queue_dir_is_what_makes_a_crash_safe(tmp_path, queue_dir):
    """The same kill -9 without --queue-dir loses the buffered spans: the journal is what saves them."""
    port = free_port()
    with OtlpSink() as sink:
        args = [
            *COSTLINE,
            "--grpc",
            f"127.0.0.1:{port}",
            "--http",
            "off",
            "--export-grpc",
            sink.grpc_endpoint,
            "--ledger",
            "off",
            "--trace-wait",
            "30",
        ]
        if queue_dir:
            args += ["--queue-dir", str(tmp_path / "queue")]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_listening(port, proc)
        sender = Sender(port)
        req, spans, _ = sender.build()
        stub = trace_service_pb2_grpc.TraceServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        stub.Export(req, timeout=5)  # acknowledged, then buffered for 30 s
        proc.kill()
        proc.wait(10)
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_listening(port, proc)
        stop_costline(proc, 30)
        got = {s.span_id for s in sink.spans()}
    expected = {s.span_id.hex() for s in spans}
    assert (got == expected) if queue_dir else (got == set())


def test_export_is_at_least_once_spans_sent_just_before_a_crash_are_sent_again(tmp_path):
    """The other side of the guarantee: spans exported in the last second before a crash
    are still in an open journal segment, so the next process exports them again; the
    ledger, keyed on (trace_id, span_id), still holds each call once."""
    port = free_port()
    with OtlpSink() as sink:
        proc = start_costline(port, sink, tmp_path, "--trace-wait", "0")
        sender = Sender(port)
        req, spans, calls = sender.build()
        stub = trace_service_pb2_grpc.TraceServiceStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        stub.Export(req, timeout=5)
        sink.wait_for_spans(len(spans), timeout=10)  # exported, its segment still open (1 s)
        proc.kill()
        proc.wait(10)
        proc = start_costline(port, sink, tmp_path, "--trace-wait", "0")
        sink.wait_for_spans(2 * len(spans), timeout=20)
        stop_costline(proc, 30)
        received = [s.span_id for s in sink.spans()]
    assert sorted(received) == sorted(2 * [s.span_id.hex() for s in spans])  # each exactly twice
    assert set(ledger_calls(tmp_path / "ledger.db")) == set(calls)  # each call once


def test_backend_stopped_for_a_while_then_back_every_span_arrives(tmp_path, figures):
    """Scenario 1 without a restart: the backend process goes away (connections refused)
    while senders push, then comes back on its address; costline's retries deliver all."""
    port = free_port()
    config = tmp_path / "costline.yaml"
    config.write_text("export:\n  retry_initial_s: 0.1\n  retry_max_s: 0.5\n")
    first = OtlpSink()
    first.start()
    backend_port = int(first.grpc_endpoint.rsplit(":", 1)[1])
    proc = start_costline(port, first, tmp_path, "--trace-wait", "0.2", "--config", str(config))
    sender = Sender(port)
    sender.start()
    second = OtlpSink(grpc_port=backend_port)
    try:
        first.wait_for_spans(2000, timeout=30)  # the backend is taking spans...
        first.stop()  # ...and goes away
        acked_while_down = len(sender.acked)
        sender.wait_acked(acked_while_down + 3000)
        time.sleep(1.0)  # retries fail against a closed port
        second.start()  # back on the same address
        sender.wait_acked(len(sender.acked) + 1000)
    finally:
        sender.stop.set()
        sender.join(30)
    try:
        deadline = time.monotonic() + 30
        while sender.acked - {s.span_id for s in first.spans() + second.spans()} and time.monotonic() < deadline:
            time.sleep(0.1)
        stop_costline(proc, 30)
    finally:
        second.stop()
    before, after = [s.span_id for s in first.spans()], [s.span_id for s in second.spans()]
    got = set(before) | set(after)
    figures(
        f"backend stopped and back: {len(sender.acked)} acknowledged; {len(before)} taken before the stop, "
        f"{len(after)} after it came back; lost {len(sender.acked - got)}, "
        f"duplicates {len(before) + len(after) - len(got)}"
    )
    assert before and after and not sender.acked - got and not got - sender.acked


def test_a_request_taken_over_http_json_survives_a_kill_9(tmp_path):
    """The journal holds what was accepted, whatever the encoding it came in: an OTLP/JSON
    request acknowledged over HTTP is replayed (as protobuf) after a kill -9."""
    import json
    import urllib.request

    port, hport = free_port(), free_port()
    t = os.urandom(16)
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "js-app"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": t.hex(),
                                "spanId": "00000000000000aa",
                                "name": "chat gpt-4o-mini",
                                "startTimeUnixNano": "1763900000000000000",
                                "endTimeUnixNano": "1763900001000000000",
                                "attributes": [
                                    {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                                    {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
                                    {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
                                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "1000"}},
                                    {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "100"}},
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    with OtlpSink() as sink:
        args = [
            *COSTLINE,
            "--grpc",
            f"127.0.0.1:{port}",
            "--http",
            f"127.0.0.1:{hport}",
            "--export-grpc",
            sink.grpc_endpoint,
            "--ledger",
            str(tmp_path / "ledger.db"),
            "--queue-dir",
            str(tmp_path / "queue"),
            "--trace-wait",
            "30",
        ]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_listening(hport, proc)
        req = urllib.request.Request(
            f"http://127.0.0.1:{hport}/v1/traces",
            data=json.dumps(doc).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
        proc.kill()
        proc.wait(10)
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_listening(hport, proc)
        stop_costline(proc, 30)
        (got,) = sink.spans()
    assert got.span_id == "00000000000000aa" and got.resource["service.name"] == "js-app"
    expected = 1000 * PRICE_IN + 100 * PRICE_OUT
    assert Decimal(str(got.attributes["costline.cost.usd"])).quantize(Decimal("1e-12")) == expected.quantize(
        Decimal("1e-12")
    )
    assert ledger_calls(tmp_path / "ledger.db") == {"00000000000000aa": expected}
