"""The SQL of one report question, in the ledger's dialect: text and parameters, nothing run.

    SELECT <key per dimension>, <measures>
    FROM costline_calls WHERE <window> AND <filters> [AND <extra>]
    [GROUP BY 1, 2, ...] [ORDER BY <sort> LIMIT n]

(in SQLite the GROUP BY reads a subquery of the keys and the columns the measures read, `_narrow`;
with a LIMIT and totals, the groups are kept and summed once more beside the first n.)

A dimension's key is what `dimensions.value` says for a call, computed by the database:
the tag (or the untagged label), the field (or its stand-in), or for calendar buckets an
integer (day number; the Thursday of an ISO week, which names the week) that query.py
labels, and the month as YYYY-MM. When LIMIT returns only the first few groups, the totals of
all of them come with each row. Values a user chose (tag names, tag
values, labels) are bound as named parameters, never written into the text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from costline_processor.ledger import dimensions
from costline_processor.ledger.dialect import DAY_NS, Dialect
from costline_processor.ledger.filters import Filter
from costline_processor.ledger.schema import COLUMN_NAMES, FEMTO_COLUMN, SHARES_COLUMN, TABLE

_CALL_COLUMNS = (*COLUMN_NAMES, FEMTO_COLUMN[0], SHARES_COLUMN[0])


@dataclass(frozen=True)
class Measure:
    """One aggregate of a group. kind "count": an integer that adds up across groups; "distinct":
    an integer that does not (distinct users, traces); "money": the cost of the calls where
    `sql` holds (empty: every call), over Dialect.money's columns. `sql` is text, or a function
    that writes it for a Statement (to bind the values it needs)."""

    name: str
    kind: str
    sql: str | Callable[[Statement], str] = ""

    def width(self, dialect: Dialect) -> int:
        return dialect.money_width if self.kind == "money" else 1

    def text(self, st: Statement) -> str:
        return self.sql(st) if callable(self.sql) else self.sql


class Statement:
    """Builds one SELECT; `params` holds what its placeholders stand for."""

    def __init__(self, dialect: Dialect, untagged: str):
        self.dialect = dialect
        self.params: dict[str, Any] = {}
        self._untagged = untagged
        self._tags: dict[str, str] = {}
        # tag name -> the alias of its owner rows, while shared_calls writes the part that splits calls
        self.owners: dict[str, str] = {}
        self._numbers: set[str] = set()  # the keys that are integers (every other key is text)

    def bind(self, value: Any) -> str:
        key = f"p{len(self.params)}"
        self.params[key] = value
        return self.dialect.param(key)

    def tag(self, name: str) -> str:
        """A tag's raw value (NULL when the call lacks it)."""
        name = dimensions.tag_name(name)
        if name not in self._tags:
            self._tags[name] = self.dialect.tag([self.bind(p) for p in self.dialect.tag_paths(name)])
        return self._tags[name]

    def untagged(self) -> str:
        if "untagged" not in self._tags:
            self._tags["untagged"] = self.bind(self._untagged)
        return self._tags["untagged"]

    def key(self, dim: str) -> str:
        """What a call shows for `dim`, as SQL (`lacks:TAG`: 1 when the call lacks TAG, else 0)."""
        if dim.startswith("lacks:"):
            return self._number(f"CASE WHEN {self.lacks(dim[6:])} THEN 1 ELSE 0 END")
        if dim in ("day", "week"):
            day = f"(start_unix_nano / {DAY_NS})"
            return self._number(day if dim == "day" else f"({day} - {self.dialect.modulo(f'{day} + 3', 7)} + 3)")
        if dim == "month":
            return self.dialect.month()
        if dim in dimensions.FIELDS:
            column, empty = dimensions.FIELDS[dim]
            return f"COALESCE(NULLIF({column}, ''), '{empty}')" if empty else column
        plain = f"COALESCE(NULLIF({self.tag(dim)}, ''), {self.untagged()})"
        alias = self.owners.get(dimensions.tag_name(dim)) if self.owners else None
        return plain if alias is None else f"COALESCE({alias}.key, {plain})"

    def _number(self, key: str) -> str:
        self._numbers.add(key)
        return key

    def lacks(self, tag: str) -> str:
        """True for a call without `tag`, or with it empty or set to the untagged label."""
        return f"COALESCE(NULLIF({self.tag(tag)}, ''), {self.untagged()}) = {self.untagged()}"

    def where(
        self, since_ns: int | None, until_ns: int | None, filters: tuple[Filter, ...] = (), extra: tuple[str, ...] = ()
    ) -> str:
        clauses = []
        if since_ns is not None:
            clauses.append(f"start_unix_nano >= {self.bind(since_ns)}")
        if until_ns is not None:
            clauses.append(f"start_unix_nano < {self.bind(until_ns)}")
        for f in filters:
            values = ", ".join(self.bind(v) for v in f.values)
            clauses.append(f"{self.key(f.dim)} {'NOT IN' if f.exclude else 'IN'} ({values})")
        clauses += extra
        return " WHERE " + " AND ".join(clauses) if clauses else ""

    def select(
        self,
        keys: list[str],
        measures: list[Measure],
        where: str,
        *,
        totals: tuple[str, ...] = (),
        sort: str | int | None = None,
        limit: int | None = None,
        source: str = TABLE,
    ) -> str:
        """The statement; columns are the keys, then each measure's. With `limit`, the database sorts by
        `sort` first (a key's index: A to Z; a measure's name: largest first; ties by the keys), and then
        come the sums over every group, also those LIMIT leaves out, of the measures named in `totals`
        (additive ones): the groups are kept (MATERIALIZED) and read twice, which costs less than a window
        sum over a million groups (`top traces`). `source`: what to read, the table or a subquery with its
        columns (shared_calls.py)."""
        cols = [f"{k} AS k{i}" for i, k in enumerate(keys)]
        sums = []
        for i, m in enumerate(measures):
            for j, expr in enumerate(self._aggregates(m)):
                cols.append(f"{expr} AS m{i}_{j}")
                if m.name in totals:
                    sums.append(f"SUM(m{i}_{j}) AS t{i}_{j}")
        if keys and source == TABLE and self.dialect.sorts_to_group:
            read = [
                t for name, t in self._tags.items() if name != "untagged" and any(t in c for c in cols[len(keys) :])
            ]
            tags = {t: f"t{i}" for i, t in enumerate(read)}  # (the untagged label is a parameter, not a column)
            cols[len(keys) :] = [_swap(c, tags) for c in cols[len(keys) :]]
            source, where = self._narrow(keys, cols[len(keys) :], where, tags), ""
            cols[: len(keys)] = [f"k{i}" for i in range(len(keys))]
        sql = f"SELECT {', '.join(cols)} FROM {source}{where}"
        if keys:
            sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(keys)))
        if limit is None:
            return sql
        order = [f"k{i}" if k in self._numbers else self.dialect.text_order(f"k{i}") for i, k in enumerate(keys)]
        if isinstance(sort, int):
            order.insert(0, order[sort])
        elif sort is not None:
            i, m = next((i, m) for i, m in enumerate(measures) if m.name == sort)
            order[:0] = [f"{expr} DESC NULLS LAST" for expr in self._order(i, m)]
        first = (" ORDER BY " + ", ".join(order) if order else "") + f" LIMIT {int(limit)}"
        if not sums:
            return sql + first
        return (
            f"WITH g AS MATERIALIZED ({sql}) SELECT * FROM (SELECT * FROM g{first}) AS shown "
            f"CROSS JOIN (SELECT {', '.join(sums)} FROM g) AS every"
        )

    def _narrow(self, keys: list[str], aggregates: list[str], where: str, tags: dict[str, str]) -> str:
        """The calls of a SQLite GROUP BY as a subquery of its keys and the columns its aggregates read. SQLite
        sorts every call into its groups (no hash aggregation) and evaluates a key again after the sort, so
        without this the sort carries each call's whole `tags` text; LIMIT -1 keeps the subquery from being
        flattened back into the GROUP BY. A third less sorting on 1M calls (benchmarks/NOTES.md). A tag an
        aggregate reads (a distinct count of users) is read here too, as the column `tags` names (_swap)."""
        read = [c for c in _CALL_COLUMNS if re.search(rf"\b{c}\b", " ".join(aggregates))]
        hoisted = [f"{expr} AS {alias}" for expr, alias in tags.items()]
        cols = ", ".join([*(f"{k} AS k{i}" for i, k in enumerate(keys)), *hoisted, *read])
        return f"(SELECT {cols} FROM {TABLE}{where} LIMIT -1)"

    def _aggregates(self, m: Measure) -> list[str]:
        if m.kind == "money":
            return self.dialect.money(m.text(self) or None)
        return [m.text(self)]

    def _order(self, i: int, m: Measure) -> list[str]:
        """ORDER BY expressions of measure i's value (SQLite's money is three columns, ordered by two)."""
        if m.kind == "money":
            return self.dialect.money_order([f"m{i}_{j}" for j in range(m.width(self.dialect))])
        return [f"m{i}_0"]


def _swap(text: str, names: dict[str, str]) -> str:
    """`text` with each expression of `names` replaced by its name."""
    for expr, name in names.items():
        text = text.replace(expr, name)
    return text
