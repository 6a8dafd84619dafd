"""The compose stack's commands, run here on loopback, feed a real Prometheus that
evaluates every dashboard query.

* the fake provider runs with the compose command (host and port moved to loopback);
* `costline serve` runs with the compose command and deploy/costline.yaml (addresses
  moved to loopback, a short --trace-wait, and an OTLP sink standing in for the
  Collector's enriched receiver);
* the demo app runs with the compose command and environment under
  `opentelemetry-instrument`, sending straight to costline (no Collector can run here:
  in compose the Collector sits in between and forwards these requests unchanged);
* Prometheus scrapes costline every second and loads the shipped alert rules.

The workload runs twice (identical rounds), so counters exist before the second wave
and `increase()` / `rate()` over it have data, as they would in a running stack. Every
query of the dashboard is then evaluated with Grafana's variables and macros filled
in: it must parse, name metrics and labels costline really exposes, and return data.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy import dashboard_model as dm
from tests.deploy import traceql
from tests.deploy.support import (
    COSTLINE_YAML,
    PROMETHEUS_YAML,
    command,
    compose,
    free_port,
    host_port,
    load,
    wait_port,
)
from tests.fakes.otlp_sink import OtlpSink
from tests.processor.harness import sdk_tracer

ALL = {"environment": ".*", "team": ".*", "service": ".*"}
ONE = {"environment": "demo", "team": "assistant", "service": "demo-assistant"}
UNPRICED_MODEL = "acme-private-llm"


def _replace(argv: list[str], name: str, value: str) -> None:
    argv[argv.index(name) + 1] = value


def http_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


class Stack:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.sink = OtlpSink()
        self.ledger = tmp / "ledger.db"

    def start(self, argv: list[str], name: str, env: dict | None = None) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        return p

    def up(self) -> Stack:
        svcs = compose()["services"]
        self.sink.start()
        # fake provider: the compose command, on loopback
        argv = command(svcs["fake-provider"])
        assert argv[0] == "python"
        argv[0] = sys.executable
        self.provider_port = free_port()
        _replace(argv, "--host", "127.0.0.1")
        _replace(argv, "--port", str(self.provider_port))
        provider = self.start(argv, "fake-provider")
        # costline serve: the compose command and config, on loopback
        argv = command(svcs["costline"])
        self.grpc, self.metrics = free_port(), free_port()
        _replace(argv, "--grpc", f"127.0.0.1:{self.grpc}")
        _replace(argv, "--http", "off")
        _replace(argv, "--metrics", f"127.0.0.1:{self.metrics}")
        _replace(argv, "--config", str(COSTLINE_YAML))
        _replace(argv, "--ledger", str(self.ledger))
        _replace(argv, "--queue-dir", str(self.tmp / "queue"))
        argv += ["--trace-wait", "0.3", "--export-grpc", self.sink.grpc_endpoint]
        serve = self.start([sys.executable, "-m", "costline_processor.cli", *argv], "costline")
        # Prometheus: the shipped config's rules and job name, scraping loopback every second
        shipped = load(PROMETHEUS_YAML)
        self.prom_port = free_port()
        cfg = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(PROMETHEUS_YAML.parent / r) for r in shipped["rule_files"]],
            "scrape_configs": [
                {"job_name": "costline", "static_configs": [{"targets": [f"127.0.0.1:{self.metrics}"]}]}
            ],
        }
        (self.tmp / "prometheus.yml").write_text(json.dumps(cfg))
        prom = self.start(
            [
                shutil.which("prometheus"),
                f"--config.file={self.tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.prom_port}",
            ],
            "prometheus",
        )
        wait_port(self.provider_port, provider)
        wait_port(self.grpc, serve)
        wait_port(self.metrics, serve)
        wait_port(self.prom_port, prom)
        return self

    def down(self) -> None:
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        self.sink.stop()

    # -- traffic --------------------------------------------------------------------------
    def run_app(self) -> None:
        app = compose()["services"]["app"]
        argv = command(app)
        assert argv[:2] == ["opentelemetry-instrument", "python"] and argv[2] == "/app/demo_app.py"
        launcher = shutil.which("opentelemetry-instrument") or str(
            Path(sys.executable).with_name("opentelemetry-instrument")
        )
        argv = [
            launcher,
            sys.executable,
            str(Path(__file__).resolve().parents[2] / "deploy" / "demo_app.py"),
            *argv[3:],
            "--requests",
            "10",
            "--rounds",
            "1",
            "--pause",
            "0",
        ]
        env = {**os.environ, **{k: str(v) for k, v in app["environment"].items()}}
        assert host_port(env["OTEL_EXPORTER_OTLP_ENDPOINT"])[0] == "otel-collector"
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{self.grpc}"  # the Collector's place
        for key in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
            host, port = host_port(env[key])
            env[key] = env[key].replace(f"{host}:{port}", f"127.0.0.1:{self.provider_port}")
        env["OTEL_BSP_SCHEDULE_DELAY"] = "100"
        r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-3000:]

    def send_unpriced_call(self) -> None:
        provider = sdk_tracer(f"127.0.0.1:{self.grpc}", service="demo-assistant")
        tracer = provider.get_tracer("nightly-batch")
        tags = {
            "costline.feature": "search",
            "costline.customer_id": "acme",
            "costline.plan": "enterprise",
            "costline.environment": "demo",
            "costline.team": "assistant",
        }
        with tracer.start_as_current_span("POST /reindex", attributes=tags):
            tracer.start_span(
                f"chat {UNPRICED_MODEL}",
                attributes={
                    **tags,
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "acme",
                    "gen_ai.request.model": UNPRICED_MODEL,
                    "gen_ai.usage.input_tokens": 1200,
                    "gen_ai.usage.output_tokens": 80,
                },
            ).end()
        provider.shutdown()

    def wave(self) -> float:
        """Run one round of traffic; return once Prometheus has scraped all of it."""
        self.run_app()
        self.send_unpriced_call()
        total, stable_since, deadline = None, time.monotonic(), time.monotonic() + 30
        while time.monotonic() < deadline:  # costline has assembled every trace when its count stops moving
            now = sum(s.value for f in self.families() if f.name == "costline_llm_calls" for s in f.samples)
            if now != total:
                total, stable_since = now, time.monotonic()
            elif time.monotonic() - stable_since > 1.0:
                break
            time.sleep(0.1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            res = self.query("sum(costline_llm_calls_total)")
            if res and float(res[0]["value"][1]) == total:
                time.sleep(1.5)  # one more scrape, so the newest samples are not the window's edge
                return total
            time.sleep(0.2)
        raise AssertionError(f"Prometheus never saw {total} calls")

    # -- reading --------------------------------------------------------------------------
    def exposition(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics}/metrics", timeout=10) as r:
            return r.read().decode()

    def families(self):
        return list(text_string_to_metric_families(self.exposition()))

    def query(self, expr: str) -> list[dict]:
        url = f"http://127.0.0.1:{self.prom_port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            body = http_json(url)
        except urllib.error.HTTPError as e:
            raise AssertionError(f"Prometheus refused {expr!r}: {e.read().decode()}") from None
        assert body["status"] == "success", body
        return body["data"]["result"]

    def ledger_rows(self) -> list[dict]:
        deadline = time.monotonic() + 10
        while True:
            with sqlite3.connect(self.ledger) as db:
                db.row_factory = sqlite3.Row
                rows = [dict(r) for r in db.execute("SELECT * FROM costline_calls")]
            if rows or time.monotonic() > deadline:
                return rows
            time.sleep(0.2)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if shutil.which("prometheus") is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus missing: ./dev test installs Debian's prometheus")
        pytest.skip("prometheus is not installed: apt-get install prometheus")
    s = Stack(tmp_path_factory.mktemp("stack"))
    try:
        s.up()
        first = s.wave()
        second = s.wave()
        assert second == 2 * first, "the two rounds are identical"
        yield s
    finally:
        s.down()


@pytest.fixture(scope="module")
def exposed(stack) -> dict[str, set[str]]:
    """Metric name as Prometheus stores it -> label names, from costline's /metrics."""
    out: dict[str, set[str]] = {}
    for f in stack.families():
        for s in f.samples:
            out.setdefault(s.name, set()).update(s.labels)
    return out


