"""Report questions answered by the database: one GROUP BY per question, in SQLite or PostgreSQL.

    Question --aggregation.py--> SELECT ... WHERE <window, filters> GROUP BY <dims> [ORDER BY, LIMIT]
             --> Answer: rows (one per group, sorted), the window's total, its price caveats

Every report command asks here (`report --by/--per-user/--outcome/--compare/--untagged`,
`top`, `top traces`, `top sessions`, `top calls`), and so can a web page or `costline
explain`: an Answer's rows are dicts of str, int, Decimal and None, the columns the table,
CSV and JSON formats print (render.plain makes them JSON). Memory follows the number of
groups, never the number of calls: the database adds up, LIMIT goes to the database when
the sort is a plain column, and window sums give the totals of the groups LIMIT leaves out.

Besides the GROUP BY, small queries run only when needed: the calls with a price caveat
(a partial index finds them), the previous period for --compare, and the typo check. A
tag dimension that no call in the window carries is an error (exit 2, one line listing the
tags that are there): `--by customer` where the tag is customer_id would otherwise print one
plausible row, 100% untagged. A window with no call at all is not an error: an empty table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from costline_processor.config import DEFAULT_UNTAGGED, ConfigError
from costline_processor.ledger import allocation, dimensions, reports
from costline_processor.ledger.aggregation import EXACT, Plan, Scope, aggregate, rollup_holds, tag_sources
from costline_processor.ledger.dialect import dialect
from costline_processor.ledger.filters import Filter
from costline_processor.ledger.periods import TIME_DIMENSIONS, describe, iso
from costline_processor.ledger.safe_cells import terminal_text
from costline_processor.ledger.schema import COLUMN_NAMES, TABLE, TOKEN_FIELDS, from_record
from costline_processor.ledger.shared_calls import tags_to_split
from costline_processor.ledger.statement import Measure, Statement
from costline_processor.records import LedgerRow

ZERO = Decimal(0)
SORT_ALIASES = {"cost": "cost_usd", "users": "active_users"}
_PRICED_CAVEAT = ("price_caveat IS NOT NULL", "cost_usd IS NOT NULL")


@dataclass(frozen=True)
class Question:
    """What to add up: calls in [since_ns, until_ns) passing `filters`, grouped by `dims`."""

    dims: tuple[str, ...] = ()
    since_ns: int | None = None
    until_ns: int | None = None
    filters: tuple[Filter, ...] = ()
    untagged: str = DEFAULT_UNTAGGED
    user_tag: str | None = None  # add active_users (distinct values of this tag) and cost_per_user
    outcomes: tuple[str, ...] = ()  # add outcomes (traces tagged outcome=one of these) and cost_per_outcome
    traces: bool = False  # add traces (distinct trace ids)
    required: tuple[str, ...] = ()  # add the untagged bucket (calls lacking one of these) to the total
    compare: bool = False  # add the previous period of the same length and the change
    sort: str | None = None  # a column; None: cost, largest first (a calendar dimension first: by time)
    limit: int | None = None
    allocate: str | None = None  # a tag of dims: spread its untagged rows over its values (allocation.py)
    tokens: tuple[str, ...] = TOKEN_FIELDS  # the token sums it shows (each is a sum over every call of the window)

    @property
    def scope(self) -> Scope:
        return Scope(self.since_ns, self.until_ns, self.filters, self.untagged)


@dataclass
class Answer:
    """Rows (one per group, sorted), the window's total, and the price caveats among its calls."""

    dims: tuple[str, ...]
    rows: list[dict]
    total: dict = field(default_factory=dict)  # calls, unpriced_calls, cost_usd[, untagged]
    caveats: list[dict] = field(default_factory=list)  # caveat, calls, cost_usd
    allocation: dict | None = None  # with Question.allocate: dim, allocated_usd, unallocated_usd


