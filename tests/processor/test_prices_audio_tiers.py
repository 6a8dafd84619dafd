"""Prices you can defend (issue 15, items 2 and 3): audio tokens and service tiers.

Each row: a call (model, usage, tier, date), the provider's published per-million-token
prices and the page that publishes them. The expected USD is computed here from those
prices alone (for a tier priced by a rule, the rule applied to the published standard
price), never from costline's pricing or genai-prices, and must equal costline's figure
exactly (so to the cent and below), with the caveat costline must state.

CAVEATED rows are the calls costline cannot price to the published figure: each must say
why (`caveat`), and the row records how far the figure is from the bill.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from costline_processor.config import PricingConfig
from costline_processor.pricing import Pricer
from costline_processor.records import Cost, ModelCall, Usage

OPENAI_REALTIME = (
    "https://developers.openai.com/api/docs/models/gpt-realtime-1.5 (text $4 / cached $0.40 / out $16; "
    "audio $32 / cached $0.40 / out $64)"
)
OPENAI_REALTIME_2 = (
    "https://developers.openai.com/api/docs/models/gpt-realtime-2 (text $4 / $0.40 / $24; audio $32 / $0.40 / $64)"
)
OPENAI_REALTIME_MINI = (
    "https://developers.openai.com/api/docs/models/gpt-realtime-2.1-mini (text $0.60 / $0.06 / "
    "$2.40; audio $10 / $0.30 / $20)"
)
OPENAI_4O_REALTIME = (
    "https://developers.openai.com/api/docs/models/gpt-4o-realtime-preview (text $5 / $2.50 / $20; "
    "audio $40 / $2.50 / $80)"
)
OPENAI_BATCH = "https://help.openai.com/en/articles/9197833-batch-api-faq (50% cost discount vs. the synchronous APIs)"
OPENAI_FLEX = (
    "https://developers.openai.com/api/docs/guides/flex-processing (tokens priced at Batch API rates) + " + OPENAI_BATCH
)
OPENAI_PRIORITY = "https://openai.com/api-priority-processing/ (GPT-4.1: $3.50 in, $0.875 cached, $14 out)"
OPENAI = (
    "https://openai.com/api/pricing (gpt-4o $2.50 / $1.25 cached / $10; gpt-4.1 $2 / $0.50 / $8; o3 $2 / $0.50 / $8)"
)
ANTHROPIC_BATCH = (
    "https://platform.claude.com/docs/en/build-with-claude/batch-processing (50%) + "
    "https://platform.claude.com/docs/en/about-claude/pricing (Sonnet 4.5: $3, hit $0.30, out $15)"
)
GEMINI_BATCH = (
    "https://developers.googleblog.com/scale-your-ai-workloads-batch-mode-gemini-api (50% less) + "
    "https://ai.google.dev/gemini-api/docs/pricing (2.5 Flash $0.30 in, $2.50 out)"
)

HALF = Decimal("0.5")
AUDIO = Usage(
    input_tokens=10_000,
    output_tokens=3_000,
    cache_read_tokens=4_000,
    audio_input_tokens=7_000,
    audio_output_tokens=2_500,
    audio_cache_read_tokens=3_000,
)
U = Usage(10_000, 2_000, 4_000)  # 6 000 uncached input, 4 000 cache reads, 2 000 output
PLAIN = Usage(10_000, 2_000)


def usd(per_million: str, tokens: int) -> Decimal:
    return Decimal(per_million) * tokens / 1_000_000


def audio_call(text_in, text_cached, text_out, audio_in, audio_cached, audio_out) -> Decimal:
    """AUDIO at these per-million prices: text 10k-7k = 3k input of which 1k cached (4k cache reads - 3k audio),
    audio 7k input of which 3k cached; output 3k of which 2.5k audio."""
    return (
        usd(text_in, 2_000)
        + usd(text_cached, 1_000)
        + usd(audio_in, 4_000)
        + usd(audio_cached, 3_000)
        + usd(text_out, 500)
        + usd(audio_out, 2_500)
    )


def at(y, m, d) -> datetime:
    return datetime(y, m, d, 12, tzinfo=UTC)


# (id, model, usage, service_tier, batch, when, expected USD, caveat, source)
ROWS = [
    # -- audio tokens at the audio rates
    (
        "gpt-realtime-1.5 audio",
        "gpt-realtime-1.5",
        AUDIO,
        None,
        False,
        at(2026, 11, 1),
        audio_call("4", "0.40", "16", "32", "0.40", "64"),
        None,
        OPENAI_REALTIME,
    ),
    (
        "gpt-realtime-2 audio",
        "gpt-realtime-2",
        AUDIO,
        None,
        False,
        at(2026, 11, 1),
        audio_call("4", "0.40", "24", "32", "0.40", "64"),
        None,
        OPENAI_REALTIME_2,
    ),
    (
        "gpt-realtime-2.1-mini audio",
        "gpt-realtime-2.1-mini",
        AUDIO,
        None,
        False,
        at(2026, 11, 1),
        audio_call("0.60", "0.06", "2.40", "10", "0.30", "20"),
        None,
        OPENAI_REALTIME_MINI,
    ),
    (
        "gpt-4o-realtime-preview-2024-12-17 audio",
        "gpt-4o-realtime-preview-2024-12-17",
        AUDIO,
        None,
        False,
        at(2025, 3, 1),
        audio_call("5", "2.50", "20", "40", "2.50", "80"),
        None,
        OPENAI_4O_REALTIME,
    ),
    # -- tiers the data lists at the call's date: its own price, no caveat
    (
        "o3 flex, listed",
        "o3",
        U,
        "flex",
        False,
        at(2026, 11, 1),
        HALF * (usd("2", 6_000) + usd("0.50", 4_000) + usd("8", 2_000)),
        None,
        OPENAI_FLEX,
    ),
    (
        "gpt-4.1 priority, listed",
        "gpt-4.1",
        U,
        "priority",
        False,
        at(2026, 11, 1),
        usd("3.50", 6_000) + usd("0.875", 4_000) + usd("14", 2_000),
        None,
        OPENAI_PRIORITY,
    ),
    (
        "claude-sonnet-4-5 batch, listed",
        "claude-sonnet-4-5",
        U,
        None,
        True,
        at(2026, 11, 1),
        HALF * (usd("3", 6_000) + usd("0.30", 4_000) + usd("15", 2_000)),
        None,
        ANTHROPIC_BATCH,
    ),
    # -- tiers the data does not list yet at the call's date: the provider's documented rule
    (
        "gpt-4o batch, 2025",
        "gpt-4o",
        U,
        None,
        True,
        at(2025, 6, 1),
        HALF * (usd("2.50", 6_000) + usd("1.25", 4_000) + usd("10", 2_000)),
        "tier_by_rule:batch",
        OPENAI_BATCH + " + " + OPENAI,
    ),
    (
        "gpt-4o batch via service_tier=batch, 2025",
        "gpt-4o",
        U,
        "batch",
        False,
        at(2025, 6, 1),
        HALF * (usd("2.50", 6_000) + usd("1.25", 4_000) + usd("10", 2_000)),
        "tier_by_rule:batch",
        OPENAI_BATCH + " + " + OPENAI,
    ),
    (
        "o3 flex, 2025",
        "o3",
        U,
        "flex",
        False,
        at(2025, 8, 1),
        HALF * (usd("2", 6_000) + usd("0.50", 4_000) + usd("8", 2_000)),
        "tier_by_rule:flex",
        OPENAI_FLEX + " + " + OPENAI,
    ),
    (
        "claude-sonnet-4-5 batch, 2025",
        "claude-sonnet-4-5",
        U,
        None,
        True,
        at(2025, 11, 1),
        HALF * (usd("3", 6_000) + usd("0.30", 4_000) + usd("15", 2_000)),
        "tier_by_rule:batch",
        ANTHROPIC_BATCH,
    ),
    (
        "gemini-2.5-flash batch, 2025",
        "gemini-2.5-flash",
        PLAIN,
        None,
        True,
        at(2025, 11, 1),
        HALF * (usd("0.30", 10_000) + usd("2.50", 2_000)),
        "tier_by_rule:batch",
        GEMINI_BATCH,
    ),
]

# Calls costline cannot price to the published figure, and says so:
# (id, model, usage, tier, batch, when, published USD, costline's USD, caveat, source)
CAVEATED = [
    (
        "gpt-4.1 priority, 2025: standard price, 43% below the bill",
        "gpt-4.1",
        U,
        "priority",
        False,
        at(2025, 9, 1),
        usd("3.50", 6_000) + usd("0.875", 4_000) + usd("14", 2_000),
        usd("2", 6_000) + usd("0.50", 4_000) + usd("8", 2_000),
        "tier_unpriced:priority",
        OPENAI_PRIORITY,
    ),
]


def ns(when: datetime) -> int:
    return int(when.timestamp()) * 10**9


@pytest.fixture(scope="module")
def pricer():
    p = Pricer(PricingConfig())
    yield p
    p.close()


def _price(pricer, model, usage, tier, batch, when):
    call = ModelCall(
        "semconv",
        model=model,
        usage=usage,
        service_tier=tier if tier != "batch" else None,
        batch=batch or tier == "batch",
    )
    return pricer.price(call, ns(when), 0)


@pytest.mark.parametrize(
    "model,usage,tier,batch,when,expected,caveat,source", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_published_price(pricer, model, usage, tier, batch, when, expected, caveat, source):
    cost = _price(pricer, model, usage, tier, batch, when)
    assert isinstance(cost, Cost), cost
    assert cost.total_usd == expected, (cost, source)
    assert cost.input_usd + cost.output_usd + cost.cache_read_usd + cost.cache_write_usd == cost.total_usd
    assert cost.caveat == caveat


@pytest.mark.parametrize(
    "model,usage,tier,batch,when,published,ours,caveat,source", [r[1:] for r in CAVEATED], ids=[r[0] for r in CAVEATED]
)
def test_what_costline_cannot_price_it_says(pricer, model, usage, tier, batch, when, published, ours, caveat, source):
    cost = _price(pricer, model, usage, tier, batch, when)
    assert cost.total_usd == ours and cost.total_usd != published
    assert cost.caveat == caveat


def test_audio_without_an_audio_rate_is_marked(pricer):
    """genai-prices 0.2.3 has no audio rates for gpt-4o-audio-preview: its audio is billed at the text rate,
    and the call says so (OpenAI bills audio at several times the text rate)."""
    cost = _price(
        pricer,
        "gpt-4o-audio-preview",
        Usage(10_000, 2_000, audio_input_tokens=8_000, audio_output_tokens=1_000),
        None,
        False,
        at(2026, 11, 1),
    )
    assert cost.total_usd == usd("2.50", 10_000) + usd("10", 2_000)
    assert cost.caveat == "audio_at_text_rate"


def test_no_audio_tokens_no_caveat(pricer):
    cost = _price(pricer, "gpt-4o-audio-preview", PLAIN, None, False, at(2026, 11, 1))
    assert cost.caveat is None


def test_audio_and_tier_caveats_join(pricer):
    cost = _price(
        pricer,
        "gpt-4o-audio-preview",
        Usage(10_000, 2_000, audio_input_tokens=8_000),
        "priority",
        False,
        at(2026, 11, 1),
    )
    assert cost.caveat == "tier_unpriced:priority,audio_at_text_rate"


def test_audio_counts_beyond_their_totals_are_invalid(pricer):
    from costline_processor.records import INVALID_USAGE, Unpriced

    bad = _price(
        pricer,
        "gpt-realtime",
        Usage(100, 10, 0, audio_input_tokens=50, audio_cache_read_tokens=20),
        None,
        False,
        at(2026, 11, 1),
    )
    assert isinstance(bad, Unpriced) and bad.reason == INVALID_USAGE


def test_a_standard_tier_name_is_no_caveat(pricer):
    for tier in ("default", "standard"):
        assert _price(pricer, "gpt-4o", U, tier, False, at(2025, 6, 1)).caveat is None


def test_a_tier_without_a_rule_is_unpriced_not_guessed(pricer):
    cost = _price(pricer, "claude-sonnet-4-5", U, "priority", False, at(2026, 11, 1))
    assert cost.caveat == "tier_unpriced:priority"
    assert cost.total_usd == usd("3", 6_000) + usd("0.30", 4_000) + usd("15", 2_000)
