"""Price-file entries that used to misbill silently (issue 15, item 5) now do what the user means or are
refused at load with one line naming the file, entry and key. Expected costs from the file's own numbers
and the providers' published list prices (sources in test_prices_published.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from costline_processor import pricing as pricing_module
from costline_processor.config import ConfigError, PricingConfig
from costline_processor.pricing import Pricer
from costline_processor.records import ModelCall, Usage

NOV = datetime(2026, 11, 1, 12, tzinfo=UTC)
T = int(NOV.timestamp()) * 10**9
CACHED = Usage(12000, 400, 10000, 1500, 1000)  # 500 uncached, 500 5m writes, 1000 1h writes, 400 out


def usd(per_million: str, tokens: int) -> Decimal:
    return Decimal(per_million) * tokens / 1_000_000


def pricer(tmp_path, text: str) -> Pricer:
    path = tmp_path / "prices.yaml"
    path.write_text(text)
    return Pricer(PricingConfig(prices_file=str(path)))


def cost(p: Pricer, model: str, provider: str | None = None, usage=Usage(10000, 2000, 4000), at: int = T):
    return p.price(ModelCall("semconv", model=model, provider=provider, usage=usage), at, 10**9)


def test_a_family_entry_applies_to_its_dated_snapshots(tmp_path):
    p = pricer(tmp_path, "models:\n  - provider: openai\n    model: gpt-4o\n    input: 2\n    output: 8\n")
    c = cost(p, "gpt-4o-2024-08-06", "openai")
    # the entry's input and output; cached input from OpenAI's list ($1.25), not at the entry's input rate
    assert c.total_usd == usd("2", 6000) + usd("1.25", 4000) + usd("8", 2000)
    assert c.source == f"prices.yaml + genai-prices {pricing_module.genai_prices.__version__}"


def test_an_exact_snapshot_entry_beats_its_family_entry(tmp_path):
    p = pricer(
        tmp_path,
        "models:\n  - model: gpt-4o\n    input: 2\n    output: 8\n"
        "  - model: gpt-4o-2024-08-06\n    input: 1\n    output: 4\n",
    )
    assert cost(p, "gpt-4o-2024-08-06", "openai", Usage(10000, 2000)).total_usd == usd("1", 10000) + usd("4", 2000)


def test_a_family_entry_also_covers_vendor_prefixed_names(tmp_path):
    p = pricer(tmp_path, "models:\n  - model: gpt-4o\n    input: 2\n    output: 8\n")
    assert cost(p, "openai/gpt-4o", None, Usage(10000, 2000)).total_usd == usd("2", 10000) + usd("8", 2000)


def test_missing_output_comes_from_the_list_price(tmp_path):
    p = pricer(tmp_path, "models:\n  - provider: anthropic\n    model: claude-sonnet-4-5\n    input: 2.7\n")
    c = cost(p, "claude-sonnet-4-5-20250929", "anthropic", CACHED)
    # input negotiated; cache reads, both write TTLs and output at Anthropic's list price
    assert c.total_usd == usd("2.7", 500) + usd("0.30", 10000) + usd("3.75", 500) + usd("6", 1000) + usd("15", 400)


def test_missing_one_hour_write_price_comes_from_the_list_price(tmp_path):
    p = pricer(
        tmp_path,
        "models:\n  - model: claude-sonnet-4-5\n    input: 2.7\n    output: 13.5\n"
        "    cache_read: 0.27\n    cache_write: 3.375\n",
    )
    c = cost(p, "claude-sonnet-4-5", "anthropic", CACHED)
    assert c.cache_write_usd == usd("3.375", 500) + usd("6", 1000)  # 1h writes at the list $6, not at $3.375


@pytest.mark.parametrize(
    "entry, key",
    [
        ("  - model: house-llm\n    input: 1\n", "output"),
        ("  - model: house-llm\n    output: 1\n", "input"),
        ("  - model: house-llm\n    input: 1\n    output: 2\n    cache_write: 1.25\n", "cache_write_1h"),
        ("  - match: {starts_with: house-}\n    input: 1\n", "output"),
    ],
)
def test_a_partial_entry_without_a_list_price_is_refused(tmp_path, entry, key):
    with pytest.raises(ConfigError) as err:
        pricer(tmp_path, "models:\n  - model: fine\n    input: 1\n    output: 1\n" + entry)
    message = str(err.value)
    assert "prices.yaml" in message and "models[1]" in message and f"`{key}`" in message
    assert "\n" not in message


def test_whole_call_prices_need_no_token_rates(tmp_path):
    p = pricer(tmp_path, "models:\n  - model: house-llm\n    per_call: 0.01\n")
    assert cost(p, "house-llm").total_usd == Decimal("0.01")


def test_a_discount_reaches_resold_models_only_via(tmp_path):
    direct = pricer(tmp_path, "discounts:\n  - provider: anthropic\n    discount: 0.2\n")
    resold = pricer(tmp_path, "discounts:\n  - provider: anthropic\n    discount: 0.2\n    via: [aws, google]\n")
    bedrock = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    full = usd("3.30", 10000) + usd("16.50", 2000)  # Bedrock regional list price
    assert cost(direct, bedrock, None, Usage(10000, 2000)).total_usd == full
    assert cost(resold, bedrock, None, Usage(10000, 2000)).total_usd == full * Decimal("0.8")
    vertex = cost(resold, "claude-sonnet-4-5@20250929", "gcp.vertex_ai", Usage(10000, 2000))
    assert vertex.total_usd == (usd("3", 10000) + usd("15", 2000)) * Decimal("0.8")
    # via does not discount the reseller's other models
    llama = cost(resold, "us.meta.llama3-3-70b-instruct-v1:0", None, Usage(10000, 2000))
    assert llama.source == f"genai-prices {pricing_module.genai_prices.__version__}"


def test_dated_entries_apply_only_in_their_window(tmp_path):
    p = pricer(
        tmp_path,
        "models:\n  - model: house-llm\n    input: 1\n    output: 2\n    from: 2026-01-01\n"
        "    until: 2026-06-01T12:00:00Z\n  - model: house-llm\n    input: 3\n    output: 4\n",
    )
    at = lambda y, m, d, h=0: int(datetime(y, m, d, h, tzinfo=UTC).timestamp()) * 10**9
    u = Usage(1_000_000, 0)
    assert [
        cost(p, "house-llm", usage=u, at=at(*d)).total_usd
        for d in ((2025, 12, 31, 23), (2026, 1, 1), (2026, 6, 1, 11), (2026, 6, 1, 12))
    ] == [3, 1, 1, 3]


def test_tiers_bill_the_whole_call_above_the_threshold(tmp_path):
    p = pricer(
        tmp_path,
        "models:\n  - model: house-llm\n    input: 1\n    output: 2\n"
        "    tiers: [{above: 100000, input: 2, output: 4}]\n",
    )
    assert cost(p, "house-llm", usage=Usage(100000, 1000)).total_usd == usd("1", 100000) + usd("2", 1000)
    assert cost(p, "house-llm", usage=Usage(100001, 1000)).total_usd == usd("2", 100001) + usd("4", 1000)


@pytest.mark.parametrize(
    "text, words",
    [
        ("models:\n  - model: m\n    input: 1\n    output: 1\n    from: soon\n", ["models[0]", "from"]),
        (
            "models:\n  - model: m\n    input: 1\n    output: 1\n    from: 2026-02-01\n    until: 2026-01-01\n",
            ["until"],
        ),
        (
            "models:\n  - model: m\n    input: 1\n    output: 1\n    tiers: [{above: 0, input: 2}]\n",
            ["tiers[0]", "above"],
        ),
        (
            "models:\n  - model: m\n    input: 1\n    output: 1\n    tiers: [{above: 9, cache_read: 2}]\n",
            ["cache_read"],
        ),
        ("models:\n  - model: m\n    input: 1\n    output: 1\n    tiers: [{above: 9, inptu: 2}]\n", ["inptu"]),
        (
            "discounts:\n  - provider: anthropic\n    discount: 0.1\n    via: aws-bedrokk\n",
            ["discounts[0]", "aws-bedrokk"],
        ),
        ("discounts:\n  - provider: anthropik\n    discount: 0.1\n", ["discounts[0]", "anthropik"]),
    ],
)
def test_schema_errors_name_file_entry_and_key(tmp_path, text, words):
    with pytest.raises(ConfigError) as err:
        pricer(tmp_path, text)
    assert str(tmp_path / "prices.yaml") in str(err.value)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize(
    "text, words",
    [
        (
            "models:\n  - provider: deepseek\n    model: deepseek-chat\n    from: 2025-09-05\n    input: 1\n    output: 1\n",
            ["corrections file", "models[0]", "source"],
        ),
        (
            "models:\n  - model: deepseek-chat\n    from: 2025-09-05\n    source: x\n    input: 1\n    output: 1\n",
            ["provider"],
        ),
        ("discounts:\n  - provider: deepseek\n    discount: 0.1\n", ["discounts"]),
    ],
)
def test_the_corrections_schema(tmp_path, text, words):
    path = tmp_path / "corrections.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        Pricer(PricingConfig(), corrections=str(path))
    for word in words:
        assert word in str(err.value)


def test_the_shipped_corrections_load_and_cite_their_sources():
    from costline_processor.price_file import load_price_file

    shipped = load_price_file(pricing_module.CORRECTIONS, "corrections file")
    assert shipped.models and all(e.source and e.source.startswith("https://") for e in shipped.models)
