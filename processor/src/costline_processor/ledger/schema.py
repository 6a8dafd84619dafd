"""The ledger table: one row per model call, the same columns in SQLite and PostgreSQL.

Pure: column names, DDL and the conversions between `LedgerRow` and a database tuple.
Money is exact in both engines: NUMERIC in PostgreSQL, a decimal string in SQLite
(declared TEXT so SQLite never turns it into a float; sums happen in Python with
Decimal). The primary key (trace_id, span_id) makes a re-delivered span a no-op.

Versions: `costline_meta.schema_version` names the columns a ledger has. A ledger of an
older version is brought up to this one when it is opened (`migrations`: columns are
only ever added, with defaults that say what the old rows knew: version 1 had no audio
counts, so 0, and no price caveats, so NULL; version 3 adds list_usd and skus, and the
old rows get list_usd = cost_usd: what they were billed is the only price they knew, so a
discount applied before version 3 never shows in ListCost). A ledger of an unknown (newer)
version is refused.

skus is a call's cost by token type (sku_cost.py) as JSON text, [[sku, quantity, billed,
list], ...] with money as decimal strings, or NULL where the four components are the SKUs.

Version 4 is for reports that add up in the database (query.py). SQLite cannot sum decimal
strings exactly, so a SQLite ledger also keeps each cost as an integer count of femto-dollars
(`cost_femto`, 10**-15 USD: exact for every price per million tokens with up to nine decimals,
up to $9,223 per call); a cost that does not fit keeps NULL there and is summed from its
decimal string instead (the partial index `_inexact` finds those few rows). PostgreSQL sums
its NUMERIC column exactly and needs no copy. Both get a partial index on the calls with a
price caveat, which every report footer looks up. Migrating a version 3 SQLite ledger fills
`cost_femto` in place (one UPDATE; about a minute per ten million calls).

Version 5 adds `shares`: for a call whose tag names several owners (costline_processor/shares.py),
each such tag's owners with their bounds, {tag: {owner: [low, high, total]}} as JSON (JSONB in
PostgreSQL), so SQL can split the call among them (ledger/shared_calls.py); NULL for every other
call, and for every call written before version 5 (none could name several owners). A partial
index on start time finds the calls that have it.

Version 6, SQLite only: `costline_daily`, each UTC day's sums by call fields and tag shape, kept by
triggers in the transaction that writes the calls (rollup.py), so that a report by feature, model or
day over 10M calls reads thousands of rows, not millions. Upgrading a version 5 ledger fills it from
the calls in place (one GROUP BY over every call, in the upgrade's transaction). PostgreSQL: no change.

Version 7 keeps what `costline reprice` needs to price a call again as it was billed: its service `tier`
("batch" for a batch call, "flex", "priority"..., "" for the standard one) and its 1-hour cache writes
(`cache_write_1h_tokens`, a subset of cache_write_tokens). An older call's tier is filled where its price
caveat names one and is NULL otherwise (not recorded: reprice keeps such a call's cost unless told to
assume the standard tier); its 1-hour writes come from its SKUs, which list them since version 3.

Version 8 keeps the web searches the provider ran for a call (`web_searches`, billed per search on
top of the tokens) and its image subsets (`image_input_tokens`, `image_output_tokens`,
`image_cache_read_tokens`, billed at image rates like the audio ones), so that reprice bills them
again. Calls written before it have 0: costline did not read them then, and their costs do not
include them.

Version 9 keeps the file searches (`file_searches`: OpenAI's file_search tool over a vector store,
billed per search like web searches), for the same reason; 0 for the calls written before it.

Version 10 keeps the searches by OpenAI's web_search_preview tool (`preview_web_searches`, not in
`web_searches`: $25 per 1,000 on gpt-4o and gpt-4.1, search_rules.py), for the same reason; 0 for the
calls written before it, whose preview searches were counted as web searches and are billed so again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from decimal import Context, Decimal, Inexact, InvalidOperation, Rounded
from typing import Any

from costline_processor import price_caveats
from costline_processor.ledger import rollup
from costline_processor.records import LedgerRow
from costline_processor.shares import column as shares_column

SCHEMA_VERSION = "10"
TABLE = "costline_calls"

TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
AUDIO_FIELDS = ("audio_input_tokens", "audio_output_tokens", "audio_cache_read_tokens")  # subsets, since version 2
IMAGE_FIELDS = ("image_input_tokens", "image_output_tokens", "image_cache_read_tokens")  # subsets, since version 8
MONEY_FIELDS = ("cost_usd", "input_usd", "output_usd", "cache_read_usd", "cache_write_usd")

# (column, SQLite type, PostgreSQL type); order is the tuple order everywhere.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("trace_id", "TEXT NOT NULL", "TEXT NOT NULL"),
    ("span_id", "TEXT NOT NULL", "TEXT NOT NULL"),
    ("call_id", "TEXT NOT NULL", "TEXT NOT NULL"),
    ("parent_span_id", "TEXT NOT NULL", "TEXT NOT NULL"),
    ("start_unix_nano", "INTEGER NOT NULL", "BIGINT NOT NULL"),
    ("end_unix_nano", "INTEGER NOT NULL", "BIGINT NOT NULL"),
    ("service", "TEXT NOT NULL", "TEXT NOT NULL"),
    ("span_name", "TEXT NOT NULL", "TEXT NOT NULL"),
    ("tags", "TEXT NOT NULL", "JSONB NOT NULL"),
    ("agent_path", "TEXT NOT NULL", "TEXT NOT NULL"),
    ("operation", "TEXT", "TEXT"),
    ("provider", "TEXT", "TEXT"),
    ("model", "TEXT", "TEXT"),
    ("request_model", "TEXT", "TEXT"),
    *((f, "INTEGER NOT NULL", "BIGINT NOT NULL") for f in TOKEN_FIELDS),
    *((f, "TEXT", "NUMERIC") for f in MONEY_FIELDS),
    ("price_source", "TEXT", "TEXT"),
    ("status", "TEXT", "TEXT"),
    ("recorded_unix_nano", "INTEGER NOT NULL", "BIGINT NOT NULL"),
    # version 2
    *((f, "INTEGER NOT NULL DEFAULT 0", "BIGINT NOT NULL DEFAULT 0") for f in AUDIO_FIELDS),
    ("price_caveat", "TEXT", "TEXT"),
    # version 3
    ("list_usd", "TEXT", "NUMERIC"),
    ("skus", "TEXT", "TEXT"),
    # version 7
    ("tier", "TEXT", "TEXT"),
    ("cache_write_1h_tokens", "INTEGER NOT NULL DEFAULT 0", "BIGINT NOT NULL DEFAULT 0"),
    # version 8
    ("web_searches", "INTEGER NOT NULL DEFAULT 0", "BIGINT NOT NULL DEFAULT 0"),
    *((f, "INTEGER NOT NULL DEFAULT 0", "BIGINT NOT NULL DEFAULT 0") for f in IMAGE_FIELDS),
    # version 9
    ("file_searches", "INTEGER NOT NULL DEFAULT 0", "BIGINT NOT NULL DEFAULT 0"),
    # version 10
    ("preview_web_searches", "INTEGER NOT NULL DEFAULT 0", "BIGINT NOT NULL DEFAULT 0"),
)
COLUMN_NAMES = tuple(c[0] for c in COLUMNS)
# Version 4, SQLite only: cost_usd as an integer count of femto-dollars, when exact (see `femto`).
FEMTO_COLUMN = ("cost_femto", "INTEGER")
# Version 5: a call's tags with several owners, and their bounds (shares.py); written, never read into a LedgerRow.
SHARES_COLUMN = ("shares", "TEXT", "JSONB")
FEMTO_EXPONENT = 15
_INT64 = 2**63
_EXACT = Context(prec=64, traps=[Inexact, Rounded, InvalidOperation])  # scaleb raises rather than round
# Columns `reprice --apply` rewrites.
PRICE_COLUMNS = (*MONEY_FIELDS, "price_source", "status", "price_caveat", "list_usd", "skus")
# Columns each version added, in order: what `migrations` adds to a ledger of an older version.
_ADDED_IN = {
    "2": (*AUDIO_FIELDS, "price_caveat"),
    "3": ("list_usd", "skus"),
    "4": (),
    "5": (),
    "6": (),
    "7": ("tier", "cache_write_1h_tokens"),
    "8": ("web_searches", *IMAGE_FIELDS),
    "9": ("file_searches",),
    "10": ("preview_web_searches",),
}
# What each version's new columns hold for the rows already there, when NULL would not say it,
# by dialect ("" for both). FEMTO_FUNCTION is `femto`, registered on every SQLite connection.
FEMTO_FUNCTION = "costline_femto"
CAVEAT_TIER_FUNCTION = "costline_caveat_tier"  # price_caveats.tier_named, registered on every SQLite connection too
_TIER_CAVEATS = f"(price_caveat LIKE '%{price_caveats.BY_RULE}%' OR price_caveat LIKE '%{price_caveats.UNPRICED}%')"
_HAS_1H = """skus LIKE '%"cache_write_1h"%'"""
_FILLED_IN: dict[str, tuple[tuple[str, str], ...]] = {
    "3": (("", f"UPDATE {TABLE} SET list_usd = cost_usd"),),
    "4": (
        ("sqlite", f"ALTER TABLE {TABLE} ADD COLUMN {FEMTO_COLUMN[0]} {FEMTO_COLUMN[1]}"),
        ("sqlite", f"UPDATE {TABLE} SET cost_femto = {FEMTO_FUNCTION}(cost_usd) WHERE cost_usd IS NOT NULL"),
    ),
    "5": (
        ("sqlite", f"ALTER TABLE {TABLE} ADD COLUMN {SHARES_COLUMN[0]} {SHARES_COLUMN[1]}"),
        ("postgresql", f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS {SHARES_COLUMN[0]} {SHARES_COLUMN[2]}"),
    ),
    # the rollup's table, its sums and its mark (the triggers follow, in index_statements)
    "6": (("sqlite", rollup.statements()[0]), ("sqlite", rollup.fill()), ("sqlite", rollup.MARK_ALL)),
    # a call's tier where its caveat names it (priced by a tier's rule); every other old call's stays NULL:
    # not recorded. Its 1-hour cache writes where its SKUs count them (every call that had any, since version 3).
    "7": (
        ("sqlite", f"UPDATE {TABLE} SET tier = {CAVEAT_TIER_FUNCTION}(price_caveat) WHERE {_TIER_CAVEATS}"),
        (
            "postgresql",
            f"UPDATE {TABLE} SET tier = substring(price_caveat from 'tier_(?:by_rule|unpriced):([^,]+)') "
            f"WHERE {_TIER_CAVEATS}",
        ),
        (
            "sqlite",
            f"UPDATE {TABLE} SET cache_write_1h_tokens = (SELECT json_extract(value, '$[1]') FROM "
            f"json_each(skus) WHERE json_extract(value, '$[0]') = 'cache_write_1h') WHERE {_HAS_1H}",
        ),
        (
            "postgresql",
            f"UPDATE {TABLE} SET cache_write_1h_tokens = (SELECT (e ->> 1)::bigint FROM "
            f"jsonb_array_elements(skus::jsonb) AS e WHERE e ->> 0 = 'cache_write_1h') WHERE {_HAS_1H}",
        ),
    ),
}


# A SQLite ledger's count of rewritten calls (`costline_meta` key `rewrites`), moved by any UPDATE or DELETE of a
# call, whoever runs it: the page's columnar copy (columnar.py) loads again when it moves. Not a schema version: a
# ledger without it gets it from the next writer or page to open it (index_statements, columnar.py).
_BUMP = "UPDATE costline_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'rewrites'"
REWRITE_STATEMENTS = (
    "INSERT OR IGNORE INTO costline_meta (key, value) VALUES ('rewrites', '0')",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_rewritten AFTER UPDATE ON {TABLE} BEGIN {_BUMP}; END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_removed AFTER DELETE ON {TABLE} BEGIN {_BUMP}; END",
)


def columns_of(version: str) -> tuple[tuple[str, str, str], ...]:
    """COLUMNS as a ledger of schema `version` has them (tests write older ledgers with it)."""
    later = {c for v, added in _ADDED_IN.items() if int(v) > int(version) for c in added}
    return tuple(c for c in COLUMNS if c[0] not in later)


def migrations(version: str, dialect: str) -> list[str] | None:
    """Statements that bring a ledger of schema `version` to SCHEMA_VERSION (the last one records the new
    version), or None when `version` is not one this costline can migrate."""
    if version == SCHEMA_VERSION:
        return []
    if not version.isdigit() or not 1 <= int(version) < int(SCHEMA_VERSION):
        return None
    idx = 1 if dialect == "sqlite" else 2
    types = {c[0]: c[idx] for c in COLUMNS}
    guard = "" if dialect == "sqlite" else "IF NOT EXISTS "
    stmts = []
    for v in range(int(version) + 1, int(SCHEMA_VERSION) + 1):
        stmts += [f"ALTER TABLE {TABLE} ADD COLUMN {guard}{name} {types[name]}" for name in _ADDED_IN[str(v)]]
        stmts += [stmt for only, stmt in _FILLED_IN.get(str(v), ()) if only in ("", dialect)]
    stmts += index_statements(dialect)
    return [*stmts, f"UPDATE costline_meta SET value = '{SCHEMA_VERSION}' WHERE key = 'schema_version'"]


def create_statements(dialect: str) -> list[str]:
    """DDL for `dialect` ("sqlite" or "postgresql"); every statement is idempotent, and valid on a
    ledger of any version (so serve can run them before `migrations`; `index_statements` after)."""
    idx = 1 if dialect == "sqlite" else 2
    columns = [(c[0], c[idx]) for c in COLUMNS] + [(SHARES_COLUMN[0], SHARES_COLUMN[idx])]
    columns += [FEMTO_COLUMN] if dialect == "sqlite" else []
    cols = ",\n  ".join(f"{name} {kind}" for name, kind in columns)
    return [
        f"CREATE TABLE IF NOT EXISTS {TABLE} (\n  {cols},\n  PRIMARY KEY (trace_id, span_id)\n)",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_start ON {TABLE} (start_unix_nano)",
        "CREATE TABLE IF NOT EXISTS costline_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ]


def index_statements(dialect: str) -> list[str]:
    """Version 4's indexes, beside the one on start time (every report's window): the calls with a price
    caveat (every report's footer) and, in SQLite, the calls whose cost has no femto count (summed apart);
    version 5's: the calls with several owners of a tag (split apart); version 6's per-day rollup and its
    triggers, in SQLite."""
    out = [
        f"CREATE INDEX IF NOT EXISTS {TABLE}_caveat ON {TABLE} (start_unix_nano) WHERE price_caveat IS NOT NULL",
        f"CREATE INDEX IF NOT EXISTS {TABLE}_shared ON {TABLE} (start_unix_nano) WHERE shares IS NOT NULL",
    ]
    if dialect == "sqlite":
        out.append(
            f"CREATE INDEX IF NOT EXISTS {TABLE}_inexact ON {TABLE} (start_unix_nano) "
            "WHERE cost_femto IS NULL AND cost_usd IS NOT NULL"
        )
        out += rollup.statements()
        out += REWRITE_STATEMENTS
    return out


def insert_columns(dialect: str) -> tuple[str, ...]:
    """The columns an INSERT names, in `to_params` order."""
    return (*COLUMN_NAMES, SHARES_COLUMN[0], *((FEMTO_COLUMN[0],) if dialect == "sqlite" else ()))


def femto(value: Decimal | str | None) -> int | None:
    """A cost as an integer count of 10**-15 USD, or None when it has no exact one in 64 bits."""
    if value is None:
        return None
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    if not d.is_finite():
        return None
    try:
        n = d.scaleb(FEMTO_EXPONENT, _EXACT)
    except ArithmeticError:  # more digits than _EXACT holds: not a count anyone could sum exactly anyway
        return None
    if n != n.to_integral_value():
        return None
    count = int(n)
    return count if -_INT64 <= count < _INT64 else None


def from_femto(n: int) -> Decimal:
    """The exact Decimal of a femto-dollar count."""
    return Decimal(f"{n}E-{FEMTO_EXPONENT}")


def call_id(trace_id: str, span_id: str) -> str:
    """A call's id: stable across replays, so it can never name two rows."""
    return f"{trace_id}-{span_id}"


def to_params(row: LedgerRow, recorded_unix_nano: int, dialect: str) -> tuple[Any, ...]:
    """A LedgerRow as a tuple in `insert_columns(dialect)` order, ready for an INSERT. A NUL character in any
    text (a tag, a model or service name: whatever a span sent) is stored as U+FFFD, in either database:
    PostgreSQL's TEXT and JSONB cannot hold it, and refused the whole batch, again at every retry, so one
    such span stopped a PostgreSQL ledger (SQLite kept it); both now hold the same calls."""
    tags = json.dumps(dict(sorted(row.tags.items())), separators=(",", ":"))
    r = row  # one look at all the text: a NUL is in none of it but from a hostile or broken sender
    text = f"{r.trace_id}{r.span_id}{r.parent_span_id}{r.service}{r.span_name}{r.agent_path}{r.operation}{r.provider}"
    text += f"{r.model}{r.request_model}{r.price_source}{r.status}{r.price_caveat}{r.tier}"
    if _NUL in text or _JSON_NUL in tags:
        row = _without_nul(row)
        tags = json.dumps(dict(sorted(row.tags.items())), separators=(",", ":"))
    return _params(row, recorded_unix_nano, dialect, tags)


_NUL, _NOT_NUL, _JSON_NUL = "\x00", "\ufffd", "\\u0000"  # JSON escapes a NUL


def _without_nul(row: LedgerRow) -> LedgerRow:
    """`row` with every NUL character of its text replaced by U+FFFD."""
    text: dict[str, Any] = {f: v.replace(_NUL, _NOT_NUL) for f in _TEXT_FIELDS if isinstance(v := getattr(row, f), str)}
    tags = {k.replace(_NUL, _NOT_NUL): v.replace(_NUL, _NOT_NUL) for k, v in row.tags.items()}
    return replace(row, tags=tags, **text)


_TEXT_FIELDS = (
    "trace_id", "span_id", "parent_span_id", "service", "span_name", "agent_path", "operation", "provider", "model",
    "request_model", "price_source", "status", "price_caveat", "tier",
)  # fmt: skip


def _params(row: LedgerRow, recorded_unix_nano: int, dialect: str, tags: str) -> tuple[Any, ...]:
    money = [_money_param(getattr(row, f), dialect) for f in MONEY_FIELDS]
    return (
        row.trace_id,
        row.span_id,
        call_id(row.trace_id, row.span_id),
        row.parent_span_id or "",
        int(row.start_unix_nano),
        int(row.end_unix_nano),
        row.service,
        row.span_name,
        tags,
        row.agent_path,
        row.operation,
        row.provider,
        row.model,
        row.request_model,
        *(int(getattr(row, f)) for f in TOKEN_FIELDS),
        *money,
        row.price_source,
        row.status,
        recorded_unix_nano,
        *(int(getattr(row, f)) for f in AUDIO_FIELDS),
        row.price_caveat,
        *_list_params(row, dialect),
        row.tier,
        int(row.cache_write_1h_tokens),
        int(row.web_searches),
        *(int(getattr(row, f)) for f in IMAGE_FIELDS),
        int(row.file_searches),
        int(row.preview_web_searches),
        shares_column(row.tags),
        *((femto(row.cost_usd),) if dialect == "sqlite" else ()),
    )


def from_record(record: Sequence[Any]) -> LedgerRow:
    """A database tuple in COLUMNS order back into a LedgerRow (exact Decimals, dict tags)."""
    values = dict(zip(COLUMN_NAMES, record))
    tags = values["tags"]
    if isinstance(tags, (str, bytes)):
        tags = json.loads(tags)
    # One mapping of the typed columns: LedgerRow takes them by name, whatever their type.
    counts: dict[str, Any] = {f: int(values[f]) for f in (*TOKEN_FIELDS, *AUDIO_FIELDS, *IMAGE_FIELDS)}
    money: dict[str, Any] = {f: _money_value(values[f]) for f in MONEY_FIELDS}
    return LedgerRow(
        trace_id=values["trace_id"],
        span_id=values["span_id"],
        parent_span_id=values["parent_span_id"],
        start_unix_nano=int(values["start_unix_nano"]),
        end_unix_nano=int(values["end_unix_nano"]),
        service=values["service"],
        span_name=values["span_name"],
        # in name order, as written (to_params): PostgreSQL's JSONB keeps its keys shortest first, and the order
        # of a call's tags is the order its shared tags split in (focus.py), whose rounding it moves
        tags={str(k): str(v) for k, v in sorted(tags.items())},
        agent_path=values["agent_path"],
        operation=values["operation"],
        provider=values["provider"],
        model=values["model"],
        request_model=values["request_model"],
        **counts,
        **money,
        price_source=values["price_source"],
        status=values["status"],
        price_caveat=values["price_caveat"],
        list_usd=_money_value(values["list_usd"]) if values["list_usd"] is not None else money["cost_usd"],
        skus=_skus_value(values["skus"]),
        tier=values["tier"],
        cache_write_1h_tokens=int(values["cache_write_1h_tokens"]),
        web_searches=int(values["web_searches"]),
        file_searches=int(values["file_searches"]),
        preview_web_searches=int(values["preview_web_searches"]),
    )


def price_params(row: LedgerRow, dialect: str) -> tuple[Any, ...]:
    """The PRICE_COLUMNS of `row`, then its key, for an UPDATE."""
    money = [_money_param(getattr(row, f), dialect) for f in MONEY_FIELDS]
    return (
        *money,
        row.price_source,
        row.status,
        row.price_caveat,
        *_list_params(row, dialect),
        row.trace_id,
        row.span_id,
    )


def _list_params(row: LedgerRow, dialect: str) -> tuple[Any, Any]:
    """list_usd and skus as stored: a priced row without a list price lists its cost."""
    listed = row.list_usd if row.list_usd is not None else row.cost_usd
    skus = (
        None
        if row.skus is None
        else json.dumps([[s, int(n), str(b), str(lp)] for s, n, b, lp in row.skus], separators=(",", ":"))
    )
    return _money_param(listed, dialect), skus


def _skus_value(value: Any) -> tuple | None:
    if value is None:
        return None
    items = json.loads(value) if isinstance(value, (str, bytes)) else value
    return tuple((str(s), int(n), Decimal(b), Decimal(lp)) for s, n, b, lp in items)


def _money_param(value: Decimal | None, dialect: str) -> Any:
    if value is None:
        return None
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    # SQLite keeps the exact decimal string; psycopg sends Decimal as NUMERIC.
    return str(value) if dialect == "sqlite" else value


def _money_value(value: Any) -> Decimal | None:
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))