def ask(reader, q: Question) -> Answer:
    """Answer `q` from the ledger `reader` (a LedgerReader)."""
    columns(q)  # a --sort naming no column fails before any query runs
    if q.compare and (q.since_ns is None or q.until_ns is None):
        raise ConfigError("--compare needs --since (or a calendar period), so the previous period has a length")
    if q.allocate and q.compare:
        raise ConfigError("--allocate-untagged shows one period: not with --compare")
    if q.allocate:
        allocation.check(q.dims, q.allocate)
    apart = _distinct(q) or (bool(q.required) and _bucket_apart(reader, q))
    plan = _plan(q, apart)
    groups, totals = aggregate(reader, q.scope, plan)
    groups, untagged = _bucket(reader, q, len(plan.dims), groups, totals.get("cost_usd", ZERO), apart)
    check_tags(reader, q, groups)
    caveats = _caveat_lines(reader, q)
    by_caveat = aggregate(reader, _shown(q, plan, groups), _lean(q, _PRICED_CAVEAT))[0] if caveats else None
    previous = None
    if q.compare:
        length = (q.until_ns or 0) - (q.since_ns or 0)
        earlier = replace(q.scope, since_ns=(q.since_ns or 0) - length, until_ns=q.since_ns)
        previous = aggregate(reader, earlier, _lean(q))[0]
    grand = totals.get("cost_usd", ZERO)
    keys = [*groups, *(k for k in previous or () if k not in groups)]
    rows = [_row(q, k, groups.get(k), grand, previous, by_caveat) for k in keys]
    spread = allocation.allocate(rows, q.dims, q.allocate, q.untagged, grand) if q.allocate else None
    rows = sort_rows(rows, q)
    total = {"calls": totals.get("calls", 0), "unpriced_calls": totals.get("unpriced_calls", 0), "cost_usd": grand}
    if untagged is not None:
        total["untagged"] = untagged
    return Answer(q.dims, rows[: q.limit] if q.limit is not None else rows, total, caveats, spread)


def columns(q: Question) -> list[str]:
    """The columns of `q`'s rows, in order (caveat_calls and caveat_usd follow when a call has a caveat)."""
    out = [*q.dims, *(["traces"] if q.traces else []), "calls", "unpriced_calls", *q.tokens]
    out += ["cost_usd", "share", "avg_cost_usd"]
    out += ["active_users", "cost_per_user"] if q.user_tag else []
    out += ["outcomes", "cost_per_outcome"] if q.outcomes else []
    out += ["prev_cost_usd", "change_usd", "change_pct"] if q.compare else []
    if q.allocate:
        out.insert(out.index("share"), allocation.COLUMN)
    sort = _sort(q)
    if sort is not None and sort not in (*out, "caveat_calls", "caveat_usd"):
        raise ConfigError(f"--sort: this report has no column {q.sort!r}; its columns: {', '.join(out)}")
    return out


def sort_rows(rows: list[dict], q: Question) -> list[dict]:
    """By q.sort: numbers largest first, dimensions A to Z; ties by the dimensions."""
    dims = list(q.dims)
    sort = _sort(q)
    by_dims = sorted(rows, key=lambda r: tuple(r[d] for d in dims))
    if sort is None and dims and dims[0] in TIME_DIMENSIONS:
        return by_dims
    sort = sort or "cost_usd"
    if sort in dims:
        return sorted(by_dims, key=lambda r: r[sort])
    return sorted(by_dims, key=lambda r: (r.get(sort) is None, -(r.get(sort) or 0)))


def _sort(q: Question) -> str | None:
    return SORT_ALIASES.get(q.sort, q.sort) if q.sort else None


def _plan(q: Question, apart: bool = False) -> Plan:
    """The main GROUP BY. The untagged bucket rides along as one more key per required tag that is not a
    dimension already (lacks it or not), folded away by `_merge`: one pass, each tag read once per call,
    where the bucket's own sums would read each tag once per sum. ORDER BY and LIMIT go to the database
    when a LIMIT is asked and the sort is a dimension, a plain sum (not a ratio or --compare) or the calendar
    order (the keys' own), and no such key splits the groups."""
    measures = _measures(q)
    flags = () if apart else _flags(q, q.dims)
    sort = _sort(q) or "cost_usd"
    sort = "cost_usd" if sort == "share" else sort
    pushable = sort in q.dims or any(m.name == sort for m in measures)
    calendar = q.sort is None and q.dims and q.dims[0] in TIME_DIMENSIONS
    if q.limit is None or q.compare or not (pushable or calendar) or flags or q.allocate:
        return Plan((*q.dims, *flags), measures)
    # the calendar order is the keys' order (day and week numbers, YYYY-MM, then labels A to Z), as sort_rows's
    return Plan(q.dims, measures, limit=q.limit) if calendar else Plan(q.dims, measures, sort=sort, limit=q.limit)


