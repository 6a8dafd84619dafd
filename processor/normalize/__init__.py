"""normalize: recognise a model-call span and read its usage in the semconv meaning.

Each instrumentation library speaks its own dialect of attribute names and token
semantics. One dialect is picked per span, first match wins, and only that
dialect's names are read, so the synonyms a library writes twice on one span
(OpenInference's semconv copies, Vercel's `ai.usage.*` + `gen_ai.usage.*`,
Pydantic AI's `details`) are never summed. Precedence:

    costline > openinference > openlit > vercel > pydantic-ai/logfire > langsmith > openllmetry > semconv

The result follows the semconv meaning: input includes cache reads and writes,
output includes reasoning. Emitters known to exclude the cache from input
(Bedrock paths, OpenLIT Anthropic, OpenInference Anthropic < 0.1.14, Vercel v5
Anthropic) get the cache counts added; for the rest, cache_read + cache_write >
input can only mean the same, and reasoning > output means output excluded it.

Reported cost: only a cost the provider itself returned counts, because pricing
lets it win over the price sheet. `costline.reported_cost.usd` (costline's
instrumentation copies e.g. OpenRouter's `usage.cost`) and OpenInference's
`llm.cost.total` are read. `gen_ai.usage.cost` (OpenLIT's own price table, and
costline's output) and `operation.cost` (Logfire's genai-prices estimate) are
estimates, not bills, and are ignored.
"""

from __future__ import annotations

from ..records import INVALID_USAGE, NO_USAGE, AttrValue, ModelCall, Usage
from . import langsmith, logfire, openinference, openllmetry, openlit, semconv, vercel
from .counts import Reading, as_usd, first_str, is_true

SERVER_ADDRESS = "server.address"
SERVICE_TIER = (
    "openai.response.service_tier",
    "gen_ai.openai.response.service_tier",
    "openai.request.service_tier",
    "gen_ai.openai.request.service_tier",
)
BATCH = "costline.batch"
REPORTED_COST = "costline.reported_cost.usd"

INTERESTING_PREFIXES: tuple[str, ...] = ("gen_ai.usage.", "llm.token_count.", "llm.usage.", "ai.usage.")
INTERESTING_KEYS: frozenset[str] = frozenset(
    {SERVER_ADDRESS, *SERVICE_TIER, BATCH, REPORTED_COST}
    | semconv.KEYS
    | openllmetry.KEYS
    | openinference.KEYS
    | openlit.KEYS
    | vercel.KEYS
    | langsmith.KEYS
)
# Keys that make a span worth a closer look; the rest only qualify a model call.
_MARKERS = INTERESTING_KEYS - {SERVER_ADDRESS, *SERVICE_TIER, BATCH, openlit.SDK_NAME}


def normalize_span(
    attrs: dict[str, AttrValue],
    *,
    scope_name: str = "",
    scope_version: str = "",
    span_name: str = "",
    span_kind: int = 0,
) -> ModelCall | None:
    """The model call this span records, or None when it records none."""
    for key in attrs:
        if key in _MARKERS or key.startswith(INTERESTING_PREFIXES):
            break
    else:
        return None
    scope_name = scope_name if isinstance(scope_name, str) else ""
    reading = _read(attrs, scope_name, scope_version if isinstance(scope_version, str) else "", span_name or "")
    if not reading.has_counts() and not reading.is_model_call:
        return None
    call = ModelCall(
        dialect=reading.dialect,
        model=reading.model,
        request_model=reading.request_model,
        provider=reading.provider,
        server_address=first_str(attrs, SERVER_ADDRESS),
        operation=reading.operation,
    )
    reported = as_usd(attrs.get(REPORTED_COST))
    call.reported_cost_usd = reported if reported is not None else reading.reported_cost_usd
    _set_tier(call, attrs)
    if reading.error is not None:
        call.status, call.detail = INVALID_USAGE, reading.error
    elif not reading.has_counts():
        call.status, call.detail = NO_USAGE, "the span records a model call but no token counts"
    else:
        usage, problem = _usage(reading)
        if problem:
            call.status, call.detail = INVALID_USAGE, problem
        else:
            call.usage = usage
    return call


def _read(attrs: dict, scope_name: str, scope_version: str, span_name: str) -> Reading:
    if semconv.detect_costline(attrs, scope_name):
        return semconv.read_costline(attrs)
    if openinference.detect(attrs, scope_name):
        return openinference.read(attrs, scope_name, scope_version)
    if openlit.detect(attrs, scope_name):
        return openlit.read(attrs)
    if vercel.detect(attrs, scope_name):
        return vercel.read(attrs)
    if logfire.detect(attrs, scope_name):
        return logfire.read(attrs, scope_name, span_name)
    if langsmith.detect(attrs, scope_name):
        return langsmith.read(attrs)
    if openllmetry.detect(attrs, scope_name):
        return openllmetry.read(attrs)
    return semconv.read(attrs)


def _usage(r: Reading) -> tuple[Usage | None, str | None]:
    """Counts in the semconv meaning, or the reason they contradict each other."""
    input_tokens, output_tokens = r.input or 0, r.output or 0
    cache_read, cache_write, reasoning = r.cache_read or 0, r.cache_write or 0, r.reasoning or 0
    one_hour = r.cache_write_1h or 0
    if one_hour > cache_write:
        if r.cache_write is not None:
            return None, f"1-hour cache writes ({one_hour}) exceed all cache writes ({cache_write})"
        cache_write = one_hour
    if r.input_excludes_cache or cache_read + cache_write > input_tokens:
        input_tokens += cache_read + cache_write
    if r.output_excludes_reasoning or reasoning > output_tokens:
        output_tokens += reasoning
    return Usage(input_tokens, output_tokens, cache_read, cache_write, one_hour, reasoning), None


def _set_tier(call: ModelCall, attrs: dict) -> None:
    tier = first_str(attrs, *SERVICE_TIER)
    tier = tier.lower() if tier else None
    call.batch = is_true(attrs.get(BATCH)) or tier == "batch"
    call.service_tier = None if tier in (None, "auto", "batch") else tier


__all__ = ["INTERESTING_KEYS", "INTERESTING_PREFIXES", "normalize_span"]
