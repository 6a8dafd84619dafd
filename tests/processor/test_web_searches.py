"""Web searches a provider runs for a call are billed per search on top of its tokens.

Anthropic's web search tool: "$10 per 1,000 searches, plus standard token costs"
(https://platform.claude.com/docs/en/agents-and-tools/tool-use/web-search-tool, Pricing);
Claude Sonnet 4.5: $3 / $15 per million input / output tokens. Expected costs are computed
here from those figures; OpenAI's, where this file has no page of its own, are checked
against genai_prices.calc_price. A call whose model has no price per search is billed its
tokens and says so (`web_searches_unpriced`), never silently as if no search ran.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import genai_prices
import pytest
from genai_prices import types as gp

from costline_processor import normalize
from costline_processor.config import ConfigError, PricingConfig
from costline_processor.price_caveats import WEB_SEARCHES_UNPRICED
from costline_processor.pricing import Pricer
from costline_processor.records import Cost, ModelCall, Usage
from tests.processor.costs import NOV, mtok, priced
from tests.processor.harness import assemble_scopes

PER_SEARCH = Decimal(10) / 1000  # Anthropic's published price


def sonnet_with_file(tmp_path, prices_yaml: str, usage: Usage) -> Cost:
    """A Claude Sonnet 4.5 call priced with a price file of this text."""
    path = tmp_path / "prices.yaml"
    path.write_text(prices_yaml)
    return priced(Pricer(PricingConfig(prices_file=str(path))), "claude-sonnet-4-5", "anthropic", usage)


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer(PricingConfig())


def test_anthropic_searches_cost_ten_dollars_a_thousand_on_top_of_the_tokens(pricer):
    cost = priced(pricer, "claude-sonnet-4-5", "anthropic", Usage(12_000, 800, web_searches=3))
    tokens = mtok("3", 12_000) + mtok("15", 800)
    assert cost.total_usd == tokens + 3 * PER_SEARCH == Decimal("0.078")
    assert cost.input_usd == mtok("3", 12_000) + 3 * PER_SEARCH  # a fee, booked under input as per-call fees are
    assert cost.input_usd + cost.output_usd + cost.cache_read_usd + cost.cache_write_usd == cost.total_usd
    assert cost.caveat is None and cost.list_usd == cost.total_usd
    assert cost.skus is not None and cost.skus[-1] == ("web_search", 3, 3 * PER_SEARCH, 3 * PER_SEARCH)
    assert sum(s[2] for s in cost.skus) == cost.total_usd


def test_the_same_call_without_searches_costs_only_its_tokens(pricer):
    cost = priced(pricer, "claude-sonnet-4-5", "anthropic", Usage(12_000, 800))
    assert cost.total_usd == mtok("3", 12_000) + mtok("15", 800) and cost.skus is None


def test_openai_searches_at_genai_prices_rate(pricer):
    usage = Usage(5_000, 300, cache_read_tokens=1_000, web_searches=2)
    cost = priced(pricer, "gpt-4o", "openai", usage)
    when = datetime(2026, 11, 1, 12, tzinfo=UTC)
    their = genai_prices.calc_price(
        gp.Usage(input_tokens=5_000, output_tokens=300, cache_read_tokens=1_000, web_searches=2),
        "gpt-4o",
        provider_id="openai",
        genai_request_timestamp=when,
    )
    assert cost.total_usd == their.total_price
    assert cost.skus is not None and cost.skus[-1][:2] == ("web_search", 2) and cost.skus[-1][2] > 0


def test_a_model_without_a_search_price_bills_its_tokens_and_says_so(pricer):
    cost = priced(pricer, "claude-3-haiku-20240307", "anthropic", Usage(1_000, 200, web_searches=2))
    assert cost.total_usd == mtok("0.25", 1_000) + mtok("1.25", 200)
    assert cost.caveat == WEB_SEARCHES_UNPRICED
    assert cost.skus is not None and cost.skus[-1] == ("web_search", 2, Decimal(0), Decimal(0))


def test_a_price_file_prices_searches_and_keeps_the_list_price_beside(tmp_path):
    cost = sonnet_with_file(
        tmp_path,
        "models:\n  - {provider: anthropic, model: claude-sonnet-4-5, input: 2.4, output: 12, web_search: 0.008}\n",
        Usage(1_000, 100, 0, 0, web_searches=5),
    )
    assert cost.total_usd == mtok("2.4", 1_000) + mtok("12", 100) + 5 * Decimal("0.008")
    assert cost.list_usd == mtok("3", 1_000) + mtok("15", 100) + 5 * PER_SEARCH
    assert cost.skus is not None and cost.skus[-1] == ("web_search", 5, 5 * Decimal("0.008"), 5 * PER_SEARCH)


def test_a_price_file_entry_without_a_search_price_takes_the_list_one(tmp_path):
    cost = sonnet_with_file(
        tmp_path,
        "models:\n  - {provider: anthropic, model: claude-sonnet-4-5, input: 2.4, output: 12}\n",
        Usage(1_000, 100, web_searches=1),
    )
    assert cost.total_usd == mtok("2.4", 1_000) + mtok("12", 100) + PER_SEARCH and cost.caveat is None


def test_a_discount_applies_to_the_searches_too(tmp_path):
    cost = sonnet_with_file(
        tmp_path, "discounts:\n  - {provider: anthropic, discount: 0.2}\n", Usage(1_000, 100, web_searches=4)
    )
    listed = mtok("3", 1_000) + mtok("15", 100) + 4 * PER_SEARCH
    assert cost.total_usd == listed * Decimal("0.8") and cost.list_usd == listed


def test_a_reported_cost_keeps_the_searches_as_a_sku_of_their_own(pricer):
    """A provider's own figure (here half the list price, as a reseller might bill) is split like the computed
    cost, SKU by SKU too: without that, FOCUS showed no Web Searches row and put the searches' money under
    Input Tokens (a list unit price of $5.50 per million input tokens for $3)."""
    usage = Usage(12_000, 800, web_searches=3)
    call = ModelCall("semconv", model="claude-sonnet-4-5", provider="anthropic", usage=usage)
    call.reported_cost_usd = Decimal("0.039")  # list: 0.036 + 0.012 + 0.03 = 0.078
    cost = pricer.price(call, NOV, 10**9)
    assert isinstance(cost, Cost) and cost.source == "reported" and cost.total_usd == Decimal("0.039")
    half = Decimal("0.5")
    assert cost.skus == (
        ("input", 12_000, mtok("3", 12_000) * half, mtok("3", 12_000) * half),
        ("output", 800, mtok("15", 800) * half, mtok("15", 800) * half),
        ("web_search", 3, 3 * PER_SEARCH * half, 3 * PER_SEARCH * half),
    )
    assert sum(s[2] for s in cost.skus) == cost.total_usd and sum(s[3] for s in cost.skus) == cost.list_usd


def test_a_reported_cost_by_sku_adds_up_to_it_whatever_the_ratio(pricer):
    usage = Usage(1_234, 567, 89, 10, cache_write_1h_tokens=10, web_searches=7)
    call = ModelCall("semconv", model="claude-sonnet-4-5", provider="anthropic", usage=usage)
    call.reported_cost_usd = Decimal("0.0333333333")
    cost = pricer.price(call, NOV, 10**9)
    assert isinstance(cost, Cost) and cost.skus is not None and cost.list_usd is not None
    assert sum(s[2] for s in cost.skus) == cost.total_usd == Decimal("0.0333333333")
    assert sum(s[3] for s in cost.skus) == cost.list_usd
    assert [s[:2] for s in cost.skus][-1] == ("web_search", 7)


def test_a_search_price_alone_is_refused(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  - {provider: acme, model: searcher, web_search: 0.01}\n")
    with pytest.raises(ConfigError, match="names no price"):
        Pricer(PricingConfig(prices_file=str(path)))


def _usage(attrs: dict, scope: str = "") -> Usage | None:
    call = normalize.normalize_span(attrs, scope_name=scope, span_name="chat")
    assert call is not None and call.status is None, call
    return call.usage


def test_costline_spans_carry_the_count():
    attrs = {
        "gen_ai.provider.name": "anthropic",
        "gen_ai.operation.name": "chat",
        "gen_ai.response.model": "claude-sonnet-4-5",
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 80,
        "costline.usage.web_searches": 2,
    }
    usage = _usage(attrs)
    assert usage is not None and usage.web_searches == 2 and usage.input_tokens == 1200


def test_pydantic_ai_anthropic_details_are_read_and_google_queries_are_not():
    base = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "m",
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 10,
        "gen_ai.usage.details.web_search_requests": 3,
    }
    anthropic = _usage({**base, "gen_ai.provider.name": "anthropic"}, "pydantic-ai")
    google = _usage({**base, "gen_ai.provider.name": "google-gla"}, "pydantic-ai")
    billed = _usage(
        {**base, "gen_ai.provider.name": "google-gla", "gen_ai.usage.details.web_searches": 1}, "pydantic-ai"
    )
    assert anthropic is not None and anthropic.web_searches == 3
    assert google is not None and google.web_searches == 0  # queries, not the grounded prompts Gemini 2 bills
    assert billed is not None and billed.web_searches == 1


def test_vercel_anthropic_metadata_is_read():
    attrs = {
        "ai.operationId": "ai.generateText.doGenerate",
        "ai.model.id": "claude-sonnet-4-5",
        "ai.model.provider": "anthropic.messages",
        "ai.usage.inputTokens": 900,
        "ai.usage.outputTokens": 60,
        "ai.usage.inputTokenDetails.noCacheTokens": 900,
        "ai.response.providerMetadata": '{"anthropic":{"usage":{"input_tokens":900,"output_tokens":60,'
        '"server_tool_use":{"web_search_requests":4}}}}',
    }
    usage = _usage(attrs)
    assert usage is not None and usage.web_searches == 4


def test_a_bad_search_count_is_invalid_usage_not_zero():
    attrs = {
        "gen_ai.provider.name": "anthropic",
        "gen_ai.operation.name": "chat",
        "gen_ai.response.model": "claude-sonnet-4-5",
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 80,
        "costline.usage.web_searches": -1,
    }
    call = normalize.normalize_span(attrs, span_name="chat")
    assert call is not None and call.status == "invalid_usage" and "web_searches" in (call.detail or "")


def test_served_calls_keep_their_searches_in_the_ledger_reprice_and_focus(tmp_path, capsys):
    """Over OTLP into `costline serve`: the ledger keeps each call's searches (schema 8), so `reprice` bills
    them again (without the column it would drop $0.03 a call, silently) and FOCUS shows them as a SKU."""
    import csv
    import io
    import json

    from costline_processor.cli import main
    from costline_processor.ledger import open_reader
    from costline_processor.server import open_sinks
    from tests.fakes.otlp_sink import OtlpSink
    from tests.processor.harness import RunningServer, loopback_config
    from tests.processor.spans import llm, new_trace_id, request
    from tests.processor.test_receive import raw_grpc

    t = new_trace_id()
    search = {"model": "claude-sonnet-4-5", "provider": "anthropic", "start": NOV}
    spans = [
        llm(t, None, input_tokens=12_000, output_tokens=800, costline__usage__web_searches=3, **search),
        llm(t, None, input_tokens=1_000, output_tokens=100, **search),
    ]
    with OtlpSink() as sink:
        cfg = loopback_config(sink, trace_wait=0.2)
        cfg.ledger = str(tmp_path / "ledger.db")
        with RunningServer(cfg, sinks=open_sinks(cfg)) as srv:
            raw_grpc(srv.grpc_endpoint, request(spans).SerializeToString())
            exported = sink.wait_for_spans(2)
    searched = mtok("3", 12_000) + mtok("15", 800) + 3 * PER_SEARCH
    plain = mtok("3", 1_000) + mtok("15", 100)
    on_span = {s.span_id: s.attributes for s in exported}[spans[0].span_id.hex()]
    assert on_span["costline.cost.usd"] == float(searched)  # the span's attribute is a double; the ledger exact
    assert on_span["costline.cost.input_usd"] == float(mtok("3", 12_000) + 3 * PER_SEARCH)
    with open_reader(cfg.ledger) as r:
        rows = {row.span_id: row for row in r.rows()}
    first, second = rows[spans[0].span_id.hex()], rows[spans[1].span_id.hex()]
    assert (first.web_searches, first.cost_usd, second.web_searches, second.cost_usd) == (3, searched, 0, plain)
    window = ["--since", "2026-11-01", "--until", "2026-12-01", "--ledger", cfg.ledger]
    assert main(["reprice", *window, "--format", "json", "--apply"]) == 0
    out = json.loads(capsys.readouterr().out, parse_float=Decimal)
    assert sum(g["changed_calls"] for g in out) == 0 and sum(g["new_cost_usd"] for g in out) == searched + plain
    assert main(["export", *window]) == 0
    focus = [r for r in csv.DictReader(io.StringIO(capsys.readouterr().out)) if r["SkuId"].endswith("web_search")]
    assert [(r["ConsumedQuantity"], r["ConsumedUnit"], Decimal(r["BilledCost"])) for r in focus] == [
        ("3", "Searches", 3 * PER_SEARCH)
    ]


def _anthropic_call(t, parent, **extra):
    from tests.processor.spans import llm

    return llm(t, parent, "claude-sonnet-4-5", 12_000, 800, "anthropic", start=NOV, **extra)


def test_searches_on_the_outer_span_of_a_call_are_billed_on_its_leaf():
    """Pydantic AI's `chat` span counts Anthropic's searches; the SDK's own span below it, billed, does not."""
    from tests.processor.spans import new_trace_id

    t = new_trace_id()
    outer = _anthropic_call(t, None, gen_ai__usage__details__web_search_requests=3)
    sdk = _anthropic_call(t, outer, gen_ai__response__id="msg_01")
    a, added = assemble_scopes([("pydantic-ai", [outer]), ("com.anthropic.sdk.python", [sdk])])
    assert [r.span_id for r in a.rows] == [sdk.span_id.hex()]
    assert a.rows[0].web_searches == 3
    assert a.rows[0].cost_usd == mtok("3", 12_000) + mtok("15", 800) + 3 * PER_SEARCH
    assert added[outer.span_id]["costline.cost.status"] == "aggregate_usage"


