"""The ledger round-trips every field exactly, in SQLite and PostgreSQL alike."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from costline_processor.config import ConfigError
from costline_processor.ledger import DEFAULT_LEDGER, open_ledger, open_reader, resolve_location
from costline_processor.ledger.sqlite import PAGE_SIZE
from tests.ledger.factory import make_row, ts

ROOT = Path(__file__).resolve().parents[2]


def _write(url, rows, **kw):
    w = open_ledger(url, flush_interval_s=0.05, **kw)
    w.write(rows)
    w.close(10)
    return w


def test_round_trip_keeps_every_field_exact(ledger_url):
    rows = [
        make_row(
            "0.000123456789012345",
            tags={"feature": "chat", "customer_id": "acme"},
            agent_path="planner/search",
            tokens=(1200, 300, 1000, 100, 50),
            split=("0.0001", "0.000023456789012345", "0", "0"),
        ),
        make_row(None, tags={}, model="mystery-1", provider=None, status="unknown_model"),
    ]
    _write(ledger_url, rows)
    with open_reader(ledger_url) as r:
        got = list(r.rows())
    assert got == rows
    assert isinstance(got[0].cost_usd, Decimal) and got[0].cost_usd == Decimal("0.000123456789012345")
    assert got[1].cost_usd is None and got[1].status == "unknown_model"


def test_a_nul_in_any_text_is_stored_as_a_replacement_character(ledger_url):
    """A span may carry a NUL in an attribute (a tag, a model name). PostgreSQL's TEXT and JSONB cannot hold one:
    it refused the whole batch at every retry, so one such span stopped a PostgreSQL ledger, the other calls of
    its batch and every later one unrecorded, where SQLite kept them all. Either now stores U+FFFD for it."""
    bad = make_row("0.25", tags={"feature": "a\x00b", "team\x00": "x"}, model="gpt\x00", service="api\x00")
    bad.price_caveat, bad.span_name = "long_context\x00", "chat\x00"
    good = make_row("0.5", tags={"feature": "chat"})
    w = _write(ledger_url, [bad, good])
    assert w.dropped == 0
    with open_reader(ledger_url) as r:
        got = {x.span_id: x for x in r.rows()}
    assert got[good.span_id] == good
    fixed = got[bad.span_id]
    assert fixed.tags == {"feature": "a\ufffdb", "team\ufffd": "x"}
    assert (fixed.model, fixed.service, fixed.span_name, fixed.price_caveat) == (
        "gpt\ufffd",
        "api\ufffd",
        "chat\ufffd",
        "long_context\ufffd",
    )
    assert fixed.cost_usd == Decimal("0.25")


def test_redelivered_span_never_duplicates_and_first_write_wins(ledger_url):
    row = make_row("0.50", trace=7, span=9)
    again = replace(row, cost_usd=Decimal("9.99"))
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write([row])
    assert w.flush(10)
    w.write([again, row])
    w.close(10)
    with open_reader(ledger_url) as r:
        got = list(r.rows())
    assert len(got) == 1 and got[0].cost_usd == Decimal("0.50")


def test_time_window_is_half_open_and_trace_lookup(ledger_url):
    a = make_row(at="2026-03-01T00:00", trace="ab" * 16)
    b = make_row(at="2026-03-02T00:00", trace="ab" * 16)
    c = make_row(at="2026-03-03T00:00")
    _write(ledger_url, [c, a, b])
    with open_reader(ledger_url) as r:
        window = list(r.rows(ts("2026-03-01T00:00"), ts("2026-03-03T00:00")))
        assert [x.span_id for x in window] == [a.span_id, b.span_id]
        assert {x.span_id for x in r.trace("AB" * 16)} == {a.span_id, b.span_id}


def test_update_prices_rewrites_costs_only(ledger_url):
    row = make_row("1.00", tags={"feature": "x"})
    _write(ledger_url, [row])
    new = replace(row, cost_usd=Decimal("0.80"), input_usd=Decimal("0.80"), price_source="discount.yaml")
    with open_reader(ledger_url) as r:
        r.update_prices([new])
    with open_reader(ledger_url) as r:
        (got,) = list(r.rows())
    assert got == new


def test_rows_are_durable_within_the_flush_interval_without_close(ledger_url):
    w = open_ledger(ledger_url, flush_interval_s=0.2)
    try:
        w.write([make_row("0.25") for _ in range(3)])
        time.sleep(0.2 + 0.8)
        with open_reader(ledger_url) as r:  # a second connection, as `costline report` would be
            assert sum(x.cost_usd for x in r.rows()) == Decimal("0.75")
    finally:
        w.close(10)


def test_killed_process_keeps_rows_older_than_the_flush_interval(ledger_url, tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from costline_processor.ledger import open_ledger
        from tests.ledger.factory import make_row
        w = open_ledger({ledger_url!r}, flush_interval_s=0.2)
        w.write([make_row("0.10") for _ in range(50)])
        time.sleep(1.0)
        print("acked", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "acked"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    with open_reader(ledger_url) as r:
        rows = list(r.rows())
    assert len(rows) == 50 and sum(x.cost_usd for x in rows) == Decimal("5.00")


def test_reports_read_while_serve_writes_sqlite(sqlite_path):
    w = open_ledger(sqlite_path, flush_interval_s=0.02, batch_rows=10)
    try:
        reader = open_reader(sqlite_path)
        seen = 0
        for i in range(20):
            w.write([make_row("0.01") for _ in range(10)])
            seen = max(seen, sum(1 for _ in reader.rows()))
            time.sleep(0.01)
        assert w.flush(10)
        assert sum(1 for _ in reader.rows()) == 200
        reader.close()
    finally:
        w.close(10)


def test_a_new_ledger_has_16_kib_pages_and_an_old_one_keeps_its_own(tmp_path):
    """Reports scan pages: a new SQLite ledger has PAGE_SIZE ones. A ledger made with SQLite's default 4 KiB pages
    (before) keeps them and its calls: costline writes to it and reports on it as before, and never VACUUMs it."""
    import sqlite3

    new, old = str(tmp_path / "new.db"), str(tmp_path / "old.db")
    conn = sqlite3.connect(old)
    conn.execute("PRAGMA journal_mode = WAL")  # a 4 KiB ledger, as the writer made them before
    conn.close()
    for path, pages in ((new, PAGE_SIZE), (old, 4096)):
        w = open_ledger(path, flush_interval_s=0.02)
        w.write([make_row("0.01") for _ in range(30)])
        w.close(10)
        reader = open_reader(path)
        assert sum(1 for _ in reader.rows()) == 30
        reader.close()
        assert sqlite3.connect(path).execute("PRAGMA page_size").fetchone() == (pages,), path


class FlakyStore:
    dialect, location = "fake", "fake"

    def __init__(self, failures: int):
        self.failures, self.rows, self.closed = failures, [], 0

    def insert(self, rows, recorded_unix_nano):
        if self.failures:
            self.failures -= 1
            raise OSError("database is down")
        self.rows.extend(rows)

    def close(self):
        self.closed += 1


def test_a_refused_batch_is_retried_not_dropped():
    from costline_processor.ledger.writer import LedgerWriter

    store = FlakyStore(failures=3)
    w = LedgerWriter(store, flush_interval_s=0.01)
    rows = [make_row("0.01") for _ in range(5)]
    w.write(rows)
    assert w.flush(10)
    w.close(5)
    w.close(5)  # idempotent
    assert store.rows == rows and w.failures == 3 and w.dropped == 0 and store.closed == 1


def test_backlog_bound_and_writes_after_close_are_counted():
    from costline_processor.ledger.writer import LedgerWriter

    store = FlakyStore(failures=10**9)
    w = LedgerWriter(store, flush_interval_s=10, max_pending=4)
    w.write([make_row() for _ in range(6)])
    assert w.dropped == 2 and w.pending == 4
    w.close(0.5)
    w.write([make_row()])
    assert w.dropped == 3


def test_location_resolution_and_errors(tmp_path):
    assert resolve_location(None, None, {}) == DEFAULT_LEDGER
    assert resolve_location(None, None, {"COSTLINE_LEDGER": "/x.db"}) == "/x.db"
    assert resolve_location(None, "cfg.db", {"COSTLINE_LEDGER": "/x.db"}) == "cfg.db"
    assert resolve_location("flag.db", "cfg.db", {}) == "flag.db"
    with pytest.raises(ConfigError, match="no ledger at"):
        open_reader(str(tmp_path / "missing.db"))
    with pytest.raises(ConfigError, match="file path or a postgresql"):
        open_ledger("mysql://x/y")
    with pytest.raises(ConfigError, match="cannot connect"):
        open_reader("postgresql://nobody:secret@127.0.0.1:1/none")


def test_a_filter_naming_a_nul_finds_what_the_ledger_stored(ledger_url):
    """The page's ?where=customer_id=a%00b reached PostgreSQL with the NUL, which refused the query (HTTP 500; SQLite
    answered): a filter's NUL is U+FFFD, as the writer stores it, so it finds that call in either."""
    from costline_processor.ledger import query
    from costline_processor.ledger.filters import parse_where

    _write(ledger_url, [make_row("0.25", tags={"customer_id": "a\x00b"}), make_row("0.5", tags={"customer_id": "ab"})])
    with open_reader(ledger_url) as r:
        for where, cost in (("customer_id=a\x00b", Decimal("0.25")), ("customer_id!=a\x00b", Decimal("0.5"))):
            answer = query.ask(r, query.Question(filters=parse_where([where])))
            assert answer.total["cost_usd"] == cost
