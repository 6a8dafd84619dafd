"""When costline defers to another GenAI library's span, complete that span's usage.

Beside another instrumentation (official openai-v2, OpenLLMetry, OpenInference)
costline makes no span of its own for a call the other library traces
(`coexistence`). But the other span may drop usage details the provider reported:
openai-v2 2.4b0 writes only input and output tokens on chat spans (no cache read, no
reasoning), OpenLLMetry 0.62 no cache write and, on streams, no reasoning. Billing
from such a span over-charges every cached call. So on the deferring path costline
sets the details it would have recorded on the other library's span, while that span
is still open, and only those the span does not have yet (under any of the names the
processor reads for that detail: `_GROUPS`), so a value the other library set is
never overwritten. Details go under costline's semconv names, or OpenInference's
`llm.token_count.*` names on an OpenInference span (the processor reads only those
there).

The other span must be open when costline writes, and where it is depends on the
wrapping order:

- **other wrapper above costline's**: its span is current when costline's wrapper
  runs (that is how `coexistence` noticed it) and ends only after costline's wrapper
  returns. costline fills it from the response right after the SDK call, or, for a
  stream, from the item that carries the usage, as that item passes through costline's
  stream proxy (inside the other library's, which ends its span when the stream ends).
- **other wrapper below costline's** (on the same method, or on the client's
  `request` as OpenInference does): its span starts *and ends* inside the call
  costline wraps, so after the call it is too late (an ended SDK span ignores
  attributes; `on_end` gets a frozen `ReadableSpan`, and `_on_ending` runs after the
  attributes are frozen too). Both libraries parse the response inside their span: the
  SDK's `BaseAPIResponse._parse` (and `LegacyAPIResponse._parse`, for
  `with_raw_response`) runs there, for sync, async and streamed calls alike. costline
  puts a small hook on it (`parse_hook`); the deferring wrapper leaves a `Watch` in a
  context variable, and the hook, seeing it, takes the current span (if it is a model
  span) and fills it from the parsed response while the other library still holds it
  open. For a stream, the parsed value is the SDK's stream: the hook only remembers
  the span, and costline's proxy around the stream the other library returns fills it
  when the usage item passes (the other library ends its span when the stream is
  exhausted, after that item has been handed out).

Cost: nothing on the non-deferring path (the wrapper's existing "untraced" branch
tells deferring from the rare start failure). Deferring calls pay a context-variable
set/reset, one attribute dict, and per streamed item one `getattr`. The parse hook
is installed only the first time costline defers to a span below it (in an app
without another GenAI instrumentation, never); from then on every SDK response parse
costs a wrapt call and one context-variable read (~0.6 µs measured on a busy machine,
against ~700 µs for the SDK call itself in-process).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span
from wrapt import ObjectProxy

from costline.instrumentation import coexistence
from costline.instrumentation.genai_attributes import (
    CACHE_CREATION_TOKENS,
    CACHE_READ_TOKENS,
    CACHE_WRITE_1H_TOKENS,
    CACHE_WRITE_TOKENS,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    REASONING_TOKENS,
    REPORTED_COST_USD,
)

log = logging.getLogger(__name__)

_OPENINFERENCE_KIND = "openinference.span.kind"
# Each usage detail: costline's names for it, then the other names readers take it from (the
# processor's dialects). A span that has any of a group's names has that detail: left alone.
_GROUPS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    ((INPUT_TOKENS,), ("gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens", "llm.token_count.prompt")),
    ((OUTPUT_TOKENS,), ("gen_ai.usage.completion_tokens", "llm.usage.completion_tokens", "llm.token_count.completion")),
    ((CACHE_READ_TOKENS,), ("gen_ai.usage.cache_read_input_tokens", "llm.token_count.prompt_details.cache_read")),
    (
        (CACHE_CREATION_TOKENS, CACHE_WRITE_TOKENS),
        ("gen_ai.usage.cache_creation_input_tokens", "llm.token_count.prompt_details.cache_write"),
    ),
    ((CACHE_WRITE_1H_TOKENS,), ()),
    (
        (REASONING_TOKENS,),
        ("gen_ai.usage.reasoning_tokens", "llm.usage.reasoning_tokens", "llm.token_count.completion_details.reasoning"),
    ),
    ((REPORTED_COST_USD,), ("llm.cost.total",)),
)
# On an OpenInference span, the same details under its names (None: not written there).
_OPENINFERENCE_NAMES: dict[str, str | None] = {
    INPUT_TOKENS: "llm.token_count.prompt",
    OUTPUT_TOKENS: "llm.token_count.completion",
    CACHE_READ_TOKENS: "llm.token_count.prompt_details.cache_read",
    CACHE_CREATION_TOKENS: "llm.token_count.prompt_details.cache_write",
    CACHE_WRITE_TOKENS: None,  # the same count as cache_creation
    CACHE_WRITE_1H_TOKENS: None,
    REASONING_TOKENS: "llm.token_count.completion_details.reasoning",
    REPORTED_COST_USD: REPORTED_COST_USD,  # read beside every dialect
}


@dataclass(frozen=True, slots=True)
class Completer:
    """How one endpoint's usage is read, for completing another library's span (fixed at instrument time)."""

    usage_into: Callable[[Any, dict[str, Any]], bool]  # (response's usage, out) -> False: no usage
    item_usage: Callable[[Any], Any]  # a stream item -> its usage block, or None
    install_hook: Callable[[], None]  # put the SDK's parse hook in place (idempotent)


class Watch:
    """One deferring call: the other library's span (once known) and how to read usage into it."""

    __slots__ = ("completer", "span")

    def __init__(self, completer: Completer, span: Span | None) -> None:
        self.completer = completer
        self.span = span

    def saw_parsed(self, parsed: Any) -> None:
        """The parse hook's part: note the current model span, and fill it from a parsed response."""
        if self.span is None and coexistence.model_span_active():
            self.span = trace.get_current_span()
        self.fill_from(getattr(parsed, "usage", None))

    def fill_from(self, usage: Any) -> None:
        span = self.span
        if usage is None or span is None or not span.is_recording():
            return
        found: dict[str, Any] = {}
        if self.completer.usage_into(usage, found):
            fill_missing(span, found)


