"""costline's OpenAI instrumentation: one CLIENT span per model call, with billable usage.

Under `opentelemetry-instrument` it is found through the `opentelemetry_instrumentor`
entry point `costline_openai`; by hand: `OpenAIInstrumentor().instrument()`.

Traced (sync and async clients, streamed or not):

- chat completions (`chat.completions.create`, `.parse`, and the `.stream()` helper; on openai 1.x also
  `beta.chat.completions.parse` and `.stream()`),
- the Responses API (`responses.create`, `.parse`, `.stream()`, `.compact`),
- embeddings (`embeddings.create`), legacy completions (`completions.create`),
- image generation and editing (`images.generate`, `images.edit`; streamed ones' spans say their
  usage is missing),
- audio transcription (`audio.transcriptions.create`, streamed or not: gpt-4o-transcribe and the
  other token-billed models; whisper-1 is billed by the minute, so its span says its usage is missing),
- Realtime sessions (`realtime.connect()`, read with `recv()` or by iterating): one `chat {model}`
  span per response, from its `response.create` (or `response.created`) to its `response.done`,
  with its text, audio and image usage; a response the session closed before its `response.done`
  says its usage is missing (`costline.instrumentation.openai.realtime`).

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
See `costline.instrumentation.coexistence` for running beside other GenAI instrumentations
(and `span_completion` for the usage details costline adds to their spans).
"""

from __future__ import annotations

from collections.abc import Collection
from functools import partial
from itertools import chain
from typing import Any

from costline.instrumentation import coexistence, parse_hook, settings
from costline.instrumentation.openai import patch, realtime
from costline.instrumentation.openai.package import _instruments
from costline.instrumentation.wrapping import SDKInstrumentor

_CHAT = "openai.resources.chat.completions.completions"
_CHAT_MODULE = "openai.resources.chat.completions"  # openai < 1.6x: a module (later the package re-exporting _CHAT's)
_BETA_CHAT = "openai.resources.beta.chat.completions"  # openai 1.x: `beta.chat.completions.parse` posts itself
_RESPONSES = "openai.resources.responses.responses"
_EMBEDDINGS = "openai.resources.embeddings"
_COMPLETIONS = "openai.resources.completions"
_IMAGES = "openai.resources.images"
_TRANSCRIPTIONS = "openai.resources.audio.transcriptions"
# (module, "Class.method", factory, endpoint)
_METHODS = (
    (_CHAT, "Completions.create", patch.create, patch.CHAT),
    (_CHAT, "Completions.parse", patch.create, patch.CHAT),
    (_CHAT, "AsyncCompletions.create", patch.async_create, patch.CHAT),
    (_CHAT, "AsyncCompletions.parse", patch.async_create, patch.CHAT),
    (_CHAT_MODULE, "Completions.create", patch.create, patch.CHAT),
    (_CHAT_MODULE, "AsyncCompletions.create", patch.async_create, patch.CHAT),
    (_BETA_CHAT, "Completions.parse", patch.create, patch.CHAT),
    (_BETA_CHAT, "AsyncCompletions.parse", patch.async_create, patch.CHAT),
    (_RESPONSES, "Responses.create", patch.create, patch.RESPONSES),
    (_RESPONSES, "Responses.parse", patch.create, patch.RESPONSES),
    (_RESPONSES, "AsyncResponses.create", patch.async_create, patch.RESPONSES),
    (_RESPONSES, "AsyncResponses.parse", patch.async_create, patch.RESPONSES),
    (_RESPONSES, "Responses.compact", patch.create, patch.RESPONSES),  # a compaction pass, billed by its tokens
    (_RESPONSES, "AsyncResponses.compact", patch.async_create, patch.RESPONSES),
    (_EMBEDDINGS, "Embeddings.create", patch.create, patch.EMBEDDINGS),
    (_EMBEDDINGS, "AsyncEmbeddings.create", patch.async_create, patch.EMBEDDINGS),
    (_COMPLETIONS, "Completions.create", patch.create, patch.COMPLETIONS),
    (_COMPLETIONS, "AsyncCompletions.create", patch.async_create, patch.COMPLETIONS),
    (_IMAGES, "Images.generate", patch.create, patch.IMAGES),
    (_IMAGES, "AsyncImages.generate", patch.async_create, patch.IMAGES),
    (_IMAGES, "Images.edit", patch.create, patch.IMAGES),
    (_IMAGES, "AsyncImages.edit", patch.async_create, patch.IMAGES),
    (_TRANSCRIPTIONS, "Transcriptions.create", patch.create, patch.TRANSCRIPTIONS),
    (_TRANSCRIPTIONS, "AsyncTranscriptions.create", patch.async_create, patch.TRANSCRIPTIONS),
)


class OpenAIInstrumentor(SDKInstrumentor):
    """Traces OpenAI SDK model calls (see the module docstring)."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        spans = self._spans("openai", kwargs)
        include_usage = settings.flag(settings.INCLUDE_STREAM_USAGE, False, kwargs.get("include_stream_usage"))
        self._wrap(
            chain(
                (
                    (module, method, partial(factory, spans, patch.CallSettings(endpoint, include_usage)))
                    for module, method, factory, endpoint in _METHODS
                ),
                realtime.targets(spans),
            ),
            coexistence.request_wrapped_check("openai", "OpenAI", "AsyncOpenAI"),
        )

    def _uninstrument(self, **kwargs: Any) -> None:
        super()._uninstrument(**kwargs)
        parse_hook.uninstall("openai")  # put in place by the first deferred call that needed it
