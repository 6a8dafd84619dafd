"""A call shared among owners (issue #17) on /metrics: each owner's series gets its part, never the JSON text.

The expected figures are the test's own: published prices times tokens, split by weight in Decimal."""

from __future__ import annotations

import time
from decimal import Decimal

import grpc

from costline.instrumentation.shared_tags import encode
from costline_processor.metrics import MetricsSink
from tests.ledger.metrics_scrape import samples, scrape, total
from tests.processor.harness import RunningServer, loopback_config
from tests.processor.spans import llm, new_trace_id, request, span

TRACE_PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
M = Decimal(1_000_000)
PRICE_IN, PRICE_OUT = Decimal("0.15"), Decimal("0.60")  # gpt-4o-mini's published prices per million tokens
FLOAT = Decimal("1e-15")  # a float's rounding of a cost under $1, and the femto-dollar the split rounds to


def test_a_served_call_shared_three_to_one_counts_in_each_owner_series():
    customers = encode("customer_id", {"acme": 3, "globex": 1})
    assert customers == '{"acme":3,"globex":1}'
    metrics = MetricsSink()
    _, port = metrics.serve("127.0.0.1", 0)
    try:
        with RunningServer(loopback_config(trace_wait=0.1), sinks=[metrics]) as srv:
            with grpc.insecure_channel(srv.grpc_endpoint) as ch:
                export = ch.unary_unary(TRACE_PATH, request_serializer=None, response_deserializer=None)
                t = new_trace_id()
                root = span(t, "POST /chat", costline__customer_id=customers, costline__feature="chat")
                call = llm(t, root, model="gpt-4o-mini", input_tokens=12_345, output_tokens=1_001)
                export(request([root, call]).SerializeToString(), timeout=10)
            deadline = time.monotonic() + 10
            while not samples(scrape(port)).get("costline_cost_usd_total") and time.monotonic() < deadline:
                time.sleep(0.05)
            got = samples(scrape(port))
    finally:
        metrics.close()
    cost = (12_345 * PRICE_IN + 1_001 * PRICE_OUT) / M
    costs = {labels["customer_id"]: v for labels, v in got["costline_cost_usd_total"]}
    assert set(costs) == {"acme", "globex"}  # no series labelled with the JSON text
    assert abs(costs["acme"] - cost * 3 / 4) <= FLOAT
    assert abs(costs["globex"] - cost / 4) <= FLOAT
    assert abs(costs["acme"] + costs["globex"] - cost) <= FLOAT
    tokens = got["costline_tokens_total"]
    # integers, split exactly: trunc(12345 * 3/4) = 9258 to acme, the rest to globex
    assert total(tokens, type="input", customer_id="acme") == 9258
    assert total(tokens, type="input", customer_id="globex") == 12_345 - 9258
    assert total(tokens, type="output", customer_id="acme") == 750
    assert total(tokens, type="output", customer_id="globex") == 251
    calls = {labels["customer_id"]: v for labels, v in got["costline_llm_calls_total"]}
    assert calls == {"acme": Decimal("0.75"), "globex": Decimal("0.25")}
    assert all(labels["feature"] == "chat" for labels, _ in got["costline_cost_usd_total"])
