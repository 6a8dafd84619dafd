"""OpenInference (Arize) spans: `llm.token_count.*`, `llm.model_name`, span kinds.

With OPENINFERENCE_ENABLE_GENAI_SEMCONV the same counts are copied to
`gen_ai.usage.*` on the same span; only the `llm.token_count.*` originals are read.
Input includes the cache counts except in the Anthropic instrumentation before
0.1.14 and in Bedrock Converse spans. `llm.cost.total` is taken as a reported cost
(OpenInference defines it for costs the caller already knows).

Audio subsets: `llm.token_count.prompt_details.audio` and
`llm.token_count.completion_details.audio` (openinference-semantic-conventions).

Embedding spans name their model in `embedding.model_name`, not `llm.model_name`,
and count `llm.token_count.prompt` = `llm.token_count.total` (no completion; seen in
openinference-instrumentation-openai 0.1.66). An embedding span with `total` alone
is billed that as input: an embedding has no output tokens.
"""

from __future__ import annotations

import re

from costline_processor.normalize import semconv
from costline_processor.normalize.counts import CountReader, Reading, as_usd, first_str
from costline_processor.normalize.providers import normalize_provider
from costline_processor.normalize.semconv import OPERATION, PROVIDER, REQUEST_MODEL, RESPONSE_MODEL

SPAN_KIND = "openinference.span.kind"
MODEL = "llm.model_name"
LLM_REQUEST_MODEL = "llm.request.model_name"
LLM_RESPONSE_MODEL = "llm.response.model_name"
LLM_PROVIDER = "llm.provider"
LLM_SYSTEM = "llm.system"
COST_TOTAL = "llm.cost.total"
EMBEDDING_MODEL = "embedding.model_name"
KEYS = frozenset(
    {SPAN_KIND, MODEL, LLM_REQUEST_MODEL, LLM_RESPONSE_MODEL, LLM_PROVIDER, LLM_SYSTEM, COST_TOTAL, EMBEDDING_MODEL}
)

_KINDS = {
    "LLM": "chat",
    "EMBEDDING": "embeddings",
    "AGENT": "invoke_agent",
    "TOOL": "execute_tool",
    "RETRIEVER": "retrieval",
    "RERANKER": "rerank",
}
_ANTHROPIC_INCLUSIVE_SINCE = (0, 1, 14)


# How __init__ recognises this dialect: any of these keys or key prefixes, or the scope.
MARKER_KEYS = frozenset({SPAN_KIND})
MARKER_PREFIXES = ("llm.token_count.",)
SCOPE_PREFIXES = ("openinference",)


def read(attrs: dict, scope_name: str, scope_version: str) -> Reading:
    counts = CountReader(attrs)
    provider = normalize_provider(first_str(attrs, LLM_PROVIDER, LLM_SYSTEM, *PROVIDER))
    kind = first_str(attrs, SPAN_KIND)
    kind = kind.upper() if kind else None
    model = first_str(
        attrs, LLM_RESPONSE_MODEL, MODEL, EMBEDDING_MODEL, RESPONSE_MODEL, LLM_REQUEST_MODEL, REQUEST_MODEL
    )
    reading = Reading(
        dialect="openinference",
        input=counts.first("llm.token_count.prompt"),
        output=counts.first("llm.token_count.completion"),
        cache_read=counts.first(
            "llm.token_count.prompt_details.cache_read", "llm.token_count.prompt_details.cache_input"
        ),
        cache_write=counts.first("llm.token_count.prompt_details.cache_write"),
        reasoning=counts.first("llm.token_count.completion_details.reasoning"),
        audio_input=counts.first("llm.token_count.prompt_details.audio"),
        audio_output=counts.first("llm.token_count.completion_details.audio"),
        input_excludes_cache=_excludes_cache(provider, scope_name, scope_version),
        model=model,
        request_model=first_str(attrs, LLM_REQUEST_MODEL, MODEL, EMBEDDING_MODEL, REQUEST_MODEL),
        provider=provider,
        operation=first_str(attrs, OPERATION) or (_KINDS.get(kind, kind.lower()) if kind else None),
        is_model_call=kind in ("LLM", "EMBEDDING") or (kind is None and model is not None),
        reported_cost_usd=as_usd(attrs.get(COST_TOTAL)),
    )
    if kind == "EMBEDDING" and reading.input is None and reading.output is None:
        reading.input = counts.first("llm.token_count.total")
    reading.error = counts.error
    if not reading.has_counts():  # only the semconv copies were written
        copy = semconv.read(attrs)
        reading.input, reading.output, reading.error = copy.input, copy.output, copy.error
        reading.cache_read, reading.cache_write, reading.reasoning = copy.cache_read, copy.cache_write, copy.reasoning
        reading.audio_input, reading.audio_output = copy.audio_input, copy.audio_output
        reading.audio_cache_read = copy.audio_cache_read
    return reading


def _excludes_cache(provider: str | None, scope_name: str, scope_version: str) -> bool | None:
    if provider == "aws" or "bedrock" in scope_name:
        return True
    if "anthropic" in scope_name:
        version = _version(scope_version)
        if version is not None:
            return version < _ANTHROPIC_INCLUSIVE_SINCE
    return None


def _version(text: str) -> tuple[int, ...] | None:
    match = re.match(r"\s*v?(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if not match:
        return None
    return tuple(int(part) for part in match.groups(default="0"))
