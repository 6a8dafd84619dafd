"""Calls whose tag names several owners, in a report: the SQL that splits each among its owners.

A call tagged customer_id=["acme","globex"] (shares.py) shows in `report --by customer_id` in
acme's row and in globex's, each with its part of the call's tokens and cost; the parts add up
to the call exactly. When a report names a tag (a dimension or a --where) that some call of the
window shares (`tags_to_split`: one probe per tag on the partial index of such calls), the
GROUP BY reads, instead of the table, the rows of

    SELECT <columns>, <keys> FROM costline_calls                   every other call, as it is
    WHERE <window, filters> AND NOT <shares one of those tags>
  UNION ALL
    SELECT <columns, each amount cut per owner>, <keys> FROM costline_calls
    LEFT JOIN <the owners of each such tag>                        one row per owner (combination)
    WHERE <window, filters per owner> AND <shares one of them>
    GROUP BY <the call>, <keys>                                    owners a filter keeps: one row

under the table's column names, so every measure (counts, sums, money, distinct users) reads
it as it reads the table; without such a tag in the question, or such a call in the window, a
report is the plain GROUP BY, unchanged. What that means for a report:

- a shared call is one call in each of its owners' rows (the rows' calls can add up to more
  than the total's, which counts the call once), with its part of each token count and cost;
- a filter on the tag keeps the owners it names: `--where customer_id=acme` counts acme's part,
  `--by feature --where customer_id!=acme` the other owners' parts, as one call;
- the untagged bucket and --per-user read the tag as written (a shared call is tagged).

SQLite sums costs as femto-dollar integers; a shared call whose cost has no femto count (more
than 15 decimals, over $9,223) is added from its decimal text here, split in Python by the same
rule (`add_inexact`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from costline_processor.ledger import dimensions
from costline_processor.ledger.dialect import dialect
from costline_processor.ledger.filters import Filter
from costline_processor.ledger.schema import (
    AUDIO_FIELDS,
    COLUMN_NAMES,
    FEMTO_COLUMN,
    IMAGE_FIELDS,
    SHARES_COLUMN,
    TABLE,
    TOKEN_FIELDS,
    from_record,
)
from costline_processor.ledger.statement import Statement
from costline_processor.shares import split_row

_COUNTS = frozenset((*TOKEN_FIELDS, *AUDIO_FIELDS, *IMAGE_FIELDS))
_MONEY = frozenset(("cost_usd", "input_usd", "output_usd", "cache_read_usd", "cache_write_usd", "list_usd"))
_INEXACT = "cost_femto IS NULL AND cost_usd IS NOT NULL"  # as aggregation's: SQLite costs without a femto count


def tags_to_split(reader, scope, dims: Sequence[str]) -> tuple[str, ...]:
    """The tags among `dims` and the scope's filters that some call of the window shares among owners."""
    named = [d for d in (*dims, *(f.dim for f in scope.filters)) if dimensions.is_tag(d) and ":" not in d]
    out = []
    for tag in dict.fromkeys(dimensions.tag_name(d) for d in named):
        st = Statement(dialect(reader.dialect), scope.untagged)
        where = st.where(scope.since_ns, scope.until_ns, (), _shared(st, (tag,)))
        if any(True for _ in reader.fetch(f"SELECT 1 FROM {TABLE}{where} LIMIT 1", st.params)):
            out.append(tag)
    return tuple(out)


def read_by(sql: str) -> list[str]:
    """The ledger columns a statement written over the `source` rows reads (by name: measures name columns)."""
    every = [*COLUMN_NAMES, SHARES_COLUMN[0], FEMTO_COLUMN[0]]
    return [name for name in every if re.search(rf"\b{name}\b", sql)]


