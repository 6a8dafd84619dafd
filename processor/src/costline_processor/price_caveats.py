"""Price caveats: when costline's price for a call may not be the provider's bill, and why.

A caveat rides on the Cost (`Cost.caveat`), and from there onto the span
(`costline.price.caveat`), into the ledger (`price_caveat`) and into `costline report`.
Most calls have none. Values, comma-joined when several apply:

    tier_by_rule:TIER    the call ran in a service tier (batch, flex) for which the price data
                         lists no price for this model on the call's date; it is priced by the
                         provider's documented rule for that tier (TIER_RULES, each citing its page)
    tier_unpriced:TIER   the same, but the provider documents no rule (priority, scale, ...):
                         priced at the standard rate, which the tier's bill is not
    audio_at_text_rate   the call has audio tokens and the price data has no audio rate for the
                         model: they are priced at its text rate (audio usually costs several times more)
    image_at_text_rate   the same for image tokens (an image model's output costs ~12x its text)
    image_split_unknown  the model bills its image output at a rate of its own (gemini-2.5-flash-image:
                         $30 per million, its text $2.50) and the span's instrumentation never says which
                         output tokens are images (OpenInference, LangSmith, the Vercel AI SDK): every
                         output token is billed as text, below the bill when the call made an image
    web_searches_unpriced
                         the provider ran web searches for the call (a fee per search on top of the
                         tokens) and neither the price data nor the price file prices them for this
                         model: the cost is its tokens only, below the bill
    context_tier_unpriced
                         the call's input is above the threshold where the model's maker bills every
                         token at higher long-context rates (Anthropic: above 200k input tokens, Claude
                         Sonnet 4.5, and 4.6 until 2026-03-13), and the price data of the route it took
                         (Bedrock, Vertex...) has no such rates: priced at the route's standard ones,
                         below the bill
    file_searches_unpriced
                         the same for file searches (OpenAI's file_search tool over a vector store,
                         $2.50 per 1,000 in genai-prices for OpenAI's models)
    preview_web_searches_unpriced
                         the same for searches by OpenAI's web_search_preview tool (search_rules.py)
    preview_web_searches_by_rule
                         the call's web_search_preview searches are priced by OpenAI's published rule
                         (search_rules.py: $25 per 1,000 on gpt-4o and gpt-4.1, the web-search price on
                         reasoning models), which the price data does not list
    web_search_block_unknown
                         OpenAI bills a web search on gpt-4o-mini and gpt-4.1-mini a fixed block of 8,000
                         input tokens, and whether the call's usage counts it is not documented: when it
                         does not, the bill is up to 8,000 input tokens per search above the cost
    search_model_fee_unpriced
                         the call is to one of OpenAI's Chat Completions search models
                         (gpt-4o-search-preview, gpt-4o-mini-search-preview, gpt-5-search-api), which
                         search on every call and bill a fee per call that neither the price data nor
                         costline prices (search_rules.py): the cost is the tokens, below the bill

Why tiers need rules: genai-prices 0.2.3 lists batch prices from 2026-10-14 and OpenAI's
flex and priority prices from 2026-10-12, the dates it collected them, not the dates the
providers introduced them (OpenAI's Batch API dates from April 2024). Without a rule an
earlier batch or flex call would silently cost the standard rate: twice its bill.

Only rules a provider's own page states are here; a tier without one is marked, never
guessed. Checked and left out: OpenAI priority (a per-model price list, no one rule:
https://openai.com/api-priority-processing/, e.g. GPT-4.1 $3.50 in vs $2.00 standard),
Anthropic priority (commitment-based), Azure, Bedrock and Vertex batch (no page confirmed here).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

AUDIO_AT_TEXT_RATE = "audio_at_text_rate"
IMAGE_AT_TEXT_RATE = "image_at_text_rate"
WEB_SEARCHES_UNPRICED = "web_searches_unpriced"
FILE_SEARCHES_UNPRICED = "file_searches_unpriced"
PREVIEW_WEB_SEARCHES_UNPRICED = "preview_web_searches_unpriced"
PREVIEW_WEB_SEARCHES_BY_RULE = "preview_web_searches_by_rule"
WEB_SEARCH_BLOCK_UNKNOWN = "web_search_block_unknown"
SEARCH_MODEL_FEE_UNPRICED = "search_model_fee_unpriced"
SEARCHES_UNPRICED = {  # by SKU
    "web_search": WEB_SEARCHES_UNPRICED,
    "file_search": FILE_SEARCHES_UNPRICED,
    "web_search_preview": PREVIEW_WEB_SEARCHES_UNPRICED,
}
CONTEXT_TIER_UNPRICED = "context_tier_unpriced"
IMAGE_SPLIT_UNKNOWN = "image_split_unknown"
BY_RULE = "tier_by_rule:"
UNPRICED = "tier_unpriced:"

# Tier names that mean "the standard price" (absent and "auto" never reach pricing: normalize drops them).
STANDARD_TIERS = frozenset({"default", "standard", "standard_only", "on_demand"})

_OPENAI_BATCH = (
    'https://help.openai.com/en/articles/9197833-batch-api-faq ("Each model will be offered '
    'at 50% cost discount vs. the synchronous APIs")'
)


@dataclass(frozen=True, slots=True)
class TierRule:
    """A provider's documented price for a tier: `factor` times the standard price, or the listed
    price of tier `like` where the data has it (OpenAI flex is billed at batch rates)."""

    factor: Decimal
    like: str | None
    source: str


TIER_RULES: dict[tuple[str, str], TierRule] = {
    ("openai", "batch"): TierRule(Decimal("0.5"), None, _OPENAI_BATCH),
    ("openai", "flex"): TierRule(
        Decimal("0.5"),
        "batch",
        'https://developers.openai.com/api/docs/guides/flex-processing ("Tokens are priced at Batch API rates") '
        "and " + _OPENAI_BATCH,
    ),
    ("anthropic", "batch"): TierRule(
        Decimal("0.5"),
        None,
        'https://platform.claude.com/docs/en/build-with-claude/batch-processing ("reducing costs by 50%")',
    ),
    # a call run with inference_geo=us (usage.inference_geo; normalize names its tier geo_us)
    ("anthropic", "geo_us"): TierRule(
        Decimal("1.1"),
        None,
        'https://docs.aws.amazon.com/claude-platform/latest/userguide/data-residency.html ("US: Inference stays '
        'within US data centers. A 1.1x pricing multiplier applies.")',
    ),
    ("google", "batch"): TierRule(
        Decimal("0.5"),
        None,
        'https://developers.googleblog.com/scale-your-ai-workloads-batch-mode-gemini-api ("Batch jobs are '
        'priced at 50% less than the standard rate for a given model")',
    ),
}


def tier_named(caveat: str | None) -> str | None:
    """The tier a caveat names (BY_RULE or UNPRICED followed by the tier), or None."""
    for part in (caveat or "").split(","):
        for prefix in (BY_RULE, UNPRICED):
            if part.startswith(prefix) and part != prefix:
                return part[len(prefix) :]
    return None


def tier_of(service_tier: str | None, batch: bool) -> str | None:
    """The non-standard tier a call ran in, or None (batch wins over a service tier)."""
    if batch:
        return "batch"
    if service_tier is None or service_tier in STANDARD_TIERS:
        return None
    return service_tier


def context_of(tier: str) -> tuple[str, str]:
    """The genai-prices price-variant condition that names `tier`."""
    return ("processing", "batch") if tier == "batch" else ("service_tier", tier)


def joined(*caveats: str | None) -> str | None:
    present = [c for c in caveats if c]
    return ",".join(present) if present else None
