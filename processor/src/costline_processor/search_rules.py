"""OpenAI's price for a search by its web_search_preview tool, which genai-prices does not list.

OpenAI bills its Responses API web search by the tool's version and the model's kind (pricing page,
"Built-in tools"): the generally available `web_search` $10 per 1,000 calls on any model, search
content tokens at the model's rates; the older `web_search_preview` the same on reasoning models
(gpt-5, o-series), but $25 per 1,000 calls on the others (gpt-4o, gpt-4.1 and their minis), whose
search content tokens are free (absent from the call's usage). genai-prices 0.2.3 has one rate,
`web_searches_kcount` ($10), so a gpt-4o call's preview search was billed $0.01 for a $0.025 bill.

A card's price for a preview search (RateCard.per_preview_web_search) is therefore this rule's for
OpenAI's own models: $0.025 on a non-reasoning family (gpt-4o, gpt-4.1, their minis and nanos: the
closed list of OpenAI's models without reasoning that run the tool), the card's web-search price on
every other one (gpt-5, o3, o4-mini...: all later models reason), none on a model without a web-search
price (marked, price_caveats.PREVIEW_WEB_SEARCHES_UNPRICED, never guessed). Another provider's card
has none: the tool is OpenAI's. A price file's `web_search_preview` wins over the rule. Calls whose
preview searches this rule prices carry price_caveats.PREVIEW_WEB_SEARCHES_BY_RULE: the price data
does not say it.

The same page says a GA web search on gpt-4o-mini and gpt-4.1-mini bills a fixed block of 8,000
input tokens. Whether the call's usage counts that block was not found (no OpenAI page, community
thread or issue here says; a measured gpt-4.1-mini preview search, whose content is free, showed 347
input tokens in all, which says nothing of the GA tool): costline does not add it, and marks such a
call's searches price_caveats.WEB_SEARCH_BLOCK_UNKNOWN (at most $0.0012 per search on gpt-4o-mini,
$0.0032 on gpt-4.1-mini, when the usage leaves it out).

`marks` gives a card the caveats its searches carry: RateCard.search_marks.

OpenAI's Chat Completions search models (gpt-4o-search-preview, gpt-4o-mini-search-preview, their dated
ids, gpt-5-search-api) search the web on every call and bill a fee per call on top of the tokens, which
genai-prices 0.2.3 does not list (tokens only). The fee is not priced here: OpenAI's pricing page gave it
by model and `search_context_size` in 2025 (gpt-4o-search-preview $30 / $35 / $50 per 1,000 calls at
low / medium / high, the mini $25 / $27.50 / $30), its later web-search rows (the three above) name no
Chat Completions model, and no OpenAI page here says which applies now, nor any fee for gpt-5-search-api.
`search_model` marks such a call's card price_caveats.SEARCH_MODEL_FEE_UNPRICED: the cost is its tokens,
below the bill by one search fee (by the 2025 rates $0.025 to $0.05 a call).
"""

from __future__ import annotations

import re
from decimal import Decimal

from costline_processor.price_caveats import (
    PREVIEW_WEB_SEARCHES_BY_RULE,
    SEARCH_MODEL_FEE_UNPRICED,
    WEB_SEARCH_BLOCK_UNKNOWN,
)

SOURCE = (
    "https://platform.openai.com/docs/pricing#built-in-tools (web search preview: reasoning models $10 / 1k "
    "calls + search content tokens at model rates; non-reasoning models $25 / 1k calls, search content tokens "
    "free) and https://community.openai.com/t/search-web-using-openai-api/1363698 (OpenAI staff: gpt-5, o3 at "
    "$10, 4o, 4.1 at $25)"
)
BLOCK_SOURCE = (
    "https://platform.openai.com/docs/pricing#built-in-tools (web search: gpt-4o-mini and gpt-4.1-mini bill a fixed "
    "block of 8,000 input tokens per call); whether the response's usage counts it is not documented"
)
SEARCH_MODEL_SOURCE = (
    "https://platform.openai.com/docs/pricing#built-in-tools names no Chat Completions search model now; in 2025 "
    "it billed them by search_context_size (gpt-4o-search-preview $30 / $35 / $50, gpt-4o-mini-search-preview "
    "$25 / $27.50 / $30 per 1,000 calls, as copied by litellm's price map and OpenRouter's $0.0275 a request; "
    "https://community.openai.com/t/1236954)"
)
WHY = {  # each mark's page
    PREVIEW_WEB_SEARCHES_BY_RULE: SOURCE,
    WEB_SEARCH_BLOCK_UNKNOWN: BLOCK_SOURCE,
    SEARCH_MODEL_FEE_UNPRICED: SEARCH_MODEL_SOURCE,
}
NON_REASONING = Decimal(25) / 1000  # USD per preview search on gpt-4o and gpt-4.1 and their minis and nanos
_NON_REASONING = re.compile(r"gpt-4(o|\.1)(-mini|-nano)?(-\d{4}-\d{2}-\d{2})?$")
_FIXED_BLOCK = re.compile(r"gpt-4(o|\.1)-mini(-\d{4}-\d{2}-\d{2})?$")
# the last part of a name ("openai/gpt-4o-search-preview" on a route too), any case
_SEARCH_MODEL = re.compile(r"(^|/)gpt-(4o(-mini)?-search-preview|5-search-api)(-\d{4}-\d{2}-\d{2})?$", re.I)


def preview_rate(provider: str, model: str, per_web_search: Decimal | None) -> Decimal | None:
    """USD per web_search_preview search of `provider`'s `model` (genai-prices' ids), whose GA web search costs
    `per_web_search`; None where the rule gives none (another provider, a model without a web-search price)."""
    if provider != "openai":
        return None
    return NON_REASONING if _NON_REASONING.match(model) else per_web_search


def marks(provider: str, model: str, preview: Decimal | None) -> tuple[tuple[str, str], ...]:
    """(SKU, caveat) of the searches of `provider`'s `model` whose price is not quite the price data's: the
    preview rate `preview_rate` gave, the GA searches of the models that bill a fixed block of tokens."""
    out = [("web_search_preview", PREVIEW_WEB_SEARCHES_BY_RULE)] if preview is not None else []
    if provider == "openai" and _FIXED_BLOCK.match(model):
        out.append(("web_search", WEB_SEARCH_BLOCK_UNKNOWN))
    return tuple(out)


def search_model(names: tuple[str | None, ...]) -> bool:
    """Whether a call's model names (response, request) name one of OpenAI's Chat Completions search models,
    whose fee per call no price here has. By name, not by genai-prices' id: it files gpt-4o-mini-search-preview
    under gpt-4o-mini."""
    return any(n is not None and _SEARCH_MODEL.search(n.strip()) for n in names)
