"""Pydantic AI and Logfire spans.

Pydantic AI writes every cache count twice: under the semconv names and under
`gen_ai.usage.details.*` (plus Anthropic's raw field names). The semconv copy is
read; `details` only supplies what semconv lacks: the 1-hour cache-write subset
(`ephemeral_1h_input_tokens`) and reasoning. Input includes the cache counts for
every provider (Pydantic AI normalises through genai-prices). Agent-run totals
under `gen_ai.aggregated_usage.*` are never read. Logfire's `operation.cost` is
Logfire's own estimate, not a provider-reported cost.
"""

from __future__ import annotations

from .counts import CountReader, Reading, first_str
from .providers import normalize_provider
from .semconv import MODEL_OPERATIONS, OPERATION, PROVIDER, REQUEST_MODEL, RESPONSE_MODEL

_DETAILS = "gen_ai.usage.details."


# How __init__ recognises this dialect: any of these keys or key prefixes, or the scope.
MARKER_KEYS: frozenset[str] = frozenset()
MARKER_PREFIXES = (_DETAILS,)
SCOPE_PREFIXES = ("pydantic-ai", "logfire")


def read(attrs: dict, scope_name: str, span_name: str) -> Reading:
    counts = CountReader(attrs)
    operation = first_str(attrs, OPERATION)
    if operation is None and span_name.startswith(("agent run", "invoke_agent")):
        operation = "invoke_agent"
    model = first_str(attrs, RESPONSE_MODEL, REQUEST_MODEL)
    reading = Reading(
        dialect="logfire" if scope_name.startswith("logfire") else "pydantic-ai",
        input=counts.first("gen_ai.usage.input_tokens"),
        output=counts.first("gen_ai.usage.output_tokens"),
        cache_read=counts.first(
            "gen_ai.usage.cache_read.input_tokens", _DETAILS + "cache_read_tokens", _DETAILS + "cache_read_input_tokens"
        ),
        cache_write=counts.first(
            "gen_ai.usage.cache_creation.input_tokens",
            "gen_ai.usage.cache_write.input_tokens",
            _DETAILS + "cache_write_tokens",
            _DETAILS + "cache_creation_input_tokens",
        ),
        cache_write_1h=counts.first(_DETAILS + "ephemeral_1h_input_tokens"),
        reasoning=counts.first(
            "gen_ai.usage.reasoning.output_tokens", _DETAILS + "reasoning_tokens", _DETAILS + "thinking_tokens"
        ),
        input_excludes_cache=False,
        model=model,
        request_model=first_str(attrs, REQUEST_MODEL),
        provider=normalize_provider(first_str(attrs, *PROVIDER)),
        operation=operation,
        is_model_call=model is not None and (operation is None or operation in MODEL_OPERATIONS),
    )
    reading.error = counts.error
    return reading
