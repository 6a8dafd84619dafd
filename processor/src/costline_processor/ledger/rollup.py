"""Per-day totals of a SQLite ledger (schema version 6): what makes the common reports fast at 10M calls.

    costline_calls --in the transaction that writes the calls (SQLiteStore.insert; triggers on UPDATE
    and DELETE)--> costline_daily:
        one row per (UTC day, tag shape, model, provider, agent, service, operation, status, caveat, priced, caveated)
        with the sums a report reads: calls, the five token counts, cost, explain's cost split

A question whose every dimension and filter is a call field (not `trace`), the `feature` tag, a
calendar bucket or the untagged bucket's "lacks TAG", and whose measures are plain sums, reads the
whole UTC days of its window here and only the partial days at its edges from the calls
(aggregation.py). Distinct counts (users, traces, outcomes), any other tag, a LIMIT pushed to the
database, or any other condition read the calls, as before. The sort of 3.3M calls by tag that
SQLite's GROUP BY cannot avoid (it has no hash aggregation) becomes a read of a few thousand rows.

The tag shape is the call's tags with `feature` as written and every other tag reduced to `true`,
unless it is null, empty or "untagged" (DEFAULT_UNTAGGED), which are kept: "lacks TAG" then reads
the same from the shape as from the tags when the untagged label is the default one (with another
label, the calls are read). User and session ids vanish into `true`, so the rows stay few.

Exact: each sum is the same integer the GROUP BY over the calls adds up (cost as whole micro-dollars
and the femto remainder, as Dialect.money; explain's split columns rounded per call as
explanation.py rounds them, used only when its SQL matches these texts exactly), written in the
transaction that writes the calls, so the rollup is never out of step with them: SQLiteStore.insert
adds the calls the transaction inserted (`ADD_INSERTED`: a call already there is not inserted
again, so not counted again), a trigger on UPDATE (`reprice --apply`) takes the call's old sums
out and puts its new ones in, one on DELETE takes them out. Whatever else inserts calls must run
`ADD_INSERTED` in its transaction too, or `fill` after (benchmarks/reports.py does). A cost without a femto count
is counted (`inexact`) and added from the calls' decimal strings by aggregation.py. PostgreSQL has
no rollup: its hash aggregation over NUMERIC meets the targets on the calls (benchmarks/NOTES.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from costline_processor.config import DEFAULT_UNTAGGED
from costline_processor.ledger import dimensions
from costline_processor.ledger.periods import DAY_NS, TIME_DIMENSIONS

TABLE = "costline_daily"
ENABLED = True  # False: every question reads the calls (tests compare the two answers; the rollup is still written)
_CALLS = "costline_calls"
_SPLIT = ("input_usd", "cache_read_usd", "cache_write_usd")  # explain's cost split (decomposition.SPLIT_COLUMNS)
_TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
_SHAPE = (
    "(SELECT json_group_object(key, CASE WHEN key = 'feature' OR value IS NULL OR value IN ('', "
    f"'{DEFAULT_UNTAGGED}') THEN value ELSE json('true') END) FROM json_each({{p}}tags))"
)
# (column, its value for one call; {p} is NEW. or OLD. in a trigger, nothing in the fill)
KEY = (
    ("day", f"{{p}}start_unix_nano / {DAY_NS}"),
    ("tags", _SHAPE),
    *((c, f"IFNULL({{p}}{c}, '')") for c in ("model", "provider", "agent_path", "service", "operation")),
    *((c, f"IFNULL({{p}}{c}, '')") for c in ("status", "price_caveat")),
    ("priced", "{p}cost_usd IS NOT NULL"),
    ("caveated", "{p}price_caveat IS NOT NULL"),  # every report's footer asks for these apart
)
_EXPLAIN = {
    **{f"{c}_micro": f"ROUND(CAST({{p}}{c} AS REAL) * 1000000)" for c in _SPLIT},
    **{
        f"{c}_femto": f"ROUND(CAST({{p}}{c} AS REAL) * 1e15) - ROUND(CAST({{p}}{c} AS REAL) * 1000000) * 1000000000"
        for c in _SPLIT
    },
}
SUMS = (
    ("calls", "1"),
    *((f, f"{{p}}{f}") for f in _TOKENS),
    ("cost_micro", "IFNULL({p}cost_femto / 1000000000, 0)"),
    ("cost_rest", "IFNULL({p}cost_femto % 1000000000, 0)"),
    ("inexact", "{p}cost_femto IS NULL AND {p}cost_usd IS NOT NULL"),
    *((name, f"IFNULL({expr}, 0)") for name, expr in _EXPLAIN.items()),
)
# a measure's SQL over the calls -> the same sum over the rollup
_MEASURES = {
    "COUNT(*)": "SUM(calls)",
    "COUNT(*) - COUNT(cost_usd)": "SUM(CASE WHEN priced THEN 0 ELSE calls END)",
    **{f"SUM({f})": f"SUM({f})" for f in _TOKENS},
    **{f"SUM({expr.format(p='')})": f"SUM({name})" for name, expr in _EXPLAIN.items()},
}
MONEY = ("SUM(cost_micro)", "SUM(cost_rest)", "CASE WHEN SUM(inexact) > 0 THEN 0.0 END")  # as Dialect.money reads
_EXTRA = {
    "cost_usd IS NOT NULL": "priced",
    "cost_usd IS NULL": "NOT priced",
    "price_caveat IS NOT NULL": "caveated",
}  # a condition on the calls -> the same on the rollup
_COLUMNS = ", ".join(c for c, _ in (*KEY, *SUMS))


def statements() -> list[str]:
    """The rollup's table, and the triggers that move a call's sums when it is updated or deleted (idempotent):
    a new ledger's, and the end of the version 6 upgrade. Inserted calls are added by `ADD_INSERTED`."""
    key = ", ".join(c for c, _ in KEY)
    kinds = [f"{c} {'INTEGER' if c in ('day', 'priced', 'caveated') else 'TEXT'} NOT NULL" for c, _ in KEY]
    kinds += [f"{c} INTEGER NOT NULL" for c, _ in SUMS]
    out = [f"CREATE TABLE IF NOT EXISTS {TABLE} ({', '.join(kinds)}, PRIMARY KEY ({key})) WITHOUT ROWID"]
    for event, body in {"update": (_add("OLD.", -1), _add("NEW.")), "delete": (_add("OLD.", -1),)}.items():
        out.append(
            f"CREATE TRIGGER IF NOT EXISTS {TABLE}_{event} AFTER {event.upper()} ON {_CALLS} BEGIN "
            + " ".join(f"{stmt};" for stmt in body)
            + " END"
        )
    return out