def _shown(q: Question, plan: Plan, groups: dict[tuple, dict]) -> Scope:
    """q's scope, narrowed to the groups shown when the database kept only the first ones and every dimension
    is a call field (`top traces`: the caveats of 10 traces, not of the 65k that have one)."""
    if plan.limit is None or not q.dims or not all(d in dimensions.FIELDS for d in q.dims):
        return q.scope
    shown = tuple(Filter(d, tuple(dict.fromkeys(k[i] for k in groups))) for i, d in enumerate(q.dims))
    return replace(q.scope, filters=(*q.scope.filters, *shown)) if groups else q.scope


def _lean(q: Question, extra: tuple[str, ...] = (), dims: tuple[str, ...] | None = None) -> Plan:
    """Calls and cost per group only: the previous period, the calls with a caveat, the untagged bucket."""
    return Plan(
        q.dims if dims is None else dims, (Measure("calls", "count", "COUNT(*)"), Measure("cost_usd", "money")), extra
    )


def _distinct(q: Question) -> bool:
    return bool(q.user_tag or q.outcomes or q.traces)


def _flags(q: Question, dims: tuple[str, ...]) -> tuple[str, ...]:
    """The keys that say whether a call lacks each required tag, for those not among `dims`."""
    return tuple(f"lacks:{t}" for t in q.required if t not in dims)


def _measures(q: Question) -> tuple[Measure, ...]:
    ms = [Measure("calls", "count", "COUNT(*)"), Measure("unpriced_calls", "count", "COUNT(*) - COUNT(cost_usd)")]
    ms += [Measure(f, "count", f"SUM({f})") for f in q.tokens]
    ms.append(Measure("cost_usd", "money"))
    if q.traces:
        ms.append(Measure("traces", "distinct", "COUNT(DISTINCT trace_id)"))
    if q.user_tag:
        tag = q.user_tag
        users = lambda st: f"COUNT(DISTINCT NULLIF(NULLIF({st.tag(tag)}, ''), {st.untagged()}))"  # noqa: E731
        ms.append(Measure("active_users", "distinct", users))
    if q.outcomes:
        ms.append(Measure("outcomes", "distinct", lambda st: _outcome_traces(st, q.outcomes)))
    return tuple(ms)


def _outcome_traces(st: Statement, outcomes: tuple[str, ...]) -> str:
    values = ", ".join(st.bind(v) for v in outcomes)
    return f"COUNT(DISTINCT CASE WHEN {st.tag(reports.OUTCOME_TAG)} IN ({values}) THEN trace_id END)"


def _row(
    q: Question, key: tuple, g: dict | None, grand: Decimal, previous: dict | None, by_caveat: dict | None
) -> dict:
    g = g or {"calls": 0, "unpriced_calls": 0, "cost_usd": ZERO}
    row: dict[str, Any] = dict(zip(q.dims, key))
    if q.traces:
        row["traces"] = g.get("traces", 0)
    tokens = {f: g.get(f, 0) for f in q.tokens}
    users = g.get("active_users", 0) if q.user_tag else None
    outcomes = g.get("outcomes", 0) if q.outcomes else None
    row.update(reports.measures(g["calls"], g["unpriced_calls"], tokens, g["cost_usd"], grand, users, outcomes))
    if previous is not None:
        row.update(reports.change(g["cost_usd"], (previous.get(key) or {}).get("cost_usd", ZERO)))
    if by_caveat is not None:
        c = by_caveat.get(key) or {}
        row["caveat_calls"], row["caveat_usd"] = c.get("calls", 0), c.get("cost_usd", ZERO)
    return row


