"""Notice when another GenAI instrumentation already traces an LLM call.

The official OTel instrumentations, OpenLLMetry and OpenInference all register an
`openai` (or `anthropic`) instrumentor; with costline installed beside one of them,
every call would get two model spans and its cost would be counted twice. With
`COSTLINE_DEFER_TO_OTHER_INSTRUMENTATION=true` (the default) costline then makes no
span of its own for that call and leaves the other library's span as the only one.
Three signals, cheapest first:

1. another wrapper was already on the SDK method when costline wrapped it (it sits
   *below* costline's wrapper and will make its span inside the call);
2. another wrapper sits on the SDK client's `request` method (OpenInference's style);
3. the current span is another library's model-call span (its wrapper sits *above*
   costline's, so its span is already active when costline's wrapper runs).

Whatever the decision, costline still guards the provider request against
attribution baggage (`trust_boundary.provider_call`).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from functools import partial
from types import FunctionType

import wrapt
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanKind

from costline.instrumentation.context_keys import SPAN_KEY
from costline.instrumentation.genai_attributes import INFERENCE_OPERATIONS, OPERATION_NAME

_OPENINFERENCE_MODEL_KINDS = frozenset({"LLM", "EMBEDDING"})
# wrapt 2 splits proxies from function wrappers under BaseObjectProxy; wrapt 1 has ObjectProxy only.
_WRAPPER_TYPES = (getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy), wrapt.FunctionWrapper)


def wrapped_by_other(owner: object, attribute: str) -> bool:
    """Whether `owner.attribute` is already a wrapt wrapper (call before wrapping it yourself)."""
    try:
        return isinstance(inspect.getattr_static(owner, attribute), _WRAPPER_TYPES)
    except AttributeError:
        return False


def any_wrapped(owners: tuple[type, ...], attribute: str) -> bool:
    """Whether `attribute` is wrapped on any of `owners` (looked up in their own `__dict__`, fast)."""
    for owner in owners:  # noqa: SIM110 - runs per model call: a plain loop is faster than any() over a generator
        if isinstance(owner.__dict__.get(attribute), _WRAPPER_TYPES):
            return True
    return False


def _any_wrapped_in(namespaces: tuple, attribute: str) -> bool:
    """`any_wrapped` on the classes' namespaces, taken once (a class's `__dict__` is a live view).

    Runs on every call: an absent attribute or a plain function (what an unwrapped SDK
    has) is told apart by identity and exact type, before the costlier `isinstance`.
    """
    for namespace in namespaces:
        value = namespace.get(attribute)
        if value is not None and type(value) is not FunctionType and isinstance(value, _WRAPPER_TYPES):
            return True
    return False


def request_wrapped_check(package: str, *clients: str) -> Callable[[], bool]:
    """A cheap per-call check: is `request` wrapped on the SDK's clients (`package.<client>`) or their bases?"""
    sdk = importlib.import_module(package)
    base = importlib.import_module(f"{package}._base_client")
    owners = (*(getattr(sdk, name) for name in clients), base.SyncAPIClient, base.AsyncAPIClient)
    namespaces = tuple(owner.__dict__ for owner in owners)
    return partial(_any_wrapped_in, namespaces, "request")


def model_span_active(ctx: Context | None = None) -> bool:
    """Whether the current span (of `ctx`, if given) is a model-call span made by some GenAI instrumentation."""
    if ctx is not None:  # the caller's context: the cheap cases first, without the API's `isinstance(_, Span)`
        found = ctx.get(SPAN_KEY) if SPAN_KEY is not None else trace.get_current_span(ctx)
        if found is None or type(found) is NonRecordingSpan:  # no span, or a sampled-out one
            return False
    span = trace.get_current_span(ctx)
    if type(span) is NonRecordingSpan:  # no span, or a sampled-out one: no attributes to look at
        return False
    attributes = getattr(span, "attributes", None)
    if not attributes:
        return False
    operation = attributes.get(OPERATION_NAME)
    if operation in INFERENCE_OPERATIONS and getattr(span, "kind", None) is SpanKind.CLIENT:
        return True
    if attributes.get("openinference.span.kind") in _OPENINFERENCE_MODEL_KINDS:
        return True
    return "llm.request.type" in attributes  # OpenLLMetry before it adopted gen_ai.operation.name