def test_searches_stay_on_an_outer_span_with_several_calls_below():
    """Two calls below one span that counts searches: which call ran them is not known, so neither takes them."""
    from tests.processor.spans import new_trace_id

    t = new_trace_id()
    outer = _anthropic_call(t, None, costline__usage__web_searches=2)
    calls = [_anthropic_call(t, outer, gen_ai__response__id=f"msg_{i}") for i in range(2)]
    a, _ = assemble_scopes([("test", [outer, *calls])])
    assert sorted(r.web_searches for r in a.rows) == [0, 0] and len(a.rows) == 2
    assert a.searches_unattributed == 2  # counted (web_searches_unattributed) and logged once, never silent
    from costline_processor.assembly.buffer import Flush
    from costline_processor.assembly.tally import Tally
    from costline_processor.stats import Stats

    logged: list = []
    tally, stats = Tally(lambda key, message, *args: logged.append(key), lambda *args: None), Stats()
    tally.add(Flush(t, [], {}, "quiet"), a)
    tally.record(stats)
    assert stats.get("web_searches_unattributed") == 2 and ("web_searches_unattributed",) in logged


def test_searches_on_the_outer_span_go_to_its_call_when_two_libraries_record_that_call():
    """Pydantic AI's `chat` span counts the searches; below it, the Anthropic SDK's span and another library's
    span of the same response (twins: one billed). One call below, so the billed twin takes the searches;
    before, the two spans read as two calls and the searches were billed nowhere ($0.03 short, unmarked)."""
    from tests.processor.spans import new_trace_id

    t = new_trace_id()
    outer = _anthropic_call(t, None, gen_ai__usage__details__web_search_requests=3)
    sdk = _anthropic_call(t, outer, gen_ai__response__id="msg_02")
    other = _anthropic_call(t, outer, gen_ai__response__id="msg_02")
    a, added = assemble_scopes(
        [
            ("pydantic-ai", [outer]),
            ("com.anthropic.sdk.python", [sdk]),
            ("opentelemetry.instrumentation.anthropic", [other]),
        ]
    )
    assert [(r.span_id, r.web_searches) for r in a.rows] == [(sdk.span_id.hex(), 3)]
    assert a.rows[0].cost_usd == mtok("3", 12_000) + mtok("15", 800) + 3 * PER_SEARCH
    assert added[other.span_id]["costline.cost.status"] == "duplicate_call"


def test_twins_bill_the_largest_search_count():
    """Sibling spans of one response id: the SDK's span is billed (first party), with its twin's searches."""
    from tests.processor.spans import new_trace_id, span

    t = new_trace_id()
    root = span(t, "POST /ask", start=NOV)
    sdk = _anthropic_call(t, root, gen_ai__response__id="msg_07")
    other = _anthropic_call(t, root, gen_ai__response__id="msg_07", costline__usage__web_searches=2)
    a, added = assemble_scopes([("test", [root]), ("com.anthropic.sdk.python", [sdk]), ("costline", [other])])
    assert [(r.span_id, r.web_searches) for r in a.rows] == [(sdk.span_id.hex(), 2)]
    assert a.rows[0].cost_usd == mtok("3", 12_000) + mtok("15", 800) + 2 * PER_SEARCH
    assert added[other.span_id]["costline.cost.status"] == "duplicate_call"
