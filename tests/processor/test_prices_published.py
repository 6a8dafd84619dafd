"""Prices you can defend (issue 15, items 1, 4, 5): each row is a span as emitters write it, the
provider's published per-million-token prices, and the page that publishes them. The expected
cost is computed here from those prices alone, never from costline's pricing or genai-prices,
and must equal costline's to the last digit (so to the cent and below).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from costline_processor.config import Config, ConfigError, PricingConfig
from costline_processor.pricing import Pricer
from costline_processor.records import UNKNOWN_MODEL, Cost, ModelCall, Unpriced, Usage

NOV = datetime(2026, 11, 1, 12, tzinfo=UTC)
OPENAI = "https://openai.com/api/pricing (gpt-4o: $2.50 in, $1.25 cached, $10 out)"
ANTHROPIC = "https://platform.claude.com/docs/en/about-claude/pricing (Sonnet 4.5: $3, 5m write $3.75, 1h $6, hit $0.30, out $15)"
BEDROCK = "https://aws.amazon.com/bedrock/pricing/ (Claude on Bedrock, on-demand)"
BEDROCK_GLOBAL = (
    "https://docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html "
    "(global ~10% below geographic/regional: Sonnet 4.5 global $3/$15, regional $3.30/$16.50)"
)
GEMINI = "https://ai.google.dev/gemini-api/docs/pricing (2.5 Flash $0.30 in, $2.50 out; 2.5 Pro <=200k $1.25/$10)"
VERTEX = "https://cloud.google.com/vertex-ai/generative-ai/pricing (Gemini 2.5 Pro <=200k $1.25/$10; Claude Sonnet 4.5 $3/$15)"
AZURE = "https://azure.microsoft.com/pricing/details/cognitive-services/openai-service/ (GPT-4o global $2.50/$10)"
DEEPSEEK_0905 = (
    "https://api-docs.deepseek.com/quick_start/pricing (from 16:00 UTC 2025-09-05: hit $0.07, "
    "miss $0.56, out $1.68; nighttime discount cancelled; before: chat $0.07/$0.27/$1.10, "
    "reasoner $0.14/$0.55/$2.19 standard)"
)
SONNET4_1M = (
    "https://www.anthropic.com/news/1m-context (2025-08-12: Sonnet 4 prompts over 200K tokens $6 in, $22.50 out) "
    "and https://docs.claude.com/en/docs/about-claude/pricing#long-context-pricing (the whole request at those "
    "rates; prompt caching multipliers and the Batch API's 50% apply on top: hit 0.1x, 5m write 1.25x, 1h write 2x)"
)
OPENAI_FT = (
    "https://platform.openai.com/docs/pricing (Fine-tuning: gpt-4o-2024-08-06 $3.75 in, $1.875 cached, $15 out; "
    "gpt-4o-mini-2024-07-18 $0.30 in, $0.15 cached, $1.20 out)"
)
DEEPSEEK_0929 = (
    "https://api-docs.deepseek.com/updates (2025-09-29 V3.2-Exp) + pricing page: hit $0.028, "
    "miss $0.28, out $1.68 -> $0.42"
)


def ns(when: datetime) -> int:
    return int(when.timestamp()) * 10**9 + when.microsecond * 1000


def usd(per_million: str, tokens: int) -> Decimal:
    return Decimal(per_million) * tokens / 1_000_000


U = Usage(10_000, 2_000, 4_000)  # 6 000 uncached input, 4 000 cache reads, 2 000 output

# (id, provider hint, model as the span carries it, usage, when, expected USD, cited source)
NAMES = [
    (
        "LiteLLM openai/gpt-4o",
        None,
        "openai/gpt-4o",
        U,
        NOV,
        usd("2.50", 6000) + usd("1.25", 4000) + usd("10", 2000),
        OPENAI,
    ),
    (
        "LangChain anthropic/claude-sonnet-4-5",
        "langchain",
        "anthropic/claude-sonnet-4-5-20250929",
        U,
        NOV,
        usd("3", 6000) + usd("0.30", 4000) + usd("15", 2000),
        ANTHROPIC,
    ),
    (
        "Gemini SDK models/gemini-2.5-flash",
        None,
        "models/gemini-2.5-flash",
        Usage(10_000, 2_000),
        NOV,
        usd("0.30", 10000) + usd("2.50", 2000),
        GEMINI,
    ),
    (
        "Vertex resource name",
        None,
        "projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro",
        Usage(10_000, 2_000),
        NOV,
        usd("1.25", 10000) + usd("10", 2000),
        VERTEX,
    ),
    (
        "LiteLLM vertex_ai/gemini-2.5-pro",
        None,
        "vertex_ai/gemini-2.5-pro",
        Usage(10_000, 2_000),
        NOV,
        usd("1.25", 10000) + usd("10", 2000),
        VERTEX,
    ),
    (
        "LiteLLM vertex_ai/claude (Vertex's rates)",
        None,
        "vertex_ai/claude-sonnet-4-5@20250929",
        Usage(10_000, 2_000),
        NOV,
        usd("3", 10000) + usd("15", 2000),
        VERTEX,
    ),
    (
        "LiteLLM bedrock/ haiku 3.5",
        None,
        "bedrock/anthropic.claude-3-5-haiku-20241022-v1:0",
        Usage(10_000, 2_000),
        NOV,
        usd("0.80", 10000) + usd("4", 2000),
        BEDROCK,
    ),
    (
        "LiteLLM bedrock/converse/ global profile",
        None,
        "bedrock/converse/global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        Usage(10_000, 2_000),
        NOV,
        usd("3", 10000) + usd("15", 2000),
        BEDROCK_GLOBAL,
    ),
    (
        "Bedrock id, us. profile, no hint",
        None,
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        Usage(10_000, 2_000),
        NOV,
        usd("3.30", 10000) + usd("16.50", 2000),
        BEDROCK_GLOBAL,
    ),
    (
        "Bedrock id, eu. profile, OpenAI-compatible hint",
        "openai",
        "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
        Usage(10_000, 2_000),
        NOV,
        usd("3", 10000) + usd("15", 2000),
        BEDROCK,
    ),
    (
        "Bedrock id, apac. profile",
        None,
        "apac.anthropic.claude-sonnet-4-20250514-v1:0",
        Usage(10_000, 2_000),
        NOV,
        usd("3", 10000) + usd("15", 2000),
        BEDROCK,
    ),
    (
        "Bedrock ARN",
        None,
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0",
        Usage(10_000, 2_000),
        NOV,
        usd("0.80", 10000) + usd("4", 2000),
        BEDROCK,
    ),
    (
        "LiteLLM azure/gpt-4o",
        None,
        "azure/gpt-4o",
        U,
        NOV,
        usd("2.50", 6000) + usd("1.25", 4000) + usd("10", 2000),
        AZURE,
    ),
]

CORRECTIONS = [
    (
        "deepseek-chat after 2025-09-05 16:00",
        "deepseek",
        "deepseek-chat",
        U,
        datetime(2025, 9, 10, 3, tzinfo=UTC),
        usd("0.56", 6000) + usd("0.07", 4000) + usd("1.68", 2000),
        DEEPSEEK_0905,
    ),
    (
        "deepseek-reasoner in the old off-peak hours",
        "deepseek",
        "deepseek-reasoner",
        U,
        datetime(2025, 9, 5, 17, tzinfo=UTC),
        usd("0.56", 6000) + usd("0.07", 4000) + usd("1.68", 2000),
        DEEPSEEK_0905,
    ),
    (
        "deepseek-reasoner 15:59 UTC 2025-09-05: the old list",
        "deepseek",
        "deepseek-reasoner",
        U,
        datetime(2025, 9, 5, 15, 59, tzinfo=UTC),
        usd("0.55", 6000) + usd("0.14", 4000) + usd("2.19", 2000),
        DEEPSEEK_0905,
    ),
    (
        "deepseek-chat from 2025-09-29",
        "deepseek",
        "deepseek-chat",
        U,
        datetime(2025, 9, 29, 20, tzinfo=UTC),
        usd("0.28", 6000) + usd("0.028", 4000) + usd("0.42", 2000),
        DEEPSEEK_0929,
    ),
    (
        "deepseek-reasoner in 2026, no provider hint",
        None,
        "deepseek-reasoner",
        U,
        NOV,
        usd("0.28", 6000) + usd("0.028", 4000) + usd("0.42", 2000),
        DEEPSEEK_0929,
    ),
    (
        "claude-sonnet-4 above 200k input (cache counted): every token at the long-context rates",
        "anthropic",
        "claude-sonnet-4-20250514",
        Usage(250_000, 2_000, 50_000, 20_000, 5_000),  # 180k uncached, 50k read, 15k 5m + 5k 1h writes
        NOV,
        usd("6", 180_000) + usd("0.60", 50_000) + usd("7.50", 15_000) + usd("12", 5_000) + usd("22.50", 2_000),
        SONNET4_1M,
    ),
    (
        "claude-sonnet-4 at 200k input exactly: the standard rates",
        "anthropic",
        "claude-sonnet-4-20250514",
        Usage(200_000, 2_000, 150_000),
        NOV,
        usd("3", 50_000) + usd("0.30", 150_000) + usd("15", 2_000),
        SONNET4_1M,
    ),
    (
        "fine-tuned gpt-4o-mini: cached input at its own rate",
        "openai",
        "ft:gpt-4o-mini-2024-07-18:acme::abc123",
        U,
        NOV,
        usd("0.30", 6000) + usd("0.15", 4000) + usd("1.20", 2000),
        OPENAI_FT,
    ),
    (
        "fine-tuned gpt-4o: cached input at its own rate",
        "openai",
        "ft:gpt-4o-2024-08-06:acme:support:abc123",
        U,
        NOV,
        usd("3.75", 6000) + usd("1.875", 4000) + usd("15", 2000),
        OPENAI_FT,
    ),
    (
        "LiteLLM deepseek/deepseek-chat",
        None,
        "deepseek/deepseek-chat",
        U,
        NOV,
        usd("0.28", 6000) + usd("0.028", 4000) + usd("0.42", 2000),
        DEEPSEEK_0929,
    ),
]


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer(PricingConfig(deployments={"prod-4o": "gpt-4o"}))


def price(p: Pricer, provider, model, usage, when) -> Cost | Unpriced:
    return p.price(ModelCall("semconv", model=model, provider=provider, usage=usage), ns(when), 10**9)


@pytest.mark.parametrize(
    "provider, model, usage, when, expected, source",
    [r[1:] for r in NAMES + CORRECTIONS],
    ids=[r[0] for r in NAMES + CORRECTIONS],
)
def test_published_price(pricer, provider, model, usage, when, expected, source):
    cost = price(pricer, provider, model, usage, when)
    assert isinstance(cost, Cost), cost
    assert cost.total_usd == expected, source
    assert cost.input_usd + cost.output_usd + cost.cache_read_usd + cost.cache_write_usd == cost.total_usd


@pytest.mark.parametrize(
    "usage, expected",
    [
        (Usage(250_000, 2_000), (usd("6", 250_000) + usd("22.50", 2_000)) / 2),
        (Usage(100_000, 2_000), (usd("3", 100_000) + usd("15", 2_000)) / 2),
    ],
    ids=["above 200k", "below"],
)
def test_a_corrected_price_in_batch_follows_the_providers_batch_rule(pricer, usage, expected):
    # a correction is a list price: Anthropic's batch is half of it, long context included (SONNET4_1M)
    call = ModelCall("semconv", model="claude-sonnet-4-20250514", provider="anthropic", usage=usage, batch=True)
    cost = pricer.price(call, ns(NOV), 10**9)
    assert (cost.total_usd, cost.caveat, cost.source) == (expected, "tier_by_rule:batch", "corrections.yaml")


def test_routes_name_the_provider_that_bills(pricer):
    got = {
        m: price(pricer, None, m, U, NOV).provider
        for m in (
            "bedrock/anthropic.claude-3-5-haiku-20241022-v1:0",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "vertex_ai/claude-sonnet-4-5@20250929",
            "azure/gpt-4o",
            "models/gemini-2.5-flash",
            "openai/gpt-4o",
        )
    }
    assert list(got.values()) == ["aws", "aws", "google", "azure", "google", "openai"]


def test_corrections_are_named_as_the_source(pricer):
    cost = price(pricer, "deepseek", "deepseek-chat", U, NOV)
    assert cost.source == "corrections.yaml"


def test_a_router_keeps_its_own_slash_names(pricer):
    # OpenRouter and Together spell their own models vendor/model: their price, not the vendor's
    assert price(pricer, "openrouter", "openai/gpt-4o", U, NOV).provider == "openrouter"
    assert price(pricer, "together", "openai/gpt-oss-120b", U, NOV).provider == "together"


def test_a_bedrock_id_missing_from_the_data_is_unpriced_not_guessed(pricer):
    result = price(pricer, None, "us.anthropic.claude-unreleased-9-v1:0", U, NOV)
    assert isinstance(result, Unpriced) and result.reason == UNKNOWN_MODEL
    assert "aws" in result.detail and "claude-unreleased" in result.detail


def test_azure_deployment_names_map_to_models(pricer):
    expected = usd("2.50", 6000) + usd("1.25", 4000) + usd("10", 2000)  # AZURE
    for provider, model in (("azure", "prod-4o"), ("azure", "PROD-4o"), (None, "azure/prod-4o")):
        cost = price(pricer, provider, model, U, NOV)
        assert (cost.provider, cost.model, cost.total_usd) == ("azure", "gpt-4o", expected), model


def test_unmapped_deployment_is_unpriced_with_its_name(pricer):
    result = price(pricer, "azure", "prod-mystery", U, NOV)
    assert isinstance(result, Unpriced) and "prod-mystery" in result.detail


@pytest.mark.parametrize("bad", [{"prod": 4}, {"": "gpt-4o"}, {"prod": ""}])
def test_deployments_are_validated(bad):
    config = Config()
    config.pricing.deployments = bad
    with pytest.raises(ConfigError, match="pricing.deployments"):
        config.validate()


def test_deployments_load_from_yaml(tmp_path):
    from costline_processor.config_sources import load_yaml_file, merge_yaml

    path = tmp_path / "c.yaml"
    path.write_text("pricing:\n  deployments: {prod-4o: gpt-4o}\n")
    config = Config()
    merge_yaml(config, load_yaml_file(str(path)))
    config.validate()
    assert config.pricing.deployments == {"prod-4o": "gpt-4o"}


def test_a_user_discount_applies_to_corrected_prices(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("discounts:\n  - provider: deepseek\n    discount: 0.10\n")
    cost = price(Pricer(PricingConfig(prices_file=str(path))), "deepseek", "deepseek-chat", U, NOV)
    assert cost.total_usd == (usd("0.28", 6000) + usd("0.028", 4000) + usd("0.42", 2000)) * Decimal("0.9")
