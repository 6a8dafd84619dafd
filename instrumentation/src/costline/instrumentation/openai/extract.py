"""Pure functions from OpenAI SDK requests and responses to span attributes and `Usage`.

No spans, no I/O: the patch module orchestrates, these only read. Every field is read
with `getattr(..., None)` because the SDK's models make most usage details optional
and older SDK versions lack some of them (e.g. `cache_write_tokens`, new in 2026).

OpenAI's counts are already inclusive: `prompt_tokens`/`input_tokens` contain the
cached and cache-write tokens, `completion_tokens`/`output_tokens` contain reasoning.
A Responses result's web searches are its `web_search_call` output items, each billed
apiece on top of the tokens: `costline.usage.web_searches`; its file searches (the file_search
tool over vector stores, $2.50 per 1,000) its `file_search_call` items:
`costline.usage.file_searches`. A web_search_call item does not say which version of the tool ran it,
and OpenAI bills them differently (web_search_preview $25 per 1,000 on gpt-4o and gpt-4.1, whose
search content is free; web_search $10 and the content at the model's rates): the result echoes the
request's `tools`, and when every web search tool there is a `web_search_preview*` one, its searches are
`costline.usage.preview_web_searches` instead. An Images API result
(`images.generate`: gpt-image-1 and later) reports input and output tokens as the Responses
API does, with their image parts (`input_tokens_details.image_tokens`,
`output_tokens_details.image_tokens`): `gen_ai.usage.image.input_tokens` / `.output_tokens`,
billed at the model's image rates.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from costline.instrumentation import genai_attributes
from costline.instrumentation.genai_attributes import (
    _NUMBERS,
    AUDIO_INPUT_TOKENS,
    AUDIO_OUTPUT_TOKENS,
    CACHE_CREATION_TOKENS,
    CACHE_READ_TOKENS,
    CACHE_WRITE_TOKENS,
    FILE_SEARCHES,
    IMAGE_INPUT_TOKENS,
    IMAGE_OUTPUT_TOKENS,
    INPUT_MESSAGES,
    INPUT_TOKENS,
    OPENAI_SERVICE_TIER,
    OUTPUT_MESSAGES,
    OUTPUT_TOKENS,
    PREVIEW_WEB_SEARCHES,
    REASONING_TOKENS,
    REPORTED_COST_USD,
    RESPONSE_FINISH_REASONS,
    WEB_SEARCHES,
    Usage,
    as_int,
    extra_number,
    response_model_and_id,
)

# OpenAI-compatible hosts whose provider has a well-known semconv name.
_PROVIDERS_BY_HOST_SUFFIX = (
    (".openai.azure.com", "azure.ai.openai"),
    ("api.groq.com", "groq"),
    ("api.deepseek.com", "deepseek"),
    ("api.x.ai", "x_ai"),
    ("api.mistral.ai", "mistral_ai"),
    ("api.perplexity.ai", "perplexity"),
)
_MAX_TOKENS_PARAMS = ("max_completion_tokens", "max_tokens", "max_output_tokens")


@functools.lru_cache(maxsize=256)
def provider_for_host(host: str | None) -> str:
    """`gen_ai.provider.name` for an OpenAI-compatible host; `openai` unless the host says otherwise."""
    if host:
        for suffix, name in _PROVIDERS_BY_HOST_SUFFIX:
            if host.endswith(suffix):
                return name
    return "openai"


def request_attributes(kwargs: Mapping[str, Any], stream: bool) -> dict[str, Any]:
    """Request parameters worth a span attribute (never the prompt itself)."""
    return genai_attributes.request_attributes(kwargs, stream, _MAX_TOKENS_PARAMS)


def with_stream_usage(kwargs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """`kwargs` asking for the final usage chunk, and whether costline had to add the request."""
    options = kwargs.get("stream_options")
    if isinstance(options, Mapping):
        if options.get("include_usage") is not None:
            return kwargs, False  # the app decided; respect it either way
        return {**kwargs, "stream_options": {**options, "include_usage": True}}, True
    if options is not None and type(options).__name__ not in ("Omit", "NotGiven"):
        return kwargs, False
    return {**kwargs, "stream_options": {"include_usage": True}}, True


def _cost(usage: Any) -> float | None:
    """A cost the provider put in the usage block (OpenRouter-style `usage.cost`), in USD."""
    return extra_number(usage, "cost")


def chat_usage(usage: Any) -> Usage | None:
    """Usage of a chat or legacy completion (`CompletionUsage`); embeddings have no completion part."""
    if usage is None:
        return None
    prompt = as_int(getattr(usage, "prompt_tokens", None))
    if prompt is None:
        return None
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    return Usage(
        input_tokens=prompt,
        output_tokens=as_int(getattr(usage, "completion_tokens", None)),
        cache_read_tokens=as_int(getattr(prompt_details, "cached_tokens", None)),
        cache_write_tokens=as_int(getattr(prompt_details, "cache_write_tokens", None)),
        reasoning_tokens=as_int(getattr(completion_details, "reasoning_tokens", None)),
        reported_cost_usd=_cost(usage),
        audio_input_tokens=as_int(getattr(prompt_details, "audio_tokens", None)),
        audio_output_tokens=as_int(getattr(completion_details, "audio_tokens", None)),
    )


def responses_usage(usage: Any) -> Usage | None:
    """Usage of a Responses API response (`ResponseUsage`: openai 3.60 has no audio counts in it; the Realtime
    API's `RealtimeResponseUsage` has them: `realtime_extract.realtime_usage`)."""
    if usage is None:
        return None
    input_tokens = as_int(getattr(usage, "input_tokens", None))
    if input_tokens is None:
        return None
    input_details = getattr(usage, "input_tokens_details", None)
    output_details = getattr(usage, "output_tokens_details", None)
    return Usage(
        input_tokens=input_tokens,
        output_tokens=as_int(getattr(usage, "output_tokens", None)),
        cache_read_tokens=as_int(getattr(input_details, "cached_tokens", None)),
        cache_write_tokens=as_int(getattr(input_details, "cache_write_tokens", None)),
        reasoning_tokens=as_int(getattr(output_details, "reasoning_tokens", None)),
        reported_cost_usd=_cost(usage),
    )


def _usage_into(names: tuple[str, str, str, str, str], usage: Any, out: dict[str, Any]) -> bool:
    """`chat_usage(usage).attributes()` (or `responses_usage`'s, by the field `names`) written into `out`.

    The same attributes in the same order as going through `Usage`, without making one:
    this runs once per non-streamed call. False (and nothing written) when there is no usage.
    """
    if usage is None:
        return False
    input_name, output_name, input_details_name, output_details_name, cached_name = names
    value: Any  # whatever the SDK object holds: each use checks its type first
    input_tokens = getattr(usage, input_name, None)
    if type(input_tokens) is not int:
        return False
    out[INPUT_TOKENS] = input_tokens
    value = getattr(usage, output_name, None)
    if type(value) is int:
        out[OUTPUT_TOKENS] = value
    details = getattr(usage, input_details_name, None)
    value = getattr(details, cached_name, None)
    if type(value) is int:
        out[CACHE_READ_TOKENS] = value
    value = getattr(details, "cache_write_tokens", None)
    if type(value) is int:
        out[CACHE_CREATION_TOKENS] = value
        out[CACHE_WRITE_TOKENS] = value
    output_details = getattr(usage, output_details_name, None)
    value = getattr(output_details, "reasoning_tokens", None)
    if type(value) is int:
        out[REASONING_TOKENS] = value
    extra = getattr(usage, "__pydantic_extra__", None)  # `_cost(usage)`, its common case inline
    if isinstance(extra, dict):
        value = extra.get("cost")
        if type(value) in _NUMBERS:
            out[REPORTED_COST_USD] = float(value)
    else:
        cost = _cost(usage)
        if cost is not None:
            out[REPORTED_COST_USD] = cost
    value = getattr(details, "audio_tokens", None)  # chat only; written when there are some, as Usage does
    if type(value) is int and value:
        out[AUDIO_INPUT_TOKENS] = value
    value = getattr(output_details, "audio_tokens", None)
    if type(value) is int and value:
        out[AUDIO_OUTPUT_TOKENS] = value
    return True


_CHAT_USAGE_FIELDS = (
    "prompt_tokens",
    "completion_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
    "cached_tokens",
)
_RESPONSES_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "input_tokens_details",
    "output_tokens_details",
    "cached_tokens",
)


