"""SQLite's per-day rollup (ledger/rollup.py): the answers it gives are the calls' own, to the femto-dollar.

Each test writes calls through the real writer (duplicates, repriced and deleted calls included) and
holds the reports that read the rollup to sums this file computes from the rows, and the rollup
itself to what adding up the calls afresh gives.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import replace
from decimal import Decimal as D

import pytest

from costline_processor.ledger import (
    aggregation,
    dimensions,
    explanation,
    open_ledger,
    open_reader,
    query,
    rollup,
    schema,
)
from costline_processor.ledger.filters import parse_where
from costline_processor.ledger.schema import TOKEN_FIELDS
from tests.ledger.factory import DAY_NS, make_row, ts

START = ts("2026-03-01T00:00")
MODELS = ("gpt-4o", "gpt-4o-mini", None)
COSTS = ("0.25", "0.0003", "1.5", None, "0.1234567890123456789", "-0.02")  # None: unpriced; 19 digits: no femto count


def _rows(n: int = 400, seed: int = 3) -> list:
    r = random.Random(seed)
    rows = []
    for i in range(n):
        tags = {"user_id": f"u{r.randrange(50)}"}
        for tag, values in (
            ("feature", ("chat", "search", "", "untagged", None)),
            ("customer_id", ("acme", "", "untagged", "n/a", None)),
        ):
            value = r.choice(values)
            if value is not None:
                tags[tag] = value
        at = START + r.randrange(6 * DAY_NS)
        row = make_row(
            r.choice(COSTS),
            tags=tags,
            model=r.choice(MODELS),
            tokens=(r.randrange(1000), r.randrange(200), r.randrange(100), r.randrange(10), r.randrange(5)),
            split=None,
        )
        rows.append(replace(row, start_unix_nano=at, end_unix_nano=at + 1, price_caveat=r.choice((None, None, "tier"))))
    return rows


@pytest.fixture
def ledger(sqlite_path):
    """A ledger written by the writer in several batches, some calls written twice, some repriced, one deleted:
    (its path, the calls it holds)."""
    rows = _rows()
    w = open_ledger(sqlite_path, flush_interval_s=0.05, batch_rows=64)
    w.write(rows[:300])
    w.flush()
    w.write(rows[250:])  # 50 calls again: ignored, and not counted again
    w.close(10)
    repriced = [replace(row, cost_usd=D("0.75"), input_usd=D("0.5"), status=None) for row in rows[::7]]
    with open_reader(sqlite_path) as r:
        r.update_prices(repriced)
    held = {row.span_id: row for row in rows}
    held.update({row.span_id: row for row in repriced})
    gone = rows[5]
    conn = sqlite3.connect(sqlite_path)
    conn.execute("DELETE FROM costline_calls WHERE span_id = ?", (gone.span_id,))
    conn.commit()
    del held[gone.span_id]
    return sqlite_path, list(held.values())


def _expected(rows, dims, since, until, where=(), untagged="untagged", required=()):
    """{key: (calls, unpriced, tokens, cost)} and the untagged bucket's (calls, cost), from the rows."""
    filters = parse_where(list(where))
    groups: dict[tuple, list] = {}
    bucket = [0, D(0)]
    for row in rows:
        if not since <= row.start_unix_nano < until:
            continue
        if any((dimensions.value(row, f.dim, untagged) in f.values) == f.exclude for f in filters):
            continue
        g = groups.setdefault(dimensions.key(row, list(dims), untagged), [0, 0, [0] * 5, D(0)])
        g[0] += 1
        g[1] += row.cost_usd is None
        g[2] = [a + getattr(row, f) for a, f in zip(g[2], TOKEN_FIELDS)]
        g[3] += row.cost_usd or 0
        if any(dimensions.value(row, t, untagged) == untagged for t in required):
            bucket = [bucket[0] + 1, bucket[1] + (row.cost_usd or 0)]
    return {k: (g[0], g[1], g[2], g[3]) for k, g in groups.items()}, tuple(bucket)


