"""Pydantic AI and Logfire spans.

Pydantic AI writes every cache count twice: under the semconv names and under
`gen_ai.usage.details.*` (plus Anthropic's raw field names). The semconv copy is
read; `details` only supplies what semconv lacks: the 1-hour cache-write subset
(`ephemeral_1h_input_tokens`), reasoning, and the web searches billed with the call
(`web_searches`; for Anthropic its `web_search_requests`, each one billed: Google's
`web_search_requests` counts queries, which are not what Gemini 2 bills, so it is not read).
Input includes the cache counts for every provider (Pydantic AI normalises through
genai-prices). Agent-run totals under `gen_ai.aggregated_usage.*` are never read.
Logfire's `operation.cost` is Logfire's own estimate, not a provider-reported cost.

Streamed calls in Logfire's OpenAI and Anthropic integrations (`logfire.openai`,
`logfire.anthropic`; seen in logfire 5.4.0) make two spans. The request span
("Chat Completion with {request_data[model]!r}", "Message with ...", "Responses API
with ...", "Completion with ...") ends as soon as the SDK returns the stream, so it
never gets a response: no usage, no `gen_ai.response.id`, and a
`gen_ai.response.model` that is only Logfire's copy of the request model. When the
stream is consumed, a zero-length log span "streaming response from
{request_data[model]!r} took {duration:.2f}s" follows, a sibling in the caller's
context, carrying the response model, id and usage. That companion is the billed
call; the request span is no model call. A companion without usage (OpenAI chat
without `stream_options.include_usage`, a stream cut short) is still a model call
with no counts, so the call is flagged `no_usage` once, never a silent $0.

A request span without usage is taken for a stream's only when nothing says it
ended otherwise: a failed request (`logfire.level_num` at error level, the span
Logfire's exception handling marks) never gets a companion and stays a flagged
model call, as does a response that arrived without usage (it has its
`gen_ai.response.id`). Not covered: a stream the app never iterates has no
companion, so its call is not seen (the provider bills it; nothing on the request
span tells it apart from a consumed one).
"""

from __future__ import annotations

from costline_processor.normalize.counts import CountReader, Reading, first_str
from costline_processor.normalize.providers import normalize_provider
from costline_processor.normalize.semconv import (
    AUDIO_CACHE_READ,
    AUDIO_INPUT,
    AUDIO_OUTPUT,
    IMAGE_CACHE_READ,
    IMAGE_INPUT,
    IMAGE_OUTPUT,
    MODEL_OPERATIONS,
    OPERATION,
    PROVIDER,
    REQUEST_MODEL,
    RESPONSE_MODEL,
)

_DETAILS = "gen_ai.usage.details."
LEVEL = "logfire.level_num"  # Logfire's log level: 17 error, 21 fatal
RESPONSE_ID = "gen_ai.response.id"
KEYS: frozenset[str] = frozenset({LEVEL})  # qualifiers only: they never mark a span as a possible model call

_ERROR_LEVEL = 17
_STREAMING_SCOPES = frozenset({"logfire.openai", "logfire.anthropic"})
_STREAMABLE = ("Chat Completion with ", "Completion with ", "Responses API with ", "Message with ")


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
    provider = normalize_provider(first_str(attrs, *PROVIDER))
    searches = (_DETAILS + "web_searches", _DETAILS + "web_search_requests")
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
        audio_input=counts.first(*AUDIO_INPUT),  # the semconv subsets, where a release writes them
        audio_output=counts.first(*AUDIO_OUTPUT),
        audio_cache_read=counts.first(*AUDIO_CACHE_READ),
        image_input=counts.first(*IMAGE_INPUT),
        image_output=counts.first(*IMAGE_OUTPUT),
        image_cache_read=counts.first(*IMAGE_CACHE_READ),
        web_searches=counts.first(*(searches if provider == "anthropic" else searches[:1])),
        input_excludes_cache=False,
        model=model,
        request_model=first_str(attrs, REQUEST_MODEL),
        provider=provider,
        operation=operation,
        is_model_call=model is not None and (operation is None or operation in MODEL_OPERATIONS),
    )
    reading.error = counts.error
    if reading.is_model_call and scope_name in _STREAMING_SCOPES and not reading.has_counts():
        reading.is_model_call = not is_stream_request(attrs, span_name)
    return reading


def is_stream_request(attrs: dict, span_name: str) -> bool:
    """Whether a Logfire OpenAI/Anthropic span without usage is a streamed call's request span,
    whose companion span bills the call (see the module's docstring)."""
    if not span_name.startswith(_STREAMABLE):
        return False  # the companion itself, embeddings, images: read as they are
    level = attrs.get(LEVEL)
    failed = type(level) is int and level >= _ERROR_LEVEL
    return not failed and first_str(attrs, RESPONSE_ID) is None
