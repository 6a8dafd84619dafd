"""How query.py spells one report question in each database: parameters, tags, money, calendar.

Tags stay where the writer puts them, one JSON object per call (TEXT in SQLite, JSONB in
PostgreSQL), and a report reads a tag with the engine's own JSON accessor: json_extract in
SQLite, ->> in PostgreSQL. That is what makes `GROUP BY <any tag>` work without knowing the
tags in advance: in SQLite the JSON read is about a third of a microsecond per call, less
than the GROUP BY's sort (benchmarks/NOTES.md, "Reports at scale"). A tags table would need one
join per dimension (and five rows per call), a column per tag a migration for each new tag.
What SQLite cannot do fast is sort millions of calls (it has no hash aggregation): for the
common questions (by feature, model, day) its per-day rollup holds the sums (rollup.py).

Money must add up exactly. PostgreSQL sums its NUMERIC column. SQLite has no decimal type, so
it sums the integer femto-dollar column (schema.py) as two sums, whole micro-dollars and the
femto remainder, which no realistic ledger can overflow; the rare cost without a femto count
is summed apart as a float, for ORDER BY and to say it is there, and aggregation.py adds it
exactly from its decimal string.

DuckDB reads the page's columnar copy of a SQLite ledger (columnar.py): the same columns, so the
same SQL as SQLite's but for DuckDB's names (json_extract_string, json_keys, DOUBLE, `$name`
parameters, strftime's argument order) and its integer division, which columnar.py turns on
(`SET integer_division`: `/` between integers truncates, as in SQLite and PostgreSQL). It has
hash aggregation, so nothing is narrowed for a sort.

A call whose tag names several owners (`shares` column, shares.py) is split in SQL: one row per
owner from the engine's JSON iterator (json_each, jsonb_each), and each amount cut by the
owner's bounds in integer arithmetic (`part`): the same integers shares.part computes, so
SQLite, PostgreSQL and Python agree to the last femto-dollar.

Every value a user typed (tag names, tag values, outcome values) goes in as a named
parameter; only this module's own constants are written into the SQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from costline_processor.ledger.schema import FEMTO_FUNCTION, TABLE, from_femto
from costline_processor.shares import PACK

DAY_NS = 86_400_000_000_000
_SPLIT = 10**9  # femto = micro * 10**9 + remainder
_NO_OWNER = (0, 1, 1)  # the bounds (low, high, total) of a call that does not split: all of it


@dataclass(frozen=True)
class Dialect:
    name: str  # "sqlite", "postgresql" or "duckdb"

    def param(self, key: str) -> str:
        return {"sqlite": f":{key}", "duckdb": f"${key}"}.get(self.name, f"%({key})s")

    def tag(self, paths: list[str]) -> str:
        """The raw value of a tag (NULL when the call lacks it); `paths` are the placeholders of `tag_paths`."""
        if self.name == "postgresql":
            return f"(tags ->> {paths[0]})"
        read = "json_extract_string" if self.name == "duckdb" else "json_extract"
        reads = [f"{read}(tags, {p})" for p in paths]
        return reads[0] if len(reads) == 1 else f"COALESCE({', '.join(reads)})"

    def tag_paths(self, name: str) -> tuple[str, ...]:
        """The parameter values that name tag `name` for `tag`. In SQLite a quoted JSON path, and for a name
        beyond ASCII (客户: `dimensions.check_name` takes any letter) also the path of the name as the writer's
        JSON escapes it ("\\u5ba2\\u6237", schema.to_params): SQLite before 3.45 matches a path against an
        object's key as written, escapes and all, so the plain path never finds such a tag in the calls (and
        the escaped one never in the rollup's tag shapes, which SQLite writes unescaped); 3.45 and later
        read the escapes, and both paths find the same value."""
        if self.name == "postgresql":
            return (name,)
        plain = self.tag_path(name)
        if self.name == "duckdb":  # DuckDB reads a key's escapes
            return (plain,)
        return (plain,) if name.isascii() else (plain, '$."' + json.dumps(name.replace('"', ""))[1:-1] + '"')

    def tag_path(self, name: str) -> str:
        """The parameter value that names tag `name` in the `shares` column (a quoted JSON path in SQLite; shares
        are written unescaped, as SQLite's rollup writes its tag shapes)."""
        return name if self.name == "postgresql" else '$."' + name.replace('"', "") + '"'

    def modulo(self, a: str, b: int) -> str:
        return f"mod({a}, {b})" if self.name == "postgresql" else f"(({a}) % {b})"

    def month(self) -> str:
        """The UTC calendar month of a call's start, as YYYY-MM."""
        if self.name == "sqlite":
            return "strftime('%Y-%m', start_unix_nano / 1000000000, 'unixepoch')"
        if self.name == "duckdb":
            return "strftime(make_timestamp(start_unix_nano / 1000), '%Y-%m')"
        return "to_char(to_timestamp(start_unix_nano / 1000000000) AT TIME ZONE 'UTC', 'YYYY-MM')"

    @property
    def sorts_to_group(self) -> bool:
        """Whether a GROUP BY sorts every row into its groups (SQLite: no hash aggregation), so what each row
        carries into the sort is worth keeping small (Statement.select)."""
        return self.name == "sqlite"

    def text_order(self, expr: str) -> str:
        """`expr` (text) for ORDER BY in code point order, as Python sorts the rows it keeps: SQLite's BINARY
        collation is; PostgreSQL's follows the database's locale (en_US puts "alpha" before "Zeta"), so a
        LIMIT there would keep other groups than SQLite's for the same question."""
        return f'{expr} COLLATE "C"' if self.name == "postgresql" else expr  # DuckDB's default: binary

    def money(self, where: str | None = None) -> list[str]:
        """Aggregates that add up cost_usd (of the calls where `where` holds); `money_value` reads them.
        SQLite's third is the costs without a femto count, as a float: NULL when there is none."""
        if self.name == "postgresql":
            return [f"SUM(cost_usd) FILTER (WHERE {where})" if where else "SUM(cost_usd)"]
        femto = f"CASE WHEN {where} THEN cost_femto END" if where else "cost_femto"
        when = f"{where} AND " if where else ""
        return [
            f"SUM({femto} / {_SPLIT})",
            f"SUM({self.modulo(femto, _SPLIT)})",
            f"SUM(CASE WHEN {when}cost_femto IS NULL THEN {self.double('cost_usd')} END)",
        ]

    def money_order(self, aliases: list[str]) -> list[str]:
        """ORDER BY expressions (each DESC) over the `money` columns' aliases, in the order of the sums. SQLite:
        whole micro-dollars, then the femto-dollars below them, each an exact integer (the remainders' sum
        carried into the micro-dollars, floored): exact for any group whose costs all have a femto count. As
        one number (micro * 10**9 + rest) it overflowed 64 bits above $9,223 and SQLite made it a double, 2048
        femto-dollars apart there: $10,000.000000000002 and $10,000.000000000003 tied, and a LIMIT kept the
        first name rather than the costlier (PostgreSQL kept the costlier). Costs without a femto count add
        their double sum to the micro-dollars: close, not exact."""
        if self.name == "postgresql":
            return [aliases[0]]  # PostgreSQL reads an output name in ORDER BY only bare
        micro, rest, floats = aliases
        below = f"((COALESCE({rest}, 0) % {_SPLIT} + {_SPLIT}) % {_SPLIT})"
        whole = f"(COALESCE({micro}, 0) + (COALESCE({rest}, 0) - {below}) / {_SPLIT})"
        return [f"CASE WHEN {floats} IS NULL THEN {whole} ELSE {whole} + {floats} * 1e6 END", below]

    def money_value(self, values: list[Any]) -> tuple[Decimal, bool]:
        """The exact sum the `money` columns hold, and whether they left costs out (to add apart)."""
        if self.name == "postgresql":
            return (Decimal(values[0]) if values[0] is not None else Decimal(0)), False
        micro, rest, floats = values
        return from_femto(int(micro or 0) * _SPLIT + int(rest or 0)), floats is not None

    def call_cost(self) -> str:
        """One call's cost, for ORDER BY (exact where the femto count is; else close)."""
        if self.name == "postgresql":
            return "cost_usd"
        if self.name == "duckdb":  # COALESCE(integer, double) is a double there: 2**63 - 1 and 2**63 would tie
            return "TRY_CAST(cost_usd AS DECIMAL(38, 20))"
        return f"COALESCE(cost_femto, {self.double('cost_usd')} * 1e15)"

    def double(self, column: str) -> str:
        """A text column read as an 8-byte float (DuckDB's REAL has 4)."""
        return f"CAST({column} AS {'DOUBLE' if self.name == 'duckdb' else 'REAL'})"

    def tag_keys(self, source: str, where: str) -> str:
        """SELECT of the distinct tag names the rows of `source` (the calls, or a subquery with their `tags`)
        matching `where` carry."""
        if self.name == "postgresql":
            return f"SELECT DISTINCT jsonb_object_keys(tags) FROM {source} AS c{where}"
        if self.name == "duckdb":
            return f"SELECT DISTINCT unnest(json_keys(tags)) FROM {source} AS c{where}"
        return f"SELECT DISTINCT j.key FROM {source} AS c, json_each(c.tags) AS j{where}"

    def owners(self, alias: str, path: str) -> str:
        """A join giving one row per owner of a tag with several (key: the owner, value: its packed bounds),
        or one row of NULLs; `path` is the tag's `tag_path` placeholder."""
        if self.name == "sqlite":
            return f"LEFT JOIN json_each({TABLE}.shares, {path}) AS {alias}"
        if self.name == "duckdb":
            return f"LEFT JOIN json_each({TABLE}.shares, {path}) AS {alias} ON true"
        return f"LEFT JOIN LATERAL jsonb_each({TABLE}.shares -> {path}) AS {alias}(key, value) ON true"

    def owner_bounds(self, alias: str) -> tuple[str, str, str]:
        """(low, high, total) of the owner row `alias`, unpacked (shares.column) by integer arithmetic, about twice
        as fast as reading a JSON array per amount; (0, 1, 1) where the call does not split."""
        v = f"{alias}.value" if self.name == "sqlite" else f"({alias}.value)::bigint"  # DuckDB's: JSON
        parts = (self.modulo(v, PACK), self.modulo(f"{v} / {PACK}", PACK), f"{v} / {PACK * PACK}")
        return tuple(f"COALESCE({p}, {d})" for p, d in zip(parts, _NO_OWNER))  # type: ignore[return-value]

    def call_key(self) -> tuple[str, str]:
        """GROUP BY terms naming one call: its primary key (PostgreSQL then reads the call's other columns
        bare); in SQLite with unary plus, so that the planner reads the few calls through the index that
        finds them rather than walk the primary key's index in order to skip a sort."""
        plus = "+" if self.name == "sqlite" else ""
        return f"{plus}{TABLE}.trace_id", f"{plus}{TABLE}.span_id"

    def of_call(self, column: str) -> str:
        """A column of the call grouped by `call_key`: bare in SQLite and PostgreSQL (which knows the key names one
        row); DuckDB does not see that, and takes any value of the one."""
        return f"ANY_VALUE({column})" if self.name == "duckdb" else column

    def shared(self, path: str) -> str:
        """True for a call with several owners of the tag at `path`."""
        if self.name == "sqlite":
            return f"json_type(shares, {path}) IS NOT NULL"
        if self.name == "duckdb":
            return f"json_extract(shares, {path}) IS NOT NULL"
        return f"(shares -> {path}) IS NOT NULL"

    def part(self, n: str, levels: list[tuple[str, str, str]]) -> str:
        """The integer amount `n` cut by each level's owner bounds (low, high, total) in turn: at each,
        trunc(n*high/total) - trunc(n*low/total), written so that no product leaves 64 bits
        (shares.MAX_TOTAL): q*(high-low) + trunc(r*high/total) - trunc(r*low/total), with q and r the
        quotient and remainder of n by total (both truncate towards zero, in both engines)."""
        for low, high, total in levels:
            r = self.modulo(n, total)  # type: ignore[arg-type]
            n = f"(({n}) / {total}) * ({high} - {low}) + ({r} * {high}) / {total} - ({r} * {low}) / {total}"
        return f"({n})"

    def money_part(self, column: str, levels: list[tuple[str, str, str]]) -> str:
        """A money column cut by each level's owner bounds, in the column's own type: PostgreSQL's exact
        NUMERIC (whole femto-dollars by `part`, what lies below them to the last owner: shares.part_money);
        in SQLite a double: the exact femto count cut by `part` (else the decimal text times the owners'
        fractions), for the float sums that only order and flag (aggregation adds such costs from the text)."""
        if self.name == "postgresql":
            for low, high, total in levels:
                f = f"trunc(({column}) * 1000000000000000)"
                whole = f"(div({f} * {high}, {total}) - div({f} * {low}, {total})) * 0.000000000000001"
                column = f"{whole} + CASE WHEN {high} = {total} THEN ({column}) - {f} * 0.000000000000001 ELSE 0 END"
            return f"({column})"
        share = "".join(f" * ({high} - {low}) / {total}" for low, high, total in levels)
        femto = "cost_femto" if column == "cost_usd" else self._femto(column)  # cost's count is stored
        return f"COALESCE({self.part(femto, levels)} / 1e15, {self.double(column)}{share})"

    def _femto(self, column: str) -> str:
        """A money column's femto count (schema.femto): SQLite's registered function; in DuckDB, the decimal read
        to 15 places when reading it to 30 finds nothing more (a double either way, so a digit beyond 30 places
        cannot change the result) and the count fits 64 bits."""
        if self.name == "sqlite":
            return f"{FEMTO_FUNCTION}({column})"
        fine, coarse = (f"TRY_CAST({column} AS DECIMAL(38, {n}))" for n in (30, 15))
        return f"CASE WHEN {fine} = {coarse} THEN TRY_CAST({coarse} * 1000000000000000 AS BIGINT) END"

    @property
    def money_width(self) -> int:
        return 1 if self.name == "postgresql" else 3


SQLITE = Dialect("sqlite")
POSTGRESQL = Dialect("postgresql")
DUCKDB = Dialect("duckdb")


def dialect(name: str) -> Dialect:
    return {"sqlite": SQLITE, "duckdb": DUCKDB}.get(name, POSTGRESQL)
