"""End to end over real OTLP: each dialect's spans priced to the cent, rolled up, tagged.

Expected costs are written out from the providers' published per-million-token prices,
independently of genai-prices and of costline's pricing code.
"""

import math
import time
from decimal import Decimal

import pytest

from tests.fakes.otlp_sink import OtlpSink
from tests.processor.harness import RunningServer, loopback_config, sdk_tracer

M = Decimal(1_000_000)
# Published list prices, USD per million tokens.
GPT_4O = {"in": Decimal("2.50"), "cached": Decimal("1.25"), "out": Decimal("10")}
GPT_4O_PRIORITY = {"in": Decimal("4.25"), "out": Decimal("17")}
GPT_4O_MINI = {"in": Decimal("0.15"), "out": Decimal("0.60")}
O3_MINI = {"in": Decimal("1.10"), "out": Decimal("4.40")}
SONNET_45 = {"in": Decimal("3"), "read": Decimal("0.30"), "write5m": Decimal("3.75"), "out": Decimal("15")}
HAIKU_35 = {"in": Decimal("0.80"), "read": Decimal("0.08"), "out": Decimal("4")}
EMBED_3_SMALL = Decimal("0.02")

CASES = {
    # name: (attributes, expected USD or unpriced reason)
    "semconv-openai-cached": (
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 10_000,
            "gen_ai.usage.cache_read.input_tokens": 4_000,
            "gen_ai.usage.output_tokens": 500,
        },
        (6_000 * GPT_4O["in"] + 4_000 * GPT_4O["cached"] + 500 * GPT_4O["out"]) / M,
    ),
    "deprecated-prompt-completion": (
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": 2_000,
            "gen_ai.usage.completion_tokens": 300,
        },
        (2_000 * GPT_4O_MINI["in"] + 300 * GPT_4O_MINI["out"]) / M,
    ),
    "openllmetry-anthropic-cache": (
        {
            "gen_ai.system": "Anthropic",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "llm.request.type": "chat",
            "gen_ai.usage.input_tokens": 24_000,
            "gen_ai.usage.cache_read_input_tokens": 20_000,
            "gen_ai.usage.cache_creation_input_tokens": 3_000,
            "gen_ai.usage.output_tokens": 400,
        },
        (1_000 * SONNET_45["in"] + 20_000 * SONNET_45["read"] + 3_000 * SONNET_45["write5m"] + 400 * SONNET_45["out"])
        / M,
    ),
    "openlit-anthropic-exclusive": (
        {
            "telemetry.sdk.name": "openlit",
            "gen_ai.system": "anthropic",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens": 1_000,
            "gen_ai.usage.cache_read.input_tokens": 20_000,
            "gen_ai.usage.cache_creation.input_tokens": 3_000,
            "gen_ai.usage.output_tokens": 400,
            "gen_ai.usage.cost": 0.5,
        },
        (1_000 * SONNET_45["in"] + 20_000 * SONNET_45["read"] + 3_000 * SONNET_45["write5m"] + 400 * SONNET_45["out"])
        / M,
    ),
    "openinference-anthropic": (
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "claude-3-5-haiku-20241022",
            "llm.provider": "anthropic",
            "llm.token_count.prompt": 5_000,
            "llm.token_count.prompt_details.cache_read": 1_000,
            "llm.token_count.completion": 200,
            "llm.token_count.total": 5_200,
        },
        (4_000 * HAIKU_35["in"] + 1_000 * HAIKU_35["read"] + 200 * HAIKU_35["out"]) / M,
    ),
    "vercel-dual-emission": (
        {
            "ai.operationId": "ai.generateText.doGenerate",
            "ai.model.id": "gpt-4o-mini",
            "ai.model.provider": "openai.chat",
            "ai.usage.promptTokens": 1_000,
            "ai.usage.completionTokens": 100,
            "gen_ai.system": "openai.chat",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 1_000,
            "gen_ai.usage.output_tokens": 100,
        },
        (1_000 * GPT_4O_MINI["in"] + 100 * GPT_4O_MINI["out"]) / M,
    ),
    "pydantic-ai-dual-cache": (
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 3_000,
            "gen_ai.usage.cache_read.input_tokens": 1_000,
            "gen_ai.usage.details.cache_read_tokens": 1_000,
            "gen_ai.usage.output_tokens": 50,
        },
        (2_000 * GPT_4O["in"] + 1_000 * GPT_4O["cached"] + 50 * GPT_4O["out"]) / M,
    ),
    "reasoning-inside-output": (
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "o3-mini",
            "gen_ai.usage.input_tokens": 1_000,
            "gen_ai.usage.output_tokens": 2_000,
            "gen_ai.usage.reasoning.output_tokens": 1_500,
        },
        (1_000 * O3_MINI["in"] + 2_000 * O3_MINI["out"]) / M,
    ),
    "embeddings": (
        {
            "gen_ai.operation.name": "embeddings",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "text-embedding-3-small",
            "gen_ai.usage.input_tokens": 100_000,
        },
        100_000 * EMBED_3_SMALL / M,
    ),
    "priority-tier": (
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "openai.response.service_tier": "priority",
            "gen_ai.usage.input_tokens": 1_000,
            "gen_ai.usage.output_tokens": 100,
        },
        (1_000 * GPT_4O_PRIORITY["in"] + 100 * GPT_4O_PRIORITY["out"]) / M,
    ),
    "provider-from-server-address": (
        {
            "gen_ai.operation.name": "chat",
            "server.address": "api.openai.com",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 10_000,
            "gen_ai.usage.output_tokens": 1_000,
        },
        (10_000 * GPT_4O_MINI["in"] + 1_000 * GPT_4O_MINI["out"]) / M,
    ),
    "unknown-model": (
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "mystery-model-9000",
            "gen_ai.usage.input_tokens": 1_000,
            "gen_ai.usage.output_tokens": 10,
        },
        "unknown_model",
    ),
    "nan-tokens": (
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": float("nan"),
            "gen_ai.usage.output_tokens": 10,
        },
        "invalid_usage",
    ),
    "negative-tokens": (
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": -5,
            "gen_ai.usage.output_tokens": 10,
        },
        "invalid_usage",
    ),
    "stream-without-usage": (
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "costline.usage.missing": True,
        },
        "no_usage",
    ),
}


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_every_dialect_priced_and_rolled_up(protocol):
    with OtlpSink() as sink, RunningServer(loopback_config(sink, trace_wait=0.3)) as srv:
        endpoint = srv.grpc_endpoint if protocol == "grpc" else srv.http_url
        provider = sdk_tracer(endpoint, protocol, service="support-bot")
        tracer = provider.get_tracer("app")
        with tracer.start_as_current_span(
            "POST /chat", attributes={"costline.feature": "support", "costline.customer_id": "acme"}
        ):
            for name, (attrs, _) in CASES.items():
                tracer.start_span(name, attributes=attrs).end()
        provider.shutdown()
        spans = {s.name: s for s in sink.wait_for_spans(len(CASES) + 1, timeout=15)}

    total = Decimal(0)
    priced = 0
    for name, (_, expected) in CASES.items():
        a = spans[name].attributes
        assert a["costline.feature"] == "support" and a["costline.customer_id"] == "acme", name
        if isinstance(expected, str):
            assert a["costline.cost.status"] == expected, (name, a)
            assert "costline.cost.usd" not in a, name
            continue
        got = a["costline.cost.usd"]
        assert math.isclose(got, float(expected), rel_tol=0, abs_tol=1e-12), (name, got, expected)
        assert a["gen_ai.usage.cost"] == got  # also under the name other backends read
        parts = sum(a[f"costline.cost.{k}_usd"] for k in ("input", "output", "cache_read", "cache_write"))
        assert math.isclose(parts, got, abs_tol=1e-12), name
        assert a["costline.price.source"].startswith("genai-prices")
        total += expected
        priced += 1
    root = spans["POST /chat"].attributes
    assert math.isclose(root["costline.rollup.cost_usd"], float(total), abs_tol=1e-12)
    assert root["costline.rollup.llm_calls"] == priced
    assert "costline.cost.usd" not in root