QUESTIONS = [
    (("feature",), ("feature", "customer_id"), (), "untagged"),
    (("model", "day"), ("feature",), (), "untagged"),
    (("month",), (), ("feature=chat",), "untagged"),
    (("week", "caveat"), (), ("model!=gpt-4o",), "untagged"),
    (("feature",), ("customer_id",), (), "n/a"),  # another untagged label: the calls are read
]


@pytest.mark.parametrize("dims, required, where, untagged", QUESTIONS)
@pytest.mark.parametrize(
    "since, until", [("2026-03-01T00:00", "2026-03-07T00:00"), ("2026-03-01T13:30", "2026-03-05T07:10")]
)
def test_reports_from_the_rollup_are_the_calls_sums(ledger, dims, required, where, untagged, since, until, monkeypatch):
    path, rows = ledger
    used = []
    real = aggregation._from_rollup
    monkeypatch.setattr(
        aggregation, "_from_rollup", lambda r, s, plan, d: used.append(plan.dims) or real(r, s, plan, d)
    )
    q = query.Question(dims, ts(since), ts(until), parse_where(list(where)), untagged, required=required)
    with open_reader(path) as r:
        answer = query.ask(r, q)
    want, bucket = _expected(rows, dims, ts(since), ts(until), where, untagged, required)
    got = {
        tuple(row[d] for d in dims): (
            row["calls"],
            row["unpriced_calls"],
            [row[f] for f in TOKEN_FIELDS],
            row["cost_usd"],
        )
        for row in answer.rows
    }
    assert got == want
    assert answer.total["cost_usd"] == sum((g[3] for g in want.values()), D(0))
    if required:
        assert (answer.total["untagged"]["calls"], answer.total["untagged"]["cost_usd"]) == bucket
    main = query._plan(q, untagged == "untagged" and bool(required)).dims  # the GROUP BY of the rows
    assert (main in used) == (untagged == "untagged" or "customer_id" not in required)


def test_the_rollup_holds_what_adding_up_the_calls_afresh_gives(ledger):
    path, rows = ledger
    conn = sqlite3.connect(path)
    order = ", ".join(c for c, _ in rollup.KEY)
    kept = conn.execute(f"SELECT * FROM {rollup.TABLE} WHERE calls != 0 ORDER BY {order}").fetchall()
    conn.execute(f"CREATE TEMP TABLE fresh AS SELECT * FROM {rollup.TABLE} WHERE 0")
    conn.execute(rollup.fill().replace(f"INSERT INTO {rollup.TABLE}", "INSERT INTO fresh"))
    assert kept == conn.execute(f"SELECT * FROM fresh ORDER BY {order}").fetchall()
    assert sum(k[len(rollup.KEY)] for k in kept) == len(rows)  # calls


def test_explain_reads_the_same_from_the_rollup_as_from_the_calls(ledger, monkeypatch):
    path, _ = ledger
    ask = explanation.Ask(
        ("feature",),
        explanation.Period(ts("2026-03-04T00:00"), ts("2026-03-07T00:00")),
        explanation.Period(ts("2026-03-01T00:00"), ts("2026-03-04T00:00")),
    )
    with open_reader(path) as r:
        fast = explanation.explain(r, ask).as_object()
        monkeypatch.setattr(rollup, "whole_days", lambda *a: None)
        slow = explanation.explain(r, ask).as_object()
    assert fast == slow


