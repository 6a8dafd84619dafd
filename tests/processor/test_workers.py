"""`costline serve --workers N`: processes sharing the ports, every span out once, SIGTERM drains all."""

import signal
import socket
import subprocess
import time
import urllib.request

import grpc
import pytest

from tests.fakes.otlp_sink import OtlpSink
from tests.processor.spans import llm, new_trace_id, request, span
from tests.processor.test_cli_serve import COSTLINE, free_port, run_cli

TRACE_PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--workers", "0"], "--workers must be at least 1"),
        (["--workers", "2", "--grpc", "127.0.0.1:0"], "needs a fixed --grpc port"),
        (["--workers", "2", "--metrics", "127.0.0.1:0"], "needs a fixed --metrics port"),
    ],
)
def test_worker_flag_errors_are_one_line(args, fragment):
    r = run_cli("serve", "--ledger", "off", *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], r.stderr


def _post(url: str, body: bytes) -> int:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/x-protobuf"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status


@pytest.mark.parametrize("queue_dir", [False, True])
def test_two_workers_share_both_ports_and_drain_on_sigterm(tmp_path, queue_dir):
    gport, hport = free_port(), free_port()
    extra = ["--queue-dir", str(tmp_path / "queue")] if queue_dir else []
    with OtlpSink() as sink:
        proc = subprocess.Popen(
            [
                *COSTLINE,
                "serve",
                "--workers",
                "2",
                "--grpc",
                f"127.0.0.1:{gport}",
                "--http",
                f"127.0.0.1:{hport}",
                "--export-grpc",
                sink.grpc_endpoint,
                "--trace-wait",
                "600",
                "--ledger",
                "off",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            sent = 0
            # New connections are spread over the workers: send until both have spans.
            while time.monotonic() < deadline and sent < 40:
                t = new_trace_id()
                root = span(t, "root", costline__feature="search", costline__customer_id="acme")
                body = request([root, llm(t, root, input_tokens=1000)]).SerializeToString()
                try:
                    assert _post(f"http://127.0.0.1:{hport}/v1/traces", body) == 200
                    sent += 2
                except OSError:
                    time.sleep(0.2)  # workers still starting
            assert sent == 40
            children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
            workers = [c for c in children if b"resource_tracker" not in open(f"/proc/{c}/cmdline", "rb").read()]
            assert len(workers) == 2
            time.sleep(0.3)
            assert sink.spans() == []  # a 600 s trace wait: nothing flushed yet
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=60)
            assert proc.returncode == 0, out
            spans = sink.spans()
            assert len(spans) == sent
            calls = [s for s in spans if s.name.startswith("chat")]
            assert all(
                s.attributes["costline.feature"] == "search" and s.attributes["costline.cost.usd"] > 0 for s in calls
            )
        finally:
            if proc.poll() is None:
                proc.kill()
    if queue_dir:  # one journal per worker, each emptied by its drain
        dirs = sorted(p.name for p in (tmp_path / "queue").iterdir())
        assert dirs == ["worker-0", "worker-1"]
        assert [p.name for p in (tmp_path / "queue").rglob("*.otlp")] == []


def test_two_workers_serve_metrics_on_consecutive_ports_that_add_up():
    gport, mport = free_port(), free_port()
    while True:  # the next port must be free too
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", mport + 1))
            break
        except OSError:
            mport = free_port()

    def scrape(port: int) -> float:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                text = r.read().decode()
        except OSError:
            return 0.0  # that worker is still starting
        return sum(
            float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("costline_llm_calls_total{")
        )

    with OtlpSink() as sink:
        proc = subprocess.Popen(
            [
                *COSTLINE,
                "serve",
                "--workers",
                "2",
                "--grpc",
                f"127.0.0.1:{gport}",
                "--http",
                "off",
                "--export-grpc",
                sink.grpc_endpoint,
                "--trace-wait",
                "0",
                "--ledger",
                "off",
                "--metrics",
                f"127.0.0.1:{mport}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            calls = 0
            per_worker = [0.0, 0.0]
            deadline = time.monotonic() + 30
            # New connections are spread over the workers once both listen: send until both counted some.
            while time.monotonic() < deadline and not (all(per_worker) and sum(per_worker) == calls):
                t = new_trace_id()
                root = span(t, "root", costline__feature="search")
                body = request([root, llm(t, root, input_tokens=1000)]).SerializeToString()
                try:
                    with grpc.insecure_channel(f"127.0.0.1:{gport}") as ch:
                        ch.unary_unary(TRACE_PATH, request_serializer=None, response_deserializer=None)(body, timeout=5)
                    calls += 1
                except grpc.RpcError:
                    time.sleep(0.2)  # no worker listens yet
                if calls % 10 == 0:
                    sink.wait_for_spans(2 * calls, timeout=20)
                    time.sleep(0.2)
                    per_worker = [scrape(mport), scrape(mport + 1)]
            assert calls >= 10 and all(per_worker) and sum(per_worker) == calls, (calls, per_worker)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
