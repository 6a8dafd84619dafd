"""A long prompt through a route whose price data lacks the maker's long-context rates is marked.

Anthropic bills every token of a Claude Sonnet 4.5 call whose input is above 200k tokens at its
long-context rates ($6 / $22.50 per million instead of $3 / $15: docs.claude.com, Pricing, "Long
context pricing"; until 2026-03-13 for Sonnet 4.6, whose premium genai-prices 0.2.3 ends then).
genai-prices lists those rates for Anthropic's API and for Vertex's Sonnet 4.5, and none for Bedrock
(nor Vertex's Sonnet 4.6). Whether and how Bedrock bills above 200k is not confirmed here, so such a
call keeps the route's standard price (Bedrock regional: $3.30 / $16.50) and says it may be short
(`context_tier_unpriced`): before, it was that price with no word.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from costline_processor.config import PricingConfig
from costline_processor.price_caveats import CONTEXT_TIER_UNPRICED, WEB_SEARCHES_UNPRICED
from costline_processor.pricing import Pricer
from costline_processor.records import Usage
from tests.processor.costs import NOV, mtok, priced

MARCH_1 = int(datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp()) * 10**9
BEDROCK_SONNET_45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer(PricingConfig())


def test_bedrock_sonnet_above_200k_is_priced_at_its_standard_rates_and_marked(pricer):
    cost = priced(pricer, BEDROCK_SONNET_45, "aws.bedrock", Usage(250_000, 1_000))
    assert cost.total_usd == mtok("3.30", 250_000) + mtok("16.50", 1_000)
    assert cost.caveat == CONTEXT_TIER_UNPRICED


@pytest.mark.parametrize("input_tokens", [150_000, 200_000])  # the tier starts above 200k, as Anthropic's does
def test_bedrock_sonnet_at_or_below_200k_is_not_marked(pricer, input_tokens):
    cost = priced(pricer, BEDROCK_SONNET_45, "aws.bedrock", Usage(input_tokens, 1_000))
    assert cost.total_usd == mtok("3.30", input_tokens) + mtok("16.50", 1_000) and cost.caveat is None


def test_cached_input_counts_towards_the_threshold(pricer):
    usage = Usage(210_000, 1_000, cache_read_tokens=120_000, cache_write_tokens=50_000)
    cost = priced(pricer, BEDROCK_SONNET_45, "aws.bedrock", usage)
    assert cost.caveat == CONTEXT_TIER_UNPRICED


@pytest.mark.parametrize("provider", ["anthropic", "gcp.vertex_ai"])
def test_a_route_with_the_tier_in_its_data_prices_it_and_says_nothing(pricer, provider):
    cost = priced(pricer, "claude-sonnet-4-5", provider, Usage(250_000, 1_000))
    assert cost.total_usd == mtok("6", 250_000) + mtok("22.50", 1_000) and cost.caveat is None


def test_vertex_sonnet_4_6_is_marked_while_anthropic_billed_the_tier_and_not_after(pricer):
    before = priced(pricer, "claude-sonnet-4-6", "gcp.vertex_ai", Usage(250_000, 1_000), MARCH_1)
    after = priced(pricer, "claude-sonnet-4-6", "gcp.vertex_ai", Usage(250_000, 1_000), NOV)
    assert before.caveat == CONTEXT_TIER_UNPRICED and after.caveat is None
    assert before.total_usd == after.total_usd == mtok("3", 250_000) + mtok("15", 1_000)


def test_a_model_whose_maker_has_no_tier_is_not_marked(pricer):
    cost = priced(pricer, "us.anthropic.claude-3-5-haiku-20241022-v1:0", None, Usage(250_000, 1_000))
    assert cost.caveat is None


def test_the_mark_joins_the_others_and_reads_the_whole_input_of_a_call_with_images(pricer):
    searched = priced(pricer, "us.anthropic.claude-3-haiku-20240307-v1:0", None, Usage(1_000, 10, web_searches=1))
    assert searched.caveat == WEB_SEARCHES_UNPRICED  # (no tier: the other caveat alone)
    images = Usage(250_000, 1_000, image_input_tokens=100_000)  # text 150k: the threshold reads all 250k
    cost = priced(pricer, BEDROCK_SONNET_45, "aws.bedrock", images)
    assert cost.caveat == CONTEXT_TIER_UNPRICED
    assert cost.total_usd == mtok("3.30", 250_000) + mtok("16.50", 1_000)  # prompt images at the input rate
