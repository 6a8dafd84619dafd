"""`costline explain` on ledgers whose cause is known by construction, on SQLite and PostgreSQL.

Each call's cost is computed here from its tokens and published-style rates (dollars per million
tokens), and each expected effect by hand in the test (the arithmetic in its comment). The
earlier period is March 1-8, the one explained March 8-15 (UTC); "chat" never changes.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costline_processor.cli import main
from costline_processor.config import ConfigError
from costline_processor.ledger import open_ledger, open_reader
from costline_processor.ledger.decomposition import EFFECTS, SPLIT_COLUMNS, cell, decompose
from costline_processor.ledger.explanation import Ask, Period, against_period, explain
from tests.ledger.factory import make_row, ts


def exact_sum(values) -> Fraction:
    """The sum with every digit (Decimal's default 28 digits would round a sum of effects that
    span 10**9 to 10**-18 dollars)."""
    return sum((Fraction(D(v)) for v in values), Fraction(0))


BEFORE = Period(ts("2026-03-01T00:00"), ts("2026-03-08T00:00"))
AFTER = Period(ts("2026-03-08T00:00"), ts("2026-03-15T00:00"))
GPT4O = ("2.50", "10", "1.25", "0")  # $ per million: input, output, cache read, cache write
MINI = ("0.15", "0.60", "0.075", "0")
BIG = (100_000, 10_000, 0, 0, 0)  # input (with cache reads and writes), output (with reasoning), read, write, reasoning
WINDOW = ["--since", "2026-03-08", "--until", "2026-03-15"]


def calls(n: int, feature: str, *, later: bool, model: str = "gpt-4o", tokens=BIG, prices=GPT4O) -> list:
    """n calls of `feature` spread over the period's days, each priced here from `tokens` and `prices`."""
    inp, out, read, write, _ = tokens
    rate = [D(p) / 1_000_000 for p in prices]
    split = (str((inp - read - write) * rate[0]), str(out * rate[1]), str(read * rate[2]), str(write * rate[3]))
    cost = str(sum(D(s) for s in split))
    day = 8 if later else 1
    return [
        make_row(
            cost,
            at=f"2026-03-{day + i % 7:02d}T10:00",
            tags={"feature": feature},
            model=model,
            tokens=tokens,
            split=split,
        )
        for i in range(n)
    ]


def steady() -> list:
    return calls(40, "chat", later=False, model="gpt-4o-mini", prices=MINI) + calls(
        40, "chat", later=True, model="gpt-4o-mini", prices=MINI
    )


def explained(url: str, rows: list, dims=("feature",)) -> dict:
    w = open_ledger(url, flush_interval_s=0.05)
    w.write(rows)
    w.close(10)
    with open_reader(url) as r:
        e = explain(r, Ask(dims, AFTER, BEFORE))
    return {c.key[0]: c for c in e.changes} | {"_": e}


def effects(change) -> dict:
    """The nonzero effects, and a check that all of them add up to the change exactly."""
    assert exact_sum(change.effects.values()) == Fraction(change.change)
    return {e: v for e, v in change.effects.items() if v}


def cents(values: dict) -> dict:
    return {k: v.quantize(D("0.01")) for k, v in values.items()}


def test_only_volume_grows(ledger_url):
    got = explained(ledger_url, steady() + calls(100, "search", later=False) + calls(150, "search", later=True))
    # $0.35 a call (100k input at $2.50/M + 10k output at $10/M); 50 more calls: +$17.50
    assert cents(effects(got["search"])) == {"volume": D("17.50")}
    assert effects(got["chat"]) == {}
    assert got["_"].headline() == "search +$17.50 (+50%): volume, 100 -> 150 calls"


def test_only_the_model_changes(ledger_url):
    before = calls(100, "search", later=False, model="gpt-4o-mini", prices=MINI)
    after = calls(39, "search", later=True, model="gpt-4o-mini", prices=MINI) + calls(61, "search", later=True)
    got = explained(ledger_url, steady() + before + after)
    # gpt-4o-mini costs $0.021 a call ($0.015 + $0.006), gpt-4o $0.35: 61 calls moved, 61 x $0.329
    assert cents(effects(got["search"])) == {"model_mix": D("20.07")}
    assert got["search"].effects["model_mix"] == D("20.069")
    assert got["_"].headline() == "search +$20.07 (+956%): model mix, gpt-4o-mini -> gpt-4o on 61% of calls"


