"""A real Prometheus scrapes a running `costline serve`; its answer, the ledger and the
published prices agree to the cent."""

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from decimal import Decimal

import pytest

from tests.processor.harness import sdk_tracer

M = Decimal(1_000_000)
# (feature, model, provider, input, output) and published prices per million tokens
CALLS = [
    ("search", "gpt-4o-mini", "openai", 10_000, 1_000),
    ("search", "gpt-4o-mini", "openai", 20_000, 500),
    ("support", "claude-sonnet-4-5", "anthropic", 8_000, 2_000),
    ("support", "gpt-4o", "openai", 4_000, 400),
]
PRICES = {
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4o": (Decimal("2.50"), Decimal("10")),
    "claude-sonnet-4-5": (Decimal("3"), Decimal("15")),
}


def expected_by_feature() -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for feature, model, _, i, o in CALLS:
        pin, pout = PRICES[model]
        out[feature] = out.get(feature, Decimal(0)) + (i * pin + o * pout) / M
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert proc.poll() is None, "process exited early"
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def test_prometheus_scrapes_serve_and_agrees_with_ledger(tmp_path):
    binary = shutil.which("prometheus")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus missing: ./dev test installs Debian's prometheus")
        pytest.skip("prometheus is not installed")
    grpc_port, metrics_port, prom_port = free_port(), free_port(), free_port()
    ledger = tmp_path / "ledger.db"
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "costline_processor.cli",
            "serve",
            "--grpc",
            f"127.0.0.1:{grpc_port}",
            "--http",
            "off",
            "--trace-wait",
            "0.2",
            "--ledger",
            str(ledger),
            "--metrics",
            f"127.0.0.1:{metrics_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "serve.log", "w"),
    )
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: costline\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n"
    )
    prom = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "prometheus.log", "w"),
    )
    try:
        wait_port(grpc_port, serve)
        wait_port(metrics_port, serve)
        provider = sdk_tracer(f"127.0.0.1:{grpc_port}")
        tracer = provider.get_tracer("app")
        for feature, model, prov, i, o in CALLS:
            with tracer.start_as_current_span(
                f"POST /{feature}", attributes={"costline.feature": feature, "costline.customer_id": "acme"}
            ):
                tracer.start_span(
                    f"chat {model}",
                    attributes={
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": prov,
                        "gen_ai.request.model": model,
                        "gen_ai.usage.input_tokens": i,
                        "gen_ai.usage.output_tokens": o,
                    },
                ).end()
        provider.shutdown()
        want = expected_by_feature()
        query = "sum by (feature) (costline_cost_usd_total)"  # the "spend by feature" panel
        got: dict[str, float] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{prom_port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
                with urllib.request.urlopen(url, timeout=5) as r:
                    result = json.load(r)["data"]["result"]
                got = {x["metric"]["feature"]: float(x["value"][1]) for x in result}
            except OSError:
                got = {}
            if set(got) == set(want) and all(math.isclose(got[f], float(want[f]), abs_tol=1e-9) for f in want):
                break
            time.sleep(0.5)
        assert set(got) == set(want), got
        for f in want:
            assert math.isclose(got[f], float(want[f]), abs_tol=1e-9), (f, got[f], want[f])
    finally:
        prom.terminate()
        serve.terminate()
        serve.wait(20)
        prom.wait(20)
    report = subprocess.run(
        [
            sys.executable,
            "-m",
            "costline_processor.cli",
            "report",
            "--by",
            "feature",
            "--ledger",
            str(ledger),
            "--since",
            "1d",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.returncode == 0, report.stderr
    ledger_costs = {row["feature"]: Decimal(str(row["cost_usd"])) for row in json.loads(report.stdout)}
    assert ledger_costs == want  # ledger (exact Decimal) = published prices; Prometheus matched above
