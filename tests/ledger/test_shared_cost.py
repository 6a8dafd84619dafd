"""Shared cost: a call whose tag names several owners is split among them by every report, the FOCUS
export and the in-memory reports, on SQLite and PostgreSQL; the untagged bucket spread for showback.

Expected parts are written out by hand from the rule (shares.py: whole femto-dollars, each owner the
difference of its truncated cumulative share; what lies below a femto-dollar to the last owner), or
checked against exact fractions computed here; never by calling the code under test.
"""

from __future__ import annotations

import csv
import io
import json
import random
import sqlite3
from decimal import Decimal as D
from fractions import Fraction

import pytest

from costline_processor.cli import main
from costline_processor.ledger import open_ledger, open_reader, query, schema
from costline_processor.ledger.filters import parse_where
from costline_processor.ledger.focus import focus_rows
from costline_processor.ledger.reports import Options, aggregate
from tests.ledger.factory import make_row, ts

WINDOW = dict(since_ns=ts("2026-03-01T00:00"), until_ns=ts("2026-03-05T00:00"))
CLI_WINDOW = ["--since", "2026-03-01", "--until", "2026-03-05"]
HOSTILE = "x'); DROP TABLE costline_calls; --"

# (cost, customer_id as the app writes it, {owner: its part}), worked out by hand.
HAND = [
    (
        "0.01",
        '["acme","globex","initech"]',
        {"acme": "0.003333333333333", "globex": "0.003333333333333", "initech": "0.003333333333334"},
    ),
    ("1.00", '{"acme":3,"globex":1}', {"acme": "0.75", "globex": "0.25"}),
    # 15 decimals split, the rest (6789e-19) to the last owner; SQLite has no femto count of this cost
    ("0.1234567890123456789", '["acme","globex"]', {"acme": "0.061728394506172", "globex": "0.0617283945061736789"}),
    # over $9,223: no femto count in SQLite either; weights 0.5 and 0.25 are 2 and 1
    ("12000.25", '{"acme":0.5,"globex":0.25}', {"acme": "8000.166666666666666", "globex": "4000.083333333333334"}),
    ("-0.0057", '["acme","globex"]', {"acme": "-0.00285", "globex": "-0.00285"}),
    ("0.30", f'["{HOSTILE}","O\'Brien"]', {HOSTILE: "0.15", "O'Brien": "0.15"}),
]
SINGLE = [("0.50", "acme"), ("0.20", '["not json'), ("0.07", '["solo"]')]  # the last two are one owner, as written


def _calls():
    rows = []
    for i, (cost, owners, _) in enumerate(HAND):
        rows.append(make_row(cost, at=f"2026-03-02T1{i}:00", tags={"customer_id": owners, "feature": "digest"}))
    for cost, owner in SINGLE:
        rows.append(make_row(cost, at="2026-03-03T10:00", tags={"customer_id": owner, "feature": "chat"}))
    rows.append(make_row("0.40", at="2026-03-03T11:00", tags={"feature": "chat"}))  # untagged customer
    rows.append(make_row(None, at="2026-03-03T12:00", tags={"customer_id": '["acme","globex"]', "feature": "chat"}))
    return rows


def _write(url, rows):
    w = open_ledger(url, flush_interval_s=0.05)
    w.write(rows)
    w.close(10)


def _expected_by_owner() -> dict[str, D]:
    want: dict[str, D] = {}
    for _, _, parts in HAND:
        for owner, part in parts.items():
            want[owner] = want.get(owner, D(0)) + D(part)
    for cost, owner in SINGLE:
        want[owner] = want.get(owner, D(0)) + D(cost)
    want["untagged"] = D("0.40")
    return want


def test_each_owner_gets_its_part_to_the_last_digit(ledger_url):
    _write(ledger_url, _calls())
    with open_reader(ledger_url) as r:
        a = query.ask(r, query.Question(dims=("customer_id",), **WINDOW))
    got = {row["customer_id"]: row["cost_usd"] for row in a.rows}
    assert got == _expected_by_owner()
    total = sum((D(c) for c, _, _ in HAND), D(0)) + sum((D(c) for c, _ in SINGLE), D(0)) + D("0.40")
    assert a.total["cost_usd"] == total == sum(got.values())
    calls = {row["customer_id"]: (row["calls"], row["unpriced_calls"]) for row in a.rows}
    assert calls["acme"] == (7, 1) and calls["globex"] == (6, 1) and calls["initech"] == (1, 0)
    assert a.total["calls"] == len(_calls()) and a.total["unpriced_calls"] == 1  # each call once in the total


