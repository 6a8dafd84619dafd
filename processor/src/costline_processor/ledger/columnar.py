"""A columnar copy of a SQLite ledger's calls, in DuckDB: what the page reads for the questions no rollup holds.

    costline_calls (SQLite) --ADBC, as Arrow (no Python object per call)--> DuckDB file in a temporary
    directory --query.py, in Dialect "duckdb"--> the same answers, a tenth of the time

Why: SQLite has no hash aggregation, so a question by user, session or trace over a 1M-call ledger
sorts every call (1.2-2.7 s on 2 cores, benchmarks/NOTES.md); DuckDB groups them in ~0.15 s. The
copy is ~100 MB on disk per million calls (DuckDB compresses it) and takes ~4.5 s per million to
load, in the background: until it is ready, SQLite answers.

Kept in step, before each answer (`current`): the copy reads the ledger's last rowid and its count
of rewrites (`costline_meta` key `rewrites`, which triggers on UPDATE and DELETE move: `reprice
--apply`, or any hand edit; schema.REWRITE_STATEMENTS, added here to a ledger an earlier costline
made). SQLite's writer appends, in rowid order, one transaction at a time, so the calls after the
copy's last rowid are the new ones: up to `APPEND_INLINE` of them are appended before the answer
(a few ms); more, or any rewrite, load again in the background while SQLite answers. So an answer
from the copy is the ledger as it was when the answer began, as SQLite's own is.

Not copied: anything but the calls. A question SQLite's per-day rollup holds (by feature, model, day...)
is still answered there (LedgerReader.rollup_reader: milliseconds, where the copy takes ~0.1 s). A failure to
load (a read-only ledger without the triggers, a disk full) is logged once and SQLite answers.
"""

from __future__ import annotations

import logging
import re
import shutil
import sqlite3
import tempfile
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from costline_processor.ledger import LedgerReader
from costline_processor.ledger.schema import COLUMNS, FEMTO_COLUMN, REWRITE_STATEMENTS, SHARES_COLUMN, TABLE

log = logging.getLogger("costline")

APPEND_INLINE = 50_000  # new calls appended before an answer; more load in the background (~0.2 s per 50k)
_ROWID = "rid"
_COPIED = ((_ROWID, "INTEGER"), *((c[0], c[1]) for c in COLUMNS), FEMTO_COLUMN, SHARES_COLUMN[:2])
_MARK = f"SELECT (SELECT MAX(rowid) FROM {TABLE}), (SELECT value FROM costline_meta WHERE key = 'rewrites')"


class ColumnarCopy:
    """The copy of the SQLite ledger at `location`, in a DuckDB file under `directory` (a new temporary one by
    default, removed by `close`). `start` loads it in the background; `reader` hands out readers over it."""

    def __init__(self, location: str, directory: str | None = None) -> None:
        import duckdb

        self.location = location
        self._dir = Path(directory or tempfile.mkdtemp(prefix="costline-columnar-"))
        self._own_dir = directory is None
        self._duck = duckdb.connect(str(self._dir / "calls.duckdb"))
        self._lock = threading.Lock()
        self._cursors = threading.Lock()
        self._ready = False  # the table holds the calls up to _rowid at _rewrites
        self._loading: threading.Thread | None = None
        self._failed: str | None = None
        self._rowid, self._rewrites = 0, ""
        self._closed = False
        if self._own_dir:  # also when the process ends without close()
            weakref.finalize(self, shutil.rmtree, self._dir, ignore_errors=True)

    def start(self) -> None:
        """Load the copy in the background (SQLite answers meanwhile)."""
        with self._lock:
            self._load_later()

    def load(self) -> None:
        """Load the copy now (tests, benchmarks); raises what a background load would log."""
        self._load()
        if self._failed:
            raise RuntimeError(self._failed)

    @property
    def ready(self) -> bool:
        return self._ready

    def reader(self, rows_from: LedgerReader) -> LedgerReader | None:
        """A reader over the copy caught up with the ledger now (its rows and traces read by `rows_from`, a
        reader of the SQLite ledger), or None: SQLite answers this time."""
        if not self._ready:
            return None
        with self._lock:
            if not self._ready:
                return None
            last, rewrites = self._mark()
            if rewrites != self._rewrites or last - self._rowid > APPEND_INLINE:
                self._ready = False
                self._load_later()
                return None
            if last > self._rowid:
                cur = self.cursor()
                try:
                    self._append(cur, TABLE, self._rowid, last)
                finally:
                    cur.close()
                self._rowid = last
            return LedgerReader(_DuckStore(self.location, self.cursor, rows_from), rollup_reader=rows_from)

    def cursor(self):
        """A connection of its own to the copy (DuckDB's connection object is not for several threads at once)."""
        with self._cursors:
            return self._duck.cursor()

    def close(self) -> None:
        """Stop answering and remove the copy (a load under way stops at its next step)."""
        with self._lock:
            if self._closed:
                return
            self._closed, self._ready = True, False
            self._duck.close()
        if self._own_dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    def _load_later(self) -> None:
        if self._failed or (self._loading is not None and self._loading.is_alive()):
            return
        self._loading = threading.Thread(target=self._load, name="costline-columnar", daemon=True)
        self._loading.start()

    def _load(self) -> None:
        """Every call into a new table, which then replaces the copy's."""
        began = time.perf_counter()
        try:
            self._ensure_triggers()
            last, rewrites = self._mark()
            cur = self.cursor()
            cur.execute(f"CREATE OR REPLACE TABLE {TABLE}_next ({_columns_ddl()})")
            self._append(cur, f"{TABLE}_next", 0, last)
            cur.execute("CHECKPOINT")
        except Exception as e:  # duckdb's, adbc's, sqlite3's and OSError: all mean SQLite answers
            if not self._closed:
                self._failed = f"{type(e).__name__}: {e}"
                log.warning("ledger %s: the page reads SQLite (its columnar copy failed: %s)", self.location, e)
            return
        with self._lock:
            if self._closed:
                return
            cur.execute("BEGIN")
            cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
            cur.execute(f"ALTER TABLE {TABLE}_next RENAME TO {TABLE}")
            cur.execute("COMMIT")
            self._rowid, self._rewrites, self._ready = last, rewrites, True
        took = time.perf_counter() - began
        log.info("ledger %s: columnar copy of its calls up to rowid %d, loaded in %.1f s", self.location, last, took)

    def _mark(self) -> tuple[int, str]:
        """The ledger's last rowid and its count of rewrites, read together (one statement: one snapshot)."""
        with _sqlite(self.location) as conn:
            last, rewrites = conn.execute(_MARK).fetchone()
        return int(last or 0), str(rewrites)

    def _ensure_triggers(self) -> None:
        with _sqlite(self.location, write=True) as conn:
            if not conn.execute("SELECT 1 FROM costline_meta WHERE key = 'rewrites'").fetchone():
                for stmt in REWRITE_STATEMENTS:
                    conn.execute(stmt)

    def _append(self, cur, table: str, after: int, upto: int) -> None:
        """The calls with rowid in (after, upto] into `table`, streamed as Arrow from SQLite to DuckDB."""
        import adbc_driver_manager
        import adbc_driver_sqlite

        db = adbc_driver_sqlite.connect(_uri(self.location))
        conn = adbc_driver_manager.AdbcConnection(db)
        stmt = adbc_driver_manager.AdbcStatement(conn)
        try:
            stmt.set_sql_query(_select(int(after), int(upto)))
            stream, _ = stmt.execute_query()
            cur.from_arrow(stream).filter(f"{_ROWID} >= 0").insert_into(table)
        finally:
            stmt.close()
            conn.close()
            db.close()