def test_only_the_prompt_grows(ledger_url):
    longer = (150_000, 10_000, 0, 0, 0)
    got = explained(
        ledger_url, steady() + calls(100, "search", later=False) + calls(100, "search", later=True, tokens=longer)
    )
    # 50,000 more input tokens a call at $2.50/M on 100 calls
    assert effects(got["search"]) == {"tokens_input": D("12.5")}
    assert got["_"].headline() == "search +$12.50 (+36%): input tokens per call 100,000 -> 150,000"


def test_only_the_price_changes(ledger_url):
    cheaper = ("1.25", "10", "1.25", "0")
    got = explained(
        ledger_url, steady() + calls(100, "search", later=False) + calls(100, "search", later=True, prices=cheaper)
    )
    # input from $2.50 to $1.25 per million on 100 calls of 100k input
    assert effects(got["search"]) == {"price": D("-12.5")}
    assert got["_"].headline() == "search -$12.50 (-36%): price, gpt-4o input $2.5 -> $1.25 per 1M tokens"


def test_a_cache_hit_rate_drops(ledger_url):
    hits, misses = (100_000, 10_000, 80_000, 0, 0), (100_000, 10_000, 20_000, 0, 0)
    got = explained(
        ledger_url,
        steady() + calls(100, "search", later=False, tokens=hits) + calls(100, "search", later=True, tokens=misses),
    )
    # 60,000 input tokens a call no longer cached: +60k x $2.50/M, -60k x $1.25/M, on 100 calls
    assert effects(got["search"]) == {"tokens_input": D("15"), "tokens_cached_input": D("-7.5")}
    assert got["search"].change == D("7.5")
    assert got["_"].headline() == (
        "search +$7.50 (+30%): input tokens per call 20,000 -> 80,000, cache hit rate 80% -> 20%"
    )


def test_reasoning_grows(ledger_url):
    thinking, more = (100_000, 10_000, 0, 0, 4_000), (100_000, 14_000, 0, 0, 8_000)
    got = explained(
        ledger_url,
        steady() + calls(100, "search", later=False, tokens=thinking) + calls(100, "search", later=True, tokens=more),
    )
    # 4,000 more reasoning tokens a call, billed as output at $10/M, on 100 calls
    assert effects(got["search"]) == {"tokens_reasoning": D("4")}


def test_a_new_feature_appears_and_one_goes(ledger_url):
    rows = steady() + calls(10, "legacy", later=False) + calls(20, "summarize", later=True)
    got = explained(ledger_url, rows)
    assert effects(got["summarize"]) == {"new": D("7")}  # 20 x $0.35
    assert effects(got["legacy"]) == {"gone": D("-3.5")}  # 10 x $0.35
    assert [c.key[0] for c in got["_"].changes] == ["summarize", "legacy", "chat"]  # by size of change
    assert got["_"].headline() == "summarize +$7.00 (new): new (no call in the earlier period)"


