"""One vocabulary for costline's LLM spans: attribute names and the token-usage record.

Names follow the OpenTelemetry GenAI semantic conventions (v1.41, plus the
`cache_write` rename on the genai repository's main branch, written beside the
released `cache_creation` name so readers of either version find it). Names that the
conventions do not have live under `costline.*`.

`Usage` is normalised at the source: `input_tokens` is *total* input (cache reads and
writes included, even for Anthropic, which reports them apart), `output_tokens`
includes reasoning, and the cache/reasoning/audio counts are subsets. Audio counts are
written only when there are some (OpenAI sends `audio_tokens: 0` on every chat call: zero
is what their absence means). A provider that did not report usage gives no `Usage` at
all, and the span says `costline.usage.missing`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# -- operation and identity ----------------------------------------------------------
OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_TOP_P = "gen_ai.request.top_p"
REQUEST_STREAM = "gen_ai.request.stream"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"

# -- usage -------------------------------------------------------------------------
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
CACHE_CREATION_TOKENS = "gen_ai.usage.cache_creation.input_tokens"  # released name (v1.40)
CACHE_WRITE_TOKENS = "gen_ai.usage.cache_write.input_tokens"  # genai-repo main (#440)
REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens"
# Per-modality subsets (genai-repo main, #440): audio is billed at its own rates.
AUDIO_INPUT_TOKENS = "gen_ai.usage.audio.input_tokens"
AUDIO_OUTPUT_TOKENS = "gen_ai.usage.audio.output_tokens"
IMAGE_INPUT_TOKENS = "gen_ai.usage.image.input_tokens"
IMAGE_OUTPUT_TOKENS = "gen_ai.usage.image.output_tokens"
AUDIO_CACHE_READ_TOKENS = "gen_ai.usage.audio.cache_read.input_tokens"  # of both cache reads and audio input
IMAGE_CACHE_READ_TOKENS = "gen_ai.usage.image.cache_read.input_tokens"

# -- content (opt-in only) ---------------------------------------------------------
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"

# -- provider specific ---------------------------------------------------------------
OPENAI_SERVICE_TIER = "openai.response.service_tier"

# -- costline ------------------------------------------------------------------------
USAGE_MISSING = "costline.usage.missing"
CACHE_WRITE_1H_TOKENS = "costline.usage.cache_write_1h_tokens"
WEB_SEARCHES = "costline.usage.web_searches"  # server-side web searches billed with the call (a fee each)
FILE_SEARCHES = "costline.usage.file_searches"  # server-side file (vector store) searches, likewise
# OpenAI web searches by its web_search_preview tool, not in WEB_SEARCHES: priced apart ($25 per 1,000 on gpt-4o)
PREVIEW_WEB_SEARCHES = "costline.usage.preview_web_searches"
REPORTED_COST_USD = "costline.reported_cost.usd"
STEP_NAME = "costline.step.name"

# Operations whose spans are model calls (not agent or tool spans).
INFERENCE_OPERATIONS = frozenset({"chat", "text_completion", "embeddings", "generate_content"})


@dataclass(slots=True)
class Usage:
    """Token counts of one model call, already normalised (see the module docstring)."""

    input_tokens: int = 0
    output_tokens: int | None = None  # embeddings have no output
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    cache_write_1h_tokens: int | None = None
    reasoning_tokens: int | None = None
    reported_cost_usd: float | None = None
    audio_input_tokens: int | None = None
    audio_output_tokens: int | None = None
    image_input_tokens: int | None = None
    image_output_tokens: int | None = None
    web_searches: int | None = None

    def attributes(self) -> dict[str, int | float]:
        """The span attributes for these counts; fields the provider did not report are left out."""
        out: dict[str, int | float] = {INPUT_TOKENS: self.input_tokens}
        if self.output_tokens is not None:
            out[OUTPUT_TOKENS] = self.output_tokens
        if self.cache_read_tokens is not None:
            out[CACHE_READ_TOKENS] = self.cache_read_tokens
        if self.cache_write_tokens is not None:
            out[CACHE_CREATION_TOKENS] = self.cache_write_tokens
            out[CACHE_WRITE_TOKENS] = self.cache_write_tokens
        if self.cache_write_1h_tokens is not None:
            out[CACHE_WRITE_1H_TOKENS] = self.cache_write_1h_tokens
        if self.reasoning_tokens is not None:
            out[REASONING_TOKENS] = self.reasoning_tokens
        if self.reported_cost_usd is not None:
            out[REPORTED_COST_USD] = self.reported_cost_usd
        if self.audio_input_tokens:
            out[AUDIO_INPUT_TOKENS] = self.audio_input_tokens
        if self.audio_output_tokens:
            out[AUDIO_OUTPUT_TOKENS] = self.audio_output_tokens
        if self.image_input_tokens:
            out[IMAGE_INPUT_TOKENS] = self.image_input_tokens
        if self.image_output_tokens:
            out[IMAGE_OUTPUT_TOKENS] = self.image_output_tokens
        if self.web_searches:
            out[WEB_SEARCHES] = self.web_searches
        return out


def as_int(value: object) -> int | None:
    """`value` if it is a real int (bool excluded), else None: SDK fields are optional and loosely typed."""
    return value if type(value) is int else None


_NUMBERS = (int, float)


def as_float(value: object) -> float | None:
    """`value` as a float if it is a number (bool excluded), else None."""
    if type(value) in _NUMBERS:
        return float(value)  # type: ignore[arg-type]
    return None


def extra_number(model: object, name: str) -> float | None:
    """A number the provider sent beyond the SDK's schema (e.g. OpenRouter's `usage.cost`).

    SDK models keep unknown fields in pydantic's extras; reading those directly avoids
    a failing attribute lookup (slow in pydantic) on every call.
    """
    extra = getattr(model, "__pydantic_extra__", None)
    if isinstance(extra, dict):
        return as_float(extra.get(name))
    if extra is None and not hasattr(type(model), "model_fields"):  # a plain object or dict-like
        return as_float(getattr(model, name, None))
    return None


def request_attributes(kwargs: Mapping[str, Any], stream: bool, max_tokens_params: tuple[str, ...]) -> dict[str, Any]:
    """Request parameters worth a span attribute (never the prompt itself).

    `max_tokens_params`: the provider's names for the output cap, the first one set wins.
    """
    out: dict[str, Any] = {REQUEST_STREAM: stream}
    get = kwargs.get
    value: Any  # what the app passed: the checks below keep the types the attributes take
    for name in max_tokens_params:
        value = get(name)
        if type(value) is int:  # `as_int`, inline: this runs on every call
            out[REQUEST_MAX_TOKENS] = value
            break
    value = get("temperature")
    if type(value) in _NUMBERS:  # `as_float`, inline
        out[REQUEST_TEMPERATURE] = float(value)
    value = get("top_p")
    if type(value) in _NUMBERS:
        out[REQUEST_TOP_P] = float(value)
    return out


def response_model_and_id(response: object) -> dict[str, Any]:
    """`gen_ai.response.model` and `gen_ai.response.id` of a response (or stream chunk), where they are strings."""
    out: dict[str, Any] = {}
    model = getattr(response, "model", None)
    if isinstance(model, str):
        out[RESPONSE_MODEL] = model
    response_id = getattr(response, "id", None)
    if isinstance(response_id, str):
        out[RESPONSE_ID] = response_id
    return out
