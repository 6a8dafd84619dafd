"""The ledger in PostgreSQL, for several costline replicas writing one ledger.

psycopg 3. Money is NUMERIC, tags JSONB. `ON CONFLICT DO NOTHING` on the primary key
(trace_id, span_id) makes replicas and replays safe: the first write of a call wins.
Schema creation takes an advisory lock so replicas starting together do not race.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from costline_processor.config import ConfigError
from costline_processor.ledger import schema
from costline_processor.records import LedgerRow

_COLUMNS = schema.insert_columns("postgresql")
_PLACEHOLDERS = ", ".join("%s" for _ in _COLUMNS)
_INSERT = (
    f"INSERT INTO {schema.TABLE} ({', '.join(_COLUMNS)}) VALUES ({_PLACEHOLDERS}) "
    "ON CONFLICT (trace_id, span_id) DO NOTHING"
)
_SELECT = f"SELECT {', '.join(schema.COLUMN_NAMES)} FROM {schema.TABLE}"
_UPDATE = (
    f"UPDATE {schema.TABLE} SET {', '.join(f'{c} = %s' for c in schema.PRICE_COLUMNS)} "
    "WHERE trace_id = %s AND span_id = %s"
)
_VERSION = "SELECT value FROM costline_meta WHERE key='schema_version'"
_SCHEMA_LOCK = 0x636F73746C696E65  # "costline"


class PostgresStore:
    dialect = "postgresql"

    def __init__(self, url: str, *, create: bool):
        try:
            import psycopg
        except ImportError:
            raise ConfigError("a postgresql:// ledger needs psycopg: pip install 'psycopg[binary]'") from None
        self.location = _redact(url)
        self._url = url
        self._psycopg = psycopg
        try:
            self._conn = psycopg.connect(url, autocommit=False, connect_timeout=10)
        except psycopg.Error as e:
            raise ConfigError(f"cannot connect to ledger {self.location}: {str(e).strip().splitlines()[0]}") from None
        self._ensure_schema(create)

    def _ensure_schema(self, create: bool) -> None:
        with self._conn.transaction():
            if create:
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                for stmt in schema.create_statements("postgresql"):
                    self._conn.execute(stmt)
                self._conn.execute(
                    "INSERT INTO costline_meta (key, value) VALUES ('schema_version', %s) ON CONFLICT DO NOTHING",
                    (schema.SCHEMA_VERSION,),
                )
            have = self._scalar("SELECT to_regclass('costline_meta')")
            if have is None:
                raise ConfigError(f"{self.location} holds no costline ledger")
            version = self._scalar(_VERSION)
            steps = schema.migrations(version, "postgresql")
            if steps:  # an older ledger: add the columns it lacks (the lock keeps replicas from racing)
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                version = self._scalar(_VERSION)
                for stmt in schema.migrations(version, "postgresql") or ():
                    self._conn.execute(stmt)
                version = schema.SCHEMA_VERSION
            elif create and steps == []:
                for stmt in schema.index_statements("postgresql"):
                    self._conn.execute(stmt)
        if schema.migrations(version, "postgresql") != []:
            raise ConfigError(
                f"ledger {self.location} has schema version {version}; this costline reads {schema.SCHEMA_VERSION}"
            )

    def _scalar(self, query: str) -> Any:
        """The one value a one-row query returns (each query here returns exactly one row)."""
        row = self._conn.execute(query).fetchone()
        if row is None:
            raise ConfigError(f"ledger {self.location}: no row for {query!r}")
        return row[0]

    def insert(self, rows: list[LedgerRow], recorded_unix_nano: int) -> None:
        params = [schema.to_params(r, recorded_unix_nano, "postgresql") for r in rows]
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                cur.executemany(_INSERT, params)
        except self._psycopg.OperationalError:
            self._reconnect_if_broken()
            raise

    def select(
        self, since_ns: int | None = None, until_ns: int | None = None, trace_id: str | None = None
    ) -> Iterator[LedgerRow]:
        where, params = _where(since_ns, until_ns, trace_id)
        with self._conn.transaction(), self._conn.cursor(name="costline_select") as cur:
            cur.itersize = 5000
            cur.execute(f"{_SELECT}{where} ORDER BY start_unix_nano, trace_id, span_id", params)
            for record in cur:
                yield schema.from_record(record)

    def fetch(self, sql: str, params: Sequence[Any]) -> Iterator[tuple]:
        """Records of one SELECT (query.py's). A client-side cursor: the answers are groups, not calls,
        and a plain query may run in parallel where a server-side cursor would not."""
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute(sql, params)
            yield from cur

    def update_prices(self, rows: list[LedgerRow]) -> None:
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.executemany(_UPDATE, [schema.price_params(r, "postgresql") for r in rows])

    def _reconnect_if_broken(self) -> None:
        if self._conn.closed or self._conn.broken:
            with contextlib.suppress(self._psycopg.Error):  # the writer retries the batch later
                self._conn = self._psycopg.connect(self._url, autocommit=False, connect_timeout=10)

    def close(self) -> None:
        self._conn.close()


def _where(since_ns: int | None, until_ns: int | None, trace_id: str | None) -> tuple[str, list]:
    clauses: list[str] = []
    params: list[int | str] = []
    if since_ns is not None:
        clauses.append("start_unix_nano >= %s")
        params.append(since_ns)
    if until_ns is not None:
        clauses.append("start_unix_nano < %s")
        params.append(until_ns)
    if trace_id is not None:
        clauses.append("trace_id = %s")
        params.append(trace_id)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if at and ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{creds}{at}{host}"
