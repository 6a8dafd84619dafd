"""`COSTLINE_UNTAGGED`: what costline's wrappers do with a model call that lacks a required tag.

    COSTLINE_UNTAGGED=warn  COSTLINE_REQUIRE_TAGS=feature,customer_id  opentelemetry-instrument python app.py

- `ignore` (default): nothing. The wrapper holds `None` instead of a check, so the whole
  cost per call is one test of a closure variable (read once, when the instrumentor wraps).
- `warn`: one warning per call site (file:line of the app, `call_sites`) naming the
  missing tags; later calls from the same line are only counted.
- `error`: `UntaggedCallError` (exported as `costline.UntaggedCallError`) is raised in the
  wrapper, before the SDK is called, so the request is never sent.

Either of the two counts the call on the counter `costline.untagged_calls` (unit `{call}`)
of the global MeterProvider, with attributes `code.file.path`, `code.line.number` and
`costline.tags.missing` (the missing tags, sorted, comma-separated): one series per call
site. Required tags come from `COSTLINE_REQUIRE_TAGS` (default `feature,customer_id`, the
processor's `tagging.required` default). A tag counts when the context's baggage holds
`costline.<tag>` (`costline.attribution`, the middleware, or a trusted caller).

Only calls made through costline's wrappers are checked (its instrumentors must be on; a
call that another GenAI instrumentation traces is checked all the same). The exact,
whole-suite view is the pytest plugin (`pytest_plugin`); the static one `costline lint`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from opentelemetry import baggage, metrics
from opentelemetry.context import Context

from costline.instrumentation import settings
from costline.instrumentation.call_sites import CallSite, call_site
from costline.instrumentation.tag_keys import PREFIX, baggage_key
from costline.instrumentation.version import __version__

log = logging.getLogger(__name__)

COUNTER = "costline.untagged_calls"
Check = Callable[[Context], None]

_warned: set[CallSite] = set()
# The context key the baggage API keeps its mapping under (as in `baggage.py`; the API's `get_all` without it).
_BAGGAGE_KEY: str | None = getattr(baggage, "_BAGGAGE_KEY", None)
_counter: list[metrics.Counter] = []  # made on the first untagged call, from the global MeterProvider


class UntaggedCallError(RuntimeError):
    """A model call was made without the required costline tags (`COSTLINE_UNTAGGED=error`)."""

    def __init__(self, site: CallSite, missing: tuple[str, ...]) -> None:
        self.site = site
        self.missing = missing
        super().__init__(
            f"costline: model call at {site} lacks the required tag(s) {', '.join(missing)}; "
            "wrap it in costline.attribution(...) (COSTLINE_UNTAGGED=error)"
        )


def checker(env: Mapping[str, str] | None = None) -> Check | None:
    """The check for the settings in the environment, or None for `ignore` (also for an unknown mode)."""
    try:
        mode = settings.choice(settings.UNTAGGED, settings.UNTAGGED_MODES, "ignore", env)
    except ValueError as error:
        log.warning("costline: %s; untagged calls are ignored", error)
        return None
    if mode == "ignore":
        return None
    required = settings.name_list(settings.REQUIRE_TAGS, settings.DEFAULT_REQUIRED_TAGS, env=env)
    return partial(_check, mode == "error", tuple(sorted(baggage_key(tag) for tag in required)))


def _check(raise_error: bool, keys: tuple[str, ...], ctx: Context) -> None:
    # The API's baggage mapping (a dict under its private key, when it has one).
    entries: Any = (ctx.get(_BAGGAGE_KEY) or {}) if _BAGGAGE_KEY is not None else baggage.get_all(ctx)
    for key in keys:  # the common case, all there, without building anything
        if key not in entries:
            break
    else:
        return
    missing = tuple(key[len(PREFIX) :] for key in keys if key not in entries)
    site = call_site(2)  # past this function and the wrapper
    _count(site, missing)
    if raise_error:
        raise UntaggedCallError(site, missing)
    if site not in _warned:
        _warned.add(site)
        log.warning(
            "costline: untagged model call at %s: missing tag(s) %s (COSTLINE_UNTAGGED=warn; "
            "later calls from this line are counted in %s)",
            site,
            ", ".join(missing),
            COUNTER,
        )


def _count(site: CallSite, missing: tuple[str, ...]) -> None:
    if not _counter:
        meter = metrics.get_meter("costline.instrumentation.untagged", __version__)
        _counter.append(
            meter.create_counter(
                COUNTER, unit="{call}", description="Model calls made without the required costline tags"
            )
        )
    _counter[0].add(
        1, {"code.file.path": site.path, "code.line.number": site.line, "costline.tags.missing": ",".join(missing)}
    )
