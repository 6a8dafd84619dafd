"""File searches a provider runs for a call are billed per search on top of its tokens.

OpenAI's pricing page, built-in tools: "File search tool call $2.50 / 1k tool calls" (plus file
storage by the GB-day, which is no call's cost); GPT-4.1 $2 / $8 per million input / output tokens,
cached input $0.50. genai-prices 0.2.3 lists the rate as `storage_searches_kcount` for OpenAI's
models. Before, costline read neither count nor rate: a gpt-4.1-mini call of 2,000 tokens in and
150 out that ran one file search cost $0.00104 and costline said $0.00104 when the bill was
$0.00354, no caveat. A model without a price for them is billed its tokens and says so.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

from costline_processor import normalize
from costline_processor.config import ConfigError, PricingConfig
from costline_processor.price_caveats import FILE_SEARCHES_UNPRICED
from costline_processor.pricing import Pricer
from costline_processor.records import Usage
from tests.processor.costs import NOV, mtok, priced
from tests.processor.harness import assemble_scopes

PER_FILE_SEARCH = Decimal("2.50") / 1000  # OpenAI's published price
PER_WEB_SEARCH = Decimal(10) / 1000


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer(PricingConfig())


def test_openai_file_searches_cost_two_fifty_a_thousand_on_top_of_the_tokens(pricer):
    cost = priced(pricer, "gpt-4.1", "openai", Usage(6_000, 400, cache_read_tokens=2_000, file_searches=2))
    tokens = mtok("2", 4_000) + mtok("0.50", 2_000) + mtok("8", 400)
    assert cost.total_usd == tokens + 2 * PER_FILE_SEARCH == Decimal("0.0172")
    assert cost.input_usd == mtok("2", 4_000) + 2 * PER_FILE_SEARCH  # a fee, under input as other fees are
    assert cost.input_usd + cost.output_usd + cost.cache_read_usd + cost.cache_write_usd == cost.total_usd
    assert cost.caveat is None and cost.list_usd == cost.total_usd
    assert cost.skus is not None and cost.skus[-1] == ("file_search", 2, 2 * PER_FILE_SEARCH, 2 * PER_FILE_SEARCH)
    assert sum(s[2] for s in cost.skus) == cost.total_usd


def test_file_and_web_searches_of_one_call_are_each_billed(pricer):
    cost = priced(pricer, "gpt-4.1-mini", "openai", Usage(2_000, 150, web_searches=1, file_searches=1))
    assert cost.total_usd == mtok("0.40", 2_000) + mtok("1.60", 150) + PER_WEB_SEARCH + PER_FILE_SEARCH
    assert cost.skus is not None and [s[:3] for s in cost.skus[-2:]] == [
        ("web_search", 1, PER_WEB_SEARCH),
        ("file_search", 1, PER_FILE_SEARCH),
    ]


def test_a_model_without_a_file_search_price_bills_its_tokens_and_says_so(pricer):
    cost = priced(pricer, "claude-sonnet-4-5", "anthropic", Usage(1_000, 200, file_searches=3))
    assert cost.total_usd == mtok("3", 1_000) + mtok("15", 200)
    assert cost.caveat == FILE_SEARCHES_UNPRICED
    assert cost.skus is not None and cost.skus[-1] == ("file_search", 3, Decimal(0), Decimal(0))


def test_a_price_file_prices_file_searches_and_keeps_the_list_price_beside(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  - {provider: openai, model: gpt-4.1, input: 1.6, output: 6.4, file_search: 0.002}\n")
    cost = priced(Pricer(PricingConfig(prices_file=str(path))), "gpt-4.1", "openai", Usage(1_000, 100, file_searches=5))
    assert cost.total_usd == mtok("1.6", 1_000) + mtok("6.4", 100) + 5 * Decimal("0.002")
    assert cost.list_usd == mtok("2", 1_000) + mtok("8", 100) + 5 * PER_FILE_SEARCH
    assert cost.skus is not None and cost.skus[-1] == ("file_search", 5, 5 * Decimal("0.002"), 5 * PER_FILE_SEARCH)


def test_a_price_file_file_search_price_over_a_model_without_one_is_its_list_price_too(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text(
        "models:\n  - {provider: anthropic, model: claude-sonnet-4-5, input: 3, output: 15, file_search: 0.004}\n"
    )
    cost = priced(
        Pricer(PricingConfig(prices_file=str(path))),
        "claude-sonnet-4-5",
        "anthropic",
        Usage(1_000, 100, file_searches=1),
    )
    assert cost.total_usd == cost.list_usd == mtok("3", 1_000) + mtok("15", 100) + Decimal("0.004")
    assert cost.caveat is None


def test_a_file_search_price_alone_is_refused(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  - {provider: acme, model: searcher, file_search: 0.01}\n")
    with pytest.raises(ConfigError, match="names no price"):
        Pricer(PricingConfig(prices_file=str(path)))


OPENAI_SPAN = {
    "gen_ai.provider.name": "openai",
    "gen_ai.operation.name": "chat",
    "gen_ai.response.model": "gpt-4.1",
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 80,
}


def test_costline_spans_carry_the_count_and_a_bad_one_is_invalid_usage_not_zero():
    call = normalize.normalize_span({**OPENAI_SPAN, "costline.usage.file_searches": 2}, span_name="chat")
    assert call is not None and call.status is None and call.usage is not None
    assert (call.usage.file_searches, call.usage.web_searches, call.usage.input_tokens) == (2, 0, 1200)
    bad = normalize.normalize_span({**OPENAI_SPAN, "costline.usage.file_searches": -1}, span_name="chat")
    assert bad is not None and bad.status == "invalid_usage" and "file_searches" in (bad.detail or "")


def test_a_file_search_count_alone_is_no_call_of_zero_tokens():
    attrs = {k: v for k, v in OPENAI_SPAN.items() if "usage" not in k}
    call = normalize.normalize_span({**attrs, "costline.usage.file_searches": 1}, span_name="chat")
    assert call is not None and call.status == "no_usage"


def test_served_calls_keep_their_file_searches_in_the_ledger_reprice_and_focus(tmp_path, capsys):
    """Over OTLP into `costline serve`: the ledger keeps each call's file searches (schema 9), so `reprice`
    bills them again and FOCUS shows them as a SKU of their own."""
    from costline_processor.cli import main
    from costline_processor.ledger import open_reader
    from costline_processor.server import open_sinks
    from tests.fakes.otlp_sink import OtlpSink
    from tests.processor.harness import RunningServer, loopback_config
    from tests.processor.spans import llm, new_trace_id, request
    from tests.processor.test_receive import raw_grpc

    t = new_trace_id()
    spans = [llm(t, None, "gpt-4.1", 6_000, 400, "openai", start=NOV, costline__usage__file_searches=2)]
    with OtlpSink() as sink:
        cfg = loopback_config(sink, trace_wait=0.2)
        cfg.ledger = str(tmp_path / "ledger.db")
        with RunningServer(cfg, sinks=open_sinks(cfg)) as srv:
            raw_grpc(srv.grpc_endpoint, request(spans).SerializeToString())
            exported = sink.wait_for_spans(1)
    billed = mtok("2", 6_000) + mtok("8", 400) + 2 * PER_FILE_SEARCH
    assert exported[0].attributes["costline.cost.usd"] == float(billed)
    with open_reader(cfg.ledger) as r:
        (row,) = list(r.rows())
    assert (row.file_searches, row.web_searches, row.cost_usd) == (2, 0, billed)
    window = ["--since", "2026-11-01", "--until", "2026-12-01", "--ledger", cfg.ledger]
    assert main(["reprice", *window, "--format", "json", "--apply"]) == 0
    out = json.loads(capsys.readouterr().out, parse_float=Decimal)
    assert sum(g["changed_calls"] for g in out) == 0 and sum(g["new_cost_usd"] for g in out) == billed
    assert main(["export", *window]) == 0
    focus = [r for r in csv.DictReader(io.StringIO(capsys.readouterr().out)) if r["SkuId"].endswith("file_search")]
    assert [(r["ConsumedQuantity"], r["ConsumedUnit"], Decimal(r["BilledCost"])) for r in focus] == [
        ("2", "Searches", 2 * PER_FILE_SEARCH)
    ]


def test_a_schema_8_ledger_gets_no_file_searches_for_its_calls(tmp_path):
    """An older ledger is brought up to schema 9 in place; its calls ran no file search costline knew of."""
    import sqlite3

    from costline_processor.ledger import open_ledger, open_reader, schema
    from tests.ledger.factory import make_row

    path = str(tmp_path / "old.db")
    w = open_ledger(path, flush_interval_s=0.02)
    w.write([make_row("0.01")])
    w.close(10)
    conn = sqlite3.connect(path)
    for column in schema.COLUMNS[len(schema.columns_of("8")) :]:  # version 9's and later
        conn.execute(f"ALTER TABLE {schema.TABLE} DROP COLUMN {column[0]}")
    conn.execute("UPDATE costline_meta SET value = '8' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with open_reader(path) as r:
        (row,) = list(r.rows())
    assert row.file_searches == 0 and row.cost_usd == Decimal("0.01")
    version = sqlite3.connect(path).execute("SELECT value FROM costline_meta WHERE key = 'schema_version'").fetchone()
    assert version == (schema.SCHEMA_VERSION,)


def test_the_billed_twin_takes_the_file_searches_costline_counted():
    """costline's OpenAI span and another library's span of the same response: whichever is billed, the file
    searches costline's span counted are billed with it."""
    from tests.processor.spans import llm, new_trace_id, span

    t = new_trace_id()
    root = span(t, "POST /ask", start=NOV)
    other = llm(t, root, "gpt-4.1", 6_000, 400, "openai", start=NOV, gen_ai__response__id="resp_07")
    ours = llm(
        t,
        root,
        "gpt-4.1",
        6_000,
        400,
        "openai",
        start=NOV,
        gen_ai__response__id="resp_07",
        costline__usage__file_searches=1,
    )
    a, _ = assemble_scopes(
        [("test", [root]), ("opentelemetry.instrumentation.openai_v2", [other]), ("costline", [ours])]
    )
    assert [r.file_searches for r in a.rows] == [1]
    assert a.rows[0].cost_usd == mtok("2", 6_000) + mtok("8", 400) + PER_FILE_SEARCH
