"""costline's Anthropic instrumentation: one CLIENT span per `messages` call, with billable usage.

Under `opentelemetry-instrument` it is found through the `opentelemetry_instrumentor`
entry point `costline_anthropic`; by hand: `AnthropicInstrumentor().instrument()`.

Traced (sync and async clients): `messages.create` (plain and `stream=True`),
`messages.parse`, and the `messages.stream()` helper. Spans are named
`chat {model}` and carry the GenAI semantic-convention attributes. Usage is
normalised: `gen_ai.usage.input_tokens` = `input_tokens + cache_read_input_tokens +
cache_creation_input_tokens` (Anthropic reports input without the cache);
`cache_read.input_tokens`, `cache_creation.input_tokens` / `cache_write.input_tokens`
and `reasoning.output_tokens` (thinking) are subsets; the 1-hour share of the cache
write is `costline.usage.cache_write_1h_tokens` (the rest is 5-minute). Errors set
`error.type`. Prompts and completions are recorded only on opt-in
(`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true` or `capture_content=True`).

Anthropic SDKs from 2.x trace their calls themselves (`anthropic.messages.create`
spans). For the calls costline traces, that SDK span is skipped so each call has one
model span; to keep the SDK's spans instead, disable this instrumentor
(`OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=costline_anthropic`).
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
from costline.instrumentation.anthropic import patch
from costline.instrumentation.anthropic.package import _instruments
from costline.instrumentation.llm_spans import LLMSpans
from costline.instrumentation.version import __version__
from costline.instrumentation.wrapping import Site

_MODULE = "anthropic.resources.messages.messages"
# (class, method, factory)
_METHODS = (
    ("Messages", "create", patch.messages_create),
    ("Messages", "parse", patch.messages_create),
    ("Messages", "stream", patch.messages_stream),
    ("AsyncMessages", "create", patch.async_messages_create),
    ("AsyncMessages", "parse", patch.async_messages_create),
    ("AsyncMessages", "stream", patch.async_messages_stream),
)
_SDK_TRACING_MODULE = "anthropic._base_client"
_SDK_CALL_SPAN = "start_api_call_span"


def _request_wrapped_check() -> Any:
    """A cheap per-call check: is the SDK client's `request` wrapped by another library?"""
    import anthropic
    from anthropic import _base_client

    owners = (anthropic.Anthropic, anthropic.AsyncAnthropic, _base_client.SyncAPIClient, _base_client.AsyncAPIClient)
    return lambda: coexistence.any_wrapped(owners, "request")


class AnthropicInstrumentor(BaseInstrumentor):
    """Traces Anthropic SDK `messages` calls (see the module docstring)."""

    _wrapped: list[tuple[Any, str]] = []  # set per instrument(); the instrumentor is a singleton

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        tracer = get_tracer(__name__, __version__, kwargs.get("tracer_provider"))
        spans = LLMSpans(
            tracer,
            "anthropic",
            capture_content=settings.flag(settings.CAPTURE_CONTENT, False, kwargs.get("capture_content")),
            defer_to_others=settings.flag(
                settings.DEFER_TO_OTHER_INSTRUMENTATION, True, kwargs.get("defer_to_other_instrumentation")
            ),
        )
        request_wrapped = _request_wrapped_check()
        module = importlib.import_module(_MODULE)
        self._wrapped = []
        for cls_name, method, factory in _METHODS:
            owner = getattr(module, cls_name, None)
            if owner is None or not hasattr(owner, method):
                continue  # not in this SDK version
            site = Site(coexistence.wrapped_by_other(owner, method), request_wrapped)
            wrap_function_wrapper(_MODULE, f"{cls_name}.{method}", factory(spans, site))
            self._wrapped.append((owner, method))
        sdk_tracing = importlib.import_module(_SDK_TRACING_MODULE)
        if callable(getattr(sdk_tracing, _SDK_CALL_SPAN, None)):  # SDKs with built-in tracing
            wrap_function_wrapper(sdk_tracing, _SDK_CALL_SPAN, patch.sdk_call_span)
            self._wrapped.append((sdk_tracing, _SDK_CALL_SPAN))

    def _uninstrument(self, **kwargs: Any) -> None:
        while self._wrapped:
            owner, method = self._wrapped.pop()
            unwrap(owner, method)
