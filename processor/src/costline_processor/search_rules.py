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
"""

from __future__ import annotations

import re
from decimal import Decimal

SOURCE = (
    "https://platform.openai.com/docs/pricing#built-in-tools (web search preview: reasoning models $10 / 1k "
    "calls + search content tokens at model rates; non-reasoning models $25 / 1k calls, search content tokens "
    "free) and https://community.openai.com/t/search-web-using-openai-api/1363698 (OpenAI staff: gpt-5, o3 at "
    "$10, 4o, 4.1 at $25)"
)
NON_REASONING = Decimal(25) / 1000  # USD per preview search on gpt-4o and gpt-4.1 and their minis and nanos
_NON_REASONING = re.compile(r"gpt-4(o|\.1)(-mini|-nano)?(-\d{4}-\d{2}-\d{2})?$")


def preview_rate(provider: str, model: str, per_web_search: Decimal | None) -> Decimal | None:
    """USD per web_search_preview search of `provider`'s `model` (genai-prices' ids), whose GA web search costs
    `per_web_search`; None where the rule gives none (another provider, a model without a web-search price)."""
    if provider != "openai":
        return None
    return NON_REASONING if _NON_REASONING.match(model) else per_web_search