def test_tokens_split_like_the_cost_and_add_up(ledger_url):
    row = make_row("0.01", tags={"customer_id": '["a","b","c"]'}, tokens=(100, 20, 10, 0, 5))
    _write(ledger_url, [row])
    with open_reader(ledger_url) as r:
        a = query.ask(r, query.Question(dims=("customer_id",), **WINDOW))
    got = {row["customer_id"]: [row[f] for f in schema.TOKEN_FIELDS] for row in a.rows}
    # 100 three ways: trunc(100/3)=33, trunc(200/3)-33=33, 100-66=34; 20 -> 6, 7, 7; 10 -> 3, 3, 4; 5 -> 1, 2, 2
    assert got == {"a": [33, 6, 3, 0, 1], "b": [33, 7, 3, 0, 2], "c": [34, 7, 4, 0, 2]}


def test_random_splits_add_up_to_each_call_and_stay_within_a_femto_dollar(ledger_url):
    rng = random.Random(5)
    rows, calls = [], {}
    for i in range(60):
        owners = {
            f"c{j}": rng.choice([1, 2, 3, 7, D("0.5"), D("1.25")]) for j in rng.sample(range(9), rng.randint(2, 5))
        }
        cost = D(rng.randrange(1, 10**9)).scaleb(-rng.choice([2, 6, 12, 15]))
        value = "{" + ",".join(f'"{k}":{w}' for k, w in owners.items()) + "}"
        row = make_row(cost, trace=f"{i + 1:032x}", tags={"customer_id": value})
        rows.append(row)
        calls[row.trace_id] = (cost, owners)
    _write(ledger_url, rows)
    with open_reader(ledger_url) as r:
        a = query.ask(r, query.Question(dims=("trace", "customer_id"), **WINDOW))
    by_trace: dict[str, dict[str, D]] = {}
    for row in a.rows:
        by_trace.setdefault(row["trace"], {})[row["customer_id"]] = row["cost_usd"]
    for trace, (cost, owners) in calls.items():
        parts = by_trace[trace]
        assert set(parts) == set(owners) and sum(parts.values()) == cost
        total = sum(Fraction(w) for w in owners.values())
        for owner, w in owners.items():
            exact = Fraction(cost) * Fraction(w) / total
            assert abs(Fraction(parts[owner]) - exact) < Fraction(1, 10**15)


def test_a_filter_on_the_tag_counts_the_owners_it_keeps(ledger_url):
    _write(ledger_url, _calls())
    with open_reader(ledger_url) as r:
        only = query.ask(r, query.Question(dims=("feature",), filters=parse_where(["customer_id=acme"]), **WINDOW))
        others = query.ask(r, query.Question(dims=("feature",), filters=parse_where(["customer_id!=acme"]), **WINDOW))
    acme_digest = sum(D(parts["acme"]) for _, _, parts in HAND if "acme" in parts)
    assert {x["feature"]: x["cost_usd"] for x in only.rows} == {"digest": acme_digest, "chat": D("0.50")}
    assert {x["feature"]: x["calls"] for x in only.rows} == {"digest": 5, "chat": 2}
    assert only.total["cost_usd"] == acme_digest + D("0.50") and only.total["calls"] == 7
    rest = sum(D(p) for _, _, parts in HAND for o, p in parts.items() if o != "acme")
    got = {x["feature"]: (x["calls"], x["cost_usd"]) for x in others.rows}
    # the 3-way call keeps globex and initech: one call, both parts
    assert got == {"digest": (6, rest), "chat": (4, D("0.20") + D("0.07") + D("0.40"))}
    assert others.total["calls"] == 10 and others.total["cost_usd"] == rest + D("0.67")


