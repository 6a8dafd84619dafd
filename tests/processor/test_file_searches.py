"""File searches a provider runs for a call are billed per search on top of its tokens.

OpenAI's pricing page, built-in tools: "File search tool call $2.50 / 1k tool calls" (plus file
storage by the GB-day, which is no call's cost); GPT-4.1 $2 / $8 per million input / output tokens,
cached input $0.50. genai-prices 0.2.3 lists the rate as `storage_searches_kcount` for OpenAI's
models. Before, costline read neither count nor rate: a gpt-4.1-mini call of 2,000 tokens in and
150 out that ran one file search cost $0.00104 and costline said $0.00104 when the bill was
$0.00354, no caveat. A model without a price for them is billed its tokens and says so.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from costline_processor import normalize
from costline_processor.config import ConfigError, PricingConfig
from costline_processor.price_caveats import FILE_SEARCHES_UNPRICED
from costline_processor.pricing import Pricer
from costline_processor.records import Usage
from tests.processor.costs import mtok, priced
from tests.processor.served import billed_twin, focus_rows, opened_old_ledger, repriced, served

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
    exported, row, ledger = served(tmp_path, "gpt-4.1", costline__usage__file_searches=2)
    billed = mtok("2", 6_000) + mtok("8", 400) + 2 * PER_FILE_SEARCH
    assert exported.attributes["costline.cost.usd"] == float(billed)
    assert (row.file_searches, row.web_searches, row.cost_usd) == (2, 0, billed)
    assert repriced(ledger, capsys) == (0, billed)
    assert focus_rows(ledger, capsys, "file_search") == [("2", "Searches", 2 * PER_FILE_SEARCH)]


def test_a_schema_8_ledger_gets_no_file_searches_for_its_calls(tmp_path):
    """An older ledger is brought up to schema 9 in place; its calls ran no file search costline knew of."""
    from costline_processor.ledger import schema

    row, version = opened_old_ledger(tmp_path, "8")
    assert row.file_searches == 0 and row.cost_usd == Decimal("0.01")
    assert version == schema.SCHEMA_VERSION


def test_the_billed_twin_takes_the_file_searches_costline_counted():
    """costline's OpenAI span and another library's span of the same response: whichever is billed, the file
    searches costline's span counted are billed with it."""
    rows = billed_twin("gpt-4.1", "resp_07", costline__usage__file_searches=1)
    assert [r.file_searches for r in rows] == [1]
    assert rows[0].cost_usd == mtok("2", 6_000) + mtok("8", 400) + PER_FILE_SEARCH
