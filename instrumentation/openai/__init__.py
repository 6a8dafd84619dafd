"""costline's OpenAI instrumentation: one CLIENT span per model call, with billable usage.

Under `opentelemetry-instrument` it is found through the `opentelemetry_instrumentor`
entry point `costline_openai`; by hand: `OpenAIInstrumentor().instrument()`.

Traced (sync and async clients, streamed or not):

- chat completions (`chat.completions.create`, `.parse`, and the `.stream()` helper),
- the Responses API (`responses.create`, `.parse`, `.stream()`),
- embeddings (`embeddings.create`), legacy completions (`completions.create`).

Each span is named `{gen_ai.operation.name} {gen_ai.request.model}` and carries the
GenAI semantic-convention attributes: provider, request/response model, response id,
`server.address`/`server.port`, `gen_ai.usage.input_tokens` (total, cached included),
`output_tokens` (reasoning included), `cache_read.input_tokens`,
`cache_creation.input_tokens` + `cache_write.input_tokens`, `reasoning.output_tokens`,
plus `openai.response.service_tier` and, when the response carries a cost
(OpenRouter-style `usage.cost`), `costline.reported_cost.usd`. Errors set `error.type`.

A chat stream carries usage only when the request sets
`stream_options={"include_usage": True}`. Without it the span says
`costline.usage.missing=true` (never 0 tokens). Opt in to have costline ask for it:
`COSTLINE_OPENAI_INCLUDE_STREAM_USAGE=true` or `instrument(include_stream_usage=True)`;
the usage-only final chunk is then kept from the app, which reads the same stream as before.

Prompts and completions are recorded only when
`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true` (or `capture_content=True`).
See `costline.instrumentation.coexistence` for running beside other GenAI instrumentations.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.trace import get_tracer
from wrapt import wrap_function_wrapper

from costline.instrumentation import coexistence, settings
from costline.instrumentation.llm_spans import LLMSpans
from costline.instrumentation.openai import patch
from costline.instrumentation.openai.package import _instruments
from costline.instrumentation.version import __version__
from costline.instrumentation.wrapping import Site

# (module, class, method, endpoint, is_async)
_METHODS = (
    ("openai.resources.chat.completions.completions", "Completions", "create", patch.CHAT, False),
    ("openai.resources.chat.completions.completions", "Completions", "parse", patch.CHAT, False),
    ("openai.resources.chat.completions.completions", "AsyncCompletions", "create", patch.CHAT, True),
    ("openai.resources.chat.completions.completions", "AsyncCompletions", "parse", patch.CHAT, True),
    ("openai.resources.responses.responses", "Responses", "create", patch.RESPONSES, False),
    ("openai.resources.responses.responses", "Responses", "parse", patch.RESPONSES, False),
    ("openai.resources.responses.responses", "AsyncResponses", "create", patch.RESPONSES, True),
    ("openai.resources.responses.responses", "AsyncResponses", "parse", patch.RESPONSES, True),
    ("openai.resources.embeddings", "Embeddings", "create", patch.EMBEDDINGS, False),
    ("openai.resources.embeddings", "AsyncEmbeddings", "create", patch.EMBEDDINGS, True),
    ("openai.resources.completions", "Completions", "create", patch.COMPLETIONS, False),
    ("openai.resources.completions", "AsyncCompletions", "create", patch.COMPLETIONS, True),
)


def _request_wrapped_check() -> Any:
    """A cheap per-call check: is the SDK client's `request` wrapped by another library?"""
    import openai
    from openai import _base_client

    owners = (openai.OpenAI, openai.AsyncOpenAI, _base_client.SyncAPIClient, _base_client.AsyncAPIClient)
    return lambda: coexistence.any_wrapped(owners, "request")


class OpenAIInstrumentor(BaseInstrumentor):
    """Traces OpenAI SDK model calls (see the module docstring)."""

    _wrapped: list[tuple[type, str]] = []  # set per instrument(); the instrumentor is a singleton

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        tracer = get_tracer(__name__, __version__, kwargs.get("tracer_provider"))
        spans = LLMSpans(
            tracer,
            "openai",
            capture_content=settings.flag(settings.CAPTURE_CONTENT, False, kwargs.get("capture_content")),
            defer_to_others=settings.flag(
                settings.DEFER_TO_OTHER_INSTRUMENTATION, True, kwargs.get("defer_to_other_instrumentation")
            ),
        )
        include_usage = settings.flag(settings.INCLUDE_STREAM_USAGE, False, kwargs.get("include_stream_usage"))
        request_wrapped = _request_wrapped_check()
        self._wrapped = []
        for module_name, cls_name, method, endpoint, is_async in _METHODS:
            try:
                owner = getattr(importlib.import_module(module_name), cls_name, None)
            except ImportError:
                continue
            if owner is None or not hasattr(owner, method):
                continue  # not in this SDK version
            call = patch.CallSettings(endpoint, include_usage)
            site = Site(coexistence.wrapped_by_other(owner, method), request_wrapped)
            factory = patch.async_create if is_async else patch.create
            wrap_function_wrapper(module_name, f"{cls_name}.{method}", factory(spans, call, site))
            self._wrapped.append((owner, method))

    def _uninstrument(self, **kwargs: Any) -> None:
        while self._wrapped:
            owner, method = self._wrapped.pop()
            unwrap(owner, method)