def test_distinct_counts_beside_shared_calls(ledger_url):
    rows = [
        make_row("0.90", tags={"customer_id": '["a","b","c"]', "user_id": "u1"}),
        make_row("0.30", tags={"customer_id": "a", "user_id": "u1"}),
        make_row("0.30", tags={"customer_id": "a", "user_id": "u2"}),
        make_row("0.1234567890123456789", tags={"customer_id": "b", "user_id": "u3"}),
    ]
    _write(ledger_url, rows)
    with open_reader(ledger_url) as r:
        a = query.ask(r, query.Question(dims=("customer_id",), user_tag="user_id", traces=True, **WINDOW))
        b = query.ask(
            r, query.Question(dims=("user_id",), filters=parse_where(["customer_id=b"]), user_tag="user_id", **WINDOW)
        )
    got = {x["customer_id"]: (x["calls"], x["active_users"], x["traces"], x["cost_usd"]) for x in a.rows}
    assert got == {"a": (3, 2, 3, D("0.90")), "b": (2, 2, 2, D("0.4234567890123456789")), "c": (1, 1, 1, D("0.30"))}
    assert a.total["calls"] == 4 and a.total["cost_usd"] == D("1.6234567890123456789")
    assert {x["user_id"]: x["cost_usd"] for x in b.rows} == {"u1": D("0.30"), "u3": D("0.1234567890123456789")}
    assert b.total["calls"] == 2


def test_reports_not_by_the_tag_see_each_call_whole(ledger_url):
    _write(ledger_url, _calls())
    with open_reader(ledger_url) as r:
        a = query.ask(r, query.Question(dims=("feature",), **WINDOW))
    digest = sum((D(c) for c, _, _ in HAND), D(0))
    assert {x["feature"]: (x["calls"], x["cost_usd"]) for x in a.rows} == {
        "digest": (6, digest),
        "chat": (5, D("0.50") + D("0.20") + D("0.07") + D("0.40")),
    }


def test_the_in_memory_reports_split_the_same_way():
    rows = _calls()
    groups, total = aggregate(rows, ["customer_id"], Options())
    assert {k[0]: t.cost_usd for k, t in groups.items()} == _expected_by_owner()
    assert total.calls == len(rows)


