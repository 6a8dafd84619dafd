"""Collectors for OpenAI streams: what the span learns from the chunks or events.

Chat and legacy completion streams carry usage only in a final chunk with no choices,
and only when the request set `stream_options.include_usage` (OpenAI: "if the stream
is interrupted, you may not receive the final usage chunk"). When costline added
that option itself, the usage chunk is hidden from the app, so the app reads the
stream it would have read without costline. Responses API streams end with
`response.completed` (or `.incomplete` / `.failed`), whose response has the usage.
"""

from __future__ import annotations

from typing import Any

from costline.instrumentation.genai_attributes import (
    OPENAI_SERVICE_TIER,
    OUTPUT_MESSAGES,
    RESPONSE_FINISH_REASONS,
    Usage,
    response_model_and_id,
)
from costline.instrumentation.openai.extract import (
    chat_usage,
    output_json,
    response_attributes,
    responses_usage,
    transcription_usage,
)

_FINAL_RESPONSE_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ChatChunks:
    """Reads `ChatCompletionChunk`s (and legacy `Completion` chunks)."""

    __slots__ = ("_attributes", "_capture", "_hide_usage_chunk", "_reasons", "_texts", "_usage")

    def __init__(self, hide_usage_chunk: bool, capture_content: bool = False) -> None:
        self._hide_usage_chunk = hide_usage_chunk
        self._capture = capture_content
        self._attributes: dict[str, Any] = {}
        self._usage: Usage | None = None
        self._reasons: dict[int, str] = {}
        self._texts: dict[int, list[str]] = {}

    def observe(self, chunk: Any) -> bool:
        # Direct attribute reads: this runs per chunk, and the proxy catches an unexpected shape.
        if not self._attributes:
            self._first(chunk)
        choices = chunk.choices
        capture = self._capture
        for choice in choices:
            reason = choice.finish_reason
            if reason is not None:
                self._reasons[choice.index] = reason
            if capture:
                delta = getattr(choice, "delta", None)
                text = getattr(delta, "content", None) if delta is not None else getattr(choice, "text", None)
                if isinstance(text, str):
                    self._texts.setdefault(choice.index, []).append(text)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self._usage = chat_usage(usage)
            return self._hide_usage_chunk and not choices
        return False

    def _first(self, chunk: Any) -> None:
        self._attributes.update(response_model_and_id(chunk))
        tier = getattr(chunk, "service_tier", None)  # every chunk repeats it
        if isinstance(tier, str):
            self._attributes[OPENAI_SERVICE_TIER] = tier

    def attributes(self) -> dict[str, Any]:
        out = dict(self._attributes)
        if self._reasons:
            out[RESPONSE_FINISH_REASONS] = [self._reasons[i] for i in sorted(self._reasons)]
        if self._texts:
            out[OUTPUT_MESSAGES] = output_json(["".join(self._texts[i]) for i in sorted(self._texts)])
        return out

    def usage(self) -> Usage | None:
        return self._usage


class ResponseEvents:
    """Reads Responses API stream events."""

    __slots__ = ("_attributes", "_capture", "_texts", "_usage")

    def __init__(self, capture_content: bool = False) -> None:
        self._capture = capture_content
        self._attributes: dict[str, Any] = {}
        self._usage: Usage | None = None
        self._texts: list[str] = []

    def observe(self, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind in _FINAL_RESPONSE_EVENTS or kind == "response.created":
            response = getattr(event, "response", None)
            self._attributes.update(response_attributes(response))
            if kind != "response.created":
                self._usage = responses_usage(getattr(response, "usage", None))
        elif self._capture and kind == "response.output_text.delta":
            delta = getattr(event, "delta", None)
            if isinstance(delta, str):
                self._texts.append(delta)
        return False

    def attributes(self) -> dict[str, Any]:
        if self._texts:
            return {**self._attributes, OUTPUT_MESSAGES: output_json(["".join(self._texts)])}
        return self._attributes

    def usage(self) -> Usage | None:
        return self._usage


class TranscriptEvents:
    """Reads a streamed transcription's events: `transcript.text.done`, the last, has the usage."""

    __slots__ = ("_texts", "_usage")

    def __init__(self, capture_content: bool = False) -> None:
        self._texts: list[str] | None = [] if capture_content else None
        self._usage: Usage | None = None

    def observe(self, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind == "transcript.text.done":
            self._usage = transcription_usage(getattr(event, "usage", None))
        elif self._texts is not None and kind == "transcript.text.delta":
            delta = getattr(event, "delta", None)
            if isinstance(delta, str):
                self._texts.append(delta)
        return False

    def attributes(self) -> dict[str, Any]:
        return {OUTPUT_MESSAGES: output_json(["".join(self._texts)])} if self._texts else {}

    def usage(self) -> Usage | None:
        return self._usage


def transcription_item_usage(event: Any) -> Any:
    """The usage block of a streamed transcription's final event, or None."""
    return getattr(event, "usage", None) if getattr(event, "type", None) == "transcript.text.done" else None


def chat_item_usage(chunk: Any) -> Any:
    """The usage block a chat or legacy completion chunk carries (the final one, on request), or None."""
    return getattr(chunk, "usage", None)


def responses_item_usage(event: Any) -> Any:
    """The usage block of a Responses stream's final event, or None."""
    if getattr(event, "type", None) in _FINAL_RESPONSE_EVENTS:
        return getattr(getattr(event, "response", None), "usage", None)
    return None
