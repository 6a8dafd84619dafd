"""`costline budgets --prometheus-rules`: the rules pass `promtool check rules`, behave in `promtool test rules`,
and a real Prometheus evaluating them against a real `costline serve` fires the budget a customer went over."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal as D
from pathlib import Path

import pytest
import yaml

from costline_processor.cli import main
from costline_processor.config import Budget
from costline_processor.ledger import budget_rules
from costline_processor.metrics import OTHER
from tests.ledger.conftest import free_port
from tests.processor.harness import sdk_tracer
from tests.processor.test_serve_prometheus import wait_port

PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
OVER = "CostlineBudgetOver"
CONFIG = """
budgets:
  - name: each customer daily
    scope: {customer_id: "*"}
    period: day
    amount_usd: 0.002
  - scope: {feature: search}
    amount_usd: 1
  - name: per user
    scope: {user_id: "*"}
    amount_usd: 1
"""


def missing(tool: str | None, name: str) -> None:
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} missing: ./dev test installs Debian's prometheus")
        pytest.skip(f"{name} is not installed: apt-get install prometheus")


@pytest.fixture
def rules_file(tmp_path, capsys) -> Path:
    (tmp_path / "costline.yaml").write_text(CONFIG)
    out = tmp_path / "budgets.rules.yml"
    assert main(["budgets", "--config", str(tmp_path / "costline.yaml"), "--prometheus-rules", str(out)]) == 0
    err = capsys.readouterr().err
    assert "budget 'per user': user_id is not a label of the cost metrics (metrics.dimensions)" in err
    return out


def test_the_rules_name_the_served_counter_and_say_their_window(rules_file):
    doc = yaml.safe_load(rules_file.read_text())
    (group,) = doc["groups"]
    rules = group["rules"]
    assert [(r["alert"], r["labels"]["budget"]) for r in rules] == [
        ("CostlineBudgetWarning", "each customer daily"),
        ("CostlineBudgetWarning", "each customer daily"),
        ("CostlineBudgetOver", "each customer daily"),
        ("CostlineBudgetWarning", "feature=search per month"),
        ("CostlineBudgetWarning", "feature=search per month"),
        ("CostlineBudgetOver", "feature=search per month"),
    ]
    daily = rules[2]
    assert daily["expr"].startswith("sum by (customer_id) (") and daily["expr"].endswith(" > 0.002")
    assert f'customer_id!~"{OTHER}|untagged|"' in daily["expr"] and "[1d]" in daily["expr"]
    assert "rolling" in daily["annotations"]["description"] and "UTC day" in daily["annotations"]["description"]
    assert "{{ $labels.customer_id }}" in daily["annotations"]["summary"]
    assert rules[0]["expr"].endswith(" >= 0.0016") and rules[0]["labels"]["share"] == "0.8"
    assert 'feature="search"' in rules[5]["expr"] and "[30d]" in rules[5]["expr"]


def test_values_are_quoted_for_promql():
    b = Budget(D("5"), scope={"customer.id": 'a"b\\c', "team": "*"}, period="week")
    expr = budget_rules.spent(b, "none")
    assert 'customer_id="a\\"b\\\\c"' in expr and 'team!~"other|none|"' in expr and "[7d]" in expr
    assert expr.startswith("sum by (team) (")


def test_to_stdout(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text(CONFIG)
    assert main(["budgets", "--config", str(tmp_path / "c.yaml"), "--prometheus-rules"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["groups"][0]["name"] == "costline-budgets"


def test_promtool_checks_the_rules(rules_file):
    missing(PROMTOOL, "promtool")
    r = subprocess.run([PROMTOOL, "check", "rules", str(rules_file)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 6 rules found" in r.stdout


def test_promtool_evaluates_the_rules(rules_file, tmp_path):
    """At 26h, over the last day: acme's series was born at 25h, so its whole $0.003 counts (increase() alone would
    see one flat sample and say 0); globex's was there a day ago and rose $0.001 (its $5.001 total is older);
    initech's was reset by a restart and rose $0.0025 since; hooli's calls went to a replica started at 23h that was
    gone at 24h (scaled down): its $0.004 was spent this day, though no series of it is there now (the rules read
    only series there now or a day ago, so hooli's budget read $0 and never fired)."""
    missing(PROMTOOL, "promtool")
    series = 'costline_cost_usd_total{{customer_id="{}", feature="chat", instance="a"}}'
    daily_over = yaml.safe_load(rules_file.read_text())["groups"][0]["rules"][2]

    def alert(customer: str) -> dict:
        summary = f"Budget each customer daily customer_id={customer}: $0.00 spent, over $0.002 per day."
        labels = {"customer_id": customer, "budget": "each customer daily", "period": "day", "severity": "critical"}
        description = daily_over["annotations"]["description"]
        return {"exp_labels": labels, "exp_annotations": {"summary": summary, "description": description}}

    test = {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1h",
        "tests": [
            {
                "interval": "1h",
                "input_series": [
                    {"series": series.format("acme"), "values": "_x25 0.003 0.003"},
                    {"series": series.format("globex"), "values": "5+0x24 5.001 5.001"},
                    {"series": series.format("initech"), "values": "5+0x24 0.001 0.0025"},
                    {"series": series.format("hooli").replace('"a"', '"b"'), "values": "_x23 0.004 stale"},
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "26h",
                        "alertname": "CostlineBudgetOver",
                        "exp_alerts": [alert("acme"), alert("hooli"), alert("initech")],
                    },
                ],
            }
        ],
    }
    (tmp_path / "budgets.test.yml").write_text(json.dumps(test))
    r = subprocess.run([PROMTOOL, "test", "rules", str(tmp_path / "budgets.test.yml")], capture_output=True,
                       text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr


# (customer_id, input tokens, output tokens) of gpt-4o-mini calls: $0.15 and $0.60 per million tokens
CALLS = [("acme", 10_000, 1_000), ("globex", 1_000, 100)]
PRICE_IN, PRICE_OUT = D("0.15") / 1_000_000, D("0.60") / 1_000_000


def test_a_real_prometheus_fires_the_budget_a_customer_went_over(tmp_path, capsys):
    missing(PROMETHEUS, "prometheus")
    cost = {cu: i * PRICE_IN + o * PRICE_OUT for cu, i, o in CALLS}
    assert cost["acme"] > D("0.002") > cost["globex"] / D("0.8")  # acme over, globex not even warned
    firing = _serve_and_fire(tmp_path, capsys, CALLS)
    over = [a for a in firing if a["labels"]["alertname"] == OVER]
    assert [(a["labels"]["customer_id"], a["labels"]["budget"]) for a in over] == [("acme", "each customer daily")]
    assert D(over[0]["value"]) == pytest.approx(cost["acme"], abs=D("1e-9"))
    assert {a["labels"].get("customer_id") for a in firing} == {"acme"}  # globex: not even a warning


def test_a_shared_call_counts_its_part_in_each_owner_budget(tmp_path, capsys):
    """acme's 3/4 of a shared call takes it over its budget; globex's 1/4 leaves it under: the rules sum the
    owners' series, never a series labelled with the owners' JSON text."""
    missing(PROMETHEUS, "prometheus")
    calls = [('{"acme":3,"globex":1}', 12_000, 1_200), ("acme", 1_000, 100)]
    shared = 12_000 * PRICE_IN + 1_200 * PRICE_OUT
    acme = shared * 3 / 4 + 1_000 * PRICE_IN + 100 * PRICE_OUT
    assert acme > D("0.002") > shared * 3 / 4 and shared / 4 < D("0.0016")  # over with its part, globex not warned
    firing = _serve_and_fire(tmp_path, capsys, calls)
    over = [a for a in firing if a["labels"]["alertname"] == OVER]
    assert [a["labels"]["customer_id"] for a in over] == ["acme"]
    assert D(over[0]["value"]) == pytest.approx(acme, abs=D("1e-9"))
    assert {a["labels"].get("customer_id") for a in firing} == {"acme"}


def _serve_and_fire(tmp_path, capsys, calls) -> list[dict]:
    """Budget rules for CONFIG in a real Prometheus scraping a real `costline serve` that got `calls`: the firing."""
    (tmp_path / "costline.yaml").write_text(CONFIG)
    rules = tmp_path / "budgets.rules.yml"
    assert main(["budgets", "--config", str(tmp_path / "costline.yaml"), "--prometheus-rules", str(rules)]) == 0
    capsys.readouterr()
    grpc, metrics, prom_port = free_port(), free_port(), free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "costline_processor.cli", "serve", "--config", str(tmp_path / "costline.yaml"),
         "--grpc", f"127.0.0.1:{grpc}", "--http", "off", "--trace-wait", "0.2", "--ledger", str(tmp_path / "l.db"),
         "--metrics", f"127.0.0.1:{metrics}"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "serve.log", "w"),
    )  # fmt: skip
    (tmp_path / "prometheus.yml").write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(rules)],
                "scrape_configs": [{"job_name": "costline", "static_configs": [{"targets": [f"127.0.0.1:{metrics}"]}]}],
            }
        )
    )
    prom = subprocess.Popen(
        [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prometheus.log", "w"),
    )  # fmt: skip
    try:
        wait_port(grpc, serve)
        wait_port(metrics, serve)
        _send(grpc, calls)
        return _firing(prom_port, lambda alerts: any(a["labels"]["alertname"] == OVER for a in alerts))
    finally:
        prom.terminate()
        serve.terminate()
        serve.wait(20)
        prom.wait(20)


def _send(grpc: int, calls) -> None:
    provider = sdk_tracer(f"127.0.0.1:{grpc}")
    tracer = provider.get_tracer("app")
    for customer, i, o in calls:
        tags = {"costline.feature": "chat", "costline.customer_id": customer}
        with tracer.start_as_current_span("POST /chat", attributes=tags):
            tracer.start_span("chat gpt-4o-mini", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": i,
                "gen_ai.usage.output_tokens": o}).end()  # fmt: skip
    provider.shutdown()


def _firing(port: int, done, timeout_s: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    alerts: list[dict] = []
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=5) as r:
                alerts = [a for a in json.load(r)["data"]["alerts"] if a["state"] == "firing"]
        except OSError:
            alerts = []
        if done(alerts):
            time.sleep(2)  # a few more evaluations: nothing else may fire
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=5) as r:
                return [a for a in json.load(r)["data"]["alerts"] if a["state"] == "firing"]
        time.sleep(0.5)
    raise AssertionError(f"no budget alert fired in {timeout_s}s: {alerts}")
