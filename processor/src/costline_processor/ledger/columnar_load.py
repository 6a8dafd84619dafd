"""The columnar copy's full load, in a process of its own: a SQLite ledger's calls into a new DuckDB file.

    python -m costline_processor.ledger.columnar_load LEDGER DUCKDB_FILE UPTO_ROWID

The calls travel as Arrow through ADBC's SQLite driver, with no Python object per call (1M calls
in ~4.5 s; Python's sqlite3 and building columns from its rows took twice that, holding the page's
GIL). Why a process of its own: the driver brings its own copy of SQLite, and SQLite's locks are
POSIX locks, which a process holds once per file whichever copy took them: in the page's process,
the driver closing its connection would drop the locks of the page's own readers (and of a writer
in the same process), and then a checkpoint can remove the write-ahead log under them (seen: SIGBUS
in a stress run of readers, a writer and the loader in one process; sqlite.org "How To Corrupt An
SQLite Database File", 2.2.1). In a child process its locks are its own, as any other reader's.

Exit 0 with the file written and checkpointed; else one line on stderr and exit 1: the error's first line
(ADBC's go on with the whole query, and the parent logs the last line it reads).
"""

from __future__ import annotations

import sys
import urllib.parse
from pathlib import Path

from costline_processor.ledger.schema import COLUMNS, FEMTO_COLUMN, SHARES_COLUMN, TABLE

ROWID = "rid"  # the copy's column of the call's SQLite rowid
BUSY_TIMEOUT_MS = 30_000  # as the ledger's other connections (sqlite.py); ADBC's driver sets none
COPIED = ((ROWID, "INTEGER"), *((c[0], c[1]) for c in COLUMNS), FEMTO_COLUMN, SHARES_COLUMN[:2])


def ledger_uri(location: str, mode: str = "ro") -> str:
    """The SQLite URI of the ledger file `location` (any characters in its path), opened in `mode` (ro, rw)."""
    return "file:" + urllib.parse.quote(str(Path(location).resolve())) + f"?mode={mode}"


def columns_ddl() -> str:
    """The copy's table's columns: BIGINT where SQLite's are INTEGER, VARCHAR where TEXT."""
    return ", ".join(f"{name} {duck_type(kind)}" for name, kind in COPIED)


def duck_type(kind: str) -> str:
    return "BIGINT" if kind.startswith("INTEGER") else "VARCHAR"


def load(ledger: str, into: str, upto: int) -> None:
    """The calls with rowid <= `upto` into table costline_calls of the new DuckDB file `into`."""
    import adbc_driver_manager
    import adbc_driver_sqlite
    import duckdb

    db = adbc_driver_sqlite.connect(ledger_uri(ledger))
    conn = adbc_driver_manager.AdbcConnection(db)
    stmt = adbc_driver_manager.AdbcStatement(conn)
    duck = duckdb.connect(into)
    try:
        duck.execute(f"CREATE TABLE {TABLE} ({columns_ddl()})")
        stmt.set_sql_query(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")  # a writer's checkpoint may hold a lock
        stmt.execute_query()
        stmt.set_sql_query(_select(int(upto)))
        stream, _ = stmt.execute_query()
        duck.from_arrow(stream).filter(f"{ROWID} >= 0").insert_into(TABLE)
        duck.execute("CHECKPOINT")
    finally:
        duck.close()
        stmt.close()
        conn.close()
        db.close()


def _select(upto: int) -> str:
    """The calls up to rowid `upto`, after one row of rowid -1 whose values give each column its type (ADBC types a
    column by the first rows it reads, and stops at a text in a column it saw NULL there: a ledger's first caveat
    after its 1,024th call)."""
    typed = [
        f"-1 AS {ROWID}",
        *(f"{'0' if duck_type(kind) == 'BIGINT' else repr('')} AS {n}" for n, kind in COPIED[1:]),
    ]
    names = ["rowid", *(name for name, _ in COPIED[1:])]
    return f"SELECT {', '.join(typed)} UNION ALL SELECT {', '.join(names)} FROM {TABLE} WHERE rowid <= {upto}"


def main(argv: list[str]) -> int:
    try:
        ledger, into, upto = argv
        load(ledger, into, int(upto))
    except Exception as e:  # the parent logs it and SQLite answers
        print(f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
