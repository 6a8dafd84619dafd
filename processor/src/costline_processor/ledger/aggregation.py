"""One GROUP BY run against the ledger and read back: {group labels: {measure: value}} and totals.

    Scope (window, filters) + Plan (dimensions, measures, ORDER BY/LIMIT)
      --statement.py--> SQL + parameters --LedgerReader.fetch--> records --> groups, totals

Labels are what `dimensions.value` prints (calendar keys come back as day numbers and are
named here). Money comes back exact (Dialect.money_value); in SQLite, a cost without an
exact femto count is left out by the GROUP BY and counted, and when any is, one more query
over those calls alone (a partial index finds them) adds them from their decimal strings.
The totals add up every group, including those a LIMIT left out (summed by the database, then).
When the question names a tag that some call of the window shares among owners, the GROUP BY
reads shared_calls.py's rows instead of the table (each such call cut per owner), with no
LIMIT (the caller keeps the first rows), and the totals come from a query of their own, which
counts each call once. In SQLite, a plan the per-day rollup holds (rollup.py: sums by feature, call
fields, calendar buckets, the untagged bucket) reads the window's whole days there and its partial
days from the calls; every group comes back, also with a LIMIT (the caller keeps the first rows).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, localcontext
from typing import Any

from costline_processor.ledger import dimensions, rollup, shared_calls
from costline_processor.ledger.dialect import DAY_NS, Dialect, dialect
from costline_processor.ledger.filters import Filter
from costline_processor.ledger.periods import bucket
from costline_processor.ledger.schema import TABLE
from costline_processor.ledger.statement import Measure, Statement

log = logging.getLogger("costline")

_INEXACT = "cost_femto IS NULL AND cost_usd IS NOT NULL"
LIMITED_TOTALS = ("calls", "unpriced_calls", "cost_usd")  # the totals a report shows beside LIMITed groups
_ROWS = "{rows}"  # where shared_calls' rows go, once the statement says which columns it reads


@dataclass(frozen=True)
class Scope:
    """Which calls: those that started in [since_ns, until_ns) and pass every filter."""

    since_ns: int | None
    until_ns: int | None
    filters: tuple[Filter, ...] = ()
    untagged: str = "untagged"


@dataclass(frozen=True)
class Plan:
    """What to read: one group per value of `dims` (none: one group of every call), each measure
    of it; `extra` narrows the calls (module constants only); with `limit`, the database sorts by
    `sort` (a dimension, A to Z, or a measure, largest first) and returns the first `limit`."""

    dims: tuple[str, ...]
    measures: tuple[Measure, ...]
    extra: tuple[str, ...] = ()
    sort: str | None = None
    limit: int | None = None


# Money adds up exactly also where Python adds it (in SQLite the costs without a femto count and the rollup's
# partial days; the groups' totals): the default context rounds a sum to 28 digits, PostgreSQL's NUMERIC sum keeps
# every digit, and a cost priced by the GPU-hour (gpu_hour / 3600 a second, price_rules.py) has 28 of its own.
# Additions only (and the exact products of shared_calls' cuts): a division here would never end.
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


def aggregate(reader, scope: Scope, plan: Plan) -> tuple[dict[tuple, dict[str, Any]], dict[str, Any]]:
    """The groups (in the database's order) and the totals of their additive measures; with a LIMIT, the
    totals (of LIMITED_TOTALS only) count the groups left out too."""
    with localcontext(EXACT):
        split = shared_calls.tags_to_split(reader, scope, plan.dims)
        if split:
            return _aggregate_shared(reader, scope, replace(plan, sort=None, limit=None), split)
        return _aggregate(reader, scope, plan)


def _aggregate(reader, scope: Scope, plan: Plan) -> tuple[dict[tuple, dict[str, Any]], dict[str, Any]]:
    days = _rollup_days(reader, scope, plan)
    if days is not None:
        return _from_rollup(reader.rollup_reader, scope, plan, days)
    st = Statement(dialect(reader.dialect), scope.untagged)
    keys = [st.key(d) for d in plan.dims]
    where = st.where(scope.since_ns, scope.until_ns, scope.filters, plan.extra)
    sort = plan.dims.index(plan.sort) if plan.sort in plan.dims else plan.sort
    summed = [m for m in plan.measures if m.name in LIMITED_TOTALS] if plan.limit is not None and keys else []
    totals: dict[str, Any] = {}
    whole = Plan((), tuple(summed), plan.extra)
    apart = bool(summed) and _rollup_days(reader, scope, whole) is not None
    if apart:  # the totals from the rollup (exact already), not from a second pass over every group
        totals, summed = _aggregate(reader.rollup_reader, scope, whole)[1], []
    totals_sql = tuple(m.name for m in summed)
    sql = st.select(keys, list(plan.measures), where, totals=totals_sql, sort=sort, limit=plan.limit)
    groups: dict[tuple, dict[str, Any]] = {}
    for record in reader.fetch(sql, st.params):
        label = tuple(_label(d, v) for d, v in zip(plan.dims, record))
        groups[label], rest = _decode(st.dialect, list(plan.measures), list(record[len(keys) :]))
        totals = _decode(st.dialect, summed, rest)[0] if summed else totals
    if not keys and groups and not next(iter(groups.values()))["calls"]:
        groups = {}  # no GROUP BY: one row even for no call
    if not summed and not apart:
        totals = _sum([m for m in plan.measures if m.kind != "distinct"], groups.values())
    if apart and any(g["_inexact"] for g in groups.values()):
        _add_inexact(reader, scope, plan, groups, defaultdict(Decimal))
    elif totals.get("_inexact"):
        _add_inexact(reader, scope, plan, groups, totals)
    for values in (*groups.values(), totals):
        values.pop("_inexact", None)
    return groups, totals


def rollup_holds(reader, scope: Scope, plan: Plan) -> bool:
    """Whether SQLite's per-day rollup answers `plan` over `scope` (at least one whole day of it)."""
    return _rollup_days(reader, scope, plan) is not None


def _rollup_days(reader, scope: Scope, plan: Plan) -> tuple[int | None, int | None] | None:
    """The whole days of the window that SQLite's per-day rollup (rollup.py) can answer `plan` for, or None
    (read by `reader.rollup_reader`). A LIMIT is no obstacle: the rollup's groups are few, all come back (the
    caller keeps the first)."""
    reader = reader.rollup_reader
    if not rollup.ENABLED or reader.dialect != "sqlite" or not any(m.name == "calls" for m in plan.measures):
        return None
    if not rollup.serves(plan.dims, [f.dim for f in scope.filters], scope.untagged, plan.extra):
        return None
    st = Statement(dialect(reader.dialect), scope.untagged)
    if any(m.kind == "distinct" or (m.kind != "money" and rollup.measure(m.text(st)) is None) for m in plan.measures):
        return None
    if any(m.kind == "money" and m.text(st) for m in plan.measures):
        return None
    return _whole_days(reader, scope.since_ns, scope.until_ns)


def _whole_days(reader, since_ns: int | None, until_ns: int | None) -> tuple[int | None, int | None] | None:
    """The whole days of a window that SQLite's rollup holds every call of, or None."""
    if not rollup.ENABLED or reader.dialect != "sqlite":
        return None
    days = rollup.whole_days(since_ns, until_ns)
    return None if days is None or _rollup_behind(reader) else days


def tag_sources(reader, st: Statement, since_ns: int | None, until_ns: int | None) -> list[tuple[str, str]]:
    """Where to look for the tags of a window's calls: (FROM item, " WHERE ..." of its rows) pairs. In SQLite,
    the rollup's tag shapes for the window's whole days (rollup.py: a shape keeps every tag's name, and a null
    value as null) and the calls of the partial days at its edges; otherwise the calls. Whether a call has a
    tag, and which tags there are, read the same from either (30 days of a 1M-call ledger: 0.5 s from the
    calls, 0.01 s from the rollup)."""
    days = _whole_days(reader, since_ns, until_ns)
    if days is None:
        return [(TABLE, st.where(since_ns, until_ns) or " WHERE 1 = 1")]
    first, last = (None if d is None else d * DAY_NS for d in days)
    out = [(rollup.source(*(None if d is None else st.bind(d) for d in days)), " WHERE 1 = 1")]
    for since, until in ((since_ns, first), (last, until_ns)):  # the partial days
        if since is not None and until is not None and since < until:
            out.append((TABLE, st.where(since, until)))
    return out


def _rollup_behind(reader) -> bool:
    """Whether the rollup misses calls (rollup.BEHIND: written by something that did not add them); said once."""
    (behind,) = next(reader.fetch(rollup.BEHIND))
    if behind and reader.location not in _SAID_BEHIND:
        _SAID_BEHIND.add(reader.location)
        log.warning(
            "ledger %s: its per-day rollup misses calls another writer added (an older costline still writing to "
            "it?): reports read the calls, slower but exact; restart costline serve with this version to rebuild it",
            reader.location,
        )
    return bool(behind)


_SAID_BEHIND: set[str] = set()


def _from_rollup(reader, scope: Scope, plan: Plan, days: tuple[int | None, int | None]) -> tuple[dict, dict]:
    """aggregate() from the rollup's whole days, plus the partial days at the window's edges from the calls."""
    first, last = days
    st = Statement(dialect(reader.dialect), scope.untagged)
    keys = [st.key(d) for d in plan.dims]
    cols = [f"{k} AS k{i}" for i, k in enumerate(keys)]
    cols += [c for m in plan.measures for c in (rollup.MONEY if m.kind == "money" else [rollup.sum_of(m.text(st))])]
    where = st.where(None, None, scope.filters, tuple(rollup.condition(e) for e in plan.extra))
    bounds = [None if d is None else st.bind(d) for d in (first, last)]
    sql = f"SELECT {', '.join(cols)} FROM {rollup.source(*bounds)}{where}"
    sql += (" GROUP BY " + ", ".join(str(i + 1) for i in range(len(keys)))) if keys else ""
    groups: dict[tuple, dict[str, Any]] = {}
    for record in reader.fetch(sql, st.params):
        label = tuple(_label(d, v) for d, v in zip(plan.dims, record))
        groups[label] = _decode(st.dialect, list(plan.measures), list(record[len(keys) :]))[0]
    if not keys and not next(iter(groups.values()))["calls"]:
        groups = {}  # no GROUP BY: one row even for no call
    start, end = (None if d is None else d * DAY_NS for d in (first, last))
    if any(g["_inexact"] for g in groups.values()):
        _add_inexact(reader, replace(scope, since_ns=start, until_ns=end), plan, groups, defaultdict(Decimal))
    every = replace(plan, sort=None, limit=None)
    for since, until in ((scope.since_ns, start), (end, scope.until_ns)):  # the partial days
        if since is not None and until is not None and since < until:
            _add_up(groups, _aggregate(reader, replace(scope, since_ns=since, until_ns=until), every)[0])
    for g in groups.values():
        g["_inexact"] = 0  # added up exactly above
    totals = _sum(list(plan.measures), groups.values())
    for values in (*groups.values(), totals):
        values.pop("_inexact")
    return groups, totals


def _aggregate_shared(reader, scope: Scope, plan: Plan, split: tuple[str, ...]) -> tuple[dict, dict]:
    """aggregate() when calls of the window share a tag of `split` among owners: the calls with no owners
    (`shares IS NULL`) as ever, plus the others cut per owner (shared_calls.py), group by group; with a
    distinct count among the measures (it does not add up), both in one statement. Every group comes back
    (no LIMIT). The totals count each call once: those of the calls with owners are their plain sums (the
    parts add up to them) unless a filter keeps only some owners, and then the cut rows' without dimensions."""
    alone = replace(plan, extra=(*plan.extra, "shares IS NULL"))
    if any(m.kind == "distinct" for m in plan.measures):
        groups = _read_shared(reader, scope, plan, split, with_others=True)
        if any(g["_inexact"] for g in groups.values()):
            _add_inexact(reader, scope, alone, groups, defaultdict(Decimal))  # the totals are read apart
        totals = _aggregate(reader, scope, replace(alone, dims=()))[1]
    else:
        groups, totals = _aggregate(reader, scope, alone)
        _add_up(groups, _read_shared(reader, scope, plan, split, with_others=False))
    if any(g.get("_inexact") for g in groups.values()):
        shared_calls.add_inexact(reader, scope, plan, split, groups, defaultdict(Decimal))
    if any(dimensions.tag_name(f.dim) in split for f in scope.filters):
        shared = _read_shared(reader, scope, replace(plan, dims=()), split, with_others=False)[()]
        if shared["_inexact"]:
            shared_calls.add_inexact(reader, scope, replace(plan, dims=()), split, {}, shared)
    else:
        shared = _aggregate(reader, scope, replace(plan, dims=(), extra=(*plan.extra, "shares IS NOT NULL")))[1]
    for name in totals:  # the additive measures
        totals[name] += shared[name]
    if not plan.dims and groups and not next(iter(groups.values()))["calls"]:
        groups = {}  # no GROUP BY: one row even for no call
    for values in (*groups.values(), totals):
        values.pop("_inexact", None)
    return groups, totals


def _read_shared(reader, scope: Scope, plan: Plan, split: tuple[str, ...], with_others: bool) -> dict[tuple, dict]:
    """The groups of the calls with owners (cut per owner), or `with_others`, of every call; "_inexact" kept."""
    st = Statement(dialect(reader.dialect), scope.untagged)
    keys = [f"g{i}" for i in range(len(plan.dims))]
    sql = st.select(keys, list(plan.measures), "", source=_ROWS)
    names = shared_calls.read_by(sql)
    source = shared_calls.source(st, scope, plan.dims, plan.extra, split, names, with_others=with_others)
    groups: dict[tuple, dict[str, Any]] = {}
    for record in reader.fetch(sql.replace(_ROWS, source), st.params):
        label = tuple(_label(d, v) for d, v in zip(plan.dims, record))
        groups[label] = _decode(st.dialect, list(plan.measures), list(record[len(keys) :]))[0]
    return groups


def _add_up(groups: dict[tuple, dict], more: dict[tuple, dict]) -> None:
    for label, values in more.items():
        if label not in groups:
            groups[label] = values
            continue
        into = groups[label]
        for name, value in values.items():
            into[name] = into.get(name, 0) + value


def _sum(measures: list[Measure], groups) -> dict[str, Any]:
    out: dict[str, Any] = {m.name: (Decimal(0) if m.kind == "money" else 0) for m in measures}
    out["_inexact"] = 0
    for g in groups:
        for name in out:
            out[name] += g[name]
    return out


def _decode(d: Dialect, measures: list[Measure], values: list[Any]) -> tuple[dict[str, Any], list[Any]]:
    """The measures' values from a record's columns, and the columns left over."""
    out: dict[str, Any] = {"_inexact": 0}
    i = 0  # one pass by index: explain reads 15 measures from each of 60k groups
    for m in measures:
        if m.kind == "money":
            width = d.money_width
            out[m.name], inexact = d.money_value(values[i : i + width])
            out["_inexact"] += int(inexact)
            i += width
        else:
            out[m.name] = int(values[i] or 0)
            i += 1
    return out, values[i:]


def _label(dim: str, value: Any) -> str:
    if dim in ("day", "week"):
        return bucket(int(value) * DAY_NS, dim)
    return "" if value is None else str(value)


def _add_inexact(reader, scope: Scope, plan: Plan, groups: dict[tuple, dict], totals: dict) -> None:
    """Add the costs SQLite could not sum exactly, from their decimal strings, to their groups and totals."""
    st = Statement(dialect(reader.dialect), scope.untagged)
    money = [m for m in plan.measures if m.kind == "money"]
    cols = [st.key(d) for d in plan.dims] + ["cost_usd"]
    cols += [f"CASE WHEN {m.text(st)} THEN 1 ELSE 0 END" if m.text(st) else "1" for m in money]
    where = st.where(scope.since_ns, scope.until_ns, scope.filters, (*plan.extra, _INEXACT))
    sql = f"SELECT {', '.join(cols)} FROM costline_calls{where}"
    n = len(plan.dims)
    for record in reader.fetch(sql, st.params):
        label = tuple(_label(d, v) for d, v in zip(plan.dims, record))
        cost = Decimal(str(record[n]))
        for m, counted in zip(money, record[n + 1 :]):
            if counted:
                totals[m.name] += cost
                if label in groups:
                    groups[label][m.name] += cost
