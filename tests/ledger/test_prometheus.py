"""A real Prometheus (Debian's package) scrapes MetricsSink and answers a dashboard query."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

from costline_processor.metrics import MetricsSink
from tests.ledger import dataset
from tests.ledger.conftest import free_port
from tests.ledger.dataset import cost_where

RULES = Path(__file__).resolve().parents[2] / "dashboards" / "prometheus"
# The dashboard's "spend by feature" panel.
QUERY = "sum by (feature) (costline_cost_usd_total)"


def _query(port: int, expr: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    return body["data"]["result"]


@pytest.fixture
def prometheus(tmp_path):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed: apt-get install prometheus")
    sink = MetricsSink()
    _, target = sink.serve("127.0.0.1", 0)
    port = free_port()
    rule_files = sorted(str(p) for p in RULES.glob("*.yml"))
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files: {json.dumps(rule_files)}\n"
        "scrape_configs:\n  - job_name: costline\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
    )
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "prometheus.log", "w"),
    )
    try:
        yield sink, port, tmp_path / "prometheus.log"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        sink.close()


def test_prometheus_scrapes_and_evaluates_a_dashboard_query(prometheus):
    sink, port, log = prometheus
    sink.write(dataset.rows())
    want = {
        f: cost_where(lambda s, f=f: (s[2] or "untagged") == f) for f in ("chat", "summarize", "search", "untagged")
    }
    deadline = time.monotonic() + 45
    got = {}
    while time.monotonic() < deadline:
        try:
            got = {r["metric"]["feature"]: Decimal(r["value"][1]) for r in _query(port, QUERY)}
        except OSError:
            got = {}
        if set(got) == set(want):
            break
        time.sleep(0.5)
    assert set(got) == set(want), f"prometheus answered {got}; log:\n{log.read_text()[-2000:]}"
    for f, cost in want.items():
        assert abs(got[f] - cost) < Decimal("1e-9")
    # The alert rules loaded into the real server without error.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/rules", timeout=5) as resp:
        groups = json.load(resp)["data"]["groups"]
    names = {r["name"] for g in groups for r in g["rules"]}
    assert "CostlineDailySpendHigh" in names, names
