"""`costline serve` as a real process: flag and config errors, SIGTERM drains everything."""

import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.fakes.otlp_sink import OtlpSink
from tests.processor.harness import sdk_tracer

COSTLINE = [sys.executable, "-m", "costline_processor.cli"]


def run_cli(*args, env=None, timeout=30):
    return subprocess.run([*COSTLINE, *args], capture_output=True, text=True, timeout=timeout, env=env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--grpc", "nonsense"], "--grpc must be HOST:PORT"),
        (["--export-http", "ftp://x"], "--export-http needs an http"),
        (["--trace-wait", "-1"], "--trace-wait must be zero or more"),
        (["--prices", "/no/such/prices.yaml"], "price file not found"),
        (["--grpc", "off", "--http", "off"], "at least one receiver"),
        (["--grpc", "127.0.0.1:4999", "--export-grpc", "localhost:4999"], "spans would loop"),
        (
            ["--queue-dir", "/proc/no-such/queue", "--ledger", "off", "--grpc", "127.0.0.1:0", "--http", "off"],
            "cannot create the queue directory /proc/no-such/queue",
        ),
    ],
)
def test_bad_flags_are_one_clear_line(args, fragment):
    r = run_cli("serve", *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], r.stderr


def test_bad_config_file(tmp_path):
    bad = tmp_path / "costline.yaml"
    bad.write_text("assembly:\n  trace_wiat_s: 3\n")
    r = run_cli("serve", "--config", str(bad))
    assert r.returncode == 2 and "unknown setting costline.yaml.assembly.trace_wiat_s" in r.stderr
    bad.write_text("assembly: [1, 2\n")
    r = run_cli("serve", "--config", str(bad))
    assert r.returncode == 2 and "not valid YAML" in r.stderr


def test_sigterm_drains_buffered_traces_and_exits_zero(tmp_path):
    port = free_port()
    config = tmp_path / "costline.yaml"
    config.write_text("tagging:\n  required: [feature]\n  default: unassigned\n")
    with OtlpSink() as sink:
        proc = subprocess.Popen(
            [
                *COSTLINE,
                "serve",
                "--grpc",
                f"127.0.0.1:{port}",
                "--http",
                "off",
                "--export-grpc",
                sink.grpc_endpoint,
                "--trace-wait",
                "600",
                "--config",
                str(config),
                "--ledger",
                str(tmp_path / "ledger.db"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.1)
            provider = sdk_tracer(f"127.0.0.1:{port}")
            tracer = provider.get_tracer("app")
            for i in range(50):
                with tracer.start_as_current_span(f"req-{i}"):
                    tracer.start_span(
                        "chat gpt-4o-mini",
                        attributes={
                            "gen_ai.operation.name": "chat",
                            "gen_ai.provider.name": "openai",
                            "gen_ai.request.model": "gpt-4o-mini",
                            "gen_ai.usage.input_tokens": 1000,
                            "gen_ai.usage.output_tokens": 0,
                        },
                    ).end()
            provider.shutdown()
            time.sleep(0.3)
            assert sink.spans() == []  # a 600 s trace wait: nothing flushed yet
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
            assert proc.returncode == 0, out
            assert time.monotonic() - started < 10
        finally:
            if proc.poll() is None:
                proc.kill()
        spans = sink.spans()
    assert len(spans) == 100
    calls = [s for s in spans if s.name == "chat gpt-4o-mini"]
    assert all(abs(s.attributes["costline.cost.usd"] - 1000 * 0.15 / 1e6) < 1e-12 for s in calls)
    assert all(s.attributes["costline.feature"] == "unassigned" for s in calls)
