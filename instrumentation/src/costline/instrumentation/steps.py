"""Agent steps for apps without an agent framework.

    with costline.step("retrieve"):
        docs = search(query)

    @costline.step("summarise")
    async def summarise(docs): ...

    @costline.step              # or @costline.step(): named after the function's
    def rerank(docs): ...       # qualified name, `rerank` (a method: `Agent.rerank`)

A step is an INTERNAL span named after the step, with `costline.step.name`. The model
calls made inside it are its children, so the processor can roll their cost up by
step and build the agent path from the chain of steps (nested steps make a path
like `plan/retrieve`). Deliberately *not* `gen_ai.operation.name=invoke_agent`: a
step is any unit of work the app names, not necessarily an agent, and an
`invoke_agent` span means something specific to other GenAI tools. Errors set
`error.type` and are re-raised unchanged.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from opentelemetry import context, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from costline.instrumentation.genai_attributes import ERROR_TYPE, STEP_NAME
from costline.instrumentation.version import __version__

F = TypeVar("F", bound=Callable[..., Any])

_tracer = trace.get_tracer("costline.instrumentation.steps", __version__)


def _begin(name: str) -> tuple[Span, object]:
    span = _tracer.start_span(name, kind=SpanKind.INTERNAL, attributes={STEP_NAME: name})
    return span, context.attach(trace.set_span_in_context(span))


def _end(span: Span, token: object, error: BaseException | None) -> None:
    context.detach(token)  # type: ignore[arg-type]
    if error is not None and span.is_recording():
        span.set_attribute(ERROR_TYPE, type(error).__qualname__)
        span.set_status(Status(StatusCode.ERROR, str(error) or type(error).__qualname__))
    span.end()


class step:
    """Context manager and decorator (sync and async) marking one named step. As a decorator
    the name may be left out (`@step` or `@step()`): the function's `__qualname__` names it."""

    __slots__ = ("_open", "name")

    def __new__(cls, name: str | Callable[..., Any] | None = None) -> Any:
        if callable(name):  # `@step` bare: Python hands over the function itself
            return cls(_qualified_name(name))(name)
        return super().__new__(cls)

    def __init__(self, name: str | Callable[..., Any] | None = None) -> None:
        # (a function never arrives here: __new__ has made it a step; the annotation is for `@step` in type checkers)
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ValueError("costline.step needs a non-empty name.")
        self.name: str | None = name
        self._open: list[tuple[Span, object]] = []

    def __enter__(self) -> Span:
        if self.name is None:
            raise ValueError('costline.step needs a name when used with `with`: costline.step("retrieve").')
        span, token = _begin(self.name)
        self._open.append((span, token))
        return span

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        span, token = self._open.pop()
        _end(span, token, exc)

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, fn: F) -> F:
        name = self.name or _qualified_name(fn)
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_step(*args: Any, **kwargs: Any) -> Any:
                span, token = _begin(name)
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as error:
                    _end(span, token, error)
                    raise
                _end(span, token, None)
                return result

            return async_step  # type: ignore[return-value]

        @functools.wraps(fn)
        def sync_step(*args: Any, **kwargs: Any) -> Any:
            span, token = _begin(name)
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:
                _end(span, token, error)
                raise
            _end(span, token, None)
            return result

        return sync_step  # type: ignore[return-value]


def _qualified_name(fn: Callable[..., Any]) -> str:
    """What a step left unnamed is called: its function's qualified name (`Agent.plan`)."""
    return getattr(fn, "__qualname__", None) or type(fn).__qualname__
