"""OpenLLMetry (Traceloop) spans, 0.4x to 0.6x.

Names moved between releases: `gen_ai.usage.prompt_tokens` (<= 0.47) became
`input_tokens`; cache counts went from `cache_read_input_tokens` (underscores,
<= 0.55) to the dotted semconv names; reasoning sits under
`gen_ai.usage.reasoning_tokens` or, briefly, `llm.usage.reasoning_tokens`. The
operation is `llm.request.type` on older releases. Anthropic input includes the
cache counts since 0.40; Bedrock Converse input excludes them.
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

REQUEST_TYPE = "llm.request.type"
SPAN_KIND = "traceloop.span.kind"
KEYS = frozenset({REQUEST_TYPE, SPAN_KIND})

_OWN_USAGE = frozenset(
    {
        "gen_ai.usage.cache_read_input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
        "gen_ai.usage.reasoning_tokens",
    }
)
_REQUEST_TYPES = {"chat": "chat", "completion": "text_completion", "embedding": "embeddings", "rerank": "rerank"}


# How __init__ recognises this dialect: any of these keys or key prefixes, or the scope.
MARKER_KEYS = frozenset({REQUEST_TYPE, SPAN_KIND}) | _OWN_USAGE
MARKER_PREFIXES = ("llm.usage.",)
SCOPE_PREFIXES: tuple[str, ...] = ()


def read(attrs: dict) -> Reading:
    counts = CountReader(attrs)
    provider = normalize_provider(first_str(attrs, *PROVIDER))
    request_type = first_str(attrs, REQUEST_TYPE)
    operation = first_str(attrs, OPERATION) or (
        _REQUEST_TYPES.get(request_type.lower(), request_type.lower()) if request_type else None
    )
    model = first_str(attrs, RESPONSE_MODEL, REQUEST_MODEL)
    reading = Reading(
        dialect="openllmetry",
        input=counts.first("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens"),
        output=counts.first(
            "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.usage.completion_tokens"
        ),
        cache_read=counts.first("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens"),
        cache_write=counts.first(
            "gen_ai.usage.cache_creation.input_tokens",
            "gen_ai.usage.cache_creation_input_tokens",
            "gen_ai.usage.cache_write.input_tokens",
        ),
        reasoning=counts.first(
            "gen_ai.usage.reasoning_tokens", "llm.usage.reasoning_tokens", "gen_ai.usage.reasoning.output_tokens"
        ),
        audio_input=counts.first(*AUDIO_INPUT),  # the semconv subsets, where a release writes them
        audio_output=counts.first(*AUDIO_OUTPUT),
        audio_cache_read=counts.first(*AUDIO_CACHE_READ),
        image_input=counts.first(*IMAGE_INPUT),
        image_output=counts.first(*IMAGE_OUTPUT),
        image_cache_read=counts.first(*IMAGE_CACHE_READ),
        input_excludes_cache=True if provider == "aws" else None,
        model=model,
        request_model=first_str(attrs, REQUEST_MODEL),
        provider=provider,
        operation=operation,
        is_model_call=model is not None and (request_type is not None or operation in MODEL_OPERATIONS),
    )
    reading.error = counts.error
    return reading
