"""List price beside the bill (issue 15 item 7): Cost.list_usd and Cost.skus.

Expected figures are computed here from the providers' published per-million-token prices
(openai.com/api/pricing: gpt-4o $2.50 input, $1.25 cached input, $10 output; gpt-4o-mini
$0.15 / $0.075 / $0.60; anthropic.com/pricing: Claude Sonnet 4.5 $3 input, $0.30 cache read,
$3.75 5-minute write, $6 1-hour write, $15 output), not read back from genai-prices.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from costline_processor.config import PricingConfig
from costline_processor.pricing import Pricer
from costline_processor.records import Cost, ModelCall, Usage

NOV = int(datetime(2026, 11, 1, 12, tzinfo=UTC).timestamp()) * 10**9


def mtok(usd: str, tokens: int) -> Decimal:
    return Decimal(usd) * tokens / 1_000_000


def price(pricer: Pricer, model: str, provider: str, usage: Usage, duration_ns: int = 0) -> Cost:
    cost = pricer.price(ModelCall("semconv", model=model, provider=provider, usage=usage), NOV, duration_ns)
    assert isinstance(cost, Cost), cost
    return cost


@pytest.fixture(scope="module")
def plain() -> Pricer:
    return Pricer(PricingConfig())


@pytest.fixture(scope="module")
def contracted(tmp_path_factory) -> Pricer:
    f = tmp_path_factory.mktemp("prices") / "prices.yaml"
    f.write_text(
        "discounts:\n  - provider: openai\n    discount: 0.20\n"
        "models:\n  - provider: anthropic\n    model: claude-sonnet-4-5\n    input: 2.40\n    output: 12\n"
        "  - model: house-llm\n    per_call: 0.001\n"
    )
    return Pricer(PricingConfig(prices_file=str(f)))


def sku_sums(cost: Cost) -> tuple[Decimal, Decimal]:
    return sum((s[2] for s in cost.skus), Decimal(0)), sum((s[3] for s in cost.skus), Decimal(0))


def test_a_call_at_list_price_lists_its_total_and_needs_no_skus(plain):
    cost = price(plain, "gpt-4o", "openai", Usage(10000, 2000, 4000))
    assert cost.total_usd == mtok("2.50", 6000) + mtok("1.25", 4000) + mtok("10", 2000)
    assert cost.list_usd == cost.total_usd and cost.skus is None


def test_a_20_percent_discount_bills_80_percent_of_list(contracted):
    usage = Usage(10000, 2000, 4000)
    cost = price(contracted, "gpt-4o", "openai", usage)
    listed = mtok("2.50", 6000) + mtok("1.25", 4000) + mtok("10", 2000)
    assert cost.list_usd == listed and cost.total_usd == listed * Decimal("0.8")
    assert cost.skus is None  # a uniform discount: the ledger's components are the SKUs


def test_an_override_lists_the_price_it_overrides_sku_by_sku(contracted):
    usage = Usage(12000, 400, 10000, 1500, 1000)  # 500 uncached, 500 5-minute and 1000 1-hour writes
    cost = price(contracted, "claude-sonnet-4-5", "anthropic", usage)
    # the entry's input and output; cache rates it leaves out come from the list price
    billed = mtok("2.40", 500) + mtok("0.30", 10000) + mtok("3.75", 500) + mtok("6", 1000) + mtok("12", 400)
    listed = mtok("3", 500) + mtok("0.30", 10000) + mtok("3.75", 500) + mtok("6", 1000) + mtok("15", 400)
    assert (cost.total_usd, cost.list_usd) == (billed, listed)
    assert {s[0]: s[1:] for s in cost.skus} == {
        "input": (500, mtok("2.40", 500), mtok("3", 500)),
        "cached_input": (10000, mtok("0.30", 10000), mtok("0.30", 10000)),
        "cache_write": (500, mtok("3.75", 500), mtok("3.75", 500)),
        "cache_write_1h": (1000, mtok("6", 1000), mtok("6", 1000)),
        "output": (400, mtok("12", 400), mtok("15", 400)),
    }
    assert sku_sums(cost) == (cost.total_usd, cost.list_usd)


def test_a_whole_call_price_has_no_list_price_below_it(contracted):
    cost = price(contracted, "house-llm", "vllm", Usage(100, 10))
    assert cost.total_usd == cost.list_usd == Decimal("0.001")
    assert cost.skus == (
        ("input", 100, Decimal(0), Decimal(0)),
        ("output", 10, Decimal(0), Decimal(0)),
        ("requests", 1, Decimal("0.001"), Decimal("0.001")),
    )


def test_audio_tokens_are_skus_of_their_own(plain):
    # gpt-realtime-1.5 (developers.openai.com/api/docs/models/gpt-realtime-1.5): text $4 input, $0.40 cached, $16 output; audio $32 input,
    # $0.40 cached, $64 output. 10k input: 7k audio (3k of them cached), 4k cache reads; 3k output: 2.5k audio
    usage = Usage(
        10_000, 3_000, 4_000, audio_input_tokens=7_000, audio_output_tokens=2_500, audio_cache_read_tokens=3_000
    )
    cost = price(plain, "gpt-realtime-1.5", "openai", usage)
    assert {s[0]: s[1:3] for s in cost.skus} == {
        "input": (2_000, mtok("4", 2_000)),
        "cached_input": (1_000, mtok("0.40", 1_000)),
        "output": (500, mtok("16", 500)),
        "audio_input": (4_000, mtok("32", 4_000)),
        "audio_cached_input": (3_000, mtok("0.40", 3_000)),
        "audio_output": (2_500, mtok("64", 2_500)),
    }
    assert sku_sums(cost) == (cost.total_usd, cost.total_usd) and cost.list_usd == cost.total_usd


def test_cache_reads_without_a_cache_rate_stay_input(plain):
    cost = price(plain, "gpt-3.5-turbo", "openai", Usage(1000, 100, 400))
    if cost.skus is not None:  # the data has no cached rate for it: the 400 reads are billed as input
        assert {s[0] for s in cost.skus} == {"input", "output"} and sku_sums(cost)[0] == cost.total_usd