def _bucket(
    reader, q: Question, keys: int, groups: dict[tuple, dict], total: Decimal, apart: bool
) -> tuple[dict, dict | None]:
    """The groups without their flag keys, and the untagged bucket (None when no tag is required). `apart`:
    the bucket is a query of its own, because distinct counts do not add up over flag keys, or because
    SQLite's per-day rollup answers it in milliseconds (and the main GROUP BY then reads no flag), or because
    the groups count a call shared among owners once per owner (`_bucket_apart`)."""
    if not q.required:
        return groups, None
    if apart:
        flagged, _ = aggregate(reader, q.scope, _lean(q, dims=_flags(q, ())))
        return groups, _untagged(q, flagged, 0, total)
    untagged = _untagged(q, groups, len(q.dims), total)
    return (_merge(groups, len(q.dims)) if keys > len(q.dims) else groups), untagged


def _bucket_apart(reader, q: Question) -> bool:
    """Whether the untagged bucket is a query of its own: the rollup answers it, a LIMIT may go to the database
    (the groups it leaves out would be missing from the bucket), or a call of the window shares a tag of the
    question among owners (its parts are one call in each owner's group: the groups would count it once per owner)."""
    if q.limit is not None or rollup_holds(reader, q.scope, _lean(q, dims=_flags(q, ()))):
        return True
    return bool(tags_to_split(reader, q.scope, q.dims))


def _merge(groups: dict[tuple, dict], n: int) -> dict[tuple, dict]:
    """Groups keyed by their first n labels, the flag keys after them summed away."""
    out: dict[tuple, dict] = {}
    for key, g in groups.items():
        into = out.get(key[:n])
        if into is None:
            out[key[:n]] = dict(g)
        else:
            for name, value in g.items():
                into[name] = EXACT.add(into[name], value) if isinstance(value, Decimal) else into[name] + value
    return out


def _untagged(q: Question, groups: dict[tuple, dict], n: int, total: Decimal) -> dict:
    """The untagged bucket from groups keyed by n labels of q.dims (or none) and then the flag keys."""
    calls, cost = 0, ZERO
    missing = dict.fromkeys(q.required, 0)
    for key, g in groups.items():
        labels, flags = dict(zip(q.dims if n else (), key[:n])), iter(key[n:])
        lacking = [t for t in q.required if (labels[t] == q.untagged if t in labels else next(flags) == "1")]
        for t in lacking:
            missing[t] += g["calls"]
        if lacking:
            calls, cost = calls + g["calls"], EXACT.add(cost, g["cost_usd"])
    return {
        "calls": calls,
        "cost_usd": cost,
        "share": reports.ratio(cost, total) or (ZERO if total else None),
        "total_cost_usd": total,
        "missing": missing,
    }


def untagged_summary(reader, q: Question, owner: str | None) -> dict:
    """The untagged bucket of `q`'s window: calls missing a required tag, their cost, and who owns them."""
    groups, totals = aggregate(reader, q.scope, _lean(q, dims=_flags(q, ())))
    check_tags(reader, replace(q, dims=()), {})
    return {**_untagged(q, groups, 0, totals.get("cost_usd", ZERO)), "owner": owner}


def _caveat_lines(reader, q: Question) -> list[dict]:
    groups, _ = aggregate(reader, q.scope, replace(_lean(q, _PRICED_CAVEAT), dims=("caveat",)))
    return [{"caveat": k[0], "calls": g["calls"], "cost_usd": g["cost_usd"]} for k, g in sorted(groups.items())]


def check_tags(reader, q: Question, groups: dict[tuple, dict]) -> None:
    """Refuse a tag in q.dims or q.filters that no call in the window carries (ConfigError, one line)."""
    certain = {f.dim for f in q.filters if not f.exclude and groups and set(f.values) - {q.untagged}}
    certain |= {d for i, d in enumerate(q.dims) if any(k[i] != q.untagged for k in groups)}
    doubtful = [
        d for d in dict.fromkeys((*q.dims, *(f.dim for f in q.filters))) if dimensions.is_tag(d) and d not in certain
    ]
    if not doubtful or not _exists(reader, q, None):
        return
    for d in doubtful:
        if not _exists(reader, q, d):
            there = ", ".join(terminal_text(t) for t in _tag_names(reader, q)) or "none"
            raise ConfigError(
                f"no call {describe(q.since_ns, q.until_ns or 0)} has the tag {d!r}; tags there: "
                f"{there}; fields: {', '.join(dimensions.FIELDS)}; buckets: {', '.join(TIME_DIMENSIONS)}"
            )


