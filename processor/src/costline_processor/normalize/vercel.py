"""Vercel AI SDK spans (`ai.*`, v4 to v7 legacy telemetry).

The SDK writes `ai.usage.*` and copies input/output to `gen_ai.usage.*` on the same
step span; `ai.usage.*` wins and the copies are never added. v4 says
prompt/completionTokens, v5+ input/outputTokens, embeddings `ai.usage.tokens`.
v6+ writes `ai.usage.inputTokenDetails.*` and an input total that includes the
cache; v5's Anthropic and Bedrock providers pass the raw input (cache excluded)
and report cache writes only in `ai.response.providerMetadata` JSON; there too, in every version, the
part of Anthropic's cache writes with a 1-hour TTL (billed at 2x input, not 1.25x), and the web
searches Anthropic ran for the call (`usage.server_tool_use.web_search_requests`, a fee each). Root spans
(`ai.generateText`, `ai.streamText`...) carry usage summed over their steps and
are marked as `invoke_agent` so assembly can skip them.
"""

from __future__ import annotations

import json

from costline_processor.normalize.counts import CountReader, Reading, first_str
from costline_processor.normalize.providers import normalize_provider
from costline_processor.normalize.semconv import PROVIDER, REQUEST_MODEL, RESPONSE_MODEL

OPERATION_ID = "ai.operationId"
MODEL_ID = "ai.model.id"
MODEL_PROVIDER = "ai.model.provider"
RESPONSE_MODEL_AI = "ai.response.model"
PROVIDER_METADATA = "ai.response.providerMetadata"
KEYS = frozenset({OPERATION_ID, MODEL_ID, MODEL_PROVIDER, RESPONSE_MODEL_AI, PROVIDER_METADATA})

_DETAILS = "ai.usage.inputTokenDetails."
_STEP_SUFFIXES = (".doGenerate", ".doStream", ".doEmbed")
_MAX_METADATA_CHARS = 20_000


# How __init__ recognises this dialect: any of these keys or key prefixes, or the scope.
MARKER_KEYS = frozenset({OPERATION_ID, MODEL_ID})
MARKER_PREFIXES = ("ai.usage.",)
SCOPE_PREFIXES: tuple[str, ...] = ()


def read(attrs: dict) -> Reading:
    counts = CountReader(attrs)
    provider = normalize_provider(first_str(attrs, MODEL_PROVIDER, *PROVIDER))
    operation_id = first_str(attrs, OPERATION_ID) or ""
    has_details = any(key.startswith(_DETAILS) for key in attrs)
    reading = Reading(
        dialect="vercel",
        input=counts.first(
            "ai.usage.inputTokens", "ai.usage.promptTokens", "ai.usage.tokens", "gen_ai.usage.input_tokens"
        ),
        output=counts.first("ai.usage.outputTokens", "ai.usage.completionTokens", "gen_ai.usage.output_tokens"),
        cache_read=counts.first(
            _DETAILS + "cacheReadTokens", "ai.usage.cachedInputTokens", "gen_ai.usage.cache_read.input_tokens"
        ),
        cache_write=counts.first(_DETAILS + "cacheWriteTokens", "gen_ai.usage.cache_creation.input_tokens"),
        reasoning=counts.first(
            "ai.usage.outputTokenDetails.reasoningTokens",
            "ai.usage.reasoningTokens",
            "gen_ai.usage.reasoning.output_tokens",
        ),
        input_excludes_cache=False if has_details else (True if provider in ("anthropic", "aws") else None),
        model=first_str(attrs, RESPONSE_MODEL_AI, RESPONSE_MODEL, MODEL_ID, REQUEST_MODEL),
        request_model=first_str(attrs, MODEL_ID, REQUEST_MODEL),
        provider=provider,
        operation=_operation(operation_id),
        is_model_call=operation_id.endswith(_STEP_SUFFIXES),
    )
    if reading.cache_write is None and not has_details and (reading.input is not None):
        reading.cache_write, reading.cache_write_1h = _metadata_cache_writes(attrs.get(PROVIDER_METADATA), counts)
    elif reading.cache_write:  # v6+: the writes are in the usage details, their 1-hour part only in the metadata
        reading.cache_write_1h = _metadata_cache_writes(attrs.get(PROVIDER_METADATA), counts)[1]
    reading.web_searches = _metadata_searches(attrs.get(PROVIDER_METADATA), counts)
    reading.error = counts.error
    return reading


def _operation(operation_id: str) -> str | None:
    if not operation_id:
        return None
    if ".doEmbed" in operation_id or operation_id.startswith("ai.embed"):
        return "embeddings" if operation_id.endswith(_STEP_SUFFIXES) else "invoke_agent"
    if operation_id.endswith(_STEP_SUFFIXES):
        return "chat"
    if operation_id.startswith(("ai.generate", "ai.stream")):
        return "invoke_agent"
    return operation_id


def _metadata(raw: object, needle: str) -> dict | None:
    """The provider metadata JSON as a dict, when it is one and mentions `needle`."""
    if not isinstance(raw, str) or len(raw) > _MAX_METADATA_CHARS or needle not in raw:
        return None
    try:
        meta = json.loads(raw)
    except ValueError:
        return None
    return meta if isinstance(meta, dict) else None


def _metadata_searches(raw: object, counts: CountReader) -> int | None:
    """Anthropic's web searches for the call, in the raw usage its provider metadata carries."""
    meta = _metadata(raw, "web_search_requests")
    anthropic = meta.get("anthropic") if meta is not None else None
    usage = anthropic.get("usage") if isinstance(anthropic, dict) else None
    tools = usage.get("server_tool_use") if isinstance(usage, dict) else None
    searches = tools.get("web_search_requests") if isinstance(tools, dict) else None
    return counts.parse(PROVIDER_METADATA + ":web_search_requests", searches) if searches is not None else None


def _metadata_cache_writes(raw: object, counts: CountReader) -> tuple[int | None, int | None]:
    """v5 Anthropic/Bedrock cache writes, found only in the provider metadata JSON."""
    meta = _metadata(raw, "ache")
    if meta is None:
        return None, None
    anthropic, bedrock = meta.get("anthropic"), meta.get("bedrock")
    if isinstance(anthropic, dict):
        write = anthropic.get("cacheCreationInputTokens")
        usage = anthropic.get("usage")
        split = usage.get("cache_creation") if isinstance(usage, dict) else None
        one_hour = split.get("ephemeral_1h_input_tokens") if isinstance(split, dict) else None
        return (
            counts.parse(PROVIDER_METADATA + ":anthropic.cacheCreationInputTokens", write)
            if write is not None
            else None,
            counts.parse(PROVIDER_METADATA + ":ephemeral_1h_input_tokens", one_hour) if one_hour is not None else None,
        )
    if isinstance(bedrock, dict) and isinstance(bedrock.get("usage"), dict):
        write = bedrock["usage"].get("cacheWriteInputTokens")
        if write is not None:
            return counts.parse(PROVIDER_METADATA + ":bedrock.usage.cacheWriteInputTokens", write), None
    return None, None
