"""The ledger in a local SQLite file: the embedded default.

WAL mode lets `costline report` read while `costline serve` writes; synchronous=FULL
makes every commit survive a power cut, not only a process crash (one fsync per
batch, so about once per flush interval). A new ledger has 16 KiB pages (`PAGE_SIZE`).
Money is stored as exact decimal strings, and each cost also as an integer count of
femto-dollars that SQL can sum (schema.py).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from costline_processor import price_caveats
from costline_processor.config import ConfigError
from costline_processor.ledger import rollup, schema
from costline_processor.records import LedgerRow

log = logging.getLogger("costline")

# Helper threads SQLite's sorter may use for a large GROUP BY (SQLite has no hash aggregation, so a report by
# customer over 1M calls sorts them all): 1.67 -> 1.28 s on 2 cores (benchmarks/NOTES.md). 0 is SQLite's default.
SORT_THREADS = 2
# A new ledger's page size. A report scans its window's calls (~500 bytes each), and 16 KiB pages read them in a
# quarter of the page reads of SQLite's default 4 KiB: Explore by user and model over a 1M-call ledger, best of
# five alternated, 1.67 -> 1.37 s; the writer no slower (benchmarks/NOTES.md). SQLite changes an existing
# ledger's page size only by VACUUM, outside WAL mode (ledger/README.md says how); costline never does.
PAGE_SIZE = 16384

_COLUMNS = schema.insert_columns("sqlite")
_INSERT = f"INSERT OR IGNORE INTO {schema.TABLE} ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
_SELECT = f"SELECT {', '.join(schema.COLUMN_NAMES)} FROM {schema.TABLE}"
_UPDATE = (
    f"UPDATE {schema.TABLE} SET {', '.join(f'{c} = ?' for c in (*schema.PRICE_COLUMNS, 'cost_femto'))} "
    "WHERE trace_id = ? AND span_id = ?"
)


class SQLiteStore:
    dialect = "sqlite"

    def __init__(self, path: str, *, create: bool):
        self.location = path
        if not create and not Path(path).is_file():
            raise ConfigError(f"no ledger at {path}: start `costline serve --ledger {path}` first, or pass --ledger")
        if create and Path(path).parent and not Path(path).parent.exists():
            raise ConfigError(f"ledger directory does not exist: {Path(path).parent}")
        try:
            # The writer thread owns the connection once open_ledger returns.
            self._conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout = 30000")
            self._conn.create_function(schema.FEMTO_FUNCTION, 1, schema.femto, deterministic=True)
            self._conn.create_function(schema.CAVEAT_TIER_FUNCTION, 1, price_caveats.tier_named, deterministic=True)
            if create:
                self._conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # before the first table; else no effect
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute(f"PRAGMA threads = {SORT_THREADS}")
            self._ensure_schema(create)
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"cannot open ledger {path}: {e}") from None

    def _ensure_schema(self, create: bool) -> None:
        have = self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='costline_meta'"
        ).fetchone()
        if not have and not create:
            raise ConfigError(f"{self.location} is not a costline ledger")
        if create:
            self._conn.execute("BEGIN IMMEDIATE")
            for stmt in schema.create_statements("sqlite"):
                self._conn.execute(stmt)
            self._conn.execute(
                "INSERT OR IGNORE INTO costline_meta (key, value) VALUES ('schema_version', ?)",
                (schema.SCHEMA_VERSION,),
            )
            if not have:
                self._conn.execute(rollup.MARK_ALL)  # a new ledger's rollup holds its (no) calls
            self._conn.execute("COMMIT")
        (version,) = self._conn.execute("SELECT value FROM costline_meta WHERE key='schema_version'").fetchone()
        steps = schema.migrations(version, "sqlite")
        if steps is None:
            raise ConfigError(
                f"ledger {self.location} has schema version {version}; this costline reads {schema.SCHEMA_VERSION}"
            )
        if steps:  # an older ledger: add the columns it lacks, in one transaction
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                (now,) = self._conn.execute("SELECT value FROM costline_meta WHERE key='schema_version'").fetchone()
                for stmt in schema.migrations(now, "sqlite") or ():
                    self._conn.execute(stmt)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        elif create:
            for stmt in schema.index_statements("sqlite"):
                self._conn.execute(stmt)
        if create and self._conn.execute(rollup.BEHIND).fetchone()[0]:
            self._rebuild_rollup()

    def _rebuild_rollup(self) -> None:
        """The writer's open of a ledger whose per-day rollup misses calls (rollup.BEHIND): adds it up anew."""
        log.warning(
            "ledger %s: its per-day rollup misses calls another writer added (an older costline still writing "
            "to it?); adding it up again from the calls (about 12 s per million calls); reports read the calls "
            "meanwhile",
            self.location,
        )
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in rollup.rebuild():
                self._conn.execute(stmt)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def insert(self, rows: list[LedgerRow], recorded_unix_nano: int) -> None:
        """One transaction, the rollup's sums with it; rows whose (trace_id, span_id) exists are ignored (first
        write wins)."""
        params = [schema.to_params(r, recorded_unix_nano, "sqlite") for r in rows]
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            (last,) = self._conn.execute(rollup.LAST_ROWID).fetchone()
            self._conn.executemany(_INSERT, params)
            self._conn.execute(rollup.ADD_INSERTED, (last,))  # the per-day rollup, in the same transaction
            (now,) = self._conn.execute(rollup.LAST_ROWID).fetchone()
            self._conn.execute(rollup.ADVANCE, (str(now), last))
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def select(
        self, since_ns: int | None = None, until_ns: int | None = None, trace_id: str | None = None
    ) -> Iterator[LedgerRow]:
        where, params = _where(since_ns, until_ns, trace_id)
        cur = self._conn.execute(f"{_SELECT}{where} ORDER BY start_unix_nano, trace_id, span_id", params)
        for record in cur:
            yield schema.from_record(record)

    def fetch(self, sql: str, params: Sequence[Any]) -> Iterator[tuple]:
        """Records of one SELECT (query.py's), streamed."""
        yield from self._conn.execute(sql, params)

    def update_prices(self, rows: list[LedgerRow]) -> None:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            params = [_price_params(r) for r in rows]
            self._conn.executemany(_UPDATE, params)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._conn.close()


def _price_params(row: LedgerRow) -> tuple:
    """The new prices of `row` and its femto count, then its key (the order of _UPDATE)."""
    *prices, trace_id, span_id = schema.price_params(row, "sqlite")
    return (*prices, schema.femto(row.cost_usd), trace_id, span_id)


def _where(since_ns: int | None, until_ns: int | None, trace_id: str | None) -> tuple[str, list]:
    clauses: list[str] = []
    params: list[int | str] = []
    if since_ns is not None:
        clauses.append("start_unix_nano >= ?")
        params.append(since_ns)
    if until_ns is not None:
        clauses.append("start_unix_nano < ?")
        params.append(until_ns)
    if trace_id is not None:
        clauses.append("trace_id = ?")
        params.append(trace_id)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