class _DuckStore:
    """A LedgerReader's store over the copy: each SELECT on a cursor of its own (a caller may read one while it
    runs another, as SQLite's cursors allow); rows and traces from `rows_from`; the page never writes."""

    dialect = "duckdb"

    def __init__(self, location: str, cursor: Callable[[], Any], rows_from: LedgerReader) -> None:
        self.location, self._cursor, self._rows = location, cursor, rows_from

    def fetch(self, sql: str, params: Sequence[Any]) -> Iterator[tuple]:
        cur = self._cursor()
        try:
            cur.execute("SET integer_division = true")  # `/` between integers truncates, as SQLite's (per connection)
            cur.execute(sql, _used(sql, params))
            while batch := cur.fetchmany(4096):
                yield from batch
        finally:
            cur.close()

    def select(self, since_ns: int | None = None, until_ns: int | None = None, trace_id: str | None = None):
        return iter(self._rows.trace(trace_id)) if trace_id is not None else self._rows.rows(since_ns, until_ns)

    def update_prices(self, rows) -> None:
        raise NotImplementedError("the columnar copy is read-only")

    def close(self) -> None:
        pass


def _used(sql: str, params: Any) -> dict | None:
    """The named parameters `sql` reads: a Statement binds some that a variant of its SQL leaves out (SQLite and
    psycopg ignore the rest, DuckDB refuses them)."""
    if not params:
        return None
    names = set(re.findall(r"\$(\w+)", sql))
    return {k: v for k, v in params.items() if k in names}


def _columns_ddl() -> str:
    return ", ".join(f"{name} {'BIGINT' if _integer(kind) else 'VARCHAR'}" for name, kind in _COPIED)


def _select(after: int, upto: int) -> str:
    """The calls in (after, upto] by rowid, after one row of rowid -1 whose values give each column its type (ADBC
    infers a column's type from the first rows it reads, and a column NULL there would be typed as integers)."""
    typed = [f"-1 AS {_ROWID}", *(f"{_typed(kind)} AS {name}" for name, kind in _COPIED[1:])]
    names = ["rowid", *(name for name, _ in _COPIED[1:])]
    calls = f"SELECT {', '.join(names)} FROM {TABLE} WHERE rowid > {after} AND rowid <= {upto}"
    return f"SELECT {', '.join(typed)} UNION ALL {calls}"


def _typed(kind: str) -> str:
    return "0" if _integer(kind) else "''"


def _integer(kind: str) -> bool:
    return kind.startswith("INTEGER")


def _uri(location: str) -> str:
    return "file:" + urllib.parse.quote(str(Path(location).resolve())) + "?mode=ro"


class _sqlite:
    """A short-lived connection to the ledger (read-only unless `write`)."""

    def __init__(self, location: str, write: bool = False) -> None:
        mode = "rw" if write else "ro"
        self._conn = sqlite3.connect(_uri(location).replace("mode=ro", f"mode={mode}"), uri=True, timeout=30.0)

    def __enter__(self) -> sqlite3.Connection:
        return self._conn

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self._conn.commit()
        self._conn.close()
