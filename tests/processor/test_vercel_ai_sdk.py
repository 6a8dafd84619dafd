"""The Vercel AI SDK as a JS app runs it (tests/js/vercel_ai.js; versions pinned in tests/js/package.json):
its own OpenTelemetry spans, exported by OpenTelemetry JS to a real costline, from real calls through
@ai-sdk/openai and @ai-sdk/anthropic to the fake provider (chat, Responses, a stream, reasoning, embeddings,
Anthropic with thinking, 5-minute and 1-hour cache writes, its web search tool), attributed by its telemetry metadata. Each model call is billed once (on its
ai.*.doGenerate / doStream span, never again on the ai.generateText span that repeats its usage), at the
providers' published prices, computed here from the usage the SDK itself received. Skips without node
and npm (./dev installs the packages into .js-senders: TEST_JS_SENDERS).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from decimal import Decimal
from pathlib import Path

from costline_processor.demo.fake_provider import FakeProvider
from costline_processor.server import open_sinks
from tests.fakes.otlp_sink import OtlpSink
from tests.processor.harness import RunningServer, loopback_config
from tests.processor.test_js_sender import _senders

SCRIPT = Path(__file__).resolve().parents[1] / "js" / "vercel_ai.js"
M = Decimal(1_000_000)
# Published list prices, USD per million tokens.
GPT_4O_MINI = {"in": Decimal("0.15"), "cached": Decimal("0.075"), "out": Decimal("0.60")}
O3_MINI = {"in": Decimal("1.10"), "cached": Decimal("0.55"), "out": Decimal("4.40")}  # reasoning billed as output
EMBED_3_SMALL = Decimal("0.02")
SONNET_45 = {
    "in": Decimal("3"),
    "read": Decimal("0.30"),
    "5m": Decimal("3.75"),
    "1h": Decimal("6"),
    "out": Decimal("15"),
}
ANTHROPIC_SEARCH = Decimal(10) / 1000  # platform.claude.com, web search tool: $10 per 1,000 searches


def _openai(raw: dict, price: dict = GPT_4O_MINI) -> Decimal:
    """OpenAI reports input with its cached part inside (chat: prompt_tokens; responses: input_tokens), output
    with its reasoning inside."""
    total = raw.get("prompt_tokens", raw.get("input_tokens"))
    cached = (raw.get("prompt_tokens_details") or raw.get("input_tokens_details"))["cached_tokens"]
    out = raw.get("completion_tokens", raw.get("output_tokens"))
    return ((total - cached) * price["in"] + cached * price["cached"] + out * price["out"]) / M


def _expected(call: dict) -> Decimal:
    name, raw = call["call"], call["raw"]
    if name.startswith("anthropic"):
        return _anthropic(raw)
    if name == "openai embeddings":
        return raw["tokens"] * EMBED_3_SMALL / M
    return _openai(raw, O3_MINI if name == "openai reasoning" else GPT_4O_MINI)


def _anthropic(raw: dict) -> Decimal:
    """Anthropic reports input without its cache reads and writes; writes split by TTL."""
    writes = raw["cache_creation"]
    billed = raw["input_tokens"] * SONNET_45["in"] + raw["cache_read_input_tokens"] * SONNET_45["read"]
    billed += (
        writes["ephemeral_5m_input_tokens"] * SONNET_45["5m"] + writes["ephemeral_1h_input_tokens"] * SONNET_45["1h"]
    )
    searches = (raw.get("server_tool_use") or {}).get("web_search_requests", 0)
    return (billed + raw["output_tokens"] * SONNET_45["out"]) / M + searches * ANTHROPIC_SEARCH


def test_each_vercel_ai_sdk_call_is_billed_once_at_published_prices(tmp_path):
    senders = _senders()
    with FakeProvider() as fake, OtlpSink() as sink:
        cfg = loopback_config(sink, trace_wait=0.2)
        cfg.ledger = str(tmp_path / "ledger.db")
        with RunningServer(cfg, sinks=open_sinks(cfg)) as srv:
            done = subprocess.run(
                ["node", str(SCRIPT), f"{srv.http_url}/v1/traces", fake.base_url.rstrip("/")],
                env={**os.environ, "NODE_PATH": str(senders / "node_modules")},
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            calls = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
            spans = sink.wait_for_spans(18)  # nine calls: ai.generateText (streamText, embedMany) and its step
    want = {c["call"]: _expected(c) for c in calls}
    assert len(want) == 9
    searched = next(c["raw"] for c in calls if c["call"] == "anthropic web search")
    assert searched["server_tool_use"]["web_search_requests"] == 2  # the fake ran the tool's maxUses
    assert calls[-1]["raw"]["cache_creation"]["ephemeral_1h_input_tokens"] > 0  # the 1-hour writes are there
    billed = sorted(
        Decimal(str(s.attributes["costline.cost.usd"])) for s in spans if "costline.cost.usd" in s.attributes
    )
    assert len(billed) == 9  # one span per call carries its cost
    db = sqlite3.connect(cfg.ledger)
    try:
        rows = db.execute("SELECT span_name, cost_usd, cache_write_1h_tokens FROM costline_calls").fetchall()
        searches = sorted(n for (n,) in db.execute("SELECT web_searches FROM costline_calls"))
        tags = [json.loads(t) for (t,) in db.execute("SELECT tags FROM costline_calls")]
    finally:
        db.close()
    assert sorted(Decimal(c) for _, c, _ in rows) == sorted(want.values())
    assert searches == [0] * 8 + [2]  # read from the Anthropic provider metadata, billed at $0.01 each
    assert all(t["feature"] == "support" and t["customer_id"] == "acme" for t in tags)  # telemetry metadata
    assert {name for name, _, _ in rows} == {
        "ai.generateText.doGenerate",
        "ai.streamText.doStream",
        "ai.embedMany.doEmbed",
    }
    assert sorted(h for _, _, h in rows)[-1] == calls[-1]["raw"]["cache_creation"]["ephemeral_1h_input_tokens"]
    assert [float(b) for b in billed] == sorted(float(w) for w in want.values())
