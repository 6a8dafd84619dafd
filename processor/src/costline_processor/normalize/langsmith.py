"""LangSmith's OTel exporter (`langsmith.span.kind`).

Input/output follow LangChain's `usage_metadata` (input includes the cache). Cache,
reasoning and audio counts (LangChain's `InputTokenDetails` / `OutputTokenDetails` keys
cache_read, cache_creation, reasoning, audio: subsets of their totals) exist only inside
`gen_ai.usage.input_token_details` / `output_token_details`, written as a Python `str(dict)` (sometimes JSON), so they
are parsed with `ast.literal_eval`, never `eval`. `gen_ai.system` is guessed from
the model name and may be "langchain": it is treated as absent.
"""

from __future__ import annotations

import ast
import json

from costline_processor.normalize.counts import CountReader, Reading, first_str
from costline_processor.normalize.providers import normalize_provider
from costline_processor.normalize.semconv import MODEL_OPERATIONS, OPERATION, PROVIDER, REQUEST_MODEL, RESPONSE_MODEL

SPAN_KIND = "langsmith.span.kind"
KEYS = frozenset({SPAN_KIND})
_MAX_DETAIL_CHARS = 2_000


# How __init__ recognises this dialect: any of these keys or key prefixes, or the scope.
MARKER_KEYS = frozenset({SPAN_KIND})
MARKER_PREFIXES: tuple[str, ...] = ()
SCOPE_PREFIXES: tuple[str, ...] = ()


def read(attrs: dict) -> Reading:
    counts = CountReader(attrs)
    kind = (first_str(attrs, SPAN_KIND) or "").lower()
    operation = first_str(attrs, OPERATION)
    model = first_str(attrs, RESPONSE_MODEL, REQUEST_MODEL)
    input_details = _details(attrs.get("gen_ai.usage.input_token_details"))
    output_details = _details(attrs.get("gen_ai.usage.output_token_details"))
    reading = Reading(
        dialect="langsmith",
        input=counts.first("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
        output=counts.first("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
        cache_read=_detail(counts, input_details, "cache_read"),
        cache_write=_detail(counts, input_details, "cache_creation"),
        reasoning=_detail(counts, output_details, "reasoning"),
        audio_input=_detail(counts, input_details, "audio"),
        audio_output=_detail(counts, output_details, "audio"),
        input_excludes_cache=False,
        model=model,
        request_model=first_str(attrs, REQUEST_MODEL),
        provider=normalize_provider(first_str(attrs, *PROVIDER)),
        operation=operation,
        is_model_call=model is not None and (kind in ("llm", "embedding") or operation in MODEL_OPERATIONS),
    )
    reading.error = counts.error
    return reading


def _details(raw: object) -> dict:
    if not isinstance(raw, str) or len(raw) > _MAX_DETAIL_CHARS:
        return {}
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(raw)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        return value if isinstance(value, dict) else {}
    return {}


def _detail(counts: CountReader, details: dict, name: str) -> int | None:
    value = details.get(name)
    return None if value is None else counts.parse(f"gen_ai.usage.*_token_details[{name!r}]", value)
