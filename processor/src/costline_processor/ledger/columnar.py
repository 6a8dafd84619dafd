"""A columnar copy of a SQLite ledger's calls, in DuckDB: what the page reads for the questions no rollup holds.

    costline_calls (SQLite) --full load: a process of its own (columnar_load.py: ADBC, Arrow)--> DuckDB file
    in a temporary directory --query.py, in Dialect "duckdb"--> the same answers, a fifth of the time or less

Why: SQLite has no hash aggregation, so a question by user, session or trace over a 1M-call ledger
sorts every call (1.2-2.7 s on 2 cores, benchmarks/NOTES.md); DuckDB answers it in 0.1-0.4 s. The
copy is ~100 MB on disk per million calls (DuckDB compresses it) and takes ~4.5 s per million to
load, in the background: until it is ready, SQLite answers.

Kept in step, before each answer (`reader`): the copy reads the ledger's last rowid and its count
of rewrites (`costline_meta` key `rewrites`, which triggers on UPDATE and DELETE move: `reprice
--apply`, or any hand edit; schema.REWRITE_STATEMENTS, added here to a ledger an earlier costline
made). SQLite's writer appends, in rowid order, one transaction at a time, so the calls after the
copy's last rowid are the new ones: up to `APPEND_INLINE` of them are appended before the answer
(read with Python's sqlite3, handed to DuckDB as JSON lines: ~25 µs a call); more, or any rewrite,
load again in the background while SQLite answers. So an answer from the copy is the ledger as it
was when the answer began, as SQLite's own is. Only Python's sqlite3 touches the ledger in this
process (why the full load runs apart: columnar_load.py).

Not copied: anything but the calls. A question SQLite's per-day rollup holds (by feature, model, day...)
is still answered there (LedgerReader.rollup_reader: milliseconds, where the copy takes ~0.1 s). A failure to
load (a read-only ledger without the triggers, a disk full) is logged once and SQLite answers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from costline_processor.ledger import LedgerReader
from costline_processor.ledger.columnar_load import COPIED, duck_type, ledger_uri
from costline_processor.ledger.schema import REWRITE_STATEMENTS, TABLE

log = logging.getLogger("costline")

APPEND_INLINE = 20_000  # new calls appended before an answer (~0.5 s); more load again in the background
RETRY_S = 60.0  # after a failed load, SQLite answers alone this long before the next try (a lock may pass)
_MARK = f"SELECT (SELECT MAX(rowid) FROM {TABLE}), (SELECT value FROM costline_meta WHERE key = 'rewrites')"
_NEW = f"SELECT {', '.join(['rowid', *(n for n, _ in COPIED[1:])])} FROM {TABLE} WHERE rowid > ? AND rowid <= ?"
_TYPES = "{" + ", ".join(f"'{name}': '{duck_type(kind)}'" for name, kind in COPIED) + "}"
_JSON_LINES = f"format = 'newline_delimited', columns = {_TYPES}"


class ColumnarCopy:
    """The copy of the SQLite ledger at `location`, in DuckDB files under `directory` (a new temporary one by
    default, removed by `close`). `start` loads it in the background; `reader` hands out readers over it."""

    def __init__(self, location: str, directory: str | None = None) -> None:
        import duckdb  # noqa: F401  (missing: an ImportError now, not in the background)

        self.location = location
        self._dir = Path(directory or tempfile.mkdtemp(prefix="costline-columnar-"))
        self._own_dir = directory is None
        self._duck: Any = None  # the DuckDB connection of the loaded copy, and its file
        self._file: Path | None = None
        self._lock = threading.Lock()
        self._cursors = threading.Lock()
        self._ready = False  # the copy holds the calls up to _rowid at _rewrites
        self._loading: threading.Thread | None = None
        self._loads = 0
        self._failed: str | None = None  # why the last load failed (said once), and when
        self._failed_at = 0.0
        self._said_failed = False
        self._rowid, self._rewrites = 0, ""
        self._closed = False
        self._said_behind = False
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
        with self._lock:
            if not self._ready:
                self._load_later()  # when none runs: one that ended as this copy fell behind again
                return None
            try:
                last, rewrites = self._mark(rows_from)
                if rewrites != self._rewrites or last - self._rowid > APPEND_INLINE:
                    self._ready = False
                    self._load_later()
                    return None
                if last > self._rowid:
                    self._append(rows_from, self._rowid, last)
                    self._rowid = last
            except Exception as e:  # sqlite3's, duckdb's, OSError: SQLite answers while the copy loads again
                self._behind(e)
                return None
            return LedgerReader(_DuckStore(self.location, self.cursor, rows_from), rollup_reader=rows_from)

    def cursor(self):
        """A connection of its own to the copy (DuckDB's connection object is not for several threads at once)."""
        with self._cursors:
            return self._duck.cursor()

    def close(self) -> None:
        """Stop answering and remove the copy (a load under way is left to end; its file goes with the directory)."""
        with self._lock:
            if self._closed:
                return
            self._closed, self._ready = True, False
            if self._duck is not None:
                with contextlib.suppress(Exception):  # DuckDB refuses while a cursor is busy; it goes with the process
                    self._duck.close()
        if self._own_dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    def _load_later(self) -> None:
        if self._closed or (self._loading is not None and self._loading.is_alive()):
            return
        if self._failed and time.monotonic() - self._failed_at < RETRY_S:
            return
        self._loading = threading.Thread(target=self._load, name="costline-columnar", daemon=True)
        self._loading.start()

    def _load(self) -> None:
        """Every call into a new DuckDB file (columnar_load.py, in a child process), which then replaces the copy."""
        import duckdb

        began = time.perf_counter()
        self._loads += 1
        into = self._dir / f"calls-{self._loads}.duckdb"
        try:
            self._ensure_triggers()
            last, rewrites = self._mark()
            child = subprocess.run(
                [sys.executable, "-m", "costline_processor.ledger.columnar_load", self.location, str(into), str(last)],
                capture_output=True,
                text=True,
            )
            if child.returncode != 0:
                raise RuntimeError((child.stderr.strip().splitlines() or [f"exit {child.returncode}"])[-1])
            duck = duckdb.connect(str(into))
        except Exception as e:  # sqlite3's, duckdb's, the child's and OSError: all mean SQLite answers
            if not self._closed:
                self._failed, self._failed_at = f"{type(e).__name__}: {e}", time.monotonic()
                if not self._said_failed:
                    self._said_failed = True
                    log.warning(
                        "ledger %s: the page reads SQLite (its columnar copy failed: %s; tried again every %.0f s)",
                        self.location,
                        e,
                        RETRY_S,
                    )
            return
        self._failed = None
        with self._lock:
            if self._closed:
                duck.close()
                return
            (old, gone), (self._duck, self._file) = (self._duck, self._file), (duck, into)
            self._rowid, self._rewrites, self._ready = last, rewrites, True
        if old is not None and gone is not None:
            # DuckDB refuses while a question's cursor of it is busy: that question ends on the old copy, which
            # closes with its last cursor (its file, unlinked below, goes then)
            with contextlib.suppress(duckdb.Error):
                old.close()
            for f in self._dir.glob(f"{gone.name}*"):  # the file and its write-ahead log
                f.unlink(missing_ok=True)
        took = time.perf_counter() - began
        log.info("ledger %s: columnar copy of its calls up to rowid %d, loaded in %.1f s", self.location, last, took)

    def _behind(self, e: Exception) -> None:
        """The copy could not catch up (reading the ledger's mark or its new calls, or adding them): it loads anew
        (the child reads the calls its own way); said once."""
        if not self._said_behind:
            self._said_behind = True
            log.warning("ledger %s: the columnar copy could not catch up (%s); loading it again", self.location, e)
        self._ready = False
        self._load_later()

    def _mark(self, reader: LedgerReader | None = None) -> tuple[int, str]:
        """The ledger's last rowid and its count of rewrites, read together (one statement: one snapshot), through
        `reader` (the request's SQLite reader) or a connection of its own."""
        if reader is not None:
            last, rewrites = next(reader.fetch(_MARK))
        else:
            with _sqlite(self.location) as conn:
                last, rewrites = conn.execute(_MARK).fetchone()
        return int(last or 0), str(rewrites)

    def _ensure_triggers(self) -> None:
        with _sqlite(self.location, write=True) as conn:
            if not conn.execute("SELECT 1 FROM costline_meta WHERE key = 'rewrites'").fetchone():
                for stmt in REWRITE_STATEMENTS:
                    conn.execute(stmt)

    def _append(self, reader: LedgerReader, after: int, upto: int) -> None:
        """The calls with rowid in (after, upto] into the copy: read by the request's SQLite `reader`, handed over as
        JSON lines (exact: text, integers and NULL as they are; DuckDB's inserts of Python rows take ~1.5 ms a call)."""
        rows = list(reader.fetch(_NEW, (after, upto)))
        names = [name for name, _ in COPIED]
        fd, path = tempfile.mkstemp(suffix=".json", dir=self._dir)
        try:
            with os.fdopen(fd, "w") as f:
                f.writelines(json.dumps(dict(zip(names, r))) + "\n" for r in rows)
            cur = self.cursor()
            try:
                source = "'" + path.replace("'", "''") + "'"
                cur.execute(f"INSERT INTO {TABLE} SELECT * FROM read_json({source}, {_JSON_LINES})")
            finally:
                cur.close()
        finally:
            os.unlink(path)


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


class _sqlite:
    """A short-lived connection to the ledger through Python's sqlite3 (read-only unless `write`)."""

    def __init__(self, location: str, write: bool = False) -> None:
        self._conn = sqlite3.connect(ledger_uri(location, "rw" if write else "ro"), uri=True, timeout=30.0)

    def __enter__(self) -> sqlite3.Connection:
        return self._conn

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self._conn.commit()
        self._conn.close()