def _exists(reader, q: Question, tag: str | None) -> bool:
    """Whether any call of the window (carrying `tag`, when given) is in the ledger (SQLite's rollup has the tag
    names of its whole days: read there, also when a columnar copy answers the question)."""
    reader = reader.rollup_reader
    st = Statement(dialect(reader.dialect), q.untagged)
    extra = f" AND {st.tag(tag)} IS NOT NULL" if tag else ""
    sources = tag_sources(reader, st, q.since_ns, q.until_ns)
    return any(any(True for _ in reader.fetch(f"SELECT 1 FROM {s}{w}{extra} LIMIT 1", st.params)) for s, w in sources)


def _tag_names(reader, q: Question, most: int = 40) -> list[str]:
    reader = reader.rollup_reader  # as _exists
    st = Statement(dialect(reader.dialect), q.untagged)
    sources = tag_sources(reader, st, q.since_ns, q.until_ns)
    names = sorted({str(r[0]) for s, w in sources for r in reader.fetch(st.dialect.tag_keys(s, w), st.params)})
    return names if len(names) <= most else [*names[:most], f"... ({len(names) - most} more)"]


def costliest_calls(reader, q: Question, n: int) -> list[LedgerRow]:
    """The n most expensive priced calls of `q`'s window and filters, costliest first."""
    check_tags(reader, q, {})
    st = Statement(dialect(reader.dialect), q.untagged)
    where = st.where(q.since_ns, q.until_ns, q.filters, ("cost_usd IS NOT NULL",))
    order = f"{st.dialect.call_cost()} DESC, span_id DESC"
    sql = f"SELECT {', '.join(COLUMN_NAMES)} FROM {TABLE}{where} ORDER BY {order} LIMIT {int(n)}"
    rows = [from_record(r) for r in reader.fetch(sql, st.params)]
    return sorted(rows, key=lambda r: (r.cost_usd, r.span_id), reverse=True)


def top_traces(reader, q: Question) -> Answer:
    """The costliest traces (requests): each with its first call's time, service, agent, span name and
    tags (the ledger holds model calls, not the request's root span), calls and cost."""
    a = ask(reader, replace(q, dims=("trace",)))
    first = _first_calls(reader, [r["trace"] for r in a.rows])
    keep = ("calls", "unpriced_calls", "cost_usd", "share", "caveat_calls", "caveat_usd")
    rows = [{"trace_id": r["trace"], **first.get(r["trace"], {}), **{k: r[k] for k in keep if k in r}} for r in a.rows]
    for r in rows:  # tags last: the widest column
        r["tags"] = r.pop("tags", "")
    return Answer(("trace_id",), rows, a.total, a.caveats)


def _first_calls(reader, trace_ids: list[str]) -> dict[str, dict]:
    if not trace_ids:
        return {}
    st = Statement(dialect(reader.dialect), DEFAULT_UNTAGGED)
    ids = ", ".join(st.bind(t) for t in trace_ids)
    sql = (
        f"SELECT trace_id, start_unix_nano, service, agent_path, span_name, tags FROM {TABLE} "
        f"WHERE trace_id IN ({ids}) ORDER BY start_unix_nano DESC, span_id DESC"
    )
    out: dict[str, dict] = {}
    for trace_id, start, service, agent, span, tags in reader.fetch(sql, st.params):
        tags = json.loads(tags) if isinstance(tags, str | bytes) else tags
        out[trace_id] = {  # the last one written is the earliest call
            "started": iso(int(start)),
            "service": service,
            "agent": agent.split("/")[0] if agent else "",
            "first_call": span,
            "tags": " ".join(f"{k}={v}" for k, v in sorted(tags.items())),
        }
    return out
