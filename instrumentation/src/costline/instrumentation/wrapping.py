"""How costline wraps SDK methods: one call template (sync and async), and the instrumentor base.

Every model-call wrapper does the same around the SDK call; only the two steps in
bold are the provider's own (a `CallPlan` names them):

1. if OpenTelemetry instrumentation is suppressed, just call the SDK; else, with
   `COSTLINE_UNTAGGED=warn|error`, check the call's tags (`untagged`; may raise);
2. mark the call as a provider call, so no attribution baggage reaches the provider;
3. step aside (call the SDK untraced) when another GenAI instrumentation traces it,
   completing that library's span with the usage details it drops (`span_completion`,
   where the plan has a `Completer`);
4. **start**: read the request (operation, model, attributes, maybe amended kwargs);
   costline starts `{operation} {model}` as the current span, or, if that fails,
   calls the SDK untraced;
5. call the SDK; an exception (cancellation included) ends the span with `error.type`
   and reaches the app unchanged;
6. **record**: end the span with the response's usage, or hand it to a stream proxy
   that ends it when reading ends. If recording fails the span is ended and the app
   gets the SDK's result all the same.

`SDKInstrumentor` is what the providers' instrumentors share: it reads the common
settings into an `LLMSpans`, wraps a list of targets (those the installed SDK version
has) and unwraps them again.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from opentelemetry.context import Context
from opentelemetry.context import detach as _detach
from opentelemetry.context import get_current as _current_context
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap
from opentelemetry.trace import Span, get_tracer
from wrapt import wrap_function_wrapper

from costline.instrumentation import coexistence, settings, span_completion, untagged
from costline.instrumentation.context_keys import SUPPRESS_KEY, SUPPRESS_KEY_PLAIN
from costline.instrumentation.llm_spans import LLMSpans, fail
from costline.instrumentation.trust_boundary import PROVIDER_CALL
from costline.instrumentation.version import __version__

log = logging.getLogger(__name__)

Wrapper = Callable[[Any, Any, tuple, dict], Any]  # a wrapt wrapper: (wrapped, instance, args, kwargs)
# (instance, kwargs) -> (operation, model, span attributes, kwargs to call the SDK with, note for `Record`)
Start = Callable[[Any, dict[str, Any]], tuple[str, object, dict[str, object], dict[str, Any], Any]]
# (span, SDK result, note from `Start`) -> what the app gets: the result or a proxy that ends the span later
Record = Callable[[Span, Any, Any], Any]
# (module, "Class.method" or a module function's name, the wrapper to put there given its `Site`)
Target = tuple[str, str, Callable[["Site"], Wrapper]]


@dataclass(frozen=True, slots=True)
class Site:
    """Where a wrapper sits among other GenAI instrumentations (fixed at instrument time)."""

    wrapper_below: bool  # another library's wrapper was already on this method
    request_wrapped: Callable[[], bool]  # is the SDK client's `request` wrapped by another library?


@dataclass(frozen=True, slots=True)
class CallPlan:
    """The provider's part of one wrapper: how to start its span and record its result."""

    spans: LLMSpans
    site: Site
    start: Start
    record: Record
    marker: ContextVar[bool] | None = None  # set to True while the traced SDK call runs
    completer: span_completion.Completer | None = None  # completes another library's span when costline defers


def _begin(plan: CallPlan, instance: Any, kwargs: dict[str, Any], ctx: Context):
    """Start the call's span (and set the marker); False when costline defers, None if starting failed.

    `ctx` is the current context, read once per call by the wrapper: the coexistence
    check, the SDK's parent lookup, sampler and span processors and making the span
    current all use it instead of each fetching it again.
    """
    spans = plan.spans
    site = plan.site
    # `spans.covered_elsewhere`, with the checks made only as far as needed, cheapest first.
    if spans.defer_to_others and (site.wrapper_below or site.request_wrapped() or coexistence.model_span_active(ctx)):
        return False
    try:
        operation, model, attributes, call_kwargs, note = plan.start(instance, kwargs)
        span, token = spans.start(operation, model, attributes, ctx)
    except Exception:
        log.debug("costline: could not start a span (%s)", spans.provider, exc_info=True)
        return None
    marker = plan.marker
    return span, token, marker.set(True) if marker is not None else None, call_kwargs, note


def _record(plan: CallPlan, span: Span, result: Any, note: Any) -> Any:
    try:
        return plan.record(span, result, note)
    except Exception:  # telemetry must not break the call
        log.debug("costline: could not record a response (%s)", plan.spans.provider, exc_info=True)
        if span.is_recording():
            span.end()
        return result


