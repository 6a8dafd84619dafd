"""SQLite's per-day rollup against the calls, on random ledgers: every report and explain reads the same.

Hypothesis writes random calls through the real writer (some twice, some repriced, some deleted, sometimes
into a version 5 ledger upgraded in place) and asks random questions twice, through the rollup and with it
switched off (rollup.ENABLED), and holds both to sums this file computes from the rows (each call split
among its owners by shares.split_row where the question names a tag it shares). A last test holds
PostgreSQL's answers to SQLite's for the same calls.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from costline_processor.config import ConfigError
from costline_processor.ledger import dimensions, explanation, open_ledger, open_reader, query, rollup, schema
from costline_processor.ledger.filters import parse_where
from costline_processor.ledger.schema import TOKEN_FIELDS
from costline_processor.shares import split_row
from tests.ledger.factory import DAY_NS, NS, make_row, ts

START = ts("2026-03-01T00:00")
HOUR = 3600 * NS
FEATURES = (
    *("chat", "search", "a", "b", "", "untagged", "none", None),
    *('["a","b"]', '{"a":3,"b":1}', '["chat","search"]', '["untagged","b"]'),  # shared among owners
    *('["a"]', '{"a":0,"b":1}', "[1,2]", '["a","a"]', '{"a":"x"}'),  # JSON-looking, one owner
    *("café ☕", 'it\'s "quoted"', "日本"),
)
CUSTOMERS = ("acme", "", "untagged", "none", None, '["acme","globex"]')
COSTS = ("0.25", "0.0003", "1.5", None, "0.1234567890123456789", "-0.02", "12345.678", "0")
_NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)  # a ledger a step: shrinking takes minutes
TIMES = (0, 1, 7 * HOUR, 13 * HOUR + 30 * 60 * NS, DAY_NS - 1)  # within the day: midnight, edges, middle


def _call(feature, customer, model, cost, caveat, day, time, tokens):
    tags = {"user_id": "u1"}
    for tag, value in (("feature", feature), ("customer_id", customer)):
        if value is not None:
            tags[tag] = value
    row = make_row(cost, tags=tags, model=model, tokens=tokens)
    at = START + day * DAY_NS + time
    return replace(row, start_unix_nano=at, end_unix_nano=at + 1, price_caveat=caveat)


calls = st.builds(
    _call,
    st.sampled_from(FEATURES),
    st.sampled_from(CUSTOMERS),
    st.sampled_from(("m1", "m2", None)),
    st.sampled_from(COSTS),
    st.sampled_from((None, None, "tier")),
    st.integers(0, 4),
    st.sampled_from(TIMES) | st.integers(0, DAY_NS - 1),
    st.tuples(*(st.integers(0, 1000) for _ in TOKEN_FIELDS)),
)
ledgers = st.fixed_dictionaries(
    {
        "rows": st.lists(calls, min_size=1, max_size=40),
        "split": st.integers(0, 40),  # the first write's calls; from 5 before it on, written again
        "reprice": st.integers(2, 9),  # every n-th call repriced (an UPDATE)
        "delete": st.lists(st.integers(0, 39), max_size=3),
        "version_5": st.booleans(),  # written as a version 5 ledger (no rollup), upgraded when read
    }
)
_bound = st.builds(lambda day, time: START + day * DAY_NS + time, st.integers(0, 5), st.sampled_from(TIMES))
DIMS = (
    ("feature",),
    ("model",),
    ("day", "feature"),
    ("week",),
    ("month",),
    ("feature", "model"),
    ("caveat",),
    ("status",),
    ("costline.feature",),
    (),
)
WHERE = ("feature=chat", "feature!=chat", "feature=a", "feature=untagged", "feature=none", "model=m1", "model!=unknown")
questions = st.fixed_dictionaries(
    {
        "dims": st.sampled_from(DIMS),
        "where": st.lists(st.sampled_from(WHERE), max_size=2, unique=True),
        "since": st.none() | _bound,
        "length": st.none() | st.sampled_from((1, HOUR, DAY_NS - 1, DAY_NS, DAY_NS + 1, 3 * DAY_NS, 40 * DAY_NS)),
        "untagged": st.sampled_from(("untagged", "untagged", "none", "chat")),  # chat: also a feature, an owner
        "required": st.lists(st.sampled_from(("feature", "customer_id")), max_size=2, unique=True),
        "sort": st.sampled_from((None, "cost", "calls", "input_tokens", "feature")),
        "limit": st.sampled_from((None, None, 1, 2)),
        "allocate": st.booleans(),
    }
)


def _question(q: dict) -> query.Question:
    until = None if q["since"] is None or q["length"] is None else q["since"] + q["length"]
    dims = tuple(q["dims"])
    sort = q["sort"] if q["sort"] != "feature" or "feature" in dims else None
    allocate = "feature" if q["allocate"] and "feature" in dims else None
    filters = parse_where(list(q["where"]))
    return query.Question(
        dims,
        q["since"],
        until,
        filters,
        q["untagged"],
        required=tuple(q["required"]),
        sort=sort,
        limit=q["limit"],
        allocate=allocate,
    )


def _write(url: str, spec: dict) -> list:
    """The ledger `spec` describes, written through the real writer; the calls it holds."""
    rows, split = spec["rows"], spec["split"]
    w = open_ledger(url, flush_interval_s=0.05, batch_rows=8)
    w.write(rows[:split])
    w.flush()
    w.write(rows[max(0, split - 5) :])  # written twice: ignored, and not counted twice
    w.close(10)
    repriced = [replace(r, cost_usd=D("0.75"), input_usd=D("0.5"), status=None) for r in rows[:: spec["reprice"]]]
    with open_reader(url) as r:
        r.update_prices(repriced)
    held = {r.span_id: r for r in (*rows, *repriced)}
    gone = {rows[i].span_id for i in spec["delete"] if i < len(rows)}
    with _connect(url) as conn:
        for span in gone:
            conn.execute(f"DELETE FROM costline_calls WHERE span_id = {'?' if '://' not in url else '%s'}", (span,))
    return [r for s, r in held.items() if s not in gone]


@contextmanager
def _connect(url: str) -> Iterator:
    if "://" in url:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            yield conn
        return
    conn = sqlite3.connect(url)
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()


def _as_version_5(path: str) -> None:
    """The ledger as schema version 5 left it: no rollup table, no triggers (the next open upgrades it)."""
    with _connect(path) as conn:
        conn.execute(f"DROP TABLE {rollup.TABLE}")
        for event in ("update", "delete"):
            conn.execute(f"DROP TRIGGER {rollup.TABLE}_{event}")
        for column in schema.COLUMNS[len(schema.columns_of("6")) :]:  # version 7's and later
            conn.execute(f"ALTER TABLE {schema.TABLE} DROP COLUMN {column[0]}")
        conn.execute("UPDATE costline_meta SET value = '5' WHERE key = 'schema_version'")


def _answer(reader, q: query.Question, through_rollup: bool):
    rollup.ENABLED = through_rollup
    try:
        a = query.ask(reader, q)
        return a.rows, a.total, a.caveats, a.allocation
    except ConfigError as e:
        return str(e)
    finally:
        rollup.ENABLED = True


def _expected(rows, q: query.Question) -> tuple[dict, dict]:
    """{group: (calls, unpriced, tokens, cost)} and the total (calls, unpriced, cost, untagged calls and cost),
    from the rows: each call cut per owner of the tags the question names, a call once per group (and total)."""
    named = [dimensions.tag_name(d) for d in (*q.dims, *(f.dim for f in q.filters)) if dimensions.is_tag(d)]
    groups: dict[tuple, list] = {}
    total = [0, 0, D(0), 0, D(0)]
    for row in rows:
        if (q.since_ns is not None and row.start_unix_nano < q.since_ns) or (
            q.until_ns is not None and row.start_unix_nano >= q.until_ns
        ):
            continue
        kept = [
            p
            for p in split_row(row, dict.fromkeys(named))
            if all((dimensions.value(p, f.dim, q.untagged) in f.values) != f.exclude for f in q.filters)
        ]
        if not kept:
            continue
        cost = sum((p.cost_usd or D(0) for p in kept), D(0))
        total[:3] = [total[0] + 1, total[1] + (row.cost_usd is None), total[2] + cost]
        if any(dimensions.value(row, t, q.untagged) == q.untagged for t in q.required):
            total[3:] = [total[3] + 1, total[4] + cost]
        for p in kept:
            g = groups.setdefault(dimensions.key(p, list(q.dims), q.untagged), [set(), set(), [0] * 5, D(0)])
            g[0].add(row.span_id)
            if row.cost_usd is None:
                g[1].add(row.span_id)
            g[2] = [a + getattr(p, f) for a, f in zip(g[2], TOKEN_FIELDS)]
            g[3] += p.cost_usd or D(0)
    return {k: (len(g[0]), len(g[1]), g[2], g[3]) for k, g in groups.items()}, {
        "calls": total[0],
        "unpriced_calls": total[1],
        "cost_usd": total[2],
        "untagged": (total[3], total[4]),
    }


def _check_sums(rows, q: query.Question, answer) -> None:
    if isinstance(answer, str):  # a tag no call of the window carries: one line, both ways
        assert answer.startswith("no call ")
        return
    got_rows, total = answer[0], answer[1]
    want, want_total = _expected(rows, q)
    assert (total["calls"], total["unpriced_calls"], total["cost_usd"]) == (
        want_total["calls"],
        want_total["unpriced_calls"],
        want_total["cost_usd"],
    )
    if q.required:
        assert (total["untagged"]["calls"], total["untagged"]["cost_usd"]) == want_total["untagged"]
    got = {
        tuple(r[d] for d in q.dims): (r["calls"], r["unpriced_calls"], [r[f] for f in TOKEN_FIELDS], r["cost_usd"])
        for r in got_rows
    }
    if q.allocate:  # its rows carry their part of the untagged cost: held to the calls' answer only
        return
    if q.limit is None:
        assert got == want
    else:
        assert len(got) == min(q.limit, len(want)) and all(want[k] == v for k, v in got.items())


@settings(
    max_examples=150, deadline=None, phases=_NO_SHRINK, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=ledgers, asked=st.lists(questions, min_size=1, max_size=8))
def test_reports_through_the_rollup_are_the_calls_own(tmp_path_factory, spec, asked):
    path = str(tmp_path_factory.mktemp("rollup") / "ledger.db")
    rows = _write(path, spec)
    if spec["version_5"]:
        _as_version_5(path)
    with open_reader(path) as reader:
        for q in map(_question, asked):
            fast = _answer(reader, q, through_rollup=True)
            assert fast == _answer(reader, q, through_rollup=False), q
            _check_sums(rows, q, fast)


explains = st.fixed_dictionaries(
    {
        "dims": st.sampled_from((("feature",), ("model",), ("feature", "model"), ("caveat",))),
        "start": st.integers(0, 3),
        "offset": st.sampled_from((0, 1, 7 * HOUR)),
        "length": st.sampled_from((HOUR, DAY_NS, 2 * DAY_NS)),
        "where": st.lists(st.sampled_from(("feature=chat", "feature!=a", "model=m1")), max_size=1),
        "untagged": st.sampled_from(("untagged", "none")),
    }
)


@settings(
    max_examples=60, deadline=None, phases=_NO_SHRINK, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=ledgers, asked=st.lists(explains, min_size=1, max_size=4))
def test_explain_through_the_rollup_is_the_calls_own(tmp_path_factory, spec, asked):
    path = str(tmp_path_factory.mktemp("rollup") / "ledger.db")
    _write(path, spec)
    with open_reader(path) as reader:
        for e in asked:
            at = START + e["start"] * DAY_NS + e["offset"]
            ask = explanation.Ask(
                tuple(e["dims"]),
                explanation.Period(at + e["length"], at + 2 * e["length"]),
                explanation.Period(at, at + e["length"]),
                parse_where(list(e["where"])),
                e["untagged"],
            )
            answers = []
            for through_rollup in (True, False):
                rollup.ENABLED = through_rollup
                try:
                    answers.append(explanation.explain(reader, ask).as_object())
                except ConfigError as error:
                    answers.append(str(error))
                finally:
                    rollup.ENABLED = True
            assert answers[0] == answers[1], ask


def test_a_call_shared_among_owners_is_one_call_of_the_untagged_bucket(ledger_url):
    """`report --by feature` with customer_id required: a call shared by two features and without a customer
    counts once in the bucket (the bucket was the groups' calls, the call once in each owner's group)."""
    shared = _call('["a","b"]', None, "m1", "0.25", None, 0, 7 * HOUR, (10, 0, 0, 0, 0))
    alone = _call("chat", "acme", "m1", "0.5", None, 0, 8 * HOUR, (10, 0, 0, 0, 0))
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write([shared, alone])
    w.close(10)
    for since, until in ((START, START + DAY_NS), (START + HOUR, START + 9 * HOUR)):  # the rollup's, the calls'
        q = query.Question(("feature",), since, until, required=("customer_id",))
        with open_reader(ledger_url) as reader:
            answer = query.ask(reader, q)
        assert {r["feature"]: (r["calls"], r["cost_usd"]) for r in answer.rows} == {
            "a": (1, D("0.125")),
            "b": (1, D("0.125")),
            "chat": (1, D("0.5")),
        }
        bucket = answer.total["untagged"]
        assert (bucket["calls"], bucket["cost_usd"], bucket["missing"]) == (1, D("0.25"), {"customer_id": 1})


PG_QUESTIONS = [
    {"dims": ("feature",), "where": [], "since": START, "length": 5 * DAY_NS, "required": ["customer_id"]},
    {"dims": ("feature",), "where": ["model=m1"], "since": START + 7 * HOUR, "length": 3 * DAY_NS, "sort": "calls"},
    {"dims": ("day", "feature"), "where": ["feature!=chat"], "since": START + 1, "length": 2 * DAY_NS - 1},
    {"dims": ("feature", "model"), "where": [], "since": START, "length": DAY_NS, "limit": 2, "allocate": True},
    {"dims": ("week",), "where": ["feature=a"], "since": None, "length": None, "required": ["feature"]},
    {"dims": ("month",), "where": [], "since": START, "length": 40 * DAY_NS, "untagged": "none"},
    {"dims": ("model",), "where": ["feature=untagged"], "since": START + HOUR, "length": HOUR, "limit": 1},
    {
        "dims": ("feature",),
        "where": [],
        "since": START,
        "length": 5 * DAY_NS,
        "untagged": "none",
        "required": ["feature"],
    },
]


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_postgresql_reads_what_sqlite_reads(sqlite_path, pg_url, seed):
    """The same calls written to both engines (PostgreSQL has no rollup): the same answers, to the digit."""
    r = random.Random(seed)
    pick = lambda xs: xs[r.randrange(len(xs))]
    rows = [
        _call(
            pick(FEATURES),
            pick(CUSTOMERS),
            pick(("m1", "m2", None)),
            pick(COSTS),
            pick((None, "tier")),
            r.randrange(5),
            pick(TIMES),
            tuple(r.randrange(100) for _ in TOKEN_FIELDS),
        )
        for _ in range(120)
    ]
    spec = {"rows": rows, "split": 80, "reprice": 7, "delete": [3, 50]}
    held = _write(sqlite_path, spec)
    assert sorted(r.span_id for r in _write(pg_url, spec)) == sorted(r.span_id for r in held)
    base = {"untagged": "untagged", "required": [], "sort": None, "limit": None, "allocate": False}
    drawn = [  # and 80 more, drawn as the hypothesis test draws them
        {
            "dims": pick(DIMS),
            "where": r.sample(WHERE, r.randrange(3)),
            "since": pick((None, *(START + d * DAY_NS + t for d in range(5) for t in TIMES))),
            "length": pick((None, 1, HOUR, DAY_NS - 1, DAY_NS, DAY_NS + 1, 3 * DAY_NS)),
            "untagged": pick(("untagged", "none", "chat")),
            "required": r.sample(["feature", "customer_id"], r.randrange(3)),
            "sort": pick((None, "cost", "calls", "feature")),
            "limit": pick((None, 1, 2)),
            "allocate": pick((False, True)),
        }
        for _ in range(80)
    ]
    with open_reader(sqlite_path) as lite, open_reader(pg_url) as pg:
        for asked in (*PG_QUESTIONS, *drawn):
            q = _question({**base, **asked})
            answers = [_answer(lite, q, True), _answer(lite, q, False), _answer(pg, q, True)]
            assert answers[0] == answers[1] == answers[2], q
            _check_sums(held, q, answers[0])


def test_the_untagged_bucket_counts_the_groups_a_limit_leaves_out(ledger_url):
    """`report --by feature -n 1` with feature required: the untagged calls are not the top group, and still
    the bucket (the bucket was read from the groups the database's LIMIT kept)."""
    top = _call("chat", "acme", "m1", "1.5", None, 0, 7 * HOUR, (10, 0, 0, 0, 0))
    untagged = _call("untagged", "acme", "m1", "0.25", None, 0, 8 * HOUR, (10, 0, 0, 0, 0))
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write([top, untagged])
    w.close(10)
    for since, until in ((START, START + DAY_NS), (START + HOUR, START + 9 * HOUR)):  # the rollup's, the calls'
        q = query.Question(("feature",), since, until, required=("feature",), limit=1)
        with open_reader(ledger_url) as reader:
            answer = query.ask(reader, q)
        assert [(r["feature"], r["cost_usd"]) for r in answer.rows] == [("chat", D("1.5"))]
        bucket = answer.total["untagged"]
        assert (bucket["calls"], bucket["cost_usd"], bucket["missing"]) == (1, D("0.25"), {"feature": 1})


def test_an_owner_named_as_the_untagged_label_leaves_its_call_tagged(ledger_url):
    """A call of feature ["untagged","b"] is tagged (the bucket reads the tag as written), also when its cost
    has no femto count and SQLite adds it from its text (that path read the owner, and put $6,172.839 of a
    tagged call in the bucket)."""
    shared = _call('["untagged","b"]', "acme", "m1", "12345.678", None, 0, 7 * HOUR, (10, 0, 0, 0, 0))
    alone = _call("untagged", "acme", "m1", "0.5", None, 0, 8 * HOUR, (10, 0, 0, 0, 0))
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write([shared, alone])
    w.close(10)
    q = query.Question(("model",), START, START + DAY_NS, parse_where(["feature=untagged"]), required=("feature",))
    with open_reader(ledger_url) as reader:
        answer = query.ask(reader, q)
    assert (answer.total["calls"], answer.total["cost_usd"]) == (2, D("6172.839") + D("0.5"))
    bucket = answer.total["untagged"]
    assert (bucket["calls"], bucket["cost_usd"], bucket["missing"]) == (1, D("0.5"), {"feature": 1})
