"""The page's query parameters as the report commands' flags, turned into a Question the same way.

    ?by=feature,model&since=7d&where=model!=gpt-4o&sort=calls   ==   costline report --by feature,model
                                                                       --since 7d --where model!=gpt-4o --sort calls

Periods go through ledger/options.py's `time_window` (since/until, month, last_month, mtd; 30d
when none is given, as `costline report`), filters through `parse_where`, dimensions through
`parse_dimensions`: a parameter means on the page what its flag means on the command line, and a
wrong one is the same ConfigError sentence (the API answers it with 400).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import replace

from costline_processor.config import ConfigError, TaggingConfig
from costline_processor.ledger import options
from costline_processor.ledger.dimensions import check_name, parse_dimensions
from costline_processor.ledger.filters import parse_where
from costline_processor.ledger.query import Question

DEFAULT_SINCE = "30d"
MAX_LIMIT = 1000
PERIOD_KEYS = ("since", "until", "month", "last_month", "mtd")


class Params:
    """A request's query string: one value per key, and every value of `where`."""

    def __init__(self, values: Mapping[str, str], where: list[str]) -> None:
        self.values = values
        self.where = where

    def get(self, key: str, default: str | None = None) -> str | None:
        value = (self.values.get(key) or "").strip()
        return value or default

    def flag(self, key: str) -> bool:
        return self.get(key, "") in ("1", "true", "on", "yes")

    def number(self, key: str, default: int, most: int = MAX_LIMIT) -> int:
        text = self.get(key)
        if text is None:
            return default
        if not text.isdigit() or not 1 <= int(text) <= most:
            raise ConfigError(f"{key} must be a whole number from 1 to {most}, not {text!r}")
        return int(text)

    def period(self, now_ns: int) -> tuple[int | None, int]:
        """[since, until) in ns, as `costline report --since/--until/--month/--last-month/--mtd`."""
        args = argparse.Namespace(
            since=self.get("since"),
            until=self.get("until"),
            month=self.get("month"),
            last_month=self.flag("last_month"),
            mtd=self.flag("mtd"),
            default_since=DEFAULT_SINCE,
        )
        return options.time_window(args, now_ns)

    def tag(self, key: str, default: str) -> str:
        name = self.get(key, default) or default
        check_name(name, key)
        return name


def question(params: Params, tagging: TaggingConfig, now_ns: int, *, by: str | None = "feature") -> Question:
    """The Question `costline report` would ask with these flags (the table format's untagged bucket included)."""
    since, until = params.period(now_ns)
    dims = tuple(parse_dimensions(params.get("by", by) or "", "by")) if by is not None else ()
    return Question(
        dims=dims,
        since_ns=since,
        until_ns=until,
        filters=parse_where(params.where),
        untagged=tagging.default,
        required=tuple(tagging.required),
        sort=params.get("sort"),
        limit=params.number("limit", MAX_LIMIT),
    )


def window_only(q: Question) -> Question:
    """`q`'s period and filters, no dimension, sort or limit: the frame the Overview's panels share."""
    return replace(q, dims=(), sort=None, limit=None, required=())
