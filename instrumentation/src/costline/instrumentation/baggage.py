"""Copy `costline.*` baggage onto every span started in that context.

Built on contrib's `BaggageSpanProcessor`; the launcher hook registers it on the
global tracer provider (`configurator.py`). Only costline's own entries are copied:
other baggage may hold things that were never meant to become span attributes.

`on_start` runs for every span the app makes, so it does contrib's work in fewer
steps: nothing at all when the context has no baggage, and otherwise the `costline.*`
entries set one by one (up to three; a single `set_attributes` call for more, see
`_ONE_BY_ONE`), which are picked once per baggage: the API never changes a baggage mapping
in place (`set_baggage` makes a new one), so the last one seen is remembered.
"""

from __future__ import annotations

from opentelemetry import baggage as _baggage
from opentelemetry.context import Context, get_value
from opentelemetry.processor.baggage import BaggageSpanProcessor
from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

from costline.instrumentation.tag_keys import PREFIX

# Up to this many tags are set one `set_attribute` each: in the SDK a `set_attributes` call
# costs about two attributes more than the same attributes one by one (it cleans the mapping
# as a whole first); beyond three, the one call is cheaper. Same attributes either way.
_ONE_BY_ONE = 3
# The context key the baggage API keeps its mapping under (private: fall back to the API without it).
_BAGGAGE_KEY: str | None = getattr(_baggage, "_BAGGAGE_KEY", None)


def is_costline_key(key: str) -> bool:
    return key.startswith(PREFIX)


def _entries(parent_context: Context | None) -> object:
    if _BAGGAGE_KEY is None:  # pragma: no cover - every API version so far has the key
        return dict(_baggage.get_all(parent_context))
    return get_value(_BAGGAGE_KEY, parent_context)


class CostlineBaggageSpanProcessor(BaggageSpanProcessor):
    """`BaggageSpanProcessor` limited to `costline.*` entries."""

    def __init__(self) -> None:
        super().__init__(is_costline_key)
        self._last: tuple[object, tuple[tuple[str, AttributeValue], ...]] = (
            None,
            (),
        )  # (baggage, its costline entries)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        entries = _entries(parent_context)
        if not entries or not isinstance(entries, dict):
            return
        seen, tags = self._last  # one tuple: read and replaced atomically, whichever thread runs here
        if entries is not seen:
            tags = tuple((key, value) for key, value in entries.items() if key.startswith(PREFIX))
            self._last = (entries, tags)
        if len(tags) > _ONE_BY_ONE:
            span.set_attributes(dict(tags))
        else:
            for key, value in tags:
                span.set_attribute(key, value)