# (usage, out) -> bool: `chat_usage(usage).attributes()` / `responses_usage`'s written into `out`;
# False when there is no usage. Partials (called from C), one Python frame fewer per call.
chat_usage_into = functools.partial(_usage_into, _CHAT_USAGE_FIELDS)
responses_usage_into = functools.partial(_usage_into, _RESPONSES_USAGE_FIELDS)


def response_attributes(response: Any) -> dict[str, Any]:
    """Model, id, service tier and finish reasons of a chat/completion/embedding/Responses result."""
    out = response_model_and_id(response)
    tier = getattr(response, "service_tier", None)
    if isinstance(tier, str):
        out[OPENAI_SERVICE_TIER] = tier
    output = getattr(response, "output", None)
    if output and isinstance(output, list):  # Responses: each web_search_call / file_search_call item is a search
        kinds = [getattr(item, "type", None) for item in output]
        web = PREVIEW_WEB_SEARCHES if "web_search_call" in kinds and _preview_only(response) else WEB_SEARCHES
        for kind, key in (("web_search_call", web), ("file_search_call", FILE_SEARCHES)):
            if kind in kinds:
                out[key] = kinds.count(kind)
    choices = getattr(response, "choices", None)
    if choices:
        reasons = []
        for choice in choices:
            reason = getattr(choice, "finish_reason", None)
            if isinstance(reason, str):
                reasons.append(reason)
        if reasons:
            out[RESPONSE_FINISH_REASONS] = reasons
    return out


