"""Pure functions from Anthropic SDK requests and responses to span attributes and `Usage`.

Anthropic reports input *exclusive* of the cache: `input_tokens` is only the uncached
part, with `cache_read_input_tokens` and `cache_creation_input_tokens` beside it. The
semantic conventions (and genai-prices) want `gen_ai.usage.input_tokens` to be the
total, so the three are summed here and the cache counts stay as subsets. The cache
write may be split by TTL (`cache_creation.ephemeral_5m/1h_input_tokens`), priced
differently; the 1-hour part is kept as `costline.usage.cache_write_1h_tokens`. Web searches
the server ran (`server_tool_use.web_search_requests`, $10 per 1,000 on top of the tokens) are
`costline.usage.web_searches`.
`output_tokens` already includes thinking tokens. A request that compacts its context (the
`compact_...` context-management edit) runs a summarization besides the reply: its counts are a
`compaction` entry of `usage.iterations`, which the top-level counts leave out ("sum across all
entries in usage.iterations" for the total, Anthropic's compaction docs), so they are added here.

The tier, speed and place a call ran at (`usage.service_tier`: standard, priority or batch;
`usage.speed`: standard or fast, fast mode's premium rates; `usage.inference_geo`: global, or "us",
1.1x) are `anthropic.response.service_tier` (the name the SDK's own spans use),
`anthropic.response.speed` and `anthropic.response.inference_geo`: the processor prices a call in
a tier, speed or geo other than the standard one with a caveat, never silently at the standard rate.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from costline.instrumentation import genai_attributes
from costline.instrumentation.genai_attributes import (
    INPUT_MESSAGES,
    OUTPUT_MESSAGES,
    RESPONSE_FINISH_REASONS,
    Usage,
    as_int,
    extra_number,
    response_model_and_id,
)

SERVICE_TIER = "anthropic.response.service_tier"
SPEED = "anthropic.response.speed"
INFERENCE_GEO = "anthropic.response.inference_geo"


def request_attributes(kwargs: Mapping[str, Any], stream: bool) -> dict[str, Any]:
    """Request parameters worth a span attribute (never the prompt itself)."""
    return genai_attributes.request_attributes(kwargs, stream, ("max_tokens",))


@dataclass(slots=True)
class UsageFields:
    """Anthropic's raw counts, as they accumulate over a stream (or arrive in one message)."""

    input_tokens: int | None = None
    cache_read: int | None = None
    cache_creation: int | None = None
    cache_creation_1h: int | None = None
    output_tokens: int | None = None
    thinking: int | None = None
    web_searches: int | None = None
    cost: float | None = None
    compaction: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)  # input, cache read, write, 1h write, output

    def update(self, usage: Any) -> None:
        """Take every count `usage` has; keep the earlier value of those it lacks.

        Stream deltas are cumulative and may omit fields, so overwrite, never add
        (the SDK's own accumulator does the same).
        """
        for name, source in (
            ("input_tokens", "input_tokens"),
            ("cache_read", "cache_read_input_tokens"),
            ("cache_creation", "cache_creation_input_tokens"),
            ("output_tokens", "output_tokens"),
        ):
            value = as_int(getattr(usage, source, None))
            if value is not None:
                setattr(self, name, value)
        one_hour = as_int(_part(getattr(usage, "cache_creation", None), "ephemeral_1h_input_tokens"))
        if one_hour is not None:
            self.cache_creation_1h = one_hour
        thinking = as_int(_part(getattr(usage, "output_tokens_details", None), "thinking_tokens"))
        if thinking is not None:
            self.thinking = thinking
        searches = as_int(_part(getattr(usage, "server_tool_use", None), "web_search_requests"))
        if searches is not None:
            self.web_searches = searches
        cost = extra_number(usage, "cost")  # an Anthropic-format proxy may report one
        if cost is not None:
            self.cost = cost
        iterations = getattr(usage, "iterations", None)
        if isinstance(iterations, list):  # cumulative, like the counts: the latest list is the whole
            self.compaction = compaction_counts(iterations)

    def normalised(self) -> Usage | None:
        if self.input_tokens is None:
            return None
        c_input, c_read, c_write, c_1h, c_output = self.compaction
        cache_read, cache_write = _plus(self.cache_read, c_read), _plus(self.cache_creation, c_write)
        return Usage(
            input_tokens=self.input_tokens + c_input + (cache_read or 0) + (cache_write or 0),
            output_tokens=_plus(self.output_tokens, c_output),
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
            cache_write_1h_tokens=_plus(self.cache_creation_1h, c_1h),
            reasoning_tokens=self.thinking,
            reported_cost_usd=self.cost,
            web_searches=self.web_searches,
        )


def compaction_counts(iterations: list[Any]) -> tuple[int, int, int, int, int]:
    """The summed counts of the `compaction` entries of `usage.iterations` (input, cache read, cache write,
    its 1-hour part, output)."""
    sums = [0, 0, 0, 0, 0]
    for item in iterations:
        if getattr(item, "type", None) != "compaction":
            continue
        one_hour = getattr(getattr(item, "cache_creation", None), "ephemeral_1h_input_tokens", None)
        fields = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
        counts = [*(getattr(item, f, None) for f in fields), one_hour, getattr(item, "output_tokens", None)]
        for i, value in enumerate(counts):
            sums[i] += as_int(value) or 0
    return sums[0], sums[1], sums[2], sums[3], sums[4]


def _part(details: Any, name: str) -> Any:
    """A field of a usage detail object; a dict where the SDK predates the field's model (anthropic 0.40 keeps
    `cache_creation` as the raw JSON object)."""
    return details.get(name) if isinstance(details, dict) else getattr(details, name, None)


def _plus(count: int | None, extra: int) -> int | None:
    """`count` + `extra`, keeping an absent count absent when there is nothing to add."""
    return count if not extra else (count or 0) + extra


def message_usage(usage: Any) -> Usage | None:
    """Normalised usage of a whole `Message`."""
    if usage is None:
        return None
    fields = UsageFields()
    fields.update(usage)
    return fields.normalised()


def message_attributes(message: Any) -> dict[str, Any]:
    """Response model, id, stop reason, tier, speed and geo of a `Message` (or a `message_start` snapshot)."""
    out = response_model_and_id(message)
    reason = getattr(message, "stop_reason", None)
    if isinstance(reason, str):
        out[RESPONSE_FINISH_REASONS] = [reason]
    usage = getattr(message, "usage", None)
    for name, field in ((SERVICE_TIER, "service_tier"), (SPEED, "speed"), (INFERENCE_GEO, "inference_geo")):
        value = getattr(usage, field, None)
        if isinstance(value, str):
            out[name] = value
    return out


def input_messages(kwargs: Mapping[str, Any]) -> dict[str, str]:
    """System prompt and messages as JSON, for the opt-in content capture."""
    payload = {"system": kwargs.get("system"), "messages": kwargs.get("messages")}
    return {INPUT_MESSAGES: json.dumps(payload, default=str, ensure_ascii=False)}


def output_messages(message: Any) -> dict[str, str]:
    """The reply's text blocks as JSON, for the opt-in content capture."""
    texts = [b.text for b in getattr(message, "content", None) or () if isinstance(getattr(b, "text", None), str)]
    parts = [{"type": "text", "content": t} for t in texts]
    return {OUTPUT_MESSAGES: json.dumps([{"role": "assistant", "parts": parts}], ensure_ascii=False)} if texts else {}
