"""Pricer: expected costs are computed here by hand from published per-million-token prices
(and from the test price file's own numbers), then cross-checked against genai_prices.calc_price.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import genai_prices
import pytest

from costline_processor import pricing as pricing_module
from costline_processor import rate_card
from costline_processor.config import ConfigError, PricingConfig
from costline_processor.pricing import Pricer
from costline_processor.records import (
    AGGREGATE,
    INVALID_USAGE,
    NO_MODEL,
    NO_USAGE,
    UNKNOWN_MODEL,
    Cost,
    ModelCall,
    Unpriced,
    Usage,
)

PRICES = Path(__file__).parent.parent / "testdata" / "prices"
LIB = f"genai-prices {genai_prices.__version__}"
NOV = datetime(2026, 11, 1, 12, tzinfo=UTC)  # after the dated tier/batch variants began (Oct 2026)


def ns(when: datetime) -> int:
    return int(when.timestamp()) * 10**9 + when.microsecond * 1000


def mtok(usd_per_million: str, tokens: int) -> Decimal:
    return Decimal(usd_per_million) * tokens / 1_000_000


def call(model, provider=None, usage=None, **kw) -> ModelCall:
    return ModelCall("semconv", model=model, provider=provider, usage=usage, **kw)


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer(PricingConfig())


@pytest.fixture(scope="module")
def file_pricer() -> Pricer:
    return Pricer(PricingConfig(prices_file=str(PRICES / "prices.yaml")))


CACHED_ANTHROPIC = Usage(12000, 400, 10000, 1500, 1000)  # 500 uncached, 500 5m writes, 1000 1h writes
LONG_ANTHROPIC = Usage(250000, 400, 10000, 1500, 1000)  # 238500 uncached: over the 200k tier

# (id, provider, model, usage, tier, batch, when, expected total from published prices)
PUBLISHED = [
    (
        "gpt-4o",
        "openai",
        "gpt-4o",
        Usage(10000, 2000, 4000),
        None,
        False,
        NOV,
        mtok("2.50", 6000) + mtok("1.25", 4000) + mtok("10", 2000),
    ),
    (
        "gpt-4o-mini",
        "openai",
        "gpt-4o-mini-2024-07-18",
        Usage(10000, 2000, 4000),
        None,
        False,
        NOV,
        mtok("0.15", 6000) + mtok("0.075", 4000) + mtok("0.60", 2000),
    ),
    (
        "gpt-5 default",
        "openai",
        "gpt-5",
        Usage(20000, 3000, 8000, 0, 0, 1000),
        "default",
        False,
        NOV,
        mtok("1.25", 12000) + mtok("0.125", 8000) + mtok("10", 3000),
    ),
    (
        "gpt-5 flex",
        "openai",
        "gpt-5",
        Usage(20000, 3000, 8000, 0, 0, 1000),
        "flex",
        False,
        NOV,
        mtok("0.625", 12000) + mtok("0.0625", 8000) + mtok("5", 3000),
    ),
    (
        "gpt-5 priority",
        "openai",
        "gpt-5",
        Usage(20000, 3000, 8000, 0, 0, 1000),
        "priority",
        False,
        NOV,
        mtok("2.50", 12000) + mtok("0.25", 8000) + mtok("20", 3000),
    ),
    (
        "gpt-5 batch",
        "openai",
        "gpt-5",
        Usage(20000, 3000, 8000, 0, 0, 1000),
        None,
        True,
        NOV,
        mtok("0.625", 12000) + mtok("0.0625", 8000) + mtok("5", 3000),
    ),
    ("gpt-4o batch", "openai", "gpt-4o", Usage(10000, 2000), None, True, NOV, mtok("1.25", 10000) + mtok("5", 2000)),
    (
        "o3-mini",
        "openai",
        "o3-mini-2025-01-31",
        Usage(5000, 800, 4096, 0, 0, 512),
        None,
        False,
        NOV,
        mtok("1.10", 904) + mtok("0.55", 4096) + mtok("4.40", 800),
    ),
    (
        "text-embedding-3-small",
        "openai",
        "text-embedding-3-small",
        Usage(50000, 0),
        None,
        False,
        NOV,
        mtok("0.02", 50000),
    ),
    (
        "claude-sonnet-4-5",
        "anthropic",
        "claude-sonnet-4-5-20250929",
        CACHED_ANTHROPIC,
        None,
        False,
        NOV,
        mtok("3", 500) + mtok("0.30", 10000) + mtok("3.75", 500) + mtok("6", 1000) + mtok("15", 400),
    ),
    (
        "claude-sonnet-4-5 >200k",
        "anthropic",
        "claude-sonnet-4-5",
        LONG_ANTHROPIC,
        None,
        False,
        NOV,
        mtok("6", 238500) + mtok("0.60", 10000) + mtok("7.50", 500) + mtok("12", 1000) + mtok("22.50", 400),
    ),
    (
        "claude-3-5-haiku",
        "anthropic",
        "claude-3-5-haiku-20241022",
        CACHED_ANTHROPIC,
        None,
        False,
        NOV,
        mtok("0.80", 500) + mtok("0.08", 10000) + mtok("1", 500) + mtok("1.60", 1000) + mtok("4", 400),
    ),
    (
        "claude-opus-4-1",
        "anthropic",
        "claude-opus-4-1-20250805",
        CACHED_ANTHROPIC,
        None,
        False,
        NOV,
        mtok("15", 500) + mtok("1.50", 10000) + mtok("18.75", 500) + mtok("30", 1000) + mtok("75", 400),
    ),
    (
        "gemini-2.5-pro",
        "google",
        "gemini-2.5-pro",
        Usage(100000, 5000, 20000, 0, 0, 2000),
        None,
        False,
        NOV,
        mtok("1.25", 80000) + mtok("0.125", 20000) + mtok("10", 5000),
    ),
    (
        "gemini-2.5-pro >200k",
        "google",
        "gemini-2.5-pro",
        Usage(300000, 5000, 20000),
        None,
        False,
        NOV,
        mtok("2.50", 280000) + mtok("0.25", 20000) + mtok("15", 5000),
    ),
    (
        "o3 before the 2025-06-10 cut",
        "openai",
        "o3",
        Usage(10000, 2000),
        None,
        False,
        datetime(2025, 6, 9, 23, 59, 59, tzinfo=UTC),
        mtok("10", 10000) + mtok("40", 2000),
    ),
    (
        "o3 from 2025-06-10",
        "openai",
        "o3",
        Usage(10000, 2000),
        None,
        False,
        datetime(2025, 6, 10, 0, 0, 0, tzinfo=UTC),
        mtok("2", 10000) + mtok("8", 2000),
    ),
    # before DeepSeek's 2025-09-05 list (corrections.yaml), when the off-peak discount still ran
    (
        "deepseek-chat peak",
        "deepseek",
        "deepseek-chat",
        Usage(10000, 1000, 4000),
        None,
        False,
        datetime(2025, 8, 1, 1, 0, tzinfo=UTC),
        mtok("0.27", 6000) + mtok("0.07", 4000) + mtok("1.10", 1000),
    ),
    (
        "deepseek-chat off-peak",
        "deepseek",
        "deepseek-chat",
        Usage(10000, 1000, 4000),
        None,
        False,
        datetime(2025, 8, 1, 17, 0, tzinfo=UTC),
        mtok("0.135", 6000) + mtok("0.035", 4000) + mtok("0.55", 1000),
    ),
    (
        "sonar-deep-research prices reasoning apart",
        "perplexity",
        "sonar-deep-research",
        Usage(1000, 5000, 0, 0, 0, 4000),
        None,
        False,
        NOV,
        mtok("2", 1000) + mtok("8", 1000) + mtok("3", 4000),
    ),
    (
        "sonar per-request fee",
        "perplexity",
        "sonar",
        Usage(1000, 500),
        None,
        False,
        NOV,
        mtok("1", 1000) + mtok("1", 500) + Decimal("12") / 1000,
    ),
]

# Extra cases checked only against calc_price.
CROSS_ONLY = [
    ("gemini-2.5-flash", "google", "gemini-2.5-flash", Usage(40000, 900, 10000), None, False, NOV),
    (
        "claude-sonnet-4-6 tiered before 2026-03-13",
        "anthropic",
        "claude-sonnet-4-6",
        LONG_ANTHROPIC,
        None,
        False,
        datetime(2026, 3, 12, tzinfo=UTC),
    ),
    (
        "claude-sonnet-4-6 flat from 2026-03-13",
        "anthropic",
        "claude-sonnet-4-6",
        LONG_ANTHROPIC,
        None,
        False,
        datetime(2026, 3, 13, tzinfo=UTC),
    ),
    ("claude-sonnet-4-5 batch", "anthropic", "claude-sonnet-4-5", CACHED_ANTHROPIC, None, True, NOV),
    (
        "ministral-8b old",
        "mistral",
        "ministral-8b-latest",
        Usage(10000, 1000),
        None,
        False,
        datetime(2025, 1, 1, tzinfo=UTC),
    ),
    ("ministral-8b new", "mistral", "ministral-8b-latest", Usage(10000, 1000, 2000), None, False, NOV),
    ("gpt-4o-2024-05-13", "openai", "gpt-4o-2024-05-13", Usage(10000, 2000), "priority", False, NOV),
    ("azure gpt-4o (fallback to openai)", "azure", "gpt-4o", Usage(10000, 2000, 4000), None, False, NOV),
    ("bedrock haiku", "aws", "anthropic.claude-3-5-haiku-20241022-v1:0", Usage(3000, 100, 1000, 500), None, False, NOV),
    (
        "gpt-5 priority before the variant began",
        "openai",
        "gpt-5",
        Usage(20000, 3000),
        "priority",
        False,
        datetime(2026, 8, 1, tzinfo=UTC),
    ),
]


def _genai_total(provider, model, u: Usage, tier, batch, when) -> Decimal:
    context = {}
    if tier:
        context["service_tier"] = tier
    if batch:
        context["processing"] = "batch"
    usage = genai_prices.Usage(
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cache_read_tokens=u.cache_read_tokens,
        cache_write_tokens=u.cache_write_tokens,
        cache_write_1h_tokens=u.cache_write_1h_tokens,
        output_reasoning_tokens=u.reasoning_tokens,
    )
    result = genai_prices.calc_price(
        usage, model, provider_id=provider, genai_request_timestamp=when, price_context=context or None
    )
    return result.total_price


@pytest.mark.parametrize(
    "provider, model, usage, tier, batch, when, expected", [c[1:] for c in PUBLISHED], ids=[c[0] for c in PUBLISHED]
)
def test_published_prices(pricer, provider, model, usage, tier, batch, when, expected):
    cost = pricer.price(call(model, provider, usage, service_tier=tier, batch=batch), ns(when), 10**9)
    assert isinstance(cost, Cost), cost
    assert cost.total_usd == expected
    assert cost.input_usd + cost.output_usd + cost.cache_read_usd + cost.cache_write_usd == cost.total_usd
    assert cost.source == LIB


@pytest.mark.parametrize(
    "provider, model, usage, tier, batch, when",
    [c[1:7] for c in PUBLISHED + CROSS_ONLY],
    ids=[c[0] for c in PUBLISHED + CROSS_ONLY],
)
def test_matches_genai_prices(pricer, provider, model, usage, tier, batch, when):
    cost = pricer.price(call(model, provider, usage, service_tier=tier, batch=batch), ns(when), 10**9)
    assert abs(cost.total_usd - _genai_total(provider, model, usage, tier, batch, when)) < Decimal("1e-12")


def test_components_of_a_cached_anthropic_call(pricer):
    cost = pricer.price(call("claude-sonnet-4-5", "anthropic", CACHED_ANTHROPIC), ns(NOV), 10**9)
    assert cost.input_usd == Decimal("0.0015")  # 500 uncached x $3
    assert cost.cache_read_usd == Decimal("0.003")  # 10000 x $0.30
    assert cost.cache_write_usd == Decimal("0.007875")  # 500 x $3.75 + 1000 x $6
    assert cost.output_usd == Decimal("0.006")  # 400 x $15
    assert (cost.model, cost.provider) == ("claude-sonnet-4-5", "anthropic")


def test_one_hour_writes_without_a_one_hour_price_use_the_write_price(pricer):
    # regional Bedrock haiku has no 1h price: all 1500 writes at $1
    u = Usage(3000, 100, 1000, 1500, 1000)
    cost = pricer.price(call("anthropic.claude-3-5-haiku-20241022-v1:0", "aws", u), ns(NOV), 10**9)
    assert cost.cache_write_usd == mtok("1", 1500)
    assert cost.input_usd == mtok("0.80", 500)


def test_dated_prices_follow_each_span_through_the_cache(pricer):
    c = call("o3", "openai", Usage(10000, 2000))
    before = pricer.price(c, ns(datetime(2025, 6, 9, 12, tzinfo=UTC)), 0)
    after = pricer.price(c, ns(datetime(2025, 6, 10, 12, tzinfo=UTC)), 0)
    again = pricer.price(c, ns(datetime(2025, 6, 9, 13, tzinfo=UTC)), 0)
    assert (before.total_usd, after.total_usd, again.total_usd) == (Decimal("0.18"), Decimal("0.036"), Decimal("0.18"))


def test_time_of_day_segments_share_a_day(pricer):
    c = call("deepseek-chat", "deepseek", Usage(1_000_000, 0))
    at = lambda h, m: pricer.price(c, ns(datetime(2025, 8, 2, h, m, tzinfo=UTC)), 0).total_usd
    # peak 00:30-16:30 UTC at $0.27, off-peak at $0.135 (until DeepSeek's 2025-09-05 list)
    assert [at(0, 29), at(0, 30), at(16, 29), at(16, 30), at(23, 0)] == [
        Decimal("0.135"),
        Decimal("0.27"),
        Decimal("0.27"),
        Decimal("0.135"),
        Decimal("0.135"),
    ]


def test_unknown_tier_gets_standard_prices(pricer):
    u = Usage(10000, 2000)
    plain = pricer.price(call("gpt-5", "openai", u), ns(NOV), 0)
    scale = pricer.price(call("gpt-5", "openai", u, service_tier="scale"), ns(NOV), 0)
    assert plain.total_usd == scale.total_usd == mtok("1.25", 10000) + mtok("10", 2000)


# --- provider resolution --------------------------------------------------------------------


def test_server_address_corrects_a_generic_provider(pricer):
    # the official OpenAI instrumentation says "openai" for any OpenAI-compatible base URL
    c = call("llama-3.3-70b-versatile", "openai", Usage(10000, 1000), server_address="api.groq.com")
    cost = pricer.price(c, ns(NOV), 0)
    assert (cost.provider, cost.total_usd) == ("groq", mtok("0.59", 10000) + mtok("0.79", 1000))


def test_server_address_alone(pricer):
    c = call("gpt-4o", None, Usage(10000, 0), server_address="myres.openai.azure.com")
    cost = pricer.price(c, ns(NOV), 0)
    assert (cost.provider, cost.total_usd) == ("azure", mtok("2.50", 10000))


def test_model_name_alone(pricer):
    cost = pricer.price(call("claude-3-5-haiku-20241022", None, Usage(1000, 100)), ns(NOV), 0)
    assert (cost.provider, cost.total_usd) == ("anthropic", mtok("0.80", 1000) + mtok("4", 100))


def test_request_model_when_the_response_model_is_unknown(pricer):
    c = call("gpt-4o-mystery-build", "openai", Usage(1000, 0), request_model="gpt-4o")
    assert pricer.price(c, ns(NOV), 0).total_usd == mtok("2.50", 1000)


# --- unpriced -------------------------------------------------------------------------------


def test_unknown_model_is_never_zero(pricer):
    result = pricer.price(
        call("no-such-model-xyz", "acme", Usage(10, 10), server_address="llm.acme.internal"), ns(NOV), 0
    )
    assert isinstance(result, Unpriced) and result.reason == UNKNOWN_MODEL
    assert "no-such-model-xyz" in result.detail and "acme" in result.detail


def test_model_without_token_prices_is_unknown(pricer):
    result = pricer.price(call("whisper-1", "openai", Usage(10, 0)), ns(NOV), 0)
    assert isinstance(result, Unpriced) and result.reason == UNKNOWN_MODEL


@pytest.mark.parametrize(
    "c, reason",
    [
        (call(None, "openai", Usage(10, 10)), NO_MODEL),
        (call("gpt-4o", "openai", None, status=NO_USAGE, detail="stream ended early"), NO_USAGE),
        (call("gpt-4o", "openai", None, status=INVALID_USAGE, detail="x=-1"), INVALID_USAGE),
        (call("gpt-4o", "openai", Usage(10, 10), status=AGGREGATE), AGGREGATE),
        (call("gpt-4o", "openai", None), NO_USAGE),
    ],
    ids=["no-model", "no-usage", "invalid", "aggregate", "usage-none"],
)
def test_unpriced_reasons(pricer, c, reason):
    result = pricer.price(c, ns(NOV), 0)
    assert isinstance(result, Unpriced) and result.reason == reason
    if c.detail:
        assert result.detail == c.detail


# --- reported cost ----------------------------------------------------------------------------


def test_reported_cost_wins_and_is_split_like_the_card(pricer):
    c = call("gpt-4o", "openai", Usage(10000, 2000, 4000), reported_cost_usd=Decimal("0.05"))
    cost = pricer.price(c, ns(NOV), 0)
    # computed: input 0.015, cache read 0.005, output 0.02 (total 0.04), scaled by 0.05 / 0.04
    assert cost.total_usd == Decimal("0.05")
    assert (cost.input_usd, cost.cache_read_usd, cost.output_usd, cost.cache_write_usd) == (
        Decimal("0.01875"),
        Decimal("0.00625"),
        Decimal("0.025"),
        Decimal(0),
    )
    assert (cost.source, cost.model, cost.provider) == ("reported", "gpt-4o", "openai")


def test_reported_cost_for_an_unknown_model(pricer):
    c = call("openrouter/auto", "openrouter", Usage(100, 10), reported_cost_usd=Decimal("0.0007"))
    cost = pricer.price(c, ns(NOV), 0)
    assert cost == Cost(
        Decimal("0.0007"), Decimal(0), Decimal(0), Decimal(0), Decimal(0), "openrouter/auto", "openrouter", "reported"
    )


def test_reported_cost_without_usage(pricer):
    c = call("gpt-4o", "openai", None, status=NO_USAGE, reported_cost_usd=Decimal("0.002"))
    cost = pricer.price(c, ns(NOV), 0)
    assert (cost.total_usd, cost.input_usd, cost.source) == (Decimal("0.002"), Decimal(0), "reported")


def test_reported_split_always_adds_up(pricer):
    c = call("claude-sonnet-4-5", "anthropic", CACHED_ANTHROPIC, reported_cost_usd=Decimal("0.0333333333"))
    cost = pricer.price(c, ns(NOV), 0)
    assert cost.input_usd + cost.output_usd + cost.cache_read_usd + cost.cache_write_usd == Decimal("0.0333333333")


# --- the user price file ----------------------------------------------------------------------


def test_file_source_names_the_file(file_pricer, pricer):
    assert pricer.source == LIB
    assert file_pricer.source == f"{LIB} + prices.yaml"


def test_file_override_wins(file_pricer):
    cost = file_pricer.price(call("gpt-4o", "openai", Usage(10000, 2000, 4000)), ns(NOV), 0)
    assert cost.total_usd == mtok("2.0", 6000) + mtok("1.0", 4000) + mtok("8.0", 2000)
    assert (cost.source, cost.model, cost.provider) == ("prices.yaml", "gpt-4o", "openai")


def test_file_override_needs_its_provider(file_pricer):
    # the gpt-4o entry is for provider openai; Azure's gpt-4o keeps the library price
    cost = file_pricer.price(call("gpt-4o", "azure", Usage(10000, 0)), ns(NOV), 0)
    assert (cost.source, cost.total_usd) == (LIB, mtok("2.50", 10000))


def test_file_prefix_match(file_pricer):
    c = call("ft:gpt-4o-mini-2024-07-18:acme::abc123", "openai", Usage(10000, 1000, 2000))
    cost = file_pricer.price(c, ns(NOV), 0)
    assert cost.total_usd == mtok("0.3", 8000) + mtok("0.15", 2000) + mtok("1.2", 1000)
    assert cost.model == "ft:gpt-4o-mini-2024-07-18:acme::abc123"


def test_file_cache_ttls_and_per_call(file_pricer):
    cost = file_pricer.price(call("claude-house-1", "anthropic", CACHED_ANTHROPIC), ns(NOV), 0)
    assert cost.input_usd == mtok("4", 500) + Decimal("0.001")
    assert cost.cache_write_usd == mtok("5", 500) + mtok("8", 1000)
    assert cost.total_usd == (
        mtok("4", 500) + Decimal("0.001") + mtok("0.4", 10000) + mtok("5", 500) + mtok("8", 1000) + mtok("20", 400)
    )


def test_discount_on_a_provider(file_pricer):
    cost = file_pricer.price(call("claude-sonnet-4-5", "anthropic", CACHED_ANTHROPIC), ns(NOV), 0)
    full = mtok("3", 500) + mtok("0.30", 10000) + mtok("3.75", 500) + mtok("6", 1000) + mtok("15", 400)
    assert cost.total_usd == full * Decimal("0.90")
    assert cost.source == f"{LIB} + prices.yaml"


def test_model_discount_beats_provider_discount(file_pricer):
    cost = file_pricer.price(call("claude-opus-4-1-20250805", "anthropic", CACHED_ANTHROPIC), ns(NOV), 0)
    full = mtok("15", 500) + mtok("1.50", 10000) + mtok("18.75", 500) + mtok("30", 1000) + mtok("75", 400)
    assert cost.total_usd == full * Decimal("0.75")


def test_discount_provider_alias(file_pricer):
    u = Usage(3000, 100)
    cost = file_pricer.price(call("anthropic.claude-3-5-haiku-20241022-v1:0", "aws", u), ns(NOV), 0)
    assert cost.total_usd == (mtok("0.80", 3000) + mtok("4", 100)) * Decimal("0.95")


def test_no_discount_for_other_providers(file_pricer):
    cost = file_pricer.price(call("gemini-2.5-flash", "google", Usage(10000, 1000)), ns(NOV), 0)
    assert (cost.source, cost.total_usd) == (LIB, mtok("0.30", 10000) + mtok("2.50", 1000))


def test_per_second_duration(file_pricer):
    cost = file_pricer.price(call("llama-3.1-8b-local", None, Usage(500, 200)), ns(NOV), 2_500_000_000)
    assert cost.total_usd == Decimal("0.0004") * Decimal("2.5")
    assert cost.input_usd == cost.total_usd and cost.source == "prices.yaml"


def test_gpu_hour_duration(file_pricer):
    cost = file_pricer.price(call("acme/qwen-local-32b", "vllm", Usage(500, 200)), ns(NOV), 90 * 10**9)
    assert cost.total_usd == Decimal("2.5") * 2 * 90 / 3600  # $0.125


def test_per_call(file_pricer):
    cost = file_pricer.price(call("image-gen-local", None, Usage(0, 0)), ns(NOV), 10**9)
    assert cost.total_usd == Decimal("0.04")


@pytest.mark.parametrize(
    "name, words",
    [
        ("bad_unknown_key.yaml", ["bad_unknown_key.yaml", "models[1]", "inptu"]),
        ("bad_negative.yaml", ["bad_negative.yaml", "models[0]", "input"]),
        ("bad_missing_model.yaml", ["bad_missing_model.yaml", "models[0]", "model"]),
        ("bad_discount.yaml", ["bad_discount.yaml", "discounts[0]", "discount"]),
        ("does_not_exist.yaml", ["not found", "does_not_exist.yaml"]),
    ],
)
def test_bad_price_files(name, words):
    with pytest.raises(ConfigError) as err:
        Pricer(PricingConfig(prices_file=str(PRICES / name)))
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize(
    "text, words",
    [
        ("models: [1, 2]", ["models[0]", "mapping"]),
        ("models:\n  - model: m\n    input: abc\n", ["models[0]", "number"]),
        ("models:\n  - model: m\n    input: true\n", ["models[0]", "number"]),
        ("models:\n  - model: m\n", ["models[0]", "no price"]),
        ("models:\n  - model: m\n    match: {starts_with: m}\n    input: 1\n", ["both model and match"]),
        ("models:\n  - match: {regex: m}\n    input: 1\n", ["match"]),
        ("models:\n  - model: m\n    per_second: 1\n    gpu_hour: 1\n", ["per_second and gpu_hour"]),
        ("models:\n  - model: m\n    per_second: 1\n    gpus: 2\n", ["gpus without gpu_hour"]),
        ("models:\n  - model: m\n    gpu_hour: 1\n    gpus: 0\n", ["gpus"]),
        ("discounts:\n  - discount: 0.1\n", ["discounts[0]", "provider"]),
        ("discounts:\n  - provider: openai\n", ["discounts[0]", "discount"]),
        ("prices: []", ["unknown top-level key 'prices'"]),
        ("- just a list", ["mapping"]),
        ("models: {a: 1}", ["list"]),
        ("models:\n  - model: [unclosed\n", ["not valid YAML"]),
    ],
)
def test_bad_price_file_texts(tmp_path, text, words):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        Pricer(PricingConfig(prices_file=str(path)))
    assert str(path) in str(err.value)
    for word in words:
        assert word in str(err.value)


def test_empty_price_file_is_allowed(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert Pricer(PricingConfig(prices_file=str(path))).source == f"{LIB} + empty.yaml"


# --- no network unless asked ------------------------------------------------------------------


def test_no_price_updates_by_default(pricer):
    pricer.price(call("gpt-4o", "openai", Usage(1, 1)), ns(NOV), 0)
    assert not any(t.name == "genai_prices:update" for t in threading.enumerate())
    assert genai_prices.data_snapshot.get_snapshot().from_auto_update is False


def test_network_updates_only_when_allowed(monkeypatch):
    events = []

    class FakeUpdater:
        def start(self):
            events.append("start")

        def stop(self):
            events.append("stop")

    monkeypatch.setattr(pricing_module.genai_prices, "UpdatePrices", FakeUpdater)
    Pricer(PricingConfig())
    assert events == []
    p = Pricer(PricingConfig(allow_network_updates=True))
    p.close()
    assert events == ["start", "stop"]


def test_a_new_snapshot_clears_the_cache(monkeypatch):
    class FakeUpdater:
        def start(self):
            pass

        def stop(self):
            pass

    monkeypatch.setattr(pricing_module.genai_prices, "UpdatePrices", FakeUpdater)
    p = Pricer(PricingConfig(allow_network_updates=True))
    c = call("gpt-4o", "openai", Usage(1_000_000, 0))
    assert p.price(c, ns(NOV), 0).total_usd == Decimal("2.5")
    snapshot = genai_prices.data_snapshot.get_snapshot()
    cheaper = [replace(prov, models=[]) if prov.id == "openai" else prov for prov in snapshot.providers]
    genai_prices.data_snapshot.set_custom_snapshot(genai_prices.data_snapshot.DataSnapshot(cheaper, True))
    try:
        result = p.price(c, ns(NOV), 0)
        assert isinstance(result, Unpriced) and result.reason == UNKNOWN_MODEL
    finally:
        genai_prices.data_snapshot.set_custom_snapshot(None)


def test_usage_that_contradicts_itself_is_not_priced(pricer):
    result = pricer.price(call("gpt-4o", "openai", Usage(100, 10, 200)), ns(NOV), 0)
    assert isinstance(result, Unpriced) and result.reason == INVALID_USAGE


def test_a_span_without_start_time_is_priced_now():
    p = Pricer(PricingConfig(), clock=lambda: ns(datetime(2025, 6, 1, tzinfo=UTC)))
    assert p.price(call("o3", "openai", Usage(10000, 2000)), 0, 0).total_usd == Decimal("0.18")  # the old o3 price


def test_prices_are_resolved_once_per_day_tier_and_batch(monkeypatch):
    resolved = []
    original = genai_prices.types.ModelInfo.get_prices

    def counting(self, when, context=None):
        resolved.append((self.id, when.date(), dict(context or {})))
        return original(self, when, context)

    monkeypatch.setattr(genai_prices.types.ModelInfo, "get_prices", counting)
    p = Pricer(PricingConfig())
    c = call("gpt-4o-mini", "openai", Usage(1000, 100))
    for hour in (1, 5, 23):
        p.price(c, ns(NOV.replace(hour=hour)), 0)
    p.price(c, ns(datetime(2026, 11, 2, 1, tzinfo=UTC)), 0)
    p.price(replace(c, service_tier="priority"), ns(NOV), 0)
    p.price(replace(c, batch=True), ns(NOV), 0)
    p.price(replace(c, usage=Usage(5, 5)), ns(NOV), 0)
    assert resolved == [
        ("gpt-4o-mini", NOV.date(), {}),
        ("gpt-4o-mini", datetime(2026, 11, 2).date(), {}),
        ("gpt-4o-mini", NOV.date(), {"service_tier": "priority"}),
        ("gpt-4o-mini", NOV.date(), {"processing": "batch"}),
    ]


# --- the flat fast path: cards without tiers skip the tier lookup ------------------------------

_FLAT_RATES = (Decimal("3"), Decimal("15"), Decimal("0.30"), Decimal("3.75"), Decimal("6"), None)
_TIERED_RATES = (
    rate_card.Tiered(Decimal("3"), ((200_000, Decimal("6")),)),
    rate_card.Tiered(Decimal("15"), ((200_000, Decimal("22.50")),)),
    rate_card.Tiered(Decimal("0.30"), ((200_000, Decimal("0.60")),)),
    Decimal("3.75"),
    Decimal("6"),
    None,
)


def _tiered_cost_by_the_general_path(card, u, duration_ns):
    """The card priced with every rate looked up for the usage (what a tiered card does), as a flat card."""
    flat = tuple(r.at(u.input_tokens) if isinstance(r, rate_card.Tiered) else r for r in card.rates)
    return replace(card, rates=flat).cost(u, duration_ns)


@pytest.mark.parametrize(
    "usage",
    [
        CACHED_ANTHROPIC,
        Usage(199_999, 10),
        Usage(200_000, 10, 5000, 100),
        Usage(1000, 0),
        Usage(0, 0),
        Usage(10, 10, 20),
    ],
)
def test_flat_and_tiered_cards_agree_below_the_tiers(usage):
    flat = rate_card.RateCard("anthropic", "m", "s", _FLAT_RATES, per_call=Decimal("0.001"), factor=Decimal("0.9"))
    tiered = replace(flat, rates=_TIERED_RATES)
    assert (flat.tiered, tiered.tiered) == (False, True)
    a, b = flat.cost(usage, 0), tiered.cost(usage, 0)
    assert a == b and repr(a) == repr(b)  # the same Decimals, digit for digit
    assert b == _tiered_cost_by_the_general_path(tiered, usage, 0)


def test_a_tiered_card_above_its_tier_uses_the_tier_rates():
    tiered = rate_card.RateCard("anthropic", "m", "s", _TIERED_RATES)
    cost = tiered.cost(LONG_ANTHROPIC, 0)
    assert cost.input_usd == mtok("6", 238500)
    assert cost.output_usd == mtok("22.50", 400)
    assert cost.cache_read_usd == mtok("0.60", 10000)
    assert cost.cache_write_usd == mtok("3.75", 500) + mtok("6", 1000)
    assert cost == _tiered_cost_by_the_general_path(tiered, LONG_ANTHROPIC, 0)


def test_library_cards_know_whether_they_have_tiers():
    pricer = Pricer(PricingConfig())  # its own: one card per model
    cards = {}
    for provider, model in (("anthropic", "claude-sonnet-4-5"), ("openai", "gpt-4o")):
        pricer.price(call(model, provider, Usage(10, 10)), ns(NOV), 0)
        lib = pricer._resolved[(provider, None, model, None)]
        (cards[model],) = lib.cards.values()
    assert cards["claude-sonnet-4-5"].tiered and not cards["gpt-4o"].tiered
    long = pricer.price(call("claude-sonnet-4-5", "anthropic", LONG_ANTHROPIC), ns(NOV), 0)
    assert long.output_usd == mtok("22.50", 400)  # through the tiers: over 200k input


def test_usage_exceeding_its_totals_is_caught_on_either_path():
    bad = Usage(100, 10, 200)  # more cache reads than input
    for rates in (_FLAT_RATES, _TIERED_RATES):
        result = rate_card.RateCard("p", "m", "s", rates).cost(bad, 0)
        assert isinstance(result, Unpriced) and result.reason == INVALID_USAGE
