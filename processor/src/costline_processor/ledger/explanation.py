"""Why did spend change: two periods of the ledger, one GROUP BY each, every row's change split into effects.

    Ask (dims, period, against, filters)
      --aggregate, per period: SELECT <dims>, model, calls, cost, tokens and cost per type GROUP BY 1, 2..-->
      cells {row: {model: Cell}} --decompose, per row--> Change --> Explanation (sorted by size of change)

`costline explain` asks here, and so can `costline alerts --explain` (the day's change) and a
web page: `Explanation.as_object()` is plain JSON. Only priced calls count (an unpriced call has
no cost to explain); the database adds up, as for every report (query.py), so memory follows the
number of (row, model) groups, never the number of calls. The unpriced calls of each period are
counted per row by one more GROUP BY (of those calls alone: SQLite's rollup holds it) and said
beside the figures (`prev_unpriced_calls`, `unpriced_calls`, the total, the headline), so calls
that lost their price never read as spend that went away.

The cost per token type comes from the ledger's cost split: input_usd, cache_read_usd and
cache_write_usd summed exactly (PostgreSQL: NUMERIC; SQLite: whole micro- and femto-dollars, see
`_micro`), output_usd the rest of the group's exact cost (decomposition.cell), so every row's
effects add up to its exact change.

Bad input is a ConfigError, one line (the CLI exits 2): periods that overlap, a period with no
priced call, a calendar bucket as the dimension (no bucket is in both periods), a tag that no
call of either period carries.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from decimal import Decimal

from costline_processor.config import DEFAULT_UNTAGGED, ConfigError
from costline_processor.ledger import filters as where_clause
from costline_processor.ledger.aggregation import Plan, Scope, aggregate
from costline_processor.ledger.decomposition import EFFECTS, FINE, SPLIT_COLUMNS, Cell, Change, cell, decompose
from costline_processor.ledger.drivers import driver, headline, signed
from costline_processor.ledger.filters import Filter
from costline_processor.ledger.periods import (
    DAY_NS,
    TIME_DIMENSIONS,
    day_start,
    describe,
    iso,
    last_month_window,
    month_window,
    parse_time,
)
from costline_processor.ledger.query import Question, check_tags
from costline_processor.ledger.schema import TOKEN_FIELDS
from costline_processor.ledger.statement import Measure, Statement

METHOD = "chained shift-share: volume, then model mix, then tokens per call (per token type), then price"
_PRICED = ("cost_usd IS NOT NULL",)
_UNPRICED = ("cost_usd IS NULL",)


@dataclass(frozen=True)
class Period:
    since_ns: int
    until_ns: int

    def overlaps(self, other: Period) -> bool:
        return self.since_ns < other.until_ns and other.since_ns < self.until_ns

    def as_object(self) -> dict:
        return {"since": iso(self.since_ns), "until": iso(self.until_ns)}


@dataclass(frozen=True)
class Ask:
    """Explain the change from `against` to `period`, row by row of `dims`, over the calls passing `filters`."""

    dims: tuple[str, ...]
    period: Period
    against: Period
    filters: tuple[Filter, ...] = ()
    untagged: str = DEFAULT_UNTAGGED


@dataclass
class Explanation:
    ask: Ask
    changes: list[Change]  # largest change (either sign) first
    total: dict = field(default_factory=dict)  # prev_calls, calls, prev_cost_usd, cost_usd, change_usd, <effect>_usd
    unpriced: dict[tuple, tuple[int, int]] = field(default_factory=dict)  # row -> its unpriced calls then, now

    def label(self, c: Change) -> str:
        return " / ".join(c.key) if c.key else "all"

    def headline(self) -> str:
        """The row that changed most, how much, and its biggest driver in words (and its unpriced calls)."""
        if not self.changes:
            return "no change"
        top = self.changes[0]
        before, now = self.unpriced.get(top.key, (0, 0))
        said = [f"{now:,} calls now have no price" if now else "", f"{before:,} had none before" if before else ""]
        words = ", ".join(w for w in said if w)
        return headline(self.label(top), top) + (f"; {words} (their cost is not in these figures)" if words else "")

    def rows(self) -> list[dict]:
        rows = [_row(self.ask.dims, c) for c in self.changes]
        for c, row in zip(self.changes, rows) if self.unpriced else ():
            row["prev_unpriced_calls"], row["unpriced_calls"] = self.unpriced.get(c.key, (0, 0))
        return rows

    def as_object(self, limit: int | None = None) -> dict:
        rows = self.rows()
        return {
            "period": self.ask.period.as_object(),
            "against": self.ask.against.as_object(),
            "by": list(self.ask.dims),
            "where": where_clause.describe(self.ask.filters),
            "method": METHOD,
            "headline": self.headline(),
            "total": self.total,
            "rows": rows if limit is None else rows[:limit],
        }

    def effects_line(self) -> str:
        effects = [(e, self.total[f"{e}_usd"]) for e in EFFECTS if self.total[f"{e}_usd"]]
        return "effects: " + (", ".join(f"{e.replace('_', ' ')} {signed(v)}" for e, v in effects) or "none")


def against_period(text: str | None, period: Period, now_ns: int, *, calendar: bool = False) -> Period:
    """`--against`: `previous` (the default: the period of the same length just before; for a calendar
    month, the month before), a month (2026-02), or WHEN..WHEN (as --since and --until: 14d..7d,
    2026-02-01..2026-02-08)."""
    text = (text or "previous").strip()
    if text == "previous":
        if calendar:
            return Period(*last_month_window(period.since_ns))
        length = period.until_ns - period.since_ns
        return Period(period.since_ns - length, period.since_ns)
    if ".." in text:
        since, until = (parse_time(t, now_ns) for t in text.split("..", 1))
        if since >= until:
            raise ConfigError(f"--against {text}: its start must be earlier than its end")
        return Period(since, until)
    if len(text) == 7 and text[4] == "-":
        return Period(*month_window(text))
    raise ConfigError(f"--against looks like previous, 2026-02 or 2026-02-01..2026-02-08, not {text!r}")


def explain(reader, ask: Ask) -> Explanation:
    """Explain `ask` from the ledger `reader` (a LedgerReader): one GROUP BY per period."""
    for d in ask.dims:
        if d in TIME_DIMENSIONS:
            raise ConfigError(f"--by {d}: a calendar bucket is never in both periods; explain by a tag or a field")
    if ask.period.overlaps(ask.against):
        raise ConfigError(
            f"the periods overlap: {describe(ask.period.since_ns, ask.period.until_ns)} against "
            f"{describe(ask.against.since_ns, ask.against.until_ns)}"
        )
    now, then = _cells(reader, ask, ask.period), _cells(reader, ask, ask.against)
    _check_tags(reader, ask, now, then)
    for cells, period, purpose in ((now, ask.period, "explain"), (then, ask.against, "compare with")):
        if not cells:
            where = f" where {where_clause.describe(ask.filters)}" if ask.filters else ""
            raise ConfigError(
                f"no priced call {describe(period.since_ns, period.until_ns)}{where}: nothing to {purpose}"
            )
    keys = [*now, *(k for k in then if k not in now)]
    changes = [decompose(k, then.get(k, {}), now.get(k, {})) for k in keys]
    changes.sort(key=lambda c: c.key)
    changes.sort(key=lambda c: abs(c.change), reverse=True)
    was, unpriced = _unpriced(reader, ask, ask.against), _unpriced(reader, ask, ask.period)
    total = _total(changes)
    total["prev_unpriced_calls"], total["unpriced_calls"] = sum(was.values()), sum(unpriced.values())
    both = {k: (was.get(k, 0), unpriced.get(k, 0)) for k in {*was, *unpriced}}
    return Explanation(ask, changes, total, both)


def _unpriced(reader, ask: Ask, period: Period) -> dict[tuple, int]:
    """{row: its calls without a price in `period`} (rows with none left out)."""
    scope = Scope(period.since_ns, period.until_ns, ask.filters, ask.untagged)
    groups, _ = aggregate(reader, scope, Plan(ask.dims, (Measure("calls", "count", "COUNT(*)"),), _UNPRICED))
    return {key: g["calls"] for key, g in groups.items() if g["calls"]}


def _measures() -> tuple[Measure, ...]:
    ms = [Measure("calls", "count", "COUNT(*)"), Measure("cost_usd", "money")]
    ms += [Measure(f, "count", f"SUM({f})") for f in TOKEN_FIELDS]
    for c in SPLIT_COLUMNS:
        ms += [Measure(f"{c}:micro", "count", functools.partial(_micro, c))]
        ms += [Measure(f"{c}:femto", "count", functools.partial(_femto, c))]
    return tuple(ms)


def _micro(column: str, st: Statement) -> str:
    """With `_femto`, the exact sum of a cost-split column: micro-dollars * 10**9 + femto-dollars.
    SQLite has no decimal sum: each cost is read as a double and rounded to whole micro- and
    femto-dollars, exact for every cost with up to 15 decimals under $9 (close beyond), and those
    integers add up exactly as doubles. PostgreSQL sums its NUMERIC column, all in `_femto`."""
    if st.dialect.name == "postgresql":
        return "0"
    return f"SUM(ROUND({st.dialect.double(column)} * 1000000))"


def _femto(column: str, st: Statement) -> str:
    if st.dialect.name == "postgresql":
        return f"ROUND(SUM({column}) * 1000000000000000)"
    usd = st.dialect.double(column)
    return f"SUM(ROUND({usd} * 1e15) - ROUND({usd} * 1000000) * 1000000000)"


def _cells(reader, ask: Ask, period: Period) -> dict[tuple, dict[str, Cell]]:
    """{row: {model: Cell}} of the priced calls in `period`."""
    scope = Scope(period.since_ns, period.until_ns, ask.filters, ask.untagged)
    groups, _ = aggregate(reader, scope, Plan((*ask.dims, "model"), _measures(), _PRICED))
    out: dict[tuple, dict[str, Cell]] = {}
    n = len(ask.dims)
    for key, g in groups.items():
        if g["calls"]:
            split = {c: FINE.scaleb(g[f"{c}:micro"] * 10**9 + g[f"{c}:femto"], -15) for c in SPLIT_COLUMNS}
            out.setdefault(key[:n], {})[key[n]] = cell(g["calls"], g["cost_usd"], g, split)
    return out


def _check_tags(reader, ask: Ask, now: dict, then: dict) -> None:
    """A tag (dimension or filter) that no call of either period carries is an error (query.check_tags)."""
    first = None
    for period, cells in ((ask.period, now), (ask.against, then)):
        q = Question(ask.dims, period.since_ns, period.until_ns, ask.filters, ask.untagged)
        try:
            return check_tags(reader, q, {k: {} for k in cells})
        except ConfigError as e:
            first = first or e
    if first is not None:
        raise first


def _total(changes: list[Change]) -> dict:
    add = functools.partial(functools.reduce, FINE.add)
    total = {
        "prev_calls": sum(c.calls[0] for c in changes),
        "calls": sum(c.calls[1] for c in changes),
        "prev_cost_usd": add((c.before for c in changes), Decimal(0)),
        "cost_usd": add((c.after for c in changes), Decimal(0)),
        "change_usd": add((c.change for c in changes), Decimal(0)),
    }
    total["change_pct"] = total["change_usd"] / total["prev_cost_usd"] * 100 if total["prev_cost_usd"] else None
    for e in EFFECTS:
        total[f"{e}_usd"] = add((c.effects[e] for c in changes), Decimal(0))
    return total


def _row(dims: tuple[str, ...], c: Change) -> dict:
    row: dict = dict(zip(dims, c.key))
    row.update(prev_calls=c.calls[0], calls=c.calls[1], prev_cost_usd=c.before, cost_usd=c.after)
    row.update(change_usd=c.change, change_pct=c.change_pct)
    row.update({f"{e}_usd": c.effects[e] for e in EFFECTS})
    row["driver"] = driver(c)
    return row


def day_change(reader, at_ns: int, dims: tuple[str, ...], untagged: str = DEFAULT_UNTAGGED, limit: int = 5) -> dict:
    """Why the UTC day up to `at_ns` (at midnight: the day that ended) cost what it did, against the same
    hours of the day before: the explanation's JSON with its `limit` largest rows, or {"error": why not}."""
    start = day_start(at_ns - 1)
    ask = Ask(dims, Period(start, at_ns), Period(start - DAY_NS, at_ns - DAY_NS), untagged=untagged)
    try:
        return explain(reader, ask).as_object(limit)
    except ConfigError as e:
        return {"error": str(e)}