def test_a_version_5_ledger_is_given_its_rollup_in_place(ledger):
    path, rows = ledger
    conn = sqlite3.connect(path)
    order = ", ".join(c for c, _ in rollup.KEY)
    before = conn.execute(f"SELECT * FROM {rollup.TABLE} WHERE calls != 0 ORDER BY {order}").fetchall()
    for stmt in (f"DROP TABLE {rollup.TABLE}", *(f"DROP TRIGGER {rollup.TABLE}_{e}" for e in ("update", "delete"))):
        conn.execute(stmt)
    for column in schema.COLUMNS[len(schema.columns_of("6")) :]:  # version 7's and later
        conn.execute(f"ALTER TABLE {schema.TABLE} DROP COLUMN {column[0]}")
    conn.execute("UPDATE costline_meta SET value = '5' WHERE key = 'schema_version'")
    conn.commit()
    q = query.Question(("feature",), ts("2026-03-01T00:00"), ts("2026-03-07T00:00"))
    with open_reader(path) as r:  # a report opens it: upgraded
        answer = query.ask(r, q)
    assert conn.execute("SELECT value FROM costline_meta").fetchone() == (schema.SCHEMA_VERSION,)
    assert conn.execute(f"SELECT * FROM {rollup.TABLE} ORDER BY {order}").fetchall() == before
    want, _ = _expected(rows, ("feature",), ts("2026-03-01T00:00"), ts("2026-03-07T00:00"))
    assert {(row["feature"],): row["cost_usd"] for row in answer.rows} == {k: g[3] for k, g in want.items()}
    triggers = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert triggers == {
        f"{rollup.TABLE}_update",
        f"{rollup.TABLE}_delete",
        *(f"{schema.TABLE}_{e}" for e in ("rewritten", "removed")),
    }


def test_top_with_a_limit_reads_the_rollup_and_totals_every_group(ledger, monkeypatch):
    path, rows = ledger
    used = []
    real = aggregation._from_rollup
    monkeypatch.setattr(
        aggregation, "_from_rollup", lambda r, s, plan, d: used.append(plan.limit) or real(r, s, plan, d)
    )
    since, until = ts("2026-03-01T06:00"), ts("2026-03-06T18:00")
    with open_reader(path) as r:
        answer = query.ask(r, query.Question(("model",), since, until, limit=1))
    want, _ = _expected(rows, ("model",), since, until)
    top = max(want, key=lambda k: want[k][3])
    assert [(row["model"],) for row in answer.rows] == [top] and answer.rows[0]["cost_usd"] == want[top][3]
    assert answer.total["calls"] == sum(g[0] for g in want.values())
    assert answer.total["cost_usd"] == sum((g[3] for g in want.values()), D(0))
    assert 1 in used


def _behind(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(rollup.BEHIND).fetchone()[0]
    finally:
        conn.close()


def test_calls_an_older_writer_adds_are_never_missed(ledger, caplog):
    """A schema 5 costline still writing to a ledger a newer one upgraded inserts calls without adding them
    to the rollup: reports see the rollup is behind and read the calls (saying so once), and the next writer
    to open the ledger adds the rollup up again."""
    path, rows = ledger
    assert not _behind(path)  # the writer's own batches (duplicates, a reprice and a delete) keep it whole
    late = [
        replace(row, start_unix_nano=START + 2 * DAY_NS + 7, end_unix_nano=START + 2 * DAY_NS + 8)
        for row in _rows(5, seed=11)
    ]
    cols = schema.insert_columns("sqlite")
    conn = sqlite3.connect(path)
    with conn:  # as the older writer did: the calls alone
        conn.executemany(
            f"INSERT INTO {schema.TABLE} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
            [schema.to_params(r, 1, "sqlite") for r in late],
        )
    conn.close()
    assert _behind(path)
    q = query.Question(("feature",), ts("2026-03-01T00:00"), ts("2026-03-07T00:00"))
    want, _ = _expected(rows + late, ("feature",), ts("2026-03-01T00:00"), ts("2026-03-07T00:00"))
    with caplog.at_level("WARNING", logger="costline"):
        for _ in range(2):
            with open_reader(path) as r:
                answer = query.ask(r, q)
            assert {(row["feature"],): row["cost_usd"] for row in answer.rows} == {k: g[3] for k, g in want.items()}
    assert sum("rollup misses calls" in m for m in caplog.messages) == 1
    open_ledger(path).close(10)  # a writer opens it: the rollup is added up again, and marked whole
    assert not _behind(path)
    with open_reader(path) as r:
        assert query.ask(r, q).rows == answer.rows