@pytest.fixture(scope="module")
def truth(stack) -> dict[str, set]:
    """What the ledger (not the metrics) says the label values are."""
    rows = stack.ledger_rows()
    priced = [r for r in rows if r["cost_usd"] is not None]
    tags = lambda r, k: json.loads(r["tags"]).get(k) or "untagged"
    return {
        "feature": {tags(r, "feature") for r in priced},
        "customer_id": {tags(r, "customer_id") for r in priced} - {"untagged"},
        "plan": {tags(r, "plan") for r in priced},
        "agent": {r["agent_path"] for r in priced if r["agent_path"]},
        "provider_model": {(r["provider"], r["model"]) for r in priced},
        "unpriced": {(r["status"], r["model"]) for r in rows if r["cost_usd"] is None},
    }


def test_every_query_names_metrics_and_labels_costline_exposes(exposed):
    assert {
        "costline_cost_usd_total",
        "costline_tokens_total",
        "costline_llm_calls_total",
        "costline_unpriced_calls_total",
    } <= set(exposed)
    queries = [(p["title"], t["expr"]) for p, t in dm.prometheus_targets()]
    queries += [(f"variable {n}", v["query"]) for n, v in dm.variables().items() if v["type"] == "query"]
    for where, expr in queries:
        metrics, grouping = dm.names_in(expr)
        if expr.startswith("label_values("):
            metric, label = (x.strip() for x in expr[len("label_values(") : -1].split(","))
            metrics, grouping = {metric: set()}, {label}
        assert metrics, where
        for metric, labels in metrics.items():
            assert metric in exposed, f"{where}: {metric} is not something costline exposes"
            assert labels <= exposed[metric], f"{where}: {metric} has no label {labels - exposed[metric]}"
        assert all(any(g in exposed[m] for m in metrics) for g in grouping), f"{where}: grouping by {grouping}"