def _preview_only(response: Any) -> bool:
    """Whether every web search tool of a Responses result's `tools` (the request's, echoed) is web_search_preview
    (or a dated `web_search_preview_2025_03_11`): its searches are billed at the preview tool's price."""
    tools = getattr(response, "tools", None)
    kinds = [str(getattr(t, "type", None) or "") for t in tools] if isinstance(tools, list) else []
    web = [k for k in kinds if k.startswith("web_search")]
    return bool(web) and all(k.startswith("web_search_preview") for k in web)


def input_messages(kwargs: Mapping[str, Any]) -> dict[str, str]:
    """The prompt as JSON, for the opt-in content capture."""
    for name in ("messages", "input", "prompt"):
        if name in kwargs:
            return {INPUT_MESSAGES: json.dumps(kwargs[name], default=str, ensure_ascii=False)}
    return {}


def output_messages(response: Any) -> dict[str, str]:
    """The completion text as JSON, for the opt-in content capture."""
    texts: list[str] = []
    for choice in getattr(response, "choices", None) or ():
        message = getattr(choice, "message", None)
        text = getattr(message, "content", None) if message is not None else getattr(choice, "text", None)
        if isinstance(text, str):
            texts.append(text)
    output_text = getattr(response, "output_text", None)
    if not texts and isinstance(output_text, str):
        texts.append(output_text)
    return {OUTPUT_MESSAGES: output_json(texts)} if texts else {}


def output_json(texts: list[str]) -> str:
    """Output texts in the semconv `gen_ai.output.messages` shape."""
    messages = [{"role": "assistant", "parts": [{"type": "text", "content": t}]} for t in texts]
    return json.dumps(messages, ensure_ascii=False)


def images_usage(usage: Any) -> Usage | None:
    """Usage of an Images API result (`ImagesResponse.usage`): the Responses API's fields and their image parts."""
    found = responses_usage(usage)
    if found is not None:
        found.image_input_tokens = as_int(getattr(getattr(usage, "input_tokens_details", None), "image_tokens", None))
        found.image_output_tokens = as_int(getattr(getattr(usage, "output_tokens_details", None), "image_tokens", None))
    return found


def images_usage_into(usage: Any, out: dict[str, Any]) -> bool:
    """`images_usage(usage).attributes()` written into `out`; False when there is no usage."""
    if not responses_usage_into(usage, out):
        return False
    for details, name in (("input_tokens_details", IMAGE_INPUT_TOKENS), ("output_tokens_details", IMAGE_OUTPUT_TOKENS)):
        value = getattr(getattr(usage, details, None), "image_tokens", None)
        if type(value) is int and value:
            out[name] = value
    return True


def transcription_usage(usage: Any) -> Usage | None:
    """Usage of a transcription (`Transcription.usage`, or a stream's `transcript.text.done`): the token-billed
    models (gpt-4o-transcribe...) report input (the audio and the prompt's text) and output tokens, the audio a
    subset of the input, billed at the audio rate. A minute-billed model's (whisper-1: `type: duration`, seconds)
    has no token counts: None, so the span says its usage is missing instead of costing $0."""
    if getattr(usage, "type", None) != "tokens":
        return None
    input_tokens = as_int(getattr(usage, "input_tokens", None))
    if input_tokens is None:
        return None
    details = getattr(usage, "input_token_details", None)
    return Usage(
        input_tokens=input_tokens,
        output_tokens=as_int(getattr(usage, "output_tokens", None)),
        audio_input_tokens=as_int(getattr(details, "audio_tokens", None)),
    )


def transcription_usage_into(usage: Any, out: dict[str, Any]) -> bool:
    """`transcription_usage(usage).attributes()` written into `out`; False when there is no token usage."""
    found = transcription_usage(usage)
    if found is None:
        return False
    out.update(found.attributes())
    return True
