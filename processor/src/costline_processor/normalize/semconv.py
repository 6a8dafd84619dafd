"""OpenTelemetry GenAI semantic conventions (v1.26 .. the genai repo's main branch).

Also read for costline's own instrumentation, which writes the same names plus
`costline.usage.cache_write_1h_tokens` (the Anthropic 1-hour cache-write subset,
which no semconv attribute carries), `costline.usage.web_searches`,
`costline.usage.file_searches` and `costline.usage.preview_web_searches` (server-side web and file
searches the provider billed with the call, a fee per search; the last OpenAI's web_search_preview
tool's, which has a price of its own) and `costline.usage.missing` (a streamed call whose usage never arrived).

Input includes the cache counts per the spec, except on Bedrock: botocore and the
official genai-bedrock instrumentation copy Converse `inputTokens` raw, which
excludes cache reads and writes.
"""

from __future__ import annotations

from costline_processor.normalize.counts import Reading, first_str, is_true, read_counts
from costline_processor.normalize.providers import normalize_provider

INPUT = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUTPUT = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
CACHE_READ = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.input_tokens.cached")
CACHE_WRITE = (
    "gen_ai.usage.cache_write.input_tokens",  # genai repo main (#440), util-genai 1.3b0
    "gen_ai.usage.cache_creation.input_tokens",  # v1.40 .. v1.41
    "gen_ai.usage.input_tokens.cache_write",  # Sentry
)
REASONING = ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.output_tokens.reasoning")
# Per-modality subsets (genai repo main, #440; util-genai 1.3b0 writes them): audio is billed apart.
AUDIO_INPUT = ("gen_ai.usage.audio.input_tokens",)
AUDIO_OUTPUT = ("gen_ai.usage.audio.output_tokens",)
AUDIO_CACHE_READ = ("gen_ai.usage.audio.cache_read.input_tokens",)
IMAGE_INPUT = ("gen_ai.usage.image.input_tokens",)
IMAGE_OUTPUT = ("gen_ai.usage.image.output_tokens",)
IMAGE_CACHE_READ = ("gen_ai.usage.image.cache_read.input_tokens",)
CACHE_WRITE_1H = "costline.usage.cache_write_1h_tokens"
# The anthropic SDK's own spans (anthropic >= 2) name the 1-hour cache writes their way.
ANTHROPIC_SDK_CACHE_WRITE_1H = "anthropic.usage.cache_creation.ephemeral_1h_input_tokens"
WEB_SEARCHES = "costline.usage.web_searches"
FILE_SEARCHES = "costline.usage.file_searches"
PREVIEW_WEB_SEARCHES = "costline.usage.preview_web_searches"
USAGE_MISSING = "costline.usage.missing"

PROVIDER = ("gen_ai.provider.name", "gen_ai.system")
RESPONSE_MODEL = "gen_ai.response.model"
REQUEST_MODEL = "gen_ai.request.model"
OPERATION = "gen_ai.operation.name"

# Operations that are one call to a model (the rest are agents, tools, workflows).
MODEL_OPERATIONS = frozenset(
    {"chat", "text_completion", "generate_content", "embeddings", "completion", "responses", "rerank"}
)

KEYS = frozenset(
    {
        *PROVIDER,
        RESPONSE_MODEL,
        REQUEST_MODEL,
        OPERATION,
        CACHE_WRITE_1H,
        WEB_SEARCHES,
        FILE_SEARCHES,
        PREVIEW_WEB_SEARCHES,
        USAGE_MISSING,
    }
    | {ANTHROPIC_SDK_CACHE_WRITE_1H}
)


# How __init__ recognises costline's own spans: any of these keys, or the scope.
COSTLINE_MARKER_KEYS = frozenset({CACHE_WRITE_1H, WEB_SEARCHES, FILE_SEARCHES, PREVIEW_WEB_SEARCHES, USAGE_MISSING})
COSTLINE_SCOPE_PREFIXES = ("costline",)


_COUNTS = (
    INPUT,
    OUTPUT,
    CACHE_READ,
    CACHE_WRITE,
    (CACHE_WRITE_1H, ANTHROPIC_SDK_CACHE_WRITE_1H),
    REASONING,
    AUDIO_INPUT,
    AUDIO_OUTPUT,
    AUDIO_CACHE_READ,
    IMAGE_INPUT,
    IMAGE_OUTPUT,
    IMAGE_CACHE_READ,
    (WEB_SEARCHES,),
    (FILE_SEARCHES,),
    (PREVIEW_WEB_SEARCHES,),
)
AUDIO = (AUDIO_INPUT, AUDIO_OUTPUT, AUDIO_CACHE_READ)  # for the dialects that also write the semconv names
IMAGE = (IMAGE_INPUT, IMAGE_OUTPUT, IMAGE_CACHE_READ)


def read(attrs: dict, dialect: str = "semconv") -> Reading:
    counts, error = read_counts(attrs, _COUNTS)
    input_, output, cache_read, cache_write, cache_write_1h, reasoning, *modalities, searches, files, previews = counts
    audio_in, audio_out, audio_read, image_in, image_out, image_read = modalities
    provider = normalize_provider(first_str(attrs, *PROVIDER))
    operation = first_str(attrs, OPERATION)
    request_model = first_str(attrs, REQUEST_MODEL)
    model = first_str(attrs, RESPONSE_MODEL) or request_model
    reading = Reading(
        dialect=dialect,
        input=input_,
        output=output,
        cache_read=cache_read,
        cache_write=cache_write,
        cache_write_1h=cache_write_1h,
        reasoning=reasoning,
        audio_input=audio_in,
        audio_output=audio_out,
        audio_cache_read=audio_read,
        image_input=image_in,
        image_output=image_out,
        image_cache_read=image_read,
        web_searches=searches,
        file_searches=files,
        preview_web_searches=previews,
        input_excludes_cache=True if provider == "aws" else None,
        model=model,
        request_model=request_model,
        provider=provider,
        operation=operation,
        is_model_call=is_true(attrs.get(USAGE_MISSING))
        or (model is not None and (operation is None or operation in MODEL_OPERATIONS)),
    )
    reading.error = error
    return reading


def read_costline(attrs: dict) -> Reading:
    return read(attrs, "costline")
