"""Reading token counts out of span attributes, and what one dialect reader returns.

Counts arrive from many emitters and some are wrong: negative, NaN, floats with a
fraction, strings, lists, or absurdly large. A bad count makes the whole call
`invalid_usage`; it is never silently read as zero. Absent counts are zero (emitters
differ on whether they write zeros at all).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MAX_TOKENS = 10**12  # more tokens than any real call: a unit or overflow bug upstream


@dataclass(slots=True)
class Reading:
    """One dialect's view of a span before it becomes a ModelCall.

    Counts are None when absent. `input_excludes_cache` is True when the emitter is
    known to report input without the cache counts, False when known to include
    them, None when unknown (the caller then applies the "cache > input" guard).
    `is_model_call` says the span is a model call even when it carries no counts.
    """

    dialect: str
    input: int | None = None
    output: int | None = None
    cache_read: int | None = None
    cache_write: int | None = None
    cache_write_1h: int | None = None
    reasoning: int | None = None
    audio_input: int | None = None  # subsets, as in records.Usage
    audio_output: int | None = None
    audio_cache_read: int | None = None
    image_input: int | None = None  # subsets, as in records.Usage
    image_output: int | None = None
    image_cache_read: int | None = None
    web_searches: int | None = None  # server-side web searches billed with the call (records.Usage)
    file_searches: int | None = None  # server-side file searches billed with the call (records.Usage)
    preview_web_searches: int | None = None  # OpenAI web_search_preview searches billed with the call (records.Usage)
    input_excludes_cache: bool | None = None
    output_excludes_reasoning: bool = False
    model: str | None = None
    request_model: str | None = None
    provider: str | None = None
    operation: str | None = None
    is_model_call: bool = False
    reported_cost_usd: Decimal | None = None
    error: str | None = None  # the first invalid count, as a sentence fragment

    def has_counts(self) -> bool:
        return not (
            self.error is None
            and self.input is None
            and self.output is None
            and self.cache_read is None
            and self.cache_write is None
            and self.cache_write_1h is None
            and self.reasoning is None
            and self.audio_input is None
            and self.audio_output is None
            and self.image_input is None
            and self.image_output is None
        )


class CountReader:
    """Reads counts from one attribute dict, remembering the first invalid value."""

    __slots__ = ("attrs", "error")

    def __init__(self, attrs: dict) -> None:
        self.attrs = attrs
        self.error: str | None = None

    def first(self, *keys: str) -> int | None:
        """The count under the first present key (synonyms are never summed)."""
        attrs = self.attrs
        for key in keys:
            value = attrs.get(key)
            if value is not None:
                if type(value) is int and 0 <= value <= MAX_TOKENS:
                    return value  # what parse() answers for a plain in-range int, without the calls
                return self.parse(key, value)
        return None

    def parse(self, key: str, value: object) -> int | None:
        count = as_count(value)
        if count is None:
            if self.error is None:
                self.error = f"{key}={_show(value)} is not a token count"
            return None
        return count


def read_counts(attrs: dict, groups: tuple[tuple[str, ...], ...]) -> tuple[list[int | None], str | None]:
    """CountReader.first for each group of synonyms, in order, in one call: (counts, first error)."""
    get = attrs.get
    out: list[int | None] = []
    error = None
    for keys in groups:
        count = None
        for key in keys:
            value = get(key)
            if value is not None:
                if type(value) is int and 0 <= value <= MAX_TOKENS:
                    count = value
                else:
                    count = as_count(value)
                    if count is None and error is None:
                        error = f"{key}={_show(value)} is not a token count"
                break
        out.append(count)
    return out, error


def as_count(value: object) -> int | None:
    """A non-negative whole number of tokens, or None when `value` is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_TOKENS else None
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and 0 <= value <= MAX_TOKENS:
            return int(value)
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 13:
            number = int(text)
            return number if number <= MAX_TOKENS else None
    return None


def first_str(attrs: dict, *keys: str) -> str | None:
    """The first non-empty string value among `keys`, stripped."""
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, str):
            value = value.strip()
            if value:
                return value
    return None


def is_true(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return isinstance(value, int) and value == 1


def as_usd(value: object) -> Decimal | None:
    """A finite, non-negative money amount, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, int) else Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0 or amount > MAX_TOKENS:
        return None
    return amount


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
