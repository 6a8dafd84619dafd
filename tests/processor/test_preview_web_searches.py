"""OpenAI's web_search_preview searches are billed at the preview tool's price, which depends on the model.

OpenAI's pricing page, built-in tools (and OpenAI staff in
https://community.openai.com/t/search-web-using-openai-api/1363698): web search (the GA `web_search`
tool) $10 per 1,000 calls on any model, search content tokens at the model's rates; web search preview
on reasoning models (gpt-5, o-series) $10 per 1,000, content tokens at the model's rates; web search
preview on non-reasoning models (gpt-4o, gpt-4.1 and their minis) $25 per 1,000, content tokens free.
Token prices per million from the same page: gpt-4o $2.50 in, $1.25 cached, $10 out; gpt-4o-mini $0.15 /
$0.60; gpt-4.1 $2 / $8; gpt-4.1-mini $0.40 / $1.60; gpt-5 $1.25 / $10; o3 $2 / $8; o4-mini $1.10 / $4.40.
Before, costline priced every OpenAI web search at genai-prices' $10 per 1,000: a gpt-4o call of 1,000
tokens in, 100 out and one preview search cost $0.0135 where the bill is $0.0285 ($0.015 short), no caveat.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from costline_processor import normalize
from costline_processor.config import ConfigError, PricingConfig
from costline_processor.price_caveats import (
    PREVIEW_WEB_SEARCHES_BY_RULE,
    PREVIEW_WEB_SEARCHES_UNPRICED,
    WEB_SEARCH_BLOCK_UNKNOWN,
)
from costline_processor.pricing import Pricer
from costline_processor.records import Usage
from tests.processor.costs import mtok, priced
from tests.processor.served import billed_twin, focus_rows, opened_old_ledger, repriced, served

PER_PREVIEW_SEARCH = Decimal(25) / 1000  # non-reasoning models
PER_WEB_SEARCH = Decimal(10) / 1000  # the GA tool on any model; the preview tool on reasoning models


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer(PricingConfig())


NON_REASONING = [  # (model, input, output per million)
    ("gpt-4o", "2.50", "10"),
    ("gpt-4o-2024-08-06", "2.50", "10"),
    ("gpt-4o-mini", "0.15", "0.60"),
    ("gpt-4.1", "2", "8"),
    ("gpt-4.1-mini", "0.40", "1.60"),
]
REASONING = [("gpt-5", "1.25", "10"), ("o3", "2", "8"), ("o4-mini", "1.10", "4.40")]


@pytest.mark.parametrize("model, r_in, r_out", NON_REASONING)
def test_a_preview_search_on_a_non_reasoning_model_costs_twenty_five_a_thousand(pricer, model, r_in, r_out):
    cost = priced(pricer, model, "openai", Usage(1_000, 100, preview_web_searches=2))
    assert cost.total_usd == mtok(r_in, 1_000) + mtok(r_out, 100) + 2 * PER_PREVIEW_SEARCH
    assert cost.input_usd == mtok(r_in, 1_000) + 2 * PER_PREVIEW_SEARCH  # a fee, under input as other fees are
    assert cost.caveat == PREVIEW_WEB_SEARCHES_BY_RULE and cost.list_usd == cost.total_usd
    assert cost.skus is not None and cost.skus[-1] == ("web_search_preview", 2, Decimal("0.05"), Decimal("0.05"))
    assert sum(s[2] for s in cost.skus) == cost.total_usd


def test_a_gpt_4o_call_with_a_cache_hit_is_billed_to_the_cent_and_below(pricer):
    """$0.028: before, $0.013 (the search at $0.01), $0.015 short."""
    cost = priced(pricer, "gpt-4o", "openai", Usage(1_000, 100, cache_read_tokens=400, preview_web_searches=1))
    bill = mtok("2.50", 600) + mtok("1.25", 400) + mtok("10", 100) + Decimal("0.025")
    assert cost.total_usd == bill == Decimal("0.028")


@pytest.mark.parametrize("model, r_in, r_out", REASONING)
def test_a_preview_search_on_a_reasoning_model_stays_ten_a_thousand(pricer, model, r_in, r_out):
    cost = priced(pricer, model, "openai", Usage(1_000, 100, preview_web_searches=1))
    assert cost.total_usd == mtok(r_in, 1_000) + mtok(r_out, 100) + PER_WEB_SEARCH
    assert cost.caveat == PREVIEW_WEB_SEARCHES_BY_RULE
    assert cost.skus is not None and cost.skus[-1] == ("web_search_preview", 1, PER_WEB_SEARCH, PER_WEB_SEARCH)


@pytest.mark.parametrize("model, r_in, r_out", NON_REASONING[:1] + REASONING[:1])
def test_a_ga_web_search_stays_ten_a_thousand_unmarked(pricer, model, r_in, r_out):
    cost = priced(pricer, model, "openai", Usage(1_000, 100, web_searches=1))
    assert cost.total_usd == mtok(r_in, 1_000) + mtok(r_out, 100) + PER_WEB_SEARCH and cost.caveat is None


@pytest.mark.parametrize("model, r_in, r_out", [("gpt-4o-mini", "0.15", "0.60"), ("gpt-4.1-mini", "0.40", "1.60")])
def test_a_ga_search_on_the_minis_is_marked_for_the_fixed_block_not_billed_it(pricer, model, r_in, r_out):
    """The pricing page: these two bill a GA web search a fixed 8,000 input tokens. Whether their usage counts
    them is not documented: costline bills the usage as reported and says the block may be beside it."""
    cost = priced(pricer, model, "openai", Usage(1_000, 100, web_searches=1))
    assert cost.total_usd == mtok(r_in, 1_000) + mtok(r_out, 100) + PER_WEB_SEARCH
    assert cost.caveat == WEB_SEARCH_BLOCK_UNKNOWN
    preview = priced(pricer, model, "openai", Usage(1_000, 100, preview_web_searches=1))  # content free: no block
    assert preview.caveat == PREVIEW_WEB_SEARCHES_BY_RULE
    assert priced(pricer, model, "openai", Usage(1_000, 100)).caveat is None


def test_ga_and_preview_searches_of_one_call_are_each_billed(pricer):
    cost = priced(pricer, "gpt-4.1-mini", "openai", Usage(2_000, 150, web_searches=1, preview_web_searches=1))
    assert cost.total_usd == mtok("0.40", 2_000) + mtok("1.60", 150) + PER_WEB_SEARCH + PER_PREVIEW_SEARCH
    assert cost.caveat == f"{PREVIEW_WEB_SEARCHES_BY_RULE},{WEB_SEARCH_BLOCK_UNKNOWN}"
    assert cost.skus is not None and [s[:3] for s in cost.skus[-2:]] == [
        ("web_search", 1, PER_WEB_SEARCH),
        ("web_search_preview", 1, PER_PREVIEW_SEARCH),
    ]


def test_another_providers_preview_count_is_unpriced_and_said(pricer):
    cost = priced(pricer, "claude-sonnet-4-5", "anthropic", Usage(1_000, 200, preview_web_searches=1))
    assert cost.total_usd == mtok("3", 1_000) + mtok("15", 200)
    assert cost.caveat == PREVIEW_WEB_SEARCHES_UNPRICED


def test_a_price_file_prices_preview_searches_and_keeps_the_rules_price_as_list(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  - {provider: openai, model: gpt-4o, input: 2, output: 8, web_search_preview: 0.02}\n")
    cost = priced(
        Pricer(PricingConfig(prices_file=str(path))), "gpt-4o", "openai", Usage(1_000, 100, preview_web_searches=3)
    )
    assert cost.total_usd == mtok("2", 1_000) + mtok("8", 100) + 3 * Decimal("0.02")
    assert cost.list_usd == mtok("2.50", 1_000) + mtok("10", 100) + 3 * PER_PREVIEW_SEARCH
    assert cost.caveat is None  # the file's own price, not the rule's
    assert cost.skus is not None and cost.skus[-1] == ("web_search_preview", 3, Decimal("0.06"), 3 * PER_PREVIEW_SEARCH)


def test_a_price_file_without_a_preview_price_keeps_the_rules(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  - {provider: openai, model: gpt-4o, input: 2, output: 8, web_search: 0.008}\n")
    cost = priced(
        Pricer(PricingConfig(prices_file=str(path))), "gpt-4o", "openai", Usage(1_000, 100, preview_web_searches=1)
    )
    assert cost.total_usd == mtok("2", 1_000) + mtok("8", 100) + PER_PREVIEW_SEARCH
    assert cost.caveat == PREVIEW_WEB_SEARCHES_BY_RULE


def test_a_preview_price_alone_is_refused(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  - {provider: acme, model: searcher, web_search_preview: 0.01}\n")
    with pytest.raises(ConfigError, match="names no price"):
        Pricer(PricingConfig(prices_file=str(path)))


def test_prices_show_says_the_preview_price_and_its_rule(capsys):
    from costline_processor.cli import main

    assert main(["prices", "show", "gpt-4o", "--provider", "openai", "--at", "2026-11-01"]) == 0
    out = capsys.readouterr().out
    assert "per web search: $0.01\n" in out
    assert main(["prices", "show", "gpt-4o-mini", "--provider", "openai", "--at", "2026-11-01"]) == 0
    assert f"per web search: $0.01 (caveat {WEB_SEARCH_BLOCK_UNKNOWN}: https://" in capsys.readouterr().out
    assert f"per web search preview: $0.025 (caveat {PREVIEW_WEB_SEARCHES_BY_RULE}: https://" in out


OPENAI_SPAN = {
    "gen_ai.provider.name": "openai",
    "gen_ai.operation.name": "chat",
    "gen_ai.response.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 80,
}


def test_costline_spans_carry_the_count_and_a_bad_one_is_invalid_usage_not_zero():
    call = normalize.normalize_span({**OPENAI_SPAN, "costline.usage.preview_web_searches": 2}, span_name="chat")
    assert call is not None and call.status is None and call.usage is not None
    assert (call.usage.preview_web_searches, call.usage.web_searches, call.usage.input_tokens) == (2, 0, 1200)
    bad = normalize.normalize_span({**OPENAI_SPAN, "costline.usage.preview_web_searches": -1}, span_name="chat")
    assert bad is not None and bad.status == "invalid_usage" and "preview_web_searches" in (bad.detail or "")


def test_a_preview_count_alone_is_no_call_of_zero_tokens():
    attrs = {k: v for k, v in OPENAI_SPAN.items() if "usage" not in k}
    call = normalize.normalize_span({**attrs, "costline.usage.preview_web_searches": 1}, span_name="chat")
    assert call is not None and call.status == "no_usage"


def test_served_calls_keep_their_preview_searches_in_the_ledger_reprice_and_focus(tmp_path, capsys):
    """Over OTLP into `costline serve`: the ledger keeps each call's preview searches (schema 10), so `reprice`
    bills them again at the preview price and FOCUS shows them as a SKU of their own."""
    exported, row, ledger = served(tmp_path, "gpt-4o", costline__usage__preview_web_searches=2)
    billed = mtok("2.50", 6_000) + mtok("10", 400) + 2 * PER_PREVIEW_SEARCH
    assert exported.attributes["costline.cost.usd"] == float(billed)
    assert exported.attributes["costline.price.caveat"] == PREVIEW_WEB_SEARCHES_BY_RULE
    assert (row.preview_web_searches, row.web_searches, row.cost_usd) == (2, 0, billed)
    assert repriced(ledger, capsys) == (0, billed)
    assert focus_rows(ledger, capsys, "web_search_preview") == [("2", "Searches", 2 * PER_PREVIEW_SEARCH)]


def test_a_schema_9_ledger_gets_no_preview_searches_for_its_calls(tmp_path):
    """An older ledger is brought up to schema 10 in place; its calls' preview searches, if any, were counted as
    web searches then, and stay so."""
    row, version = opened_old_ledger(tmp_path, "9")
    assert row.preview_web_searches == 0 and row.cost_usd == Decimal("0.01")
    assert version == "10"


def test_the_billed_twin_takes_the_preview_searches_costline_counted():
    """costline's OpenAI span and another library's span of the same response: whichever is billed, the preview
    searches costline's span counted are billed with it."""
    rows = billed_twin("gpt-4o", "resp_08", costline__usage__preview_web_searches=1)
    assert [r.preview_web_searches for r in rows] == [1]
    assert rows[0].cost_usd == mtok("2.50", 6_000) + mtok("10", 400) + PER_PREVIEW_SEARCH