def fill() -> str:
    """Adds up the calls already in a ledger into the (empty) rollup: the version 6 upgrade."""
    return f"INSERT INTO {TABLE} ({_COLUMNS}) {_grouped('')}"


def _grouped(where: str) -> str:
    calls = ", ".join(f"{expr.format(p='')} AS {c}" for c, expr in (*KEY, *SUMS))
    key = ", ".join(c for c, _ in KEY)
    sums = ", ".join(f"SUM({c})" for c, _ in SUMS)
    return f"SELECT {key}, {sums} FROM (SELECT {calls} FROM {_CALLS}{where}) GROUP BY {key}"


def _upsert() -> str:
    key = ", ".join(c for c, _ in KEY)
    return f" ON CONFLICT ({key}) DO UPDATE SET " + ", ".join(f"{c} = {c} + excluded.{c}" for c, _ in SUMS)


# The calls one transaction inserted (rowid above the largest before it: SQLite numbers new rows upwards,
# and INSERT OR IGNORE numbers none for a call already there) added to the rollup, group by group; `?` is
# that largest rowid. One statement per batch costs a third of a trigger per call (benchmarks/NOTES.md).
ADD_INSERTED = f"INSERT INTO {TABLE} ({_COLUMNS}) {_grouped(' WHERE rowid > ?')}{_upsert()}"
LAST_ROWID = f"SELECT IFNULL(MAX(rowid), 0) FROM {_CALLS}"

