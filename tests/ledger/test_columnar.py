"""The page's columnar copy of a SQLite ledger (ledger/columnar.py) stays the ledger: new calls, rewrites, typing.

test_engines_agree.py holds that every question the copy answers is SQLite's answer, byte for byte; here,
that the copy holds the ledger as it is when a question begins: calls written since it loaded are in the
next answer, a rewritten call (reprice, a hand edit, a delete, by any costline or none) makes SQLite answer
until the copy has loaded again, and a load that cannot be made leaves SQLite answering, said once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import threading
import time
from dataclasses import replace
from decimal import Decimal as D

import duckdb
import pytest

from costline_processor.ledger import columnar, open_ledger, open_reader
from costline_processor.ledger.columnar import ColumnarCopy
from costline_processor.ledger.query import Question, ask
from tests.ledger.factory import make_row

BY_USER = Question(dims=("user_id",), limit=1000)


def write(path: str, rows) -> None:
    w = open_ledger(path, flush_interval_s=0.02)
    w.write(list(rows))
    w.close(10)
    assert w.dropped == 0


def calls(n: int, cost: str = "0.01", user: str = "u1", **kw):
    return [make_row(cost, tags={"user_id": user}, **kw) for _ in range(n)]


def by_user(reader) -> dict[str, tuple[int, D]]:
    return {r["user_id"]: (r["calls"], r["cost_usd"]) for r in ask(reader, BY_USER).rows}


def copy_reader(copy: ColumnarCopy, path: str):
    reader = copy.reader(open_reader(path))
    assert reader is not None and reader.dialect == "duckdb"
    return reader


def load_in_background(copy: ColumnarCopy) -> None:
    """The copy's first load, as `costline ui` starts it, waited for."""
    copy.start()
    copy._loading.join(30)  # type: ignore[union-attr]


