"""Attribution tags: set once where a request enters, read by every span below it.

    with costline.attribution(customer_id="acme", feature="search"):
        handle(request)

    @costline.attribution(feature="nightly-report")
    async def run_report(): ...

    with costline.attribution(customer_id=["acme", "globex"]):      # two owners, equal shares
    with costline.attribution(customer_id={"acme": 3, "globex": 1}): # weights: 3/4 and 1/4

A tag with several owners is stored as JSON text (`["acme","globex"]`, `{"acme":3,"globex":1}`),
which survives W3C baggage's percent-encoding whatever the owner names hold and reads as
written in a trace UI; costline's reports and FOCUS export split each such call's cost among
the owners by weight (`shared_tags`: the rules, and what is refused). One owner is written
as its plain value, so a single-owner tag is unchanged.

Each tag is stored as the W3C baggage entry `costline.<name>`, so it lives in the
OpenTelemetry context: it follows the code into nested calls and asyncio tasks
(tasks copy the context when created), and the baggage span processor copies it onto
every span started there (`costline.instrumentation.baggage`): `opentelemetry-instrument`
adds that processor; an app that builds its own `TracerProvider` calls
`costline.install(provider)` (without it, the first tagged request logs a warning
saying so: `install_check`). It crosses to other services only through the trust
boundary (`costline.instrumentation.trust_boundary`).

Plain `threading.Thread` and executor workers do not inherit the context. Use
`with_current_context(fn)` (or `contextvars.copy_context().run`) when handing work
to a thread, or install `opentelemetry-instrumentation-threading`, which does the
same for `Thread` and `ThreadPoolExecutor.submit` under `opentelemetry-instrument`.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import baggage, context

if TYPE_CHECKING:
    from opentelemetry.context import Context

from costline.instrumentation import shared_tags
from costline.instrumentation.install_check import warn_if_not_installed
from costline.instrumentation.tag_keys import PREFIX, baggage_key

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
# costline's own span attributes live under these names; a tag may not shadow them.
RESERVED = ("usage", "reported_cost", "step")

F = TypeVar("F", bound=Callable[..., Any])


def tag_entries(tags: dict[str, object]) -> dict[str, str]:
    out = {}
    for name, value in tags.items():
        if not _NAME.match(name):
            raise ValueError(f"costline tag name {name!r} must be letters, digits, '_', '.' or '-'.")
        if name.split(".", 1)[0] in RESERVED:
            raise ValueError(f"costline tag name {name!r} is reserved for costline's own attributes.")
        if value is None:
            continue  # an absent tag is not a tag
        if isinstance(value, str):
            out[baggage_key(name)] = value
        elif shared_tags.is_several(value):
            out[baggage_key(name)] = shared_tags.encode(name, value)
        else:
            out[baggage_key(name)] = str(value)
    return out


def context_with_tags(tags: dict[str, str], parent: context.Context | None = None) -> context.Context:
    """A context whose baggage has `tags` (already `costline.`-prefixed) added to `parent`'s.

    Warns once if no span processor will copy them onto spans (`install_check`).
    """
    warn_if_not_installed()
    ctx = parent if parent is not None else context.get_current()
    for key, value in tags.items():
        ctx = baggage.set_baggage(key, value, context=ctx)
    return ctx


def current_tags(ctx: context.Context | None = None) -> dict[str, str]:
    """The costline tags in the (current) context, without the prefix."""
    return {k[len(PREFIX) :]: str(v) for k, v in baggage.get_all(ctx).items() if k.startswith(PREFIX)}


class attribution:
    """Context manager and decorator (sync and async) that adds `costline.*` tags.

    Nested blocks add to the outer tags; a repeated name takes the inner value.
    `None` values are skipped; a list or a mapping of owner to weight names several owners
    (written as JSON text: the module docstring). The same object may decorate many concurrent calls:
    each call attaches its own context.
    """

    __slots__ = ("_tags", "_tokens")

    def __init__(self, **tags: object) -> None:
        self._tags = tag_entries(tags)
        self._tokens: list[contextvars.Token[Context]] = []

    @property
    def tags(self) -> dict[str, str]:
        return {k[len(PREFIX) :]: v for k, v in self._tags.items()}

    def __enter__(self) -> attribution:
        self._tokens.append(context.attach(context_with_tags(self._tags)))
        return self

    def __exit__(self, *exc: object) -> None:
        context.detach(self._tokens.pop())

    def __call__(self, fn: F) -> F:
        tags = self._tags
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_tagged(*args: Any, **kwargs: Any) -> Any:
                token = context.attach(context_with_tags(tags))
                try:
                    return await fn(*args, **kwargs)
                finally:
                    context.detach(token)

            return async_tagged  # type: ignore[return-value]

        @functools.wraps(fn)
        def tagged(*args: Any, **kwargs: Any) -> Any:
            token = context.attach(context_with_tags(tags))
            try:
                return fn(*args, **kwargs)
            finally:
                context.detach(token)

        return tagged  # type: ignore[return-value]


def with_current_context(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` bound to a copy of the caller's context, for `Thread(target=...)` or `executor.submit`.

    Tags (and the current span) set where this is called are visible inside `fn`,
    whichever thread runs it. Each call of the result runs in a fresh copy, so one
    bound function may be submitted many times.
    """
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        return ctx.copy().run(fn, *args, **kwargs)

    return run
