"""costline's Anthropic instrumentation: one CLIENT span per `messages` call, with billable usage.

Under `opentelemetry-instrument` it is found through the `opentelemetry_instrumentor`
entry point `costline_anthropic`; by hand: `AnthropicInstrumentor().instrument()`.

Traced (sync and async clients): `messages.create` (plain and `stream=True`),
`messages.parse`, and the `messages.stream()` helper, and the same three of `beta.messages`
(what the `betas=[...]` features and `tool_runner` call; on anthropic 0.40 also
`beta.prompt_caching.messages`). Spans are named
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

from collections.abc import Collection
from functools import partial
from typing import Any

from costline.instrumentation import coexistence
from costline.instrumentation.anthropic import patch
from costline.instrumentation.anthropic.package import _instruments
from costline.instrumentation.wrapping import SDKInstrumentor, Target

_MODULES = (
    "anthropic.resources.messages.messages",
    "anthropic.resources.beta.messages.messages",
    "anthropic.resources.messages",  # anthropic 0.40: a module (later the package re-exporting the first's)
    "anthropic.resources.beta.prompt_caching.messages",  # anthropic 0.40: the prompt caching beta's messages
)
# ("Class.method", factory): the same in every module
_METHODS = (
    ("Messages.create", patch.messages_create),
    ("Messages.parse", patch.messages_create),
    ("Messages.stream", patch.messages_stream),
    ("AsyncMessages.create", patch.async_messages_create),
    ("AsyncMessages.parse", patch.async_messages_create),
    ("AsyncMessages.stream", patch.async_messages_stream),
)
# SDKs with built-in tracing: costline's span replaces the SDK's own
_SDK_CALL_SPAN = ("anthropic._base_client", "start_api_call_span", lambda _site: patch.sdk_call_span)


class AnthropicInstrumentor(SDKInstrumentor):
    """Traces Anthropic SDK `messages` calls (see the module docstring)."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        spans = self._spans("anthropic", kwargs)
        targets: list[Target] = [
            (module, method, partial(factory, spans)) for module in _MODULES for method, factory in _METHODS
        ]
        targets.append(_SDK_CALL_SPAN)
        self._wrap(targets, coexistence.request_wrapped_check("anthropic", "Anthropic", "AsyncAnthropic"))
