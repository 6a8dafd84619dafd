"""The page's columnar copy (ledger/columnar.py) against SQLite, on random ledgers and random questions.

test_engines_agree.py runs every command on one fixed ledger; here Hypothesis writes random calls (text
beyond ASCII, escapes and control characters, tags shared among owners, costs without a femto count,
times across month edges), loads the copy from some of them (the child process, ADBC) and lets it
append the rest (Python's sqlite3, JSON lines), and asks random questions of SQLite, of that copy
and of a copy loaded from every call: the same answer, or the same refusal, from all three. 300
examples of each test passed once; 14 and 10 here keep it to ~13 s.

Every cost here reads as the same double in both engines. Not so beyond 16 digits: SQLite 3.40's text to
REAL is not correctly rounded ('12.54014465813369039733531' reads 12.54014465813369, DuckDB's 12.540144658133691),
and what reads a cost as a double (explain's cost split, the order of groups whose costs have no femto count)
can then differ by a femto-dollar.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from costline_processor.config import ConfigError
from costline_processor.ledger import explanation, forecast, open_ledger, open_reader, query
from costline_processor.ledger.columnar import ColumnarCopy
from costline_processor.ledger.filters import parse_where
from tests.ledger.factory import DAY_NS, NS, make_row, ts

START = ts("2026-02-27T00:00")  # the days run over a month's end
ODD = ("", "a", "b", "é", "e\u0301", "😀", "日本", 'q"uote', "back\\slash", "tab\tnl\n", "\x01", "\u2028", "x" * 300)
SHARED = ('["a","b"]', '{"a":3,"b":1}', '["a","a"]', "[1,2]")  # shared among owners, and JSON-looking
COSTS = ("0.25", "0.0003", None, "0.1234567890123456789", "-0.02", "9223.372036854775807", "9223.372036854775808")
TAGS = ("user_id", "feature", "customer_id", "𠮷")  # 𠮷 (U+20BB7): a name the writer's JSON escapes as a surrogate pair
_NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)  # a ledger a step: each loads two copies


def _call(tags, model, agent, cost, caveat, day, at, trace, outcome):
    row = make_row(cost, tags={k: v for k, v in tags.items() if v is not None}, model=model, agent_path=agent)
    if outcome is not None:
        row.tags["outcome"] = outcome
    start = START + day * DAY_NS + at
    return replace(row, start_unix_nano=start, end_unix_nano=start + 1, price_caveat=caveat, trace_id=trace)


calls = st.builds(
    _call,
    st.fixed_dictionaries({t: st.none() | st.sampled_from(ODD + SHARED) for t in TAGS}),
    st.sampled_from(("m1", "m2", None, *ODD)),
    st.sampled_from(("", "agent/x", *ODD)),
    st.sampled_from(COSTS),
    st.sampled_from((None, None, "tier", "é caveat")),
    st.integers(0, 4),
    st.sampled_from((0, 1, DAY_NS - 1)) | st.integers(0, DAY_NS - 1),
    st.sampled_from([f"{n:032x}" for n in range(1, 5)]),
    st.sampled_from((None, None, "won", "lost")),
)
DIMS = (
    "user_id",
    "feature",
    "customer_id",
    "𠮷",
    "model",
    "agent",
    "caveat",
    "status",
    "trace",
    "day",
    "week",
    "month",
)
WHERE = ("feature=a", "feature!=a", "customer_id=untagged", "model=m1", "𠮷=é", "user_id!=b", "agent=(no agent)")
questions = st.fixed_dictionaries(
    {
        "dims": st.lists(st.sampled_from(DIMS), max_size=2, unique=True),
        "where": st.lists(st.sampled_from(WHERE), max_size=2, unique=True),
        "since": st.none() | st.integers(0, 4).map(lambda d: START + d * DAY_NS),
        "days": st.sampled_from((1, 2, 3)),
        "untagged": st.sampled_from(("untagged", "none", "a")),
        "required": st.lists(st.sampled_from(("feature", "customer_id")), max_size=2, unique=True),
        "sort": st.sampled_from((None, "cost_usd", "calls", "input_tokens")),
        "limit": st.sampled_from((None, 1, 2, 5)),
        "per_user": st.booleans(),
        "outcomes": st.booleans(),
        "traces": st.booleans(),
        "compare": st.booleans(),
        "allocate": st.booleans(),
    }
)


def _question(q: dict) -> query.Question:
    dims = tuple(q["dims"])
    until = None if q["since"] is None else q["since"] + q["days"] * DAY_NS
    tagged = [d for d in dims if d in TAGS]
    return query.Question(
        dims,
        q["since"],
        until,
        parse_where(list(q["where"])),
        q["untagged"],
        user_tag="user_id" if q["per_user"] else None,
        outcomes=("won",) if q["outcomes"] else (),
        traces=q["traces"],
        required=tuple(q["required"]),
        compare=q["compare"] and until is not None,
        sort=q["sort"],
        limit=q["limit"],
        allocate=tagged[0] if q["allocate"] and tagged and not q["compare"] else None,
    )


def _answer(reader, q: query.Question):
    try:
        a = query.ask(reader, q)
    except ConfigError as e:
        return str(e)
    return a.rows, a.total, a.caveats, a.allocation


@contextmanager
def _readers(tmp_path_factory, rows, loaded):
    """SQLite's reader of a ledger of `rows`, and readers of two copies of it: one loaded from the first `loaded`
    calls that appends the rest (JSON lines), one loaded from every call (ADBC); closed after."""
    path = str(tmp_path_factory.mktemp("columnar") / "ledger.db")
    w = open_ledger(path, flush_interval_s=0.02)
    w.write(rows[:loaded])
    w.flush()
    appended = ColumnarCopy(path)
    appended.load()
    w.write(rows[loaded:])
    w.close(10)
    whole = ColumnarCopy(path)
    whole.load()
    try:
        readers = [c.reader(open_reader(path)) for c in (appended, whole)]
        assert all(r is not None and r.dialect == "duckdb" for r in readers)
        yield open_reader(path), readers
    finally:
        appended.close()
        whole.close()


def _said(answer):
    """What a page question says, or the one line it refuses with."""
    try:
        return answer()
    except ConfigError as e:
        return str(e)


def _settings(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        phases=_NO_SHRINK,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


@_settings(14)
@given(
    rows=st.lists(calls, min_size=1, max_size=30),
    loaded=st.integers(0, 30),
    asked=st.lists(questions, min_size=1, max_size=25),
)
def test_the_copy_answers_every_question_as_sqlite(tmp_path_factory, rows, loaded, asked):
    with _readers(tmp_path_factory, rows, loaded) as (sqlite, readers):
        for q in map(_question, asked):
            want = _answer(sqlite, q)
            for copy in readers:
                assert _answer(copy, q) == want, q


explains = st.fixed_dictionaries(
    {
        "dims": st.lists(st.sampled_from([d for d in DIMS if d not in ("day", "week", "month")]), max_size=2),
        "start": st.integers(0, 2),
        "offset": st.sampled_from((0, 1, 7 * 3600 * NS)),
        "length": st.sampled_from((3600 * NS, DAY_NS, 2 * DAY_NS)),
        "where": st.lists(st.sampled_from(WHERE), max_size=1),
        "untagged": st.sampled_from(("untagged", "a")),
        "now": st.integers(0, 5 * DAY_NS),
    }
)


@_settings(10)
@given(
    rows=st.lists(calls, min_size=1, max_size=30),
    loaded=st.integers(0, 30),
    asked=st.lists(explains, min_size=1, max_size=8),
)
def test_the_copy_explains_forecasts_and_lists_traces_as_sqlite(tmp_path_factory, rows, loaded, asked):
    with _readers(tmp_path_factory, rows, loaded) as (sqlite, readers):
        for e in asked:
            at = START + e["start"] * DAY_NS + e["offset"]
            dims, filters = tuple(dict.fromkeys(e["dims"])), parse_where(list(e["where"]))
            ask = explanation.Ask(
                dims,
                explanation.Period(at + e["length"], at + 2 * e["length"]),
                explanation.Period(at, at + e["length"]),
                filters,
                e["untagged"],
            )
            now = START + e["now"]
            traces = query.Question(("trace",), at, at + 2 * e["length"], filters, e["untagged"], limit=3)
            questions = (
                lambda r: explanation.explain(r, ask).as_object(),
                lambda r: forecast.project(r, dims, filters, "month", now, e["untagged"]),
                lambda r: vars(query.top_traces(r, traces)),
            )
            for asked_of in questions:
                want = _said(lambda: asked_of(sqlite))
                for copy in readers:
                    assert _said(lambda: asked_of(copy)) == want, e