def test_the_variables_find_their_values(stack):
    for name, want in ONE.items():
        q = dm.variables()[name]["query"]
        metric = q[len("label_values(") :].split(",")[0]
        url = f"http://127.0.0.1:{stack.prom_port}/api/v1/label/{name}/values?" + urllib.parse.urlencode(
            {"match[]": metric}
        )
        assert want in http_json(url)["data"], (name, q)


def evaluate(stack, values: dict[str, str]) -> dict[tuple[str, str], list[dict]]:
    out = {}
    for panel, t in dm.prometheus_targets():
        out[(panel["title"], t["refId"])] = stack.query(dm.substitute(t["expr"], values))
    return out


def test_every_query_returns_data_with_all_values_selected(stack, truth):
    results = evaluate(stack, ALL)
    for (title, ref), result in results.items():
        assert result, f"{title} ({ref}) returned nothing"
        for series in result:
            v = float(series["value"][1])
            assert math.isfinite(v) and v > 0, (title, ref, series)

    def labels(title, ref="A", *keys):
        return {
            tuple(s["metric"].get(k) for k in keys) if len(keys) > 1 else s["metric"].get(keys[0])
            for s in results[(title, ref)]
        }

    assert labels("Top 10 features", "A", "feature") == truth["feature"]
    assert labels("Spend by feature (USD per hour, stacked)", "A", "feature") == truth["feature"]
    assert labels("Top 10 customers", "A", "customer_id") == truth["customer_id"]
    assert labels("Spend and cost per active customer, by plan", "A", "plan") == truth["plan"]
    assert labels("Spend and cost per active customer, by plan", "B", "plan") == truth["plan"] - {"untagged"}
    assert labels("Spend by model and provider", "A", "provider", "model") == truth["provider_model"]
    assert labels("Cost per agent step", "A", "agent") == truth["agent"]
    assert labels("Unpriced calls", "A", "reason", "model") == truth["unpriced"] == {("unknown_model", UNPRICED_MODEL)}
    share = float(results[("Untagged share of spend", "A")][0]["value"][1])
    assert 0 < share < 1
    assert {s["metric"]["type"] for s in results[("Tokens per minute, by type", "A")]} >= {"input", "output"}


def test_every_query_runs_with_one_value_selected(stack):
    results = evaluate(stack, ONE)
    untagged_panels = {"Untagged spend", "Untagged share of spend", "Untagged spend (USD per hour)"}
    for (title, ref), result in results.items():
        if title in untagged_panels:
            continue  # the demo's untagged requests carry no environment or team either
        assert result, f"{title} ({ref}) returned nothing for {ONE}"
        for series in result:
            for name, value in ONE.items():
                assert series["metric"].get(name, value) == value


def test_prometheus_evaluates_the_shipped_alert_rules(stack):
    deadline = time.monotonic() + 15
    while True:
        groups = http_json(f"http://127.0.0.1:{stack.prom_port}/api/v1/rules")["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        if (rules and all(r.get("health") == "ok" for r in rules)) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert {g["name"] for g in groups} == {"costline-spend", "costline-trends", "costline-hygiene", "costline-health"}
    assert rules and all(r.get("health") == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]


def test_trace_links_use_attributes_costline_writes_with_their_types(stack):
    spans = stack.sink.spans()
    assert spans
    seen: dict[str, set[str]] = {}
    for s in spans:
        for kv in s.raw.attributes:
            seen.setdefault(kv.key, set()).add(kv.value.WhichOneof("value"))
    unpriced = [s for s in spans if s.attributes.get("costline.cost.status") == "unknown_model"]
    assert unpriced, "the unpriced call carries its reason"
    for where, query in dm.all_traceql():
        for attr, kinds in traceql.parse(query).attributes.items():
            key = attr.split(".", 1)[1]
            assert key in seen, f"{where}: costline never wrote {key}"
            if "number" in kinds:
                assert seen[key] <= {"double_value", "int_value"}, (
                    f"{where}: {key} is {seen[key]}, compared as a number"
                )
            if "string" in kinds:
                assert seen[key] == {"string_value"}, f"{where}: {key} is {seen[key]}, compared as a string"
    roots = [s for s in spans if not s.parent_span_id and s.attributes.get("costline.rollup.cost_usd")]
    assert roots, "root spans carry the rollup the 'most expensive traces' query reads"
