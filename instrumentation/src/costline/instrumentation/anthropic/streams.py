"""What the span learns from an Anthropic event stream, and the `messages.stream()` helper.

`message_start` carries the input and cache counts (the only place with the 5m/1h
cache-write split); each `message_delta` carries *cumulative* usage, so later values
replace earlier ones. A stream that ends before any `message_delta` (abandoned, cut or
failed) has only `message_start`'s output count, a placeholder (1): its span keeps the counts
seen but says its usage is missing, so the call is not billed as if its output were 1 token.

The helper (`MessageStreamManager`) sends its request on `__enter__` and reads the SDK's
raw event stream; `TracedMessageStreamManager` starts the span there and puts a
`TracedStream` in place of that raw stream, so every way the app reads the helper
(`text_stream`, `get_final_message()`, iteration) passes through it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from wrapt import ObjectProxy

from costline.instrumentation.anthropic.extract import UsageFields, message_attributes
from costline.instrumentation.genai_attributes import OUTPUT_MESSAGES, RESPONSE_FINISH_REASONS, USAGE_MISSING, Usage

log = logging.getLogger(__name__)


class MessageEvents:
    """Collector for `RawMessageStreamEvent`s."""

    __slots__ = ("_attributes", "_capture", "_fields", "_final", "_texts")

    def __init__(self, capture_content: bool = False) -> None:
        self._capture = capture_content
        self._attributes: dict[str, Any] = {}
        self._fields = UsageFields()
        self._final = False  # a message_delta (the final counts) arrived
        self._texts: list[str] = []

    def observe(self, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind == "message_start":
            message = getattr(event, "message", None)
            self._attributes.update(message_attributes(message))
            self._fields.update(getattr(message, "usage", None))
        elif kind == "message_delta":
            self._final = True
            self._fields.update(getattr(event, "usage", None))
            reason = getattr(getattr(event, "delta", None), "stop_reason", None)
            if isinstance(reason, str):
                self._attributes[RESPONSE_FINISH_REASONS] = [reason]
        elif self._capture and kind == "content_block_delta":
            text = getattr(getattr(event, "delta", None), "text", None)
            if isinstance(text, str):
                self._texts.append(text)
        return False

    def attributes(self) -> dict[str, Any]:
        if not self._final and self._fields.input_tokens is not None:
            self._attributes[USAGE_MISSING] = True
        if self._texts:
            parts = [{"type": "text", "content": "".join(self._texts)}]
            return {
                **self._attributes,
                OUTPUT_MESSAGES: json.dumps([{"role": "assistant", "parts": parts}], ensure_ascii=False),
            }
        return self._attributes

    def usage(self) -> Usage | None:
        return self._fields.normalised()


class TracedMessageStreamManager(ObjectProxy):
    """Proxy for the sync helper manager: `enter` (from patch.py) runs the request traced."""

    def __init__(self, manager: Any, enter: Any) -> None:
        super().__init__(manager)
        self._self_enter = enter

    def __enter__(self) -> Any:
        return self._self_enter(self.__wrapped__)

    def __exit__(self, *exc_info: Any) -> Any:
        return self.__wrapped__.__exit__(*exc_info)


class TracedAsyncMessageStreamManager(ObjectProxy):
    """Proxy for the async helper manager: `enter` is a coroutine function."""

    def __init__(self, manager: Any, enter: Any) -> None:
        super().__init__(manager)
        self._self_enter = enter

    async def __aenter__(self) -> Any:
        return await self._self_enter(self.__wrapped__)

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await self.__wrapped__.__aexit__(*exc_info)