def test_out_of_order_and_partial_traces():
    """Children arrive before parents in separate requests; a parent that never arrives still flushes."""
    from tests.processor.spans import llm, new_trace_id, request, span
    from tests.processor.test_receive import raw_grpc

    with OtlpSink() as sink, RunningServer(loopback_config(sink, trace_wait=0.5)) as srv:
        t = new_trace_id()
        root = span(t, "root", costline__feature="search", costline__customer_id="globex")
        agent = span(t, "agent", root, gen_ai__operation__name="invoke_agent", gen_ai__agent__name="researcher")
        call = llm(t, agent, model="gpt-4o-mini", input_tokens=10_000, output_tokens=1_000)
        raw_grpc(srv.grpc_endpoint, request([call]).SerializeToString())
        time.sleep(0.1)
        raw_grpc(srv.grpc_endpoint, request([agent]).SerializeToString())
        time.sleep(0.1)
        raw_grpc(srv.grpc_endpoint, request([root]).SerializeToString())
        # a partial trace: its parent is never sent
        t2 = new_trace_id()
        missing_parent = span(t2, "never-sent")
        orphan = llm(t2, missing_parent, model="gpt-4o-mini", input_tokens=1_000, output_tokens=0)
        raw_grpc(srv.grpc_endpoint, request([orphan]).SerializeToString())
        got = {s.span_id: s for s in sink.wait_for_spans(4, timeout=10)}
    expected = (10_000 * GPT_4O_MINI["in"] + 1_000 * GPT_4O_MINI["out"]) / M
    c = got[call.span_id.hex()].attributes
    assert math.isclose(c["costline.cost.usd"], float(expected), abs_tol=1e-12)
    assert c["costline.customer_id"] == "globex" and c["costline.agent.path"] == "researcher"
    assert math.isclose(got[root.span_id.hex()].attributes["costline.rollup.cost_usd"], float(expected), abs_tol=1e-12)
    o = got[orphan.span_id.hex()].attributes
    assert math.isclose(o["costline.cost.usd"], float(1_000 * GPT_4O_MINI["in"] / M), abs_tol=1e-12)
    assert o["costline.customer_id"] == "untagged"  # required tag missing -> default bucket