# The rollup's mark: the largest rowid of the calls it holds (costline_meta 'rollup_rowid'). A writer moves
# it in its transaction only when it held every call before the insert (`ADVANCE`: ? = the largest rowid
# after the insert, then before it), so calls inserted by anything that did not add them (a costline
# older than schema 6 still writing to a ledger a newer one upgraded) leave it behind for good: `BEHIND`
# is then 1, the reports read the calls (aggregation.py), and a writer opening the ledger adds the rollup
# up again (`rebuild`). A ledger without a mark (written before it existed) counts as behind.
MARK_KEY = "rollup_rowid"
MARK_ALL = f"INSERT OR REPLACE INTO costline_meta (key, value) SELECT '{MARK_KEY}', IFNULL(MAX(rowid), 0) FROM {_CALLS}"
ADVANCE = f"UPDATE costline_meta SET value = ? WHERE key = '{MARK_KEY}' AND CAST(value AS INTEGER) >= ?"
BEHIND = (
    f"SELECT IFNULL(MAX(rowid), 0) > IFNULL((SELECT CAST(value AS INTEGER) FROM costline_meta "
    f"WHERE key = '{MARK_KEY}'), -1) FROM {_CALLS}"
)


def rebuild() -> list[str]:
    """Statements that add up the rollup anew from the calls and mark it whole (in one transaction)."""
    return [f"DELETE FROM {TABLE}", fill(), MARK_ALL]


def _add(p: str, sign: int = 1) -> str:
    """An upsert adding one call's sums (its old ones taken out, with sign -1) to its rollup row."""
    neg = "-" if sign < 0 else ""
    values = [expr.format(p=p) for _, expr in KEY] + [f"{neg}({expr.format(p=p)})" for _, expr in SUMS]
    return f"INSERT INTO {TABLE} ({_COLUMNS}) VALUES ({', '.join(values)}){_upsert()}"


def whole_days(since_ns: int | None, until_ns: int | None) -> tuple[int | None, int | None] | None:
    """The UTC days [first, last) that lie wholly in the window (None: no bound), or None when there
    is none. A bound before 1970-01-02 is not served (the day number truncates towards zero)."""
    first = None if since_ns is None else -(-since_ns // DAY_NS)
    last = None if until_ns is None else until_ns // DAY_NS
    if (first is not None and first < 1) or (last is not None and last < 1):
        return None
    if first is not None and last is not None and first >= last:
        return None
    return first, last


def serves(dims: Sequence[str], filter_dims: Sequence[str], untagged: str, extra: Sequence[str]) -> bool:
    """Whether the rollup holds every dimension, filter and condition of a question."""
    if not all(_holds(d) for d in dims) or not all(_holds(d) and not d.startswith("lacks:") for d in filter_dims):
        return False
    if untagged != DEFAULT_UNTAGGED and any(d.startswith("lacks:") and _tag(d[6:]) != "feature" for d in dims):
        return False
    return all(e in _EXTRA for e in extra)


def measure(table_sql: str) -> str | None:
    """A measure's SQL over the calls as the same sum over the rollup; None when it has none."""
    return _MEASURES.get(table_sql)


def sum_of(table_sql: str) -> str:
    """`measure`, for one the rollup has."""
    return _MEASURES[table_sql]


def condition(table_sql: str) -> str:
    return _EXTRA[table_sql]


def _holds(dim: str) -> bool:
    if dim.startswith("lacks:") or dim in TIME_DIMENSIONS:
        return True
    if dim in dimensions.FIELDS:
        return dim != "trace"
    return _tag(dim) == "feature"


def _tag(dim: str) -> str:
    return dimensions.tag_name(dim)


def source(first: str | None, last: str | None) -> str:
    """The rollup rows of days [first, last) (placeholders, or None: no bound) under the calls' column names
    (`start_unix_nano` is the day's start), so a Statement's keys and filters read them as they read calls."""
    bounds = [b for b in (first and f"day >= {first}", last and f"day < {last}") if b]
    return f"(SELECT day * {DAY_NS} AS start_unix_nano, * FROM {TABLE} WHERE {' AND '.join([*bounds, 'calls > 0'])})"