def test_effects_add_up_to_the_test_s_own_change(ledger_url):
    """Many models, token types, new and vanished models and rows, and costs SQLite cannot hold as an exact
    femto count: every row's effects add up to its change, and the change is the test's own sum."""
    r = random.Random(20)
    models = [("gpt-4o", GPT4O), ("gpt-4o-mini", MINI), ("claude-sonnet-4-5", ("3", "15", "0.30", "3.75"))]
    rows, want = [], {}
    for i in range(300):
        later, feature = r.random() < 0.5, r.choice(["a", "b", "c", "d"])
        model, prices = r.choice(models[:2] if later or feature != "c" else models)
        inp = r.randrange(1_000, 50_000)
        tokens = (inp, r.randrange(100, 5_000), r.randrange(0, inp // 2), r.randrange(0, inp // 4), r.randrange(0, 50))
        if feature == "d" and later:
            feature = "e"  # d vanishes, e appears
        (row,) = calls(1, feature, later=later, model=model, tokens=tokens, prices=prices)
        if i % 37 == 0:  # more digits than a femto count holds; more than $9,223 for one call
            row = make_row(
                "0.1234567890123456789" if i % 2 else "12000.25",
                at=f"2026-03-{9 if later else 2:02d}T09:00",
                tags={"feature": feature},
                model=model,
                tokens=tokens,
            )
        rows.append(row)
        want.setdefault(feature, [D(0), D(0)])[later] += row.cost_usd
    got = explained(ledger_url, rows)
    assert set(want) == {k for k in got if k != "_"}
    for feature, (then, now) in want.items():
        assert got[feature].change == now - then
        effects(got[feature])
    total = got["_"].total
    assert exact_sum(total[f"{e}_usd"] for e in EFFECTS) == Fraction(D(total["change_usd"]))


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["explain", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def filled(sqlite_path):
    before = calls(100, "search", later=False, model="gpt-4o-mini", prices=MINI)
    after = calls(39, "search", later=True, model="gpt-4o-mini", prices=MINI) + calls(61, "search", later=True)
    w = open_ledger(sqlite_path, flush_interval_s=0.05)
    w.write(steady() + before + after + [make_row("0.50", at="2026-03-09T10:00", tags={"feature": "chat"}, model=None)])
    w.close(10)
    return sqlite_path


def test_table_csv_and_json(filled, capsys):
    code, out, _ = run(capsys, *WINDOW, "--ledger", filled)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "search +$20.07 (+956%): model mix, gpt-4o-mini -> gpt-4o on 61% of calls"
    assert lines[1].split()[:3] == ["feature", "prev_calls", "calls"] and "tokens_input_usd" not in lines[1]
    # search's $20.069; chat's one more call (at $0.021 before) is a call of an unknown model at $0.50
    assert "effects: volume +$0.021, model mix +$20.55\n" in out
    assert lines[2].split()[:8] == ["search", "100", "100", "$2.1000", "$22.1690", "$20.0690", "+955.7%", "-"]
    code, out, _ = run(capsys, *WINDOW, "--ledger", filled, "--format", "json", "--against", "2026-03-01..2026-03-08")
    obj = json.loads(out, parse_float=D)
    assert obj["by"] == ["feature"] and obj["rows"][0]["model_mix_usd"] == D("20.069")
    assert obj["total"]["change_usd"] == D("20.569")
    code, out, _ = run(capsys, *WINDOW, "--ledger", filled, "--format", "csv", "--by", "model")
    header, *rows = out.splitlines()
    assert header.startswith("model,prev_calls,calls,prev_cost_usd,cost_usd,change_usd,change_pct,volume_usd")
    assert [r.split(",")[0] for r in rows] == ["gpt-4o", "gpt-4o-mini", "unknown"]  # +21.35, -1.281, +0.50


@pytest.mark.parametrize(
    "argv, says",
    [
        ([*WINDOW, "--against", "2026-03-10..2026-03-20"], "the periods overlap"),
        ([*WINDOW, "--against", "2026-02"], "no priced call from 2026-02-01T00:00:00Z to 2026-03-01T00:00:00Z"),
        (["--since", "2026-04-01", "--until", "2026-04-08"], "no priced call from 2026-04-01"),
        ([*WINDOW, "--by", "customer"], "has the tag 'customer'"),
        ([*WINDOW, "--where", "team=search"], "has the tag 'team'"),
        ([*WINDOW, "--by", "day"], "--by day: a calendar bucket"),
        ([*WINDOW, "--against", "last week"], "--against looks like"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(filled, capsys, argv, says):
    code, out, err = run(capsys, *argv, "--ledger", filled)
    assert code == 2 and out == "" and err.count("\n") == 1 and says in err


def test_alerts_explain_the_day(filled, capsys):
    code = main(["alerts", "--ledger", filled, "--at", "2026-03-09", "--daily-spend", "1", "--explain"])
    alert = json.loads(capsys.readouterr().out, parse_float=D)["alerts"][0]
    # March 8 against March 7: search goes from 14 mini calls ($0.294) to 6 mini and 9 gpt-4o calls ($3.276)
    assert code == 1 and alert["alert"] == "daily_spend"
    assert (
        alert["explanation"]["headline"] == "search +$2.98 (+1014%): model mix, gpt-4o-mini -> gpt-4o on 60% of calls"
    )
    assert alert["explanation"]["against"] == {"since": "2026-03-07T00:00:00Z", "until": "2026-03-08T00:00:00Z"}


def test_against_periods():
    week = Period(ts("2026-03-08T00:00"), ts("2026-03-15T00:00"))
    now = ts("2026-03-20T12:00")
    assert against_period(None, week, now) == BEFORE
    assert against_period("2026-02", week, now) == Period(ts("2026-02-01T00:00"), ts("2026-03-01T00:00"))
    assert against_period("2026-03-01..2026-03-08", week, now) == BEFORE
    assert against_period("19d..12d", week, now) == Period(ts("2026-03-01T12:00"), ts("2026-03-08T12:00"))
    march = Period(ts("2026-03-01T00:00"), ts("2026-04-01T00:00"))
    assert against_period("previous", march, now, calendar=True) == Period(ts("2026-02-01T00:00"), march.since_ns)
    for bad in ("2026-03-08..2026-03-01", "lastweek", "2026-13"):
        with pytest.raises(ConfigError):
            against_period(bad, week, now)


COUNTS = st.integers(0, 10**7)


@st.composite
def cells(draw) -> dict:
    out = {}
    for model in draw(st.sets(st.sampled_from(["a", "b", "c"]))):
        inp, read, write = draw(COUNTS), draw(COUNTS), draw(COUNTS)
        out_tokens, reasoning = draw(COUNTS), draw(COUNTS)
        counts = {
            "input_tokens": inp + read + write,
            "cache_read_tokens": read,
            "cache_write_tokens": write,
            "output_tokens": out_tokens + reasoning,
            "reasoning_tokens": reasoning,
        }
        money = st.decimals(0, 1000, places=draw(st.integers(0, 20)))
        split = dict(zip(SPLIT_COLUMNS, (draw(money) for _ in SPLIT_COLUMNS)))
        cost = draw(money) + sum(draw(money) for _ in SPLIT_COLUMNS)
        out[model] = cell(draw(st.integers(1, 10**6)), cost, counts, split)
    return out


@settings(max_examples=300, deadline=None)
@given(cells(), cells())
def test_effects_always_add_up_to_the_change(before, after):
    """Any cells (models new, gone, token types appearing, zero prices, costs below their split): the
    effects add up to the change exactly, and a row only in one period is all new or all gone."""
    c = decompose(("row",), before, after)
    assert exact_sum(c.effects.values()) == Fraction(c.change)
    if not before or not after:
        assert {e for e, v in c.effects.items() if v} <= {"new", "gone"}


def test_calls_that_lost_their_price_are_said_not_explained_as_gone(ledger_url, capsys):
    """search's 100 gpt-4o calls ($0.35 each) became 40 gpt-4o calls and 60 of a model with no price: its cost
    fell by $21 as volume, 100 -> 40 priced calls, with nothing to say the 60 calls were still there at an
    unknown cost. Each row and the total count the unpriced calls of each period; the headline says it."""
    unpriced = [make_row(None, at=f"2026-03-{8 + i % 7:02d}T11:00", tags={"feature": "search"}) for i in range(60)]
    unpriced.append(make_row(None, at="2026-03-02T11:00", tags={"feature": "chat"}))
    rows = steady() + calls(100, "search", later=False) + calls(40, "search", later=True) + unpriced
    got = explained(ledger_url, rows)
    e = got["_"]
    search = next(r for r in e.rows() if r["feature"] == "search")
    assert (search["prev_calls"], search["calls"], search["change_usd"]) == (100, 40, D("-21.00"))
    assert (search["prev_unpriced_calls"], search["unpriced_calls"]) == (0, 60)
    chat = next(r for r in e.rows() if r["feature"] == "chat")
    assert (chat["prev_unpriced_calls"], chat["unpriced_calls"]) == (1, 0)
    assert (e.total["prev_unpriced_calls"], e.total["unpriced_calls"]) == (1, 60)
    assert e.headline() == (
        "search -$21.00 (-60%): volume, 100 -> 40 calls; 60 calls now have no price (their cost is not in these figures)"
    )
    code, out, _ = run(capsys, *WINDOW, "--ledger", ledger_url)
    assert code == 0 and "unpriced calls, not in these figures (their cost is unknown): 1 -> 60\n" in out