def test_late_span_after_flush_is_priced_and_tagged():
    from tests.processor.spans import llm, new_trace_id, request, span
    from tests.processor.test_receive import raw_grpc

    with OtlpSink() as sink, RunningServer(loopback_config(sink, trace_wait=0.2)) as srv:
        t = new_trace_id()
        root = span(t, "root", costline__feature="reports", costline__customer_id="initech")
        step = span(t, "summarise", root, costline__step__name="summariser")
        raw_grpc(srv.grpc_endpoint, request([root, step]).SerializeToString())
        sink.wait_for_spans(2)
        late = llm(t, step, model="gpt-4o", input_tokens=2_000, output_tokens=100)
        raw_grpc(srv.grpc_endpoint, request([late]).SerializeToString())
        spans = sink.wait_for_spans(3)
        assert srv.run(lambda: srv.pipeline.buffer.late_spans) == 1
    a = {s.span_id: s for s in spans}[late.span_id.hex()].attributes
    assert a["costline.feature"] == "reports" and a["costline.agent.path"] == "summariser"
    assert math.isclose(a["costline.cost.usd"], float((2_000 * GPT_4O["in"] + 100 * GPT_4O["out"]) / M), abs_tol=1e-12)


def test_calls_arriving_after_their_billed_parent_are_billed_once(tmp_path):
    """A framework span repeating its calls' usage ends and is exported first, its calls come
    after the trace was flushed: the parent was billed (nothing below it was seen), so the
    calls are marked `billed_in_parent`, not billed again, in the ledger or in the spans."""
    import sqlite3

    from costline_processor.server import open_sinks
    from tests.processor.spans import llm, new_trace_id, request
    from tests.processor.test_receive import raw_grpc

    with OtlpSink() as sink:
        cfg = loopback_config(sink, trace_wait=0.2)
        cfg.ledger = str(tmp_path / "ledger.db")
        with RunningServer(cfg, sinks=open_sinks(cfg)) as srv:
            t = new_trace_id()
            parent = llm(
                t, None, model="gpt-4o-mini", input_tokens=10_000, output_tokens=1_000, costline__feature="search"
            )
            raw_grpc(srv.grpc_endpoint, request([parent]).SerializeToString())
            sink.wait_for_spans(1)
            calls = [llm(t, parent, model="gpt-4o-mini", input_tokens=n, output_tokens=500) for n in (4_000, 6_000)]
            raw_grpc(srv.grpc_endpoint, request(calls).SerializeToString())
            got = {s.span_id: s.attributes for s in sink.wait_for_spans(3)}
            counted = srv.run(lambda: (srv.stats.get("calls_billed_in_parent"), srv.stats.get("llm_calls", "priced")))
    expected = (10_000 * GPT_4O_MINI["in"] + 1_000 * GPT_4O_MINI["out"]) / M
    assert math.isclose(got[parent.span_id.hex()]["costline.cost.usd"], float(expected), abs_tol=1e-12)
    for c in calls:
        a = got[c.span_id.hex()]
        assert a["costline.cost.status"] == "billed_in_parent" and "costline.cost.usd" not in a
        assert a["costline.feature"] == "search"
    assert counted == (2, 1)
    db = sqlite3.connect(cfg.ledger)
    try:
        rows = db.execute("SELECT span_id, cost_usd FROM costline_calls").fetchall()
    finally:
        db.close()
    assert [(sid, Decimal(str(usd))) for sid, usd in rows] == [(parent.span_id.hex(), expected)]


def test_memory_bound_flushes_early_and_loses_nothing():
    from tests.processor.spans import new_trace_id, request, span
    from tests.processor.test_receive import raw_grpc

    with OtlpSink() as sink, RunningServer(loopback_config(sink, trace_wait=60, max_traces=5, max_spans=40)) as srv:
        names = []
        for i in range(30):
            t = new_trace_id()
            batch = [span(t, f"t{i}-s{j}") for j in range(3)]
            names += [s.name for s in batch]
            raw_grpc(srv.grpc_endpoint, request(batch).SerializeToString())
        # trace_wait is a minute: only the bound can have flushed these
        sink.wait_for_spans(75, timeout=10)
        assert srv.run(lambda: len(srv.pipeline.buffer)) <= 5
        assert srv.run(lambda: srv.pipeline.buffer.span_count) <= 40
    # shutdown drained the rest
    assert sorted(s.name for s in sink.spans()) == sorted(names)