def wait_ready(copy: ColumnarCopy, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not copy.ready:
        assert time.monotonic() < end, "the copy did not load again"
        time.sleep(0.02)


@pytest.fixture
def ledger(tmp_path):
    path = str(tmp_path / "a ledger?#é.db")  # a URI's special characters, and beyond ASCII
    write(path, calls(3, "0.25") + calls(2, "1.5", user="u2"))
    return path


@pytest.fixture
def copy(ledger):
    c = ColumnarCopy(ledger)
    c.load()
    yield c
    c.close()


def test_the_copy_answers_as_sqlite(copy, ledger):
    got = by_user(copy_reader(copy, ledger))
    assert got == {"u1": (3, D("0.75")), "u2": (2, D("3.0"))}
    assert got == by_user(open_reader(ledger))


def test_calls_written_after_the_load_are_in_the_next_answer(copy, ledger):
    write(ledger, calls(4, "0.125", user="u3"))
    assert by_user(copy_reader(copy, ledger))["u3"] == (4, D("0.5"))


def test_many_new_calls_load_in_the_background_while_sqlite_answers(copy, ledger, monkeypatch):
    monkeypatch.setattr(columnar, "APPEND_INLINE", 2)
    write(ledger, calls(3, "0.5", user="u4"))
    assert copy.reader(open_reader(ledger)) is None  # SQLite answers this one
    wait_ready(copy)
    assert by_user(copy_reader(copy, ledger))["u4"] == (3, D("1.5"))


def test_a_repriced_call_loads_the_copy_again(copy, ledger):
    sqlite = open_reader(ledger)
    first = next(r for r in sqlite.rows() if r.tags["user_id"] == "u2")
    sqlite.update_prices([replace(first, cost_usd=D("7"), input_usd=D("7"))])  # what reprice --apply does
    assert copy.reader(open_reader(ledger)) is None
    wait_ready(copy)
    assert by_user(copy_reader(copy, ledger))["u2"] == (2, D("8.5"))


@pytest.mark.parametrize(
    "edit", ["UPDATE costline_calls SET cost_usd = '2', cost_femto = 2000000000000000", "DELETE FROM costline_calls"]
)
def test_a_hand_edit_of_a_ledger_an_earlier_costline_made_loads_the_copy_again(ledger, edit):
    with sqlite3.connect(ledger) as conn:  # a ledger from before the rewrite count: no key, no triggers
        conn.execute("DELETE FROM costline_meta WHERE key = 'rewrites'")
        conn.execute("DROP TRIGGER costline_calls_rewritten")
        conn.execute("DROP TRIGGER costline_calls_removed")
    copy = ColumnarCopy(ledger)
    try:
        copy.load()  # adds them
        with sqlite3.connect(ledger) as conn:
            conn.execute(f"{edit} WHERE json_extract(tags, '$.user_id') = 'u1'")
        assert copy.reader(open_reader(ledger)) is None
        wait_ready(copy)
        want = {"u1": (3, D("6"))} if edit.startswith("UPDATE") else {}
        assert by_user(copy_reader(copy, ledger)) == {**want, "u2": (2, D("3.0"))} == by_user(open_reader(ledger))
    finally:
        copy.close()


def test_a_column_empty_in_the_first_calls_keeps_its_type(tmp_path):
    """ADBC types a column by the first rows it reads: without the typed first row, a caveat or a share first
    seen after 1,024 calls stopped the load (or, worse, read as a number)."""
    path = str(tmp_path / "ledger.db")
    later = calls(3, "0.5", user="u9")
    for r in later:
        r.price_caveat = "tier_by_rule:batch"
    write(path, calls(1500, "0.001") + later)
    copy = ColumnarCopy(path)
    try:
        copy.load()
        reader = copy_reader(copy, path)
        answer = ask(reader, Question(dims=("caveat",)))
        assert {r["caveat"]: r["calls"] for r in answer.rows} == {"(none)": 1500, "tier_by_rule:batch": 3}
        assert answer.rows == ask(open_reader(path), Question(dims=("caveat",))).rows
    finally:
        copy.close()


def test_a_ledger_it_cannot_mark_leaves_sqlite_answering_said_once(ledger, caplog, monkeypatch):
    def read_only(self):  # what SQLite says when the ledger is read-only to the page (root here writes anyway)
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(ColumnarCopy, "_ensure_triggers", read_only)
    copy = ColumnarCopy(ledger)
    try:
        with caplog.at_level(logging.WARNING, logger="costline"):
            load_in_background(copy)
            copy.start()  # a failed copy is not tried again and again
        assert not copy.ready and copy.reader(open_reader(ledger)) is None
        said = [r.getMessage() for r in caplog.records if "columnar copy failed" in r.getMessage()]
        assert len(said) == 1 and "the page reads SQLite" in said[0] and "readonly" in said[0]
    finally:
        copy.close()


def test_the_page_answers_from_sqlite_when_the_copy_fails_on_a_question(copy, ledger, caplog):
    from costline_processor.ui.readers import ReaderPool

    pool = ReaderPool(ledger, size=1, columnar=copy)
    copy._duck.execute("DROP TABLE costline_calls")  # the copy breaks under the page
    try:
        with caplog.at_level(logging.WARNING, logger="costline"):
            got = [asyncio.run(pool.run(by_user)) for _ in range(2)]
    finally:
        pool.close()
    assert got == [by_user(open_reader(ledger))] * 2 and pool.fallbacks == 2
    assert sum("columnar copy failed on a question" in r.getMessage() for r in caplog.records) == 1


def test_close_removes_the_copy(ledger):
    copy = ColumnarCopy(ledger)
    copy.load()
    where = copy._dir
    assert (where / "calls-1.duckdb").exists()
    copy.close()
    copy.close()
    assert not where.exists()


def test_the_page_reads_the_copy_while_a_writer_in_its_process_writes(copy, ledger, monkeypatch):
    """A writer, the page's readers and the copy's loads and appends in one process, as `./dev demo` has them: the
    answers stay the ledger's. (The copy's first loader, ADBC's own SQLite in this process, made SQLite drop the
    other connections' locks when it closed: a stress run like this one died of SIGBUS; columnar_load.py.)"""
    from costline_processor.ui.readers import ReaderPool

    monkeypatch.setattr(columnar, "APPEND_INLINE", 500)  # some catch-ups append, some load again
    pool = ReaderPool(ledger, size=2, columnar=copy)
    stop = threading.Event()

    def write_on() -> None:
        w = open_ledger(ledger, flush_interval_s=0.005)
        while not stop.is_set():
            w.write(calls(random.randint(1, 400), "0.001", user=f"w{random.randint(1, 50)}"))
            time.sleep(0.005)
        w.close(10)

    async def ask_on() -> list[str]:
        engines = []
        for _ in range(40):
            got = await asyncio.gather(*(pool.run(lambda r: (r.dialect, by_user(r))) for _ in range(2)))
            engines += [engine for engine, _ in got]
        return engines

    writer = threading.Thread(target=write_on)
    writer.start()
    try:
        engines = asyncio.run(ask_on())
    finally:
        stop.set()
        writer.join(30)
    for _ in range(3):  # the writer's last calls may be more than an append: the copy loads again first
        wait_ready(copy)
        final = asyncio.run(pool.run(lambda r: (r.dialect, by_user(r))))
        if final[0] == "duckdb":
            break
    pool.close()
    assert final == ("duckdb", by_user(open_reader(ledger))) and pool.fallbacks == 0
    assert "duckdb" in engines and "sqlite" in engines  # both answered while the copy loaded again


def test_new_calls_it_cannot_append_load_the_copy_again(copy, ledger, caplog, monkeypatch):
    def refused(self, reader, after, upto):  # what DuckDB says of a value it cannot read (none that costline writes)
        raise RuntimeError("Invalid Input Error: Malformed JSON")

    write(ledger, calls(2, "0.5", user="u5"))
    with monkeypatch.context() as m:
        m.setattr(ColumnarCopy, "_append", refused)
        with caplog.at_level(logging.WARNING, logger="costline"):
            assert copy.reader(open_reader(ledger)) is None  # SQLite answers, not an error
    wait_ready(copy)
    assert by_user(copy_reader(copy, ledger))["u5"] == (2, D("1.0"))
    assert sum("could not catch up" in r.getMessage() for r in caplog.records) == 1


def test_a_load_that_fails_says_why_not_which_query(tmp_path):
    """ADBC's error goes on with the query on a line of its own, and the parent logged its last line: 'query:
    SELECT -1 AS rid, ...' (2,000 characters), never the cause."""
    path = str(tmp_path / "ledger.db")
    with sqlite3.connect(path) as conn:  # a table that is not a ledger's
        conn.execute("CREATE TABLE costline_meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.execute("CREATE TABLE costline_calls (trace_id TEXT)")
    copy = ColumnarCopy(path)
    try:
        with pytest.raises(RuntimeError, match="no such column: span_id$"):
            copy.load()
    finally:
        copy.close()


def test_a_load_replaces_the_copy_while_the_page_reads_it(tmp_path):
    """DuckDB refuses to close a connection while a cursor of it is busy: the load that replaced the copy under the
    page's questions raised there ('connection is busy with another call'), in its thread, and left the old copy's
    file on disk. Now the old connection closes with the last question on it."""
    path = str(tmp_path / "ledger.db")
    write(path, [make_row("0.01", tags={"user_id": f"u{i % 300}"}) for i in range(20_000)])
    copy = ColumnarCopy(path)
    copy.load()
    want, stop, got = by_user(open_reader(path)), threading.Event(), []

    def ask_on() -> None:
        sqlite = open_reader(path)
        while not stop.is_set():
            if (reader := copy.reader(sqlite)) is not None:
                try:
                    got.append(by_user(reader) == want)
                except duckdb.Error:  # a cursor the load closed: the page asks SQLite (ReaderPool)
                    pass

    askers = [threading.Thread(target=ask_on) for _ in range(3)]
    for t in askers:
        t.start()
    try:
        for _ in range(4):
            time.sleep(0.2)
            copy._load()
        assert [f.name for f in copy._dir.glob("calls-*.duckdb")] == ["calls-5.duckdb"]
    finally:
        stop.set()
        for t in askers:
            t.join(30)
        copy.close()
    assert got and all(got)


def test_a_failed_load_is_tried_again_later(ledger, caplog, monkeypatch):
    """A load that failed (a lock that passed, a full disk since freed) is tried again after RETRY_S, said once."""
    real = ColumnarCopy._ensure_triggers
    fails = iter([sqlite3.OperationalError("database is locked")] * 2)

    def locked_twice(self):
        error = next(fails, None)
        if error is not None:
            raise error
        real(self)

    monkeypatch.setattr(ColumnarCopy, "_ensure_triggers", locked_twice)
    copy = ColumnarCopy(ledger)
    try:
        with caplog.at_level(logging.WARNING, logger="costline"):
            load_in_background(copy)
            assert copy.reader(open_reader(ledger)) is None and copy._loading is not None
            monkeypatch.setattr(columnar, "RETRY_S", 0.0)
            for _ in range(2):  # the second try fails too; the third loads
                copy._loading.join(30)
                assert copy.reader(open_reader(ledger)) is None
            wait_ready(copy)
        assert by_user(copy_reader(copy, ledger)) == by_user(open_reader(ledger))
        assert sum("columnar copy failed" in r.getMessage() for r in caplog.records) == 1
    finally:
        copy.close()