def test_report_command_prints_each_owner(ledger_url, capsys):
    _write(ledger_url, _calls())
    assert main(["report", "--by", "customer_id", "--format", "csv", *CLI_WINDOW, "--ledger", ledger_url]) == 0
    got = {r["customer_id"]: D(r["cost_usd"]) for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    want = _expected_by_owner()
    assert got == want
    assert main(["top", "customers", "-n", "1", "--format", "json", *CLI_WINDOW, "--ledger", ledger_url]) == 0
    (first,) = json.loads(capsys.readouterr().out)
    assert first["customer_id"] == "acme" and first["cost_usd"] == pytest.approx(float(want["acme"]))


def test_focus_has_one_row_per_owner_share():
    rows = focus_rows(_calls()[:2])
    billed: dict[str, D] = {}
    calls: dict[str, int] = {}
    for r in rows:
        owner = json.loads(r["Tags"])["customer_id"]
        billed[owner] = billed.get(owner, D(0)) + r["BilledCost"]
        calls[owner] = max(calls.get(owner, 0), r["x_Calls"])
    assert calls == {"acme": 2, "globex": 2, "initech": 1}  # the same day and tags: one row per SKU
    assert billed == {
        "acme": D("0.753333333333333"),
        "globex": D("0.253333333333333"),
        "initech": D("0.003333333333334"),
    }
    assert sum(billed.values()) == D("1.01")


def test_focus_shares_keep_their_skus_adding_up():
    call = make_row(
        "0.0300", split=("0.01", "0.0200", "0", "0"), tokens=(1000, 101, 0, 0, 0), tags={"customer_id": '["a","b","c"]'}
    )
    rows = focus_rows([call])
    per_owner: dict[str, D] = {}
    quantity: dict[str, int] = {}
    for r in rows:
        owner = json.loads(r["Tags"])["customer_id"]
        per_owner[owner] = per_owner.get(owner, D(0)) + r["BilledCost"]
        quantity[r["SkuMeter"]] = quantity.get(r["SkuMeter"], 0) + r["ConsumedQuantity"]
    assert per_owner == {"a": D("0.01"), "b": D("0.01"), "c": D("0.01")}
    assert quantity == {"Input Tokens": 1000, "Output Tokens": 101}


def test_allocate_untagged_by_hand(ledger_url, capsys):
    rows = [
        make_row("6.00", tags={"customer_id": "a", "feature": "x"}),
        make_row("2.00", tags={"customer_id": "b", "feature": "x"}),
        make_row("1.00", tags={"customer_id": "c", "feature": "y"}),
        make_row("2.00", tags={"feature": "x"}),  # untagged: over a and b, 3:1 -> 1.50 and 0.50
        make_row("0.01", tags={"feature": "y"}),  # untagged in y: all to c
        make_row("0.30", tags={"feature": "z"}),  # untagged in z, nobody tagged there: stays
    ]
    _write(ledger_url, rows)
    args = ["--by", "feature,customer_id", *CLI_WINDOW, "--ledger", ledger_url]
    assert main(["report", *args, "--allocate-untagged", "customer_id", "--format", "json"]) == 0
    got = {
        (r["feature"], r["customer_id"]): (D(str(r["cost_usd"])), D(str(r["allocated_usd"])))
        for r in json.loads(capsys.readouterr().out)
    }
    assert got == {
        ("x", "a"): (D("7.50"), D("1.50")),
        ("x", "b"): (D("2.50"), D("0.50")),
        ("y", "c"): (D("1.01"), D("0.01")),
        ("z", "untagged"): (D("0.30"), D(0)),
    }
    assert main(["report", *args, "--allocate-untagged", "customer_id"]) == 0
    out = capsys.readouterr().out
    assert "allocated: $2.01 of untagged cost spread over customer_id in proportion" in out
    assert "$0.30 stays untagged" in out


def test_allocation_rounding_adds_up_exactly(ledger_url):
    rows = [make_row("1.00", tags={"customer_id": c}) for c in "abc"] + [make_row("0.01", tags={})]
    _write(ledger_url, rows)
    with open_reader(ledger_url) as r:
        a = query.ask(r, query.Question(dims=("customer_id",), allocate="customer_id", limit=2, **WINDOW))
        full = query.ask(r, query.Question(dims=("customer_id",), allocate="customer_id", **WINDOW))
    assert {x["customer_id"]: x["allocated_usd"] for x in full.rows} == {
        "a": D("0.003333333333333"),
        "b": D("0.003333333333333"),
        "c": D("0.003333333333334"),
    }
    assert sum(x["cost_usd"] for x in full.rows) == full.total["cost_usd"] == D("3.01")
    assert [x["customer_id"] for x in a.rows] == ["c", "a"]  # LIMIT after the allocation (c got the extra femto)
    assert full.allocation == {"dim": "customer_id", "allocated_usd": D("0.01"), "unallocated_usd": D(0)}


@pytest.mark.parametrize(
    "flags",
    [
        ["--by", "model", "--allocate-untagged"],
        ["--by", "feature", "--allocate-untagged", "customer_id"],
        ["--by", "customer_id", "--compare", "--allocate-untagged"],
    ],
)
def test_allocation_needs_a_tag_of_the_report(sqlite_path, flags, capsys):
    _write(sqlite_path, [make_row("1.00", tags={"customer_id": "a", "feature": "x"})])
    assert main(["report", *flags, *CLI_WINDOW, "--ledger", sqlite_path]) == 2
    assert "--allocate-untagged" in capsys.readouterr().err


def test_a_version_4_ledger_gains_the_shares_column(sqlite_path):
    conn = sqlite3.connect(sqlite_path)
    v4 = [*schema.columns_of("4"), schema.FEMTO_COLUMN]
    conn.execute(
        f"CREATE TABLE {schema.TABLE} ({', '.join(f'{c[0]} {c[1]}' for c in v4)}, PRIMARY KEY (trace_id, span_id))"
    )
    conn.execute("CREATE TABLE costline_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO costline_meta VALUES ('schema_version', '4')")
    old = make_row("0.10", tags={"customer_id": "acme"})
    params = schema.to_params(old, 1, "sqlite")
    conn.execute(
        f"INSERT INTO {schema.TABLE} VALUES ({', '.join('?' for _ in v4)})", (*params[: len(v4) - 1], params[-1])
    )
    conn.commit()
    conn.close()
    _write(sqlite_path, [make_row("1.00", tags={"customer_id": '["acme","globex"]'})])
    conn = sqlite3.connect(sqlite_path)
    assert conn.execute("SELECT value FROM costline_meta").fetchone() == (schema.SCHEMA_VERSION,)
    shares = sorted(conn.execute("SELECT shares FROM costline_calls").fetchall(), key=str)
    # acme: low 0, high 1 of 2; globex: 1, 2 of 2; packed as (total * 2**20 + high) * 2**20 + low
    assert shares == [('{"customer_id":{"acme":2199024304128,"globex":2199025352705}}',), (None,)]
    assert "costline_calls_shared" in {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    conn.close()
    with open_reader(sqlite_path) as r:
        a = query.ask(r, query.Question(dims=("customer_id",), **WINDOW))
    assert {x["customer_id"]: x["cost_usd"] for x in a.rows} == {"acme": D("0.60"), "globex": D("0.50")}
