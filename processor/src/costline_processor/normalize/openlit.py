"""OpenLIT spans, recognised by the span attribute `telemetry.sdk.name=openlit`.

OpenLIT writes semconv names, but its Anthropic instrumentation copies Anthropic's
raw `input_tokens`, which excludes cache reads and writes. Its `gen_ai.usage.cost`
comes from OpenLIT's own price table, so it is not a provider-reported cost.
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

SDK_NAME = "telemetry.sdk.name"
KEYS = frozenset({SDK_NAME})


# How __init__ recognises this dialect: `telemetry.sdk.name=openlit` or the scope.
MARKER_KEYS: frozenset[str] = frozenset()
MARKER_PREFIXES: tuple[str, ...] = ()
SCOPE_PREFIXES = ("openlit",)


def marked(attrs: dict) -> bool:
    return attrs.get(SDK_NAME) == "openlit"


def read(attrs: dict) -> Reading:
    counts = CountReader(attrs)
    provider = normalize_provider(first_str(attrs, *PROVIDER))
    operation = first_str(attrs, OPERATION)
    model = first_str(attrs, RESPONSE_MODEL, REQUEST_MODEL)
    reading = Reading(
        dialect="openlit",
        input=counts.first("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
        output=counts.first("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
        cache_read=counts.first(
            "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.prompt_tokens_details.cached_tokens"
        ),
        cache_write=counts.first("gen_ai.usage.cache_creation.input_tokens"),
        reasoning=counts.first(
            "gen_ai.usage.reasoning_tokens", "gen_ai.usage.completion_tokens_details.reasoning_tokens"
        ),
        audio_input=counts.first(*AUDIO_INPUT),  # the semconv subsets, where a release writes them
        audio_output=counts.first(*AUDIO_OUTPUT),
        audio_cache_read=counts.first(*AUDIO_CACHE_READ),
        image_input=counts.first(*IMAGE_INPUT),
        image_output=counts.first(*IMAGE_OUTPUT),
        image_cache_read=counts.first(*IMAGE_CACHE_READ),
        input_excludes_cache=True if provider == "anthropic" else None,
        model=model,
        request_model=first_str(attrs, REQUEST_MODEL),
        provider=provider,
        operation=operation,
        is_model_call=model is not None and (operation is None or operation in MODEL_OPERATIONS),
    )
    reading.error = counts.error
    return reading
