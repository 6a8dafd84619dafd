"""Proxies that keep a model-call span open while the app reads a streamed response.

A streamed call returns before the model has finished, so its span cannot end there.
`TracedStream` / `TracedAsyncStream` wrap the SDK's stream object: every item passes
through a provider-specific *collector* (which reads models, ids and usage), and the
span ends exactly once, when the stream is exhausted, closed, fails, or is garbage
collected after the app stopped reading. Everything else (attributes, context
managers, `response`, `isinstance(x, openai.Stream)`) reaches the SDK object
unchanged, because the proxies are `wrapt.ObjectProxy`s.

A collector has `observe(item) -> bool` (True: the app should not see this item,
used only for the usage chunk costline itself asked for), `attributes()` and `usage()`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Protocol

from opentelemetry.trace import Span
from wrapt import ObjectProxy

from costline.instrumentation.genai_attributes import Usage
from costline.instrumentation.llm_spans import fail, finish

log = logging.getLogger(__name__)


class Collector(Protocol):
    def observe(self, item: Any) -> bool: ...
    def attributes(self) -> dict[str, Any]: ...
    def usage(self) -> Usage | None: ...


def _unread() -> None:
    """Log (at debug level, with the exception being handled) that a stream item could not be read."""
    log.debug("costline: could not read a stream item", exc_info=True)


class _SpanEnding(ObjectProxy):
    """The proxies' common part: the span, its collector, and ending the span once with its findings."""

    def __init__(self, stream: Any, span: Span, collector: Collector) -> None:
        super().__init__(stream)
        self._self_span: Span | None = span
        self._self_collector = collector

    def _self_end(self, error: BaseException | None = None) -> None:
        span = self._self_span
        if span is None:
            return
        self._self_span = None
        collector = self._self_collector
        try:
            attributes, usage = collector.attributes(), collector.usage()
        except Exception:
            log.debug("costline: could not summarise a stream", exc_info=True)
            attributes, usage = {}, None
        if error is None:
            finish(span, attributes, usage)
        else:
            fail(span, error, usage, after_response=True, attributes=attributes)

    def __del__(self) -> None:
        try:  # noqa: SIM105 - not contextlib.suppress: __del__ may run at exit, after module globals are gone
            self._self_end()
        except Exception:
            pass


class TracedStream(_SpanEnding):
    """A sync SDK stream whose items feed a collector; ends the span when reading ends."""

    def __iter__(self) -> Iterator[Any]:
        # A generator over the same stream (as the SDK's own `Stream.__iter__` is): a `for` loop
        # then resumes it per item instead of calling the proxy's Python `__next__`. Both read
        # the wrapped stream, so `next()` and loops can be mixed as before. Leaving a loop early
        # closes only the generator; the span ends as before (end of stream, close, or the proxy
        # going away).
        stream = self.__wrapped__
        observe = self._self_collector.observe
        while True:
            try:
                item = stream.__next__()
            except StopIteration:
                self._self_end()
                return
            except BaseException as error:
                self._self_end(error)
                raise
            try:
                hide = observe(item)
            except Exception:  # a surprising item must not break the app's stream
                _unread()
                hide = False
            if not hide:
                yield item

    def __next__(self) -> Any:
        # Per item: one lookup of the stream and of the collector, the collector called inline.
        stream = self.__wrapped__
        while True:
            try:
                item = stream.__next__()
            except StopIteration:
                self._self_end()
                raise
            except BaseException as error:
                self._self_end(error)
                raise
            try:
                if not self._self_collector.observe(item):
                    return item
            except Exception:  # a surprising item must not break the app's stream
                _unread()
                return item

    def __enter__(self) -> TracedStream:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_end()

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_end()


class TracedAsyncStream(_SpanEnding):
    """The async twin of `TracedStream`; cancellation also ends the span."""

    def __aiter__(self) -> TracedAsyncStream:
        return self

    async def __anext__(self) -> Any:
        stream = self.__wrapped__
        while True:
            try:
                item = await stream.__anext__()
            except StopAsyncIteration:
                self._self_end()
                raise
            except BaseException as error:
                self._self_end(error)
                raise
            try:
                if not self._self_collector.observe(item):
                    return item
            except Exception:  # a surprising item must not break the app's stream
                _unread()
                return item

    async def __aenter__(self) -> TracedAsyncStream:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_end()

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_end()

    async def aclose(self) -> None:
        try:
            await self.__wrapped__.aclose()
        finally:
            self._self_end()
