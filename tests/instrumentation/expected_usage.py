"""Expected span attributes for the fake provider's answers, written out from its documented rules.

Kept apart from the fake provider's code on purpose: if the provider or the
instrumentation drift, these hand-written expectations catch it. W is the number of
whitespace-separated words in the prompt text.
"""

from __future__ import annotations


def words(*texts: str) -> int:
    return sum(len(t.split()) for t in texts)


def openai_chat(w: int, *, reasoning: bool = False, cache_key: bool = False, cost: bool = False) -> dict:
    """Chat and legacy completions: inclusive prompt tokens, reasoning inside completion tokens."""
    r = 3 if reasoning else 0
    out = {
        "gen_ai.usage.input_tokens": 10 + w,
        "gen_ai.usage.output_tokens": 6 + r,
        "gen_ai.usage.cache_read.input_tokens": 0 if cache_key else w,
        "gen_ai.usage.reasoning.output_tokens": r,
    }
    if cache_key:
        out["gen_ai.usage.cache_creation.input_tokens"] = w
        out["gen_ai.usage.cache_write.input_tokens"] = w
    if cost:
        out["costline.reported_cost.usd"] = (10 + w + 6 + r) / 1_000_000
    return out


def openai_responses(w: int, *, reasoning: bool = False, cache_key: bool = False) -> dict:
    r = 3 if reasoning else 0
    return {
        "gen_ai.usage.input_tokens": 10 + w,
        "gen_ai.usage.output_tokens": 6 + r,
        "gen_ai.usage.cache_read.input_tokens": 0 if cache_key else w,
        "gen_ai.usage.cache_creation.input_tokens": w if cache_key else 0,
        "gen_ai.usage.cache_write.input_tokens": w if cache_key else 0,
        "gen_ai.usage.reasoning.output_tokens": r,
    }


def openai_embeddings(w: int) -> dict:
    return {"gen_ai.usage.input_tokens": 10 + w}


def anthropic_messages(w: int, *, one_hour: bool = False, thinking: bool = False, searches: int = 0) -> dict:
    """Anthropic: uncached 10+W, cache read W, cache write 2W (1h share W if asked) -> total input 10+4W;
    web searches as the fake server ran them (a web search tool's max_uses)."""
    out = {
        "gen_ai.usage.input_tokens": (10 + w) + w + 2 * w,
        "gen_ai.usage.output_tokens": 6 + (3 if thinking else 0),
        "gen_ai.usage.cache_read.input_tokens": w,
        "gen_ai.usage.cache_creation.input_tokens": 2 * w,
        "gen_ai.usage.cache_write.input_tokens": 2 * w,
        "costline.usage.cache_write_1h_tokens": w if one_hour else 0,
    }
    if thinking:
        out["gen_ai.usage.reasoning.output_tokens"] = 3
    if searches:
        out["costline.usage.web_searches"] = searches
    return out


USAGE_KEYS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_write.input_tokens",
    "gen_ai.usage.reasoning.output_tokens",
    "costline.usage.cache_write_1h_tokens",
    "costline.usage.web_searches",
    "costline.reported_cost.usd",
    "costline.usage.missing",
)


def usage_of(attributes: dict) -> dict:
    """The usage-related attributes of a span, to compare with an expectation as a whole."""
    return {k: attributes[k] for k in USAGE_KEYS if k in attributes}