def sync_wrapper(plan: CallPlan, *, check_enabled: bool = True) -> Wrapper:
    """The call template for a sync method (`check_enabled=False`: the caller has checked)."""
    marker = plan.marker
    check_tags = untagged.checker()  # None unless COSTLINE_UNTAGGED=warn|error: one test per call

    def traced(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        ctx = _current_context()
        if check_enabled and (
            (ctx.get(SUPPRESS_KEY) or ctx.get(SUPPRESS_KEY_PLAIN))
            if SUPPRESS_KEY is not None
            else not is_instrumentation_enabled()
        ):
            return wrapped(*args, **kwargs)
        if check_tags is not None:
            check_tags(ctx)  # may raise `UntaggedCallError`: before the request is sent
        guard = PROVIDER_CALL.set(True)  # `trust_boundary.provider_call()`, inline: this runs on every call
        try:
            begun = _begin(plan, instance, kwargs, ctx)
            if not begun:  # untraced: another library traces the call (False), or starting failed
                if begun is False and plan.completer is not None:
                    return span_completion.call(plan.completer, wrapped, args, kwargs, ctx)
                return wrapped(*args, **kwargs)
            span, token, mark, call_kwargs, note = begun
            try:
                result = wrapped(*args, **call_kwargs)
            except BaseException as error:
                fail(span, error)
                raise
            finally:
                if marker is not None:
                    marker.reset(mark)
                _detach(token)
            return _record(plan, span, result, note)
        finally:
            PROVIDER_CALL.reset(guard)

    return traced


def async_wrapper(plan: CallPlan, *, check_enabled: bool = True) -> Wrapper:
    """The call template for an async method: `sync_wrapper` with the SDK call awaited."""
    marker = plan.marker
    check_tags = untagged.checker()

    async def traced(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        ctx = _current_context()
        if check_enabled and (
            (ctx.get(SUPPRESS_KEY) or ctx.get(SUPPRESS_KEY_PLAIN))
            if SUPPRESS_KEY is not None
            else not is_instrumentation_enabled()
        ):
            return await wrapped(*args, **kwargs)
        if check_tags is not None:
            check_tags(ctx)
        guard = PROVIDER_CALL.set(True)
        try:
            begun = _begin(plan, instance, kwargs, ctx)
            if not begun:
                if begun is False and plan.completer is not None:
                    return await span_completion.async_call(plan.completer, wrapped, args, kwargs, ctx)
                return await wrapped(*args, **kwargs)
            span, token, mark, call_kwargs, note = begun
            try:
                result = await wrapped(*args, **call_kwargs)
            except BaseException as error:
                fail(span, error)
                raise
            finally:
                if marker is not None:
                    marker.reset(mark)
                _detach(token)
            return _record(plan, span, result, note)
        finally:
            PROVIDER_CALL.reset(guard)

    return traced


class SDKInstrumentor(BaseInstrumentor):
    """Base of costline's SDK instrumentors: settings, wrapping the targets, unwrapping."""

    # Bound afresh on the instance by each instrument() (so never mutated here); each instrumentor is a singleton.
    _wrapped: list[tuple[Any, str]] = []  # noqa: RUF012

    def _spans(self, provider: str, kwargs: dict[str, Any]) -> LLMSpans:
        """The span lifecycle for `provider`, from the `instrument()` kwargs and the environment."""
        tracer = get_tracer(type(self).__module__, __version__, kwargs.get("tracer_provider"))
        return LLMSpans(
            tracer,
            provider,
            capture_content=settings.flag(settings.CAPTURE_CONTENT, False, kwargs.get("capture_content")),
            defer_to_others=settings.flag(
                settings.DEFER_TO_OTHER_INSTRUMENTATION, True, kwargs.get("defer_to_other_instrumentation")
            ),
        )

    def _wrap(self, targets: Iterable[Target], request_wrapped: Callable[[], bool]) -> None:
        """Wrap each target the installed SDK version has (noting whether another wrapper was there)."""
        self._wrapped = []
        for module_name, path, make in targets:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
            cls_name, _, name = path.rpartition(".")
            owner = getattr(module, cls_name, None) if cls_name else module
            if owner is None or not callable(getattr(owner, name, None)):
                continue  # not in this SDK version
            if any(o is owner and n == name for o, n in self._wrapped):
                continue  # the same class under another module path (a package re-exporting it): wrapped once
            site = Site(coexistence.wrapped_by_other(owner, name), request_wrapped)
            wrap_function_wrapper(module, path, make(site))
            self._wrapped.append((owner, name))

    def _uninstrument(self, **kwargs: Any) -> None:
        while self._wrapped:
            owner, name = self._wrapped.pop()
            unwrap(owner, name)