def source(
    st: Statement,
    scope,
    dims: Sequence[str],
    extra: tuple[str, ...],
    split: tuple[str, ...],
    names: list[str],
    *,
    with_others: bool,
) -> str:
    """The FROM of a question over `scope` grouped by `dims` (read as columns g0, g1, ...): the calls with
    owners of some tag, those of `split` cut per owner (the module docstring), and `with_others`, every
    other call as it is; `names`: the ledger columns the question reads (read_by)."""
    names = names or ["call_id"]  # COUNT(*) alone reads no column: a union needs one
    keys = [f"{st.key(d)} AS g{i}" for i, d in enumerate(dims)]
    where = st.where(scope.since_ns, scope.until_ns, scope.filters, (*extra, "shares IS NULL"))
    plain = f"SELECT {', '.join([*names, *keys])} FROM {TABLE}{where}"
    aliases = {tag: f"o{i}" for i, tag in enumerate(split)}
    joins = " ".join(st.dialect.owners(alias, st.bind(st.dialect.tag_path(tag))) for tag, alias in aliases.items())
    levels = [st.dialect.owner_bounds(alias) for alias in aliases.values()]
    st.owners = aliases
    try:
        keys = [f"{st.key(d)} AS g{i}" for i, d in enumerate(dims)]
        where = st.where(scope.since_ns, scope.until_ns, scope.filters, (*extra, "shares IS NOT NULL"))
    finally:
        st.owners = {}
    columns = [_column(st, name, levels) for name in names]
    by = ", ".join([*st.dialect.call_key(), *(str(len(names) + i + 1) for i in range(len(dims)))])
    cut = f"SELECT {', '.join([*columns, *keys])} FROM {TABLE} {joins}{where} GROUP BY {by}"
    return f"({plain} UNION ALL {cut}) AS {TABLE}" if with_others else f"({cut}) AS {TABLE}"


def _shared(st: Statement, tags: Sequence[str]) -> tuple[str, ...]:
    """WHERE clauses: the call shares one of `tags` (the first clause lets the partial index serve)."""
    paths = [st.bind(st.dialect.tag_path(t)) for t in tags]
    return ("shares IS NOT NULL", f"({' OR '.join(st.dialect.shared(p) for p in paths)})")


def _column(st: Statement, name: str, levels: list[tuple[str, str, str]]) -> str:
    if name in _COUNTS or name == FEMTO_COLUMN[0]:
        return f"SUM({st.dialect.part(name, levels)}) AS {name}"
    if name in _MONEY:
        return f"SUM({st.dialect.money_part(name, levels)}) AS {name}"
    return f"{st.dialect.of_call(f'{TABLE}.{name}')} AS {name}"


def add_inexact(reader, scope, plan, split: tuple[str, ...], groups: dict[tuple, dict], totals: dict) -> None:
    """Add, from their decimal text, the parts of the calls with owners (of any tag: those of no tag in `split`
    count whole) whose cost SQLite has no femto count of; aggregation adds the other such calls."""
    st = Statement(dialect(reader.dialect), scope.untagged)
    money = [m for m in plan.measures if m.kind == "money"]
    flags = [f"CASE WHEN {m.text(st)} THEN 1 ELSE 0 END" if m.text(st) else "1" for m in money]
    where = st.where(scope.since_ns, scope.until_ns, (), (*plan.extra, _INEXACT, "shares IS NOT NULL"))
    n = len(COLUMN_NAMES)
    for record in reader.fetch(f"SELECT {', '.join([*COLUMN_NAMES, *flags])} FROM {TABLE}{where}", st.params):
        row = from_record(record[:n])
        for part in split_row(row, split):
            if not all(_passes(part, f, scope.untagged) for f in scope.filters):
                continue
            label = tuple(_label(row, part, d, scope.untagged) for d in plan.dims)
            for m, counted in zip(money, record[n:]):
                if counted:
                    totals[m.name] += part.cost_usd
                    if label in groups:
                        groups[label][m.name] += part.cost_usd


def _passes(row, f: Filter, untagged: str) -> bool:
    return (dimensions.value(row, f.dim, untagged) in f.values) != f.exclude


def _label(row, part, dim: str, untagged: str) -> str:
    """What the GROUP BY labels a call's `part` by for `dim` (aggregation's labels): the untagged bucket's
    flag reads the tag as written (Statement.lacks: a shared call is tagged, even by an owner named as the
    untagged label), every other dimension the part's owner."""
    if dim.startswith("lacks:"):
        return "1" if dimensions.value(row, dim[6:], untagged) == untagged else "0"
    return dimensions.value(part, dim, untagged)
