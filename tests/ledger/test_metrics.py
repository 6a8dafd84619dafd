"""MetricsSink: exact exposed names, values equal to the test's own sums, bounded labels."""

from __future__ import annotations

import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from costline_processor.ledger import open_ledger, open_reader, reports
from costline_processor.metrics import MetricsSink
from tests.ledger import dataset
from tests.ledger.dataset import SPEC, TOTAL, cost_where
from tests.ledger.factory import make_row
from tests.ledger.metrics_scrape import samples, scrape, total

CENT = Decimal("0.01")


@pytest.fixture
def sink():
    s = MetricsSink()
    yield s
    s.close()


def test_exposed_names_and_values(sink):
    rows = dataset.rows()
    sink.write(rows)
    _, port = sink.serve("127.0.0.1", 0)
    text = scrape(port)
    got = samples(text)
    for name in (
        "costline_cost_usd_total",
        "costline_tokens_total",
        "costline_llm_calls_total",
        "costline_unpriced_calls_total",
    ):
        assert name in got, f"{name} not exposed; got {sorted(got)}"
        assert any(line.startswith(name + "{") for line in text.splitlines())
    assert not [
        n
        for n in got
        if n.startswith("costline_")
        and n
        not in {
            "costline_cost_usd_total",
            "costline_tokens_total",
            "costline_llm_calls_total",
            "costline_unpriced_calls_total",
            "costline_cost_usd_created",
            "costline_tokens_created",
            "costline_llm_calls_created",
            "costline_unpriced_calls_created",
        }
    ]
    cost = got["costline_cost_usd_total"]
    assert abs(total(cost) - TOTAL) < Decimal("1e-9")
    for feature in ("chat", "summarize", "search", "untagged"):
        assert abs(total(cost, feature=feature) - cost_where(lambda s: (s[2] or "untagged") == feature)) < Decimal(
            "1e-9"
        )
    assert total(got["costline_llm_calls_total"]) == len(SPEC)
    assert total(got["costline_unpriced_calls_total"], reason="unknown_model", model="mystery-model") == 1
    tokens = got["costline_tokens_total"]
    assert total(tokens, type="input") == sum(1000 + i for i in range(len(SPEC)))
    assert total(tokens, type="reasoning") == sum(2 * i for i in range(len(SPEC)))
    labels = cost[0][0]
    assert set(labels) == {"feature", "customer_id", "model", "provider", "environment", "team", "agent"}
    assert total(cost, agent="support/answer") == Decimal("0.120")


def test_ledger_and_metrics_agree_to_the_cent(ledger_url, sink):
    rows = [
        make_row(str(Decimal("0.000137") * (i % 17 + 1)), tags={"feature": f"f{i % 5}", "customer_id": f"c{i % 3}"})
        for i in range(2000)
    ]
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write(rows)
    sink.write(rows)
    w.close(10)
    _, port = sink.serve("127.0.0.1", 0)
    cost = samples(scrape(port))["costline_cost_usd_total"]
    with open_reader(ledger_url) as r:
        groups, grand = reports.aggregate(r.rows(), ["feature"])
    expected = sum((Decimal("0.000137") * (i % 17 + 1) for i in range(2000)), Decimal(0))
    assert grand.cost_usd == expected
    assert total(cost).quantize(CENT) == grand.cost_usd.quantize(CENT)
    for (feature,), t in groups.items():
        assert total(cost, feature=feature).quantize(CENT) == t.cost_usd.quantize(CENT)
        assert abs(total(cost, feature=feature) - t.cost_usd) < Decimal("1e-9")


def test_cardinality_is_bounded_with_other():
    sink = MetricsSink(["customer_id"], max_label_values=2, allowed={"customer_id": ["big"]})
    try:
        rows = [make_row("1", tags={"customer_id": c}) for c in ("a", "big", "b", "c", "d", "a")] + [
            make_row("1", tags={})
        ]
        sink.write(rows)
        _, port = sink.serve("127.0.0.1", 0)
        calls = samples(scrape(port))["costline_llm_calls_total"]
        by = {labels["customer_id"]: v for labels, v in calls}
        assert by == {"big": 1, "a": 2, "other": 3, "untagged": 1}
    finally:
        sink.close()


def test_close_is_idempotent_and_stops_the_endpoint():
    sink = MetricsSink()
    _, port = sink.serve("127.0.0.1", 0)
    sink.close()
    sink.close()
    with pytest.raises(OSError):
        scrape(port)


def test_otlp_push_over_http():
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            req = ExportMetricsServiceRequest()
            req.ParseFromString(body)
            received.append((self.path, req))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()
            self.wfile.write(b"")

        def log_message(self, *a):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        sink = MetricsSink(
            ["feature"],
            otlp_endpoint=f"http://127.0.0.1:{server.server_port}",
            otlp_protocol="http",
            otlp_interval_s=3600,
        )
        sink.write([make_row("0.25", tags={"feature": "a"}), make_row("0.50", tags={"feature": "a"})])
        sink.close()  # shutdown pushes the final export
    finally:
        server.shutdown()
    assert received and received[0][0] == "/v1/metrics"
    metrics = {m.name: m for rm in received[-1][1].resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    cost = metrics["costline.cost_usd"]
    assert cost.unit == "{USD}"
    assert abs(Decimal(repr(sum(p.as_double for p in cost.sum.data_points))) - Decimal("0.75")) < Decimal("1e-12")
    assert sum(p.as_int for p in metrics["costline.llm_calls"].sum.data_points) == 2
