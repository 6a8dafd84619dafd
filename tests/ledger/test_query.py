"""Reports added up by the database (query.py), on SQLite and PostgreSQL, against sums this test
computes itself from the calls it wrote (never by calling the code under test).

The calls are varied on purpose: unpriced calls, price caveats, costs SQLite cannot hold as an
exact femto count (more than 15 decimals, more than $9,223), empty and hostile tag values.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from costline_processor.cli import main
from costline_processor.ledger import LedgerReader, open_ledger, open_reader, query
from costline_processor.ledger.filters import parse_where
from tests.ledger.conftest import icu_en_us
from tests.ledger.factory import make_row, ts

HOSTILE = "x'); DROP TABLE costline_calls; --"
COSTS = [None, "0.0125", "0.003085", "1.5", "0.0000012", "0.1234567890123456789", "12000.25", "0.2"]
MODELS = [("gpt-4o", "openai"), ("gpt-4o-mini", "openai"), ("claude-sonnet-4-5", "anthropic"), (None, None)]
START = datetime(2026, 2, 20, tzinfo=UTC).timestamp()


def spec(n: int = 260) -> list[dict]:
    """The calls, as plain dicts: what the expectations below are computed from."""
    r = random.Random(17)
    out: list[dict] = []
    trace = 0
    while len(out) < n:
        trace += 1
        minute = r.randrange(20 * 24 * 60)
        shared = {
            "feature": r.choice(["chat", "search", "summarize", None, "", HOSTILE]),
            "customer_id": r.choice(["acme", "globex", "O'Brien", None]),
            "user_id": r.choice([*(f"u{i}" for i in range(9)), None]),
            "session_id": f"s{trace % 7}",
            "outcome": r.choice([None, None, "accepted", "rejected"]),
        }
        for c in range(r.randint(1, 4)):
            model, provider = r.choice(MODELS)
            at = datetime.fromtimestamp(START + (minute + c) * 60, UTC).strftime("%Y-%m-%dT%H:%M")
            out.append(
                {
                    **shared,
                    "trace": trace,
                    "at": at,
                    "cost": r.choice(COSTS),
                    "model": model,
                    "provider": provider,
                    "agent": r.choice(["", "research/search", "support"]),
                    "service": r.choice(["api", "worker"]),
                    "caveat": r.random() < 0.1,
                    "input": r.randrange(1, 5000),
                }
            )
    return out


SPEC = spec()


def rows_of(calls: list[dict]):
    out = []
    for s in calls:
        tags = {k: s[k] for k in ("feature", "customer_id", "user_id", "session_id", "outcome") if s[k] is not None}
        row = make_row(
            s["cost"],
            at=s["at"],
            trace=s["trace"],
            tags=tags,
            model=s["model"],
            provider=s["provider"],
            agent_path=s["agent"],
            service=s["service"],
            tokens=(s["input"], 10, 0, 0, 0),
        )
        out.append(replace(row, price_caveat="tier_by_rule:batch") if s["caveat"] and s["cost"] else row)
    return out


def label(s: dict, dim: str) -> str:
    if dim == "day":
        return s["at"][:10]
    if dim == "month":
        return s["at"][:7]
    if dim == "week":
        y, w, _ = datetime.fromisoformat(s["at"]).isocalendar()
        return f"{y}-W{w:02d}"
    stand_in = {"model": "unknown", "provider": "unknown", "agent": "(no agent)", "service": "unknown"}
    if dim in stand_in:
        return s[dim] or stand_in[dim]
    if dim == "trace":
        return f"{s['trace']:032x}"
    return s[dim] or "untagged"


def expect(dims: tuple[str, ...], keep=lambda s: True) -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}
    for s in SPEC:
        if keep(s):
            g = out.setdefault(
                tuple(label(s, d) for d in dims),
                {"calls": 0, "unpriced_calls": 0, "cost_usd": D(0), "input_tokens": 0, "users": set()},
            )
            g["calls"] += 1
            g["unpriced_calls"] += s["cost"] is None
            g["cost_usd"] += D(s["cost"] or 0)
            g["input_tokens"] += s["input"]
            if s["user_id"]:
                g["users"].add(s["user_id"])
    return out


IN_WINDOW = {"since_ns": ts("2026-02-20T00:00"), "until_ns": ts("2026-03-20T00:00")}


@pytest.fixture
def filled(ledger_url):
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write(rows_of(SPEC))
    w.close(10)
    return ledger_url


def ask(url: str, **kw) -> query.Answer:
    with open_reader(url) as r:
        return query.ask(r, query.Question(**{**IN_WINDOW, **kw}))


def as_groups(answer: query.Answer) -> dict[tuple, dict]:
    return {tuple(row[d] for d in answer.dims): row for row in answer.rows}


@pytest.mark.parametrize(
    "dims",
    [
        ("feature",),
        ("customer_id", "model"),
        ("day",),
        ("week",),
        ("month", "provider"),
        ("agent", "service"),
        ("trace",),
    ],
)
def test_sums_equal_the_test_s_own(filled, dims):
    got = as_groups(ask(filled, dims=dims))
    want = expect(dims)
    assert set(got) == set(want)
    total = sum((g["cost_usd"] for g in want.values()), D(0))
    for k, w in want.items():
        assert (got[k]["calls"], got[k]["unpriced_calls"], got[k]["input_tokens"]) == (
            w["calls"],
            w["unpriced_calls"],
            w["input_tokens"],
        )
        assert got[k]["cost_usd"] == w["cost_usd"]  # exact, inexact femto counts included
        assert got[k]["share"] == w["cost_usd"] / total


@pytest.mark.parametrize(
    "where, keep",
    [
        (["feature=chat"], lambda s: s["feature"] == "chat"),
        (["feature!=chat"], lambda s: s["feature"] != "chat"),
        (["feature=untagged"], lambda s: not s["feature"]),
        (["feature=chat", "feature=search"], lambda s: s["feature"] in ("chat", "search")),
        (["feature!=chat", "feature!=untagged"], lambda s: s["feature"] not in ("chat", "", None)),
        (["feature=chat", "customer_id=acme"], lambda s: s["feature"] == "chat" and s["customer_id"] == "acme"),
        (["model=gpt-4o"], lambda s: s["model"] == "gpt-4o"),
        (["model=unknown"], lambda s: s["model"] is None),
        (["provider!=openai"], lambda s: s["provider"] != "openai"),
        (["agent=support"], lambda s: s["agent"] == "support"),
        (["service=worker"], lambda s: s["service"] == "worker"),
        ([f"feature={HOSTILE}"], lambda s: s["feature"] == HOSTILE),
        (["customer_id=O'Brien"], lambda s: s["customer_id"] == "O'Brien"),
    ],
)
def test_every_filter_keeps_the_calls_it_names(filled, where, keep):
    answer = ask(filled, dims=("customer_id",), filters=parse_where(where))
    want = expect(("customer_id",), keep)
    assert {k: (g["calls"], g["cost_usd"]) for k, g in as_groups(answer).items()} == {
        k: (w["calls"], w["cost_usd"]) for k, w in want.items()
    }
    assert answer.total["cost_usd"] == sum((w["cost_usd"] for w in want.values()), D(0))


def test_per_user_outcomes_and_traces(filled):
    answer = ask(filled, dims=("feature",), user_tag="user_id", outcomes=("accepted",), traces=True)
    for k, g in as_groups(answer).items():
        calls = [s for s in SPEC if label(s, "feature") == k[0]]
        users = {s["user_id"] for s in calls if s["user_id"]}
        assert g["active_users"] == len(users)
        assert g["outcomes"] == len({s["trace"] for s in calls if s["outcome"] == "accepted"})
        assert g["traces"] == len({s["trace"] for s in calls})
        assert g["cost_per_user"] == (g["cost_usd"] / len(users) if users else None)


def test_limit_in_the_database_keeps_every_group_in_the_totals(filled):
    want = expect(("customer_id", "model"))
    first = sorted(want.items(), key=lambda kv: (-kv[1]["cost_usd"], kv[0]))[:3]
    answer = ask(filled, dims=("customer_id", "model"), limit=3)
    assert [(tuple(r[d] for d in answer.dims), r["cost_usd"]) for r in answer.rows] == [
        (k, w["cost_usd"]) for k, w in first
    ]
    total = sum((w["cost_usd"] for w in want.values()), D(0))
    assert answer.total["cost_usd"] == total and answer.total["calls"] == len(SPEC)
    assert answer.rows[0]["share"] == first[0][1]["cost_usd"] / total
    by_calls = ask(filled, dims=("customer_id", "model"), sort="calls", limit=2)
    assert [r["calls"] for r in by_calls.rows] == sorted((w["calls"] for w in want.values()), reverse=True)[:2]
    by_name = ask(filled, dims=("customer_id", "model"), sort="model", limit=4)
    assert [r["model"] for r in by_name.rows] == sorted(k[1] for k in want)[:4]


def test_a_question_of_fewer_token_sums_answers_the_same_numbers(filled):
    """The page asks for the two token sums it shows: its other columns are the full question's."""
    full = ask(filled, dims=("customer_id", "model"), limit=5)
    lean = ask(filled, dims=("customer_id", "model"), limit=5, tokens=("input_tokens", "output_tokens"))
    assert query.columns(query.Question(tokens=("input_tokens", "output_tokens")))[2:4] == [
        "input_tokens",
        "output_tokens",
    ]
    dropped = ("cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
    assert [{k: v for k, v in r.items() if k not in dropped} for r in full.rows] == lean.rows
    assert all(k not in r for r in lean.rows for k in dropped) and lean.total == full.total


@pytest.mark.parametrize("dims", [("week", "customer_id"), ("day",), ("month", "model", "feature")])
def test_calendar_order_with_a_limit_keeps_the_first_groups(filled, dims):
    """Calendar reports sort by their keys, so the database keeps the first groups of a LIMIT (ORDER BY the
    keys): the same rows as the whole answer cut, the totals still of every group."""
    whole = ask(filled, dims=dims)
    want = sorted(expect(dims))
    assert [tuple(r[d] for d in dims) for r in whole.rows] == want
    for n in (1, 3, len(want) - 1):
        cut = ask(filled, dims=dims, limit=n)
        assert cut.rows == whole.rows[:n]
        assert cut.total == whole.total


def test_text_keys_sort_in_code_point_order_in_any_database_locale(pg_server, sqlite_path):
    """A LIMIT keeps the groups Python's A-to-Z puts first, also where PostgreSQL's locale collates otherwise
    (ICU en-US puts "alpha" before "Zeta"; code points put "Zeta" first): same rows from both engines."""
    customers = ["Zeta", "alpha", "beta", "Alpha", "zeta", "Éclair", "eclair"]
    rows = [make_row("0.01", at="2026-03-02T10:00", tags={"customer_id": c}) for c in customers]
    want = sorted(customers)
    with icu_en_us(pg_server) as pg_url:
        for url in (sqlite_path, pg_url):
            w = open_ledger(url, flush_interval_s=0.05)
            w.write(rows)
            w.close(10)
            by_name = ask(url, dims=("customer_id",), sort="customer_id", limit=3)
            assert [r["customer_id"] for r in by_name.rows] == want[:3]
            tied = ask(url, dims=("customer_id",), limit=4)  # equal costs: ties A to Z
            assert [r["customer_id"] for r in tied.rows] == want[:4]
            by_week = ask(url, dims=("week", "customer_id"), limit=2)
            assert [r["customer_id"] for r in by_week.rows] == want[:2]


@pytest.mark.parametrize("rollup_on", [True, False])
def test_a_tag_named_beyond_ascii(ledger_url, rollup_on, monkeypatch):
    """A tag named 客户 (a dimension name may be any letters) is read in SQLite too, where the writer's JSON
    escapes the name ("\\u5ba2\\u6237") and SQLite before 3.45 matched a path only to the key as written:
    `--by 客户` said no call had the tag; and its untagged bucket (from the rollup's shapes, written unescaped)."""
    from costline_processor.ledger import rollup

    monkeypatch.setattr(rollup, "ENABLED", rollup_on)
    at = {"at": "2026-03-02T10:00"}
    rows = [make_row("0.25", tags={"客户": "甲"}, **at), make_row("0.5", tags={"客户": "Zé"}, **at)]
    rows += [make_row("1", tags={"feature": "chat"}, **at), make_row("2", tags={"客户": ""}, **at)]
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write(rows)
    w.close(10)
    by_name = {r["客户"]: r["cost_usd"] for r in ask(ledger_url, dims=("客户",)).rows}
    assert by_name == {"甲": D("0.25"), "Zé": D("0.5"), "untagged": D(3)}
    bucket = ask(ledger_url, dims=("model",), required=("客户",)).total["untagged"]
    assert (bucket["calls"], bucket["cost_usd"]) == (2, D(3))
    assert ask(ledger_url, filters=parse_where(["客户=甲"])).total["cost_usd"] == D("0.25")


@pytest.mark.parametrize("rollup_on", [True, False])
def test_sums_keep_every_digit(ledger_url, rollup_on, monkeypatch):
    """A cost priced by the GPU-hour has 28 significant digits (gpu_hour / 3600 a second); where Python added
    costs (SQLite's without a femto count, the rollup's partial days, the totals) its default context rounded
    the sum to 28 digits, where PostgreSQL's NUMERIC keeps them all: the two ledgers printed other CSV."""
    from costline_processor.ledger import rollup

    monkeypatch.setattr(rollup, "ENABLED", rollup_on)
    costs = ["1714.321428571428571428571429", "0.0008573388131944444444444444444", "1.124828533374083333333333333"]
    costs += ["12000.25", "0.5"]
    rows = [
        make_row(c, at=at, tags={"feature": f} if f else {})
        for c in costs
        for at, f in (("2026-03-02T10:00", "gpu"), ("2026-03-03T10:00", "gpu"), ("2026-03-04T23:00", None))
    ]
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write(rows)
    w.close(10)
    every = sum((D(c) for c in costs), D(0))
    exact = D("13716.1971144436158492063492067774444")  # by hand, column by column
    twice, thrice = D("27432.3942288872316984126984135548888"), D("41148.5913433308475476190476203323332")
    assert every != exact  # Python's own sum rounds
    window = {"since_ns": ts("2026-03-02T06:00"), "until_ns": ts("2026-03-04T23:30")}  # partial days at both ends
    for limit in (None, 1):
        got = ask(ledger_url, dims=("feature",), required=("feature",), limit=limit, **window)
        assert {r["feature"]: r["cost_usd"] for r in got.rows} == (
            {"gpu": twice} if limit else {"gpu": twice, "untagged": exact}
        )
        assert got.total["cost_usd"] == thrice
        assert got.total["untagged"]["cost_usd"] == exact
    (row,) = ask(ledger_url, dims=("model",), **window).rows
    assert row["cost_usd"] == thrice and row["share"] == 1


def test_a_limit_keeps_the_costlier_of_groups_a_double_cannot_tell_apart(ledger_url):
    """Over $9,223 a group's femto-dollars no longer fit 64 bits: SQLite ordered by a double, 2048 femto-dollars
    apart there, so $10,000.000000000003 tied with $10,000.000000000002 and LIMIT 1 kept the first name."""
    costs = {"a_less": ["5000.000000000001", "5000.000000000001"], "b_more": ["5000.000000000001", "5000.000000000002"]}
    costs["c_same"] = [
        "4999.9999995",
        "5000",
        "0.000000500003",
    ]  # ties b_more; its femto remainders carry a micro-dollar
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write([make_row(c, at="2026-03-02T10:00", tags={"customer_id": k}) for k, cs in costs.items() for c in cs])
    w.close(10)
    for keep, want in ((1, ["b_more"]), (2, ["b_more", "c_same"]), (3, ["b_more", "c_same", "a_less"])):
        rows = ask(ledger_url, dims=("customer_id",), limit=keep).rows
        assert [(r["customer_id"], r["cost_usd"]) for r in rows] == [
            (k, sum((D(c) for c in costs[k]), D(0))) for k in want
        ]


def test_untagged_bucket_and_caveats(filled):
    answer = ask(filled, dims=("feature",), required=("feature", "customer_id"))
    lacking = [s for s in SPEC if not s["feature"] or not s["customer_id"]]
    assert answer.total["untagged"]["calls"] == len(lacking)
    assert answer.total["untagged"]["cost_usd"] == sum((D(s["cost"] or 0) for s in lacking), D(0))
    assert answer.total["untagged"]["missing"] == {
        "feature": sum(not s["feature"] for s in SPEC),
        "customer_id": sum(not s["customer_id"] for s in SPEC),
    }
    with_users = ask(filled, dims=("feature",), required=("feature", "customer_id"), user_tag="user_id")
    assert with_users.total["untagged"] == answer.total["untagged"]  # counted apart: distinct users do not add up
    assert [r["cost_usd"] for r in with_users.rows] == [r["cost_usd"] for r in answer.rows]
    caveated = [s for s in SPEC if s["caveat"] and s["cost"]]
    assert answer.caveats == [
        {
            "caveat": "tier_by_rule:batch",
            "calls": len(caveated),
            "cost_usd": sum((D(s["cost"]) for s in caveated), D(0)),
        }
    ]
    chat = next(r for r in answer.rows if r["feature"] == "chat")
    assert chat["caveat_calls"] == sum(1 for s in caveated if s["feature"] == "chat")


def test_compare_adds_the_previous_period(filled):
    answer = ask(
        filled, dims=("feature",), compare=True, since_ns=ts("2026-03-01T00:00"), until_ns=ts("2026-03-08T00:00")
    )
    now = expect(("feature",), lambda s: "2026-03-01" <= s["at"] < "2026-03-08")
    before = expect(("feature",), lambda s: "2026-02-22" <= s["at"] < "2026-03-01")
    for k in set(now) | set(before):
        row = as_groups(answer)[k]
        assert row["cost_usd"] == now.get(k, {}).get("cost_usd", D(0))
        assert row["prev_cost_usd"] == before.get(k, {}).get("cost_usd", D(0))


def test_report_commands_never_read_every_call(filled, capsys, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("a report read every call into Python")

    monkeypatch.setattr(LedgerReader, "rows", refuse)
    window = ["--since", "2026-02-20", "--until", "2026-03-20", "--ledger", filled]
    for argv in (
        ["report", "--by", "feature"],
        ["report", "--by", "month,customer_id", "--format", "csv"],
        ["report", "--per-user", "--outcome", "accepted"],
        ["report", "--untagged"],
        ["report", "--compare", "--where", "feature=chat"],
        ["top", "customers"],
        ["top", "traces"],
        ["top", "sessions"],
        ["top", "calls"],
    ):
        assert main([*argv, *window]) == 0, argv
    capsys.readouterr()


def test_csv_from_the_command_is_exact(filled, capsys):
    argv = ["report", "--by", "customer_id", "--where", "feature!=chat", "--format", "csv"]
    assert main([*argv, "--since", "2026-02-20", "--until", "2026-03-20", "--ledger", filled]) == 0
    got = {r["customer_id"]: D(r["cost_usd"]) for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert got == {k[0]: w["cost_usd"] for k, w in expect(("customer_id",), lambda s: s["feature"] != "chat").items()}


def test_top_traces_then_one_trace(filled, capsys):
    want = expect(("trace",))
    first = sorted(want.items(), key=lambda kv: (-kv[1]["cost_usd"], kv[0]))[:3]
    with open_reader(filled) as r:
        answer = query.top_traces(r, query.Question(**IN_WINDOW, limit=3))
    assert [(row["trace_id"], row["cost_usd"], row["calls"]) for row in answer.rows] == [
        (k[0], w["cost_usd"], w["calls"]) for k, w in first
    ]
    top = answer.rows[0]
    calls = sorted((s for s in SPEC if label(s, "trace") == top["trace_id"]), key=lambda s: s["at"])
    assert top["service"] == calls[0]["service"] and f"session_id={calls[0]['session_id']}" in top["tags"]
    assert main(["trace", top["trace_id"], "--ledger", filled]) == 0
    assert top["trace_id"] in capsys.readouterr().out


def test_top_sessions_count_traces(filled):
    with open_reader(filled) as r:
        answer = query.ask(r, query.Question(**IN_WINDOW, dims=("session_id",), traces=True, limit=2))
    for row in answer.rows:
        calls = [s for s in SPEC if s["session_id"] == row["session_id"]]
        assert row["traces"] == len({s["trace"] for s in calls})
        assert row["cost_usd"] == sum((D(s["cost"] or 0) for s in calls), D(0))
