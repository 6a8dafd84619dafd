"""The ledger: one row per model call, in SQLite (default) or PostgreSQL.

    open_ledger(location)  -> LedgerWriter, the sink `costline serve` writes through
    open_reader(location)  -> LedgerReader, what the report commands read

`location` is a file path or a postgresql:// URL. `resolve_location` picks it the same
way for every command: --ledger, else the loaded config's `ledger:` ($COSTLINE_LEDGER over the
file's: config_sources.py), else $COSTLINE_LEDGER, else DEFAULT_LEDGER in the working directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from costline_processor.ledger.writer import DEFAULT_FLUSH_INTERVAL_S, LedgerWriter
from costline_processor.records import LedgerRow

DEFAULT_LEDGER = "costline-ledger.db"
LEDGER_ENV = "COSTLINE_LEDGER"

__all__ = [
    "DEFAULT_LEDGER",
    "LEDGER_ENV",
    "LedgerReader",
    "LedgerWriter",
    "open_ledger",
    "open_reader",
    "resolve_location",
]


def resolve_location(flag: str | None, configured: str | None = None, env: Mapping[str, str] = os.environ) -> str:
    return flag or configured or env.get(LEDGER_ENV) or DEFAULT_LEDGER


def _open_store(location: str, *, create: bool):
    if location.startswith(("postgresql://", "postgres://")):
        from costline_processor.ledger.postgres import PostgresStore

        return PostgresStore(location, create=create)
    if "://" in location:
        from costline_processor.config import ConfigError

        raise ConfigError(f"--ledger must be a file path or a postgresql:// URL, not {location!r}")
    from costline_processor.ledger.sqlite import SQLiteStore

    return SQLiteStore(location, create=create)


def open_ledger(url_or_path: str, flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S, **kwargs) -> LedgerWriter:
    """Open (creating if needed) the ledger and start its writer thread.

    Rows handed to `write()` are durable within `flush_interval_s`; see writer.py.
    Raises ConfigError when the location cannot be opened.
    """
    return LedgerWriter(_open_store(url_or_path, create=True), flush_interval_s, **kwargs)


def open_reader(url_or_path: str, *, create: bool = False) -> LedgerReader:
    """Open an existing ledger for reading (ConfigError if there is none)."""
    return LedgerReader(_open_store(url_or_path, create=create))


class LedgerReader:
    """Read side of the ledger: rows in a time window, one trace, price rewrites, and the SELECTs
    query.py writes in this ledger's `dialect` ("sqlite" or "postgresql")."""

    def __init__(self, store, rollup_reader: LedgerReader | None = None):
        self._store = store
        self.location = store.location
        self.dialect: str = store.dialect
        # whose per-day rollup answers the questions it holds (aggregation.py): SQLite's, itself unless this
        # reads a columnar copy of its calls (columnar.py)
        self.rollup_reader: LedgerReader = rollup_reader or self

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple]:
        """The records of one SELECT, streamed (query.py's: parameterised, never formatted)."""
        return self._store.fetch(sql, params)

    def rows(self, since_ns: int | None = None, until_ns: int | None = None) -> Iterator[LedgerRow]:
        """Calls that started in [since_ns, until_ns), oldest first, streamed."""
        return self._store.select(since_ns, until_ns)

    def trace(self, trace_id: str) -> list[LedgerRow]:
        return list(self._store.select(trace_id=trace_id.lower()))

    def update_prices(self, rows: list[LedgerRow]) -> None:
        """Rewrite the cost columns, price_source and status of stored calls (reprice --apply)."""
        if rows:
            self._store.update_prices(rows)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> LedgerReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