WATCH: ContextVar[Watch | None] = ContextVar("costline_deferred_call", default=None)


def fill_missing(span: Span, found: dict[str, Any]) -> None:
    """Set on `span` the usage details in `found` (costline's names) that it has under no name yet."""
    present = getattr(span, "attributes", None) or {}
    names = _OPENINFERENCE_NAMES if _OPENINFERENCE_KIND in present else None
    missing: dict[str, Any] = {}
    for own, others in _GROUPS:
        if any(name in present for name in own) or any(name in present for name in others):
            continue
        for name in own:
            if name in found:
                target = names.get(name) if names is not None else name
                if target is not None:
                    missing[target] = found[name]
    if missing:
        span.set_attributes(missing)


def _other_span(ctx: Context) -> Span | None:
    """The other library's model span if it is already current (its wrapper is above costline's)."""
    return trace.get_current_span(ctx) if coexistence.model_span_active(ctx) else None


def _watch(completer: Completer, ctx: Context) -> Watch:
    watch = Watch(completer, _other_span(ctx))
    if watch.span is None:  # the other span will start inside the call: the parse hook finds it
        completer.install_hook()
    return watch


def _after(watch: Watch, result: Any, streamed: bool, is_async: bool) -> Any:
    """What the app gets after a deferred call: the result, or a stream proxy that fills on the usage item."""
    if streamed:
        if watch.span is None:
            return result
        if is_async:  # (a library's stream wrapper may have both `__next__` and `__anext__`)
            return CompletingAsyncStream(result, watch) if hasattr(result, "__anext__") else result
        return CompletingStream(result, watch) if hasattr(result, "__next__") else result
    response = result.parse() if type(result).__name__ == "LegacyAPIResponse" else result
    watch.fill_from(getattr(response, "usage", None))
    return result


def _safely_after(watch: Watch, result: Any, kwargs: dict[str, Any], is_async: bool) -> Any:
    try:
        return _after(watch, result, kwargs.get("stream") is True, is_async)
    except Exception:  # telemetry must not break the call
        log.debug("costline: could not complete another library's span", exc_info=True)
        return result


def call(completer: Completer, wrapped: Any, args: tuple, kwargs: dict, ctx: Context) -> Any:
    """The SDK call costline leaves to another library, with that library's span completed."""
    try:
        watch = _watch(completer, ctx)
    except Exception:
        log.debug("costline: could not watch a deferred call", exc_info=True)
        return wrapped(*args, **kwargs)
    token = WATCH.set(watch)
    try:
        result = wrapped(*args, **kwargs)
    finally:
        WATCH.reset(token)
    return _safely_after(watch, result, kwargs, False)


async def async_call(completer: Completer, wrapped: Any, args: tuple, kwargs: dict, ctx: Context) -> Any:
    """`call` for an async SDK method."""
    try:
        watch = _watch(completer, ctx)
    except Exception:
        log.debug("costline: could not watch a deferred call", exc_info=True)
        return await wrapped(*args, **kwargs)
    token = WATCH.set(watch)
    try:
        result = await wrapped(*args, **kwargs)
    finally:
        WATCH.reset(token)
    return _safely_after(watch, result, kwargs, True)


def _observe(watch: Watch, item: Any) -> None:
    try:
        usage = watch.completer.item_usage(item)
        if usage is not None:
            watch.fill_from(usage)
    except Exception:  # a surprising item must not break the app's stream
        log.debug("costline: could not read a stream item", exc_info=True)


class CompletingStream(ObjectProxy):
    """A sync stream (the other library's, or the SDK's) whose usage item fills the watched span."""

    def __init__(self, stream: Any, watch: Watch) -> None:
        super().__init__(stream)
        self._self_watch = watch

    def __iter__(self) -> CompletingStream:
        return self

    def __next__(self) -> Any:
        item = self.__wrapped__.__next__()
        _observe(self._self_watch, item)
        return item

    def __enter__(self) -> CompletingStream:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        return self.__wrapped__.__exit__(*exc_info)


class CompletingAsyncStream(ObjectProxy):
    """The async twin of `CompletingStream`."""

    def __init__(self, stream: Any, watch: Watch) -> None:
        super().__init__(stream)
        self._self_watch = watch

    def __aiter__(self) -> CompletingAsyncStream:
        return self

    async def __anext__(self) -> Any:
        item = await self.__wrapped__.__anext__()
        _observe(self._self_watch, item)
        return item

    async def __aenter__(self) -> CompletingAsyncStream:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await self.__wrapped__.__aexit__(*exc_info)
