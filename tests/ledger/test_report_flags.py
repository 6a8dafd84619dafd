"""The report commands' flags: typos refused in one line, calendar periods, sorting, and a version 3
ledger upgraded in place that answers as before. Expected numbers come from the rows written here."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal as D

import pytest

from costline_processor.cli import main
from costline_processor.ledger import open_ledger, open_reader, options, query, schema
from tests.ledger.factory import make_row, ts

NOW = ts("2026-03-10T12:00")  # a Tuesday
ROWS = [
    ("0.50", "2026-01-31T23:59", "chat", "acme"),
    ("1.25", "2026-02-01T00:00", "chat", "acme"),
    ("2.00", "2026-02-28T23:59", "search", "globex"),
    ("0.75", "2026-03-01T00:00", "search", "acme"),
    ("0.10", "2026-03-09T08:00", "chat", None),
    ("0.20", "2026-03-09T23:59", "chat", "globex"),
    ("4.00", "2026-03-10T09:00", "summarize", "acme"),
]


def cost(pred) -> D:
    return sum((D(c) for c, at, f, cu in ROWS if pred(at, f, cu)), D(0))


@pytest.fixture
def filled(ledger_url, monkeypatch):
    monkeypatch.setattr(options, "now_ns", lambda: NOW)
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write(
        [
            make_row(c, at=at, tags={k: v for k, v in (("feature", f), ("customer_id", cu)) if v})
            for c, at, f, cu in ROWS
        ]
    )
    w.close(10)
    return ledger_url


def report(capsys, url, *argv) -> list[dict]:
    assert main(["report", *argv, "--format", "json", "--ledger", url]) == 0
    return json.loads(capsys.readouterr().out, parse_float=D)


def total(rows: list[dict]) -> D:
    return sum((r["cost_usd"] for r in rows), D(0))


def test_calendar_periods(filled, capsys):
    assert total(report(capsys, filled, "--month", "2026-02")) == cost(lambda at, *_: at.startswith("2026-02"))
    assert total(report(capsys, filled, "--last-month")) == cost(lambda at, *_: at.startswith("2026-02"))
    assert total(report(capsys, filled, "--mtd")) == cost(lambda at, *_: at.startswith("2026-03"))
    assert total(report(capsys, filled, "--since", "yesterday")) == cost(lambda at, *_: at >= "2026-03-09")
    yesterday = report(capsys, filled, "--since", "yesterday", "--until", "today")
    assert total(yesterday) == cost(lambda at, *_: at.startswith("2026-03-09"))


def test_two_periods_at_once_is_one_clear_error(filled, capsys):
    for argv in (["--month", "2026-02", "--mtd"], ["--last-month", "--since", "7d"], ["--month", "2026-13"]):
        assert main(["report", *argv, "--ledger", filled]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("costline: "), err
    assert main(["report", "--month", "2026-02", "--mtd", "--ledger", filled]) == 2
    assert "one period at a time: --month or --mtd" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, named",
    [
        (["report", "--by", "customer"], "'customer'"),
        (["report", "--by", "feature,custmer_id"], "'custmer_id'"),
        (["report", "--where", "customer=acme"], "'customer'"),
        (["report", "--where", "team!=core"], "'team'"),
        (["top", "customer"], "'customer'"),
        (["top", "sessions"], "'session_id'"),
    ],
)
def test_a_tag_no_call_carries_is_refused_in_one_line(filled, capsys, argv, named):
    assert main([*argv, "--since", "2026-01-01", "--ledger", filled]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert named in line and "tags there: customer_id, feature;" in line and captured.out == ""


def test_sort_names_a_column_or_is_refused(filled, capsys):
    rows = report(capsys, filled, "--by", "customer_id", "--since", "2026-01-01", "--sort", "calls")
    assert [r["calls"] for r in rows] == sorted((r["calls"] for r in rows), reverse=True)
    rows = report(capsys, filled, "--by", "customer_id", "--since", "2026-01-01", "--sort", "customer_id")
    assert [r["customer_id"] for r in rows] == ["acme", "globex", "untagged"]
    assert main(["report", "--by", "feature", "--sort", "cst", "--ledger", filled]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "no column 'cst'" in line and "cost_usd" in line


def test_an_empty_period_is_an_empty_table(filled, capsys):
    assert main(["report", "--by", "customer", "--month", "2025-01", "--ledger", filled]) == 0
    assert "(no calls in this window)" in capsys.readouterr().out
    assert report(capsys, filled, "--month", "2025-01") == []


def test_a_version_3_ledger_is_upgraded_in_place_and_answers_the_same(ledger_url):
    rows = [make_row(c, at=at, tags={"feature": f} if f else {}) for c, at, f, _ in ROWS]
    rows.append(make_row("0.1234567890123456789", at="2026-03-02T10:00", tags={"feature": "chat"}))  # no femto count
    fresh = ledger_url + ("-fresh.db" if "://" not in ledger_url else "")
    if "://" in ledger_url:
        pytest.importorskip("psycopg")
    _write_version_3(ledger_url, rows)
    q = query.Question(dims=("feature",), since_ns=ts("2026-01-01T00:00"), until_ns=NOW)
    with open_reader(ledger_url) as r:  # a report opens it: migrated in place
        upgraded = query.ask(r, q)
    if "://" not in ledger_url:
        w = open_ledger(fresh, flush_interval_s=0.05)
        w.write(rows)
        w.close(10)
        with open_reader(fresh) as r:
            assert query.ask(r, q).rows == upgraded.rows
        conn = sqlite3.connect(ledger_url)
        assert conn.execute("SELECT value FROM costline_meta").fetchone() == (schema.SCHEMA_VERSION,)
        femto = dict(conn.execute("SELECT cost_usd, cost_femto FROM costline_calls").fetchall())
        assert femto["0.50"] == 500_000_000_000_000 and femto["0.1234567890123456789"] is None
        indexes = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"costline_calls_caveat", "costline_calls_inexact"} <= indexes
    else:
        import psycopg

        with psycopg.connect(ledger_url) as conn:
            assert conn.execute("SELECT value FROM costline_meta").fetchone() == (schema.SCHEMA_VERSION,)
            names = {n for (n,) in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'costline_calls'")}
            assert "costline_calls_caveat" in names
    want = {}
    for r in rows:
        want[r.tags.get("feature", "untagged")] = want.get(r.tags.get("feature", "untagged"), D(0)) + r.cost_usd
    assert {row["feature"]: row["cost_usd"] for row in upgraded.rows} == want


def _write_version_3(url: str, rows) -> None:
    """A ledger as costline wrote it before version 4: its DDL, its columns, version 3."""
    v3 = schema.columns_of("3")
    if "://" in url:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                f"CREATE TABLE {schema.TABLE} ({', '.join(f'{c[0]} {c[2]}' for c in v3)}, "
                "PRIMARY KEY (trace_id, span_id))"
            )
            conn.execute(f"CREATE INDEX {schema.TABLE}_start ON {schema.TABLE} (start_unix_nano)")
            conn.execute("CREATE TABLE costline_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            conn.execute("INSERT INTO costline_meta VALUES ('schema_version', '3')")
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {schema.TABLE} VALUES ({', '.join('%s' for _ in v3)})",
                    [schema.to_params(r, 1, "postgresql")[: len(v3)] for r in rows],
                )
        return
    conn = sqlite3.connect(url)
    conn.execute(
        f"CREATE TABLE {schema.TABLE} ({', '.join(f'{c[0]} {c[1]}' for c in v3)}, PRIMARY KEY (trace_id, span_id))"
    )
    conn.execute(f"CREATE INDEX {schema.TABLE}_start ON {schema.TABLE} (start_unix_nano)")
    conn.execute("CREATE TABLE costline_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO costline_meta VALUES ('schema_version', '3')")
    conn.executemany(
        f"INSERT INTO {schema.TABLE} VALUES ({', '.join('?' for _ in v3)})",
        [schema.to_params(r, 1, "sqlite")[: len(v3)] for r in rows],
    )
    conn.commit()
    conn.close()
