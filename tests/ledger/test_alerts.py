"""`costline alerts` against a ledger whose numbers the test sets by hand.

Previous week (Feb 26): chat 10 calls x $0.10, search 10 x $0.20, users u1 and u2.
Checked day (Mar 10): chat 10 x $0.30 (acme; u1, u2), search 20 x $0.20 (globex; u3),
one untagged call of $1.00. So the day costs $8, acme $3, globex $4, u3 $4; cost per
user goes from $3/2 to $8/3; chat's cost triples on flat usage; 1/8 is untagged.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from costline_processor.cli import main
from costline_processor.ledger import open_ledger
from costline_processor.ledger.alerts import Thresholds, evaluate
from tests.ledger.factory import make_row, ts

AT = ["--at", "2026-03-11"]  # midnight: checks March 10, trends Mar 4-11 against Feb 25-Mar 4


def ledger_rows():
    rows = []
    for i in range(10):
        rows.append(
            make_row(
                "0.10",
                at="2026-02-26T10:00",
                tags={"feature": "chat", "customer_id": "acme", "user_id": f"u{i % 2 + 1}"},
            )
        )
        rows.append(
            make_row(
                "0.20",
                at="2026-02-26T11:00",
                tags={"feature": "search", "customer_id": "globex", "user_id": f"u{i % 2 + 1}"},
            )
        )
        rows.append(
            make_row(
                "0.30",
                at="2026-03-10T10:00",
                tags={"feature": "chat", "customer_id": "acme", "user_id": f"u{i % 2 + 1}"},
            )
        )
    for _ in range(20):
        rows.append(
            make_row(
                "0.20", at="2026-03-10T11:00", tags={"feature": "search", "customer_id": "globex", "user_id": "u3"}
            )
        )
    rows.append(make_row("1.00", at="2026-03-10T12:00", tags={}))
    rows.append(make_row("50.00", at="2026-03-11T00:00", tags={"feature": "chat"}))  # after the checked instant
    return rows


DAY = Decimal("8.00")
CPU_GROWTH = ((Decimal(8) / 3) / (Decimal(3) / 2) - 1) * 100
UNTAGGED_PCT = Decimal(1) / Decimal(8) * 100


@pytest.fixture
def filled(ledger_url):
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write(ledger_rows())
    w.close(10)
    return ledger_url


def run(capsys, *argv):
    code = main(["alerts", *argv])
    return code, json.loads(capsys.readouterr().out, parse_float=Decimal)


def test_every_alert_fires_just_past_its_threshold(filled, capsys):
    code, out = run(
        capsys,
        *AT,
        "--ledger",
        filled,
        "--daily-spend",
        "7.99",
        "--customer-daily",
        "3.5",
        "--user-daily",
        "2",
        "--cost-per-user-growth",
        "77",
        "--feature-cost-vs-usage",
        "150",
        "--untagged-share",
        "12",
    )
    assert code == 1 and out["ok"] is False
    got = {(a["alert"], a["subject"]): a["value"] for a in out["alerts"]}
    assert set(got) == {
        ("daily_spend", "2026-03-10"),
        ("customer_daily_spend", "globex"),
        ("user_daily_spend", "u3"),
        ("cost_per_user_trend", "all"),
        ("feature_cost_vs_usage", "chat"),
        ("untagged_share", "2026-03-10"),
    }
    assert got[("daily_spend", "2026-03-10")] == DAY
    assert got[("customer_daily_spend", "globex")] == Decimal("4.00")
    assert got[("user_daily_spend", "u3")] == Decimal("4.00")
    assert abs(got[("cost_per_user_trend", "all")] - CPU_GROWTH) < Decimal("1e-9")
    assert abs(got[("feature_cost_vs_usage", "chat")] - 200) < Decimal("1e-9")
    assert abs(got[("untagged_share", "2026-03-10")] - UNTAGGED_PCT) < Decimal("1e-9")
    assert len(out["checked"]) == 6


def test_nothing_fires_at_or_under_the_thresholds(filled, capsys):
    code, out = run(
        capsys,
        *AT,
        "--ledger",
        filled,
        "--daily-spend",
        "8.00",
        "--customer-daily",
        "4",
        "--user-daily",
        "4",
        "--cost-per-user-growth",
        "78",
        "--feature-cost-vs-usage",
        "201",
        "--untagged-share",
        "12.5",
    )
    assert code == 0 and out == {"ok": True, "checked": out["checked"], "alerts": []}


def test_thresholds_file_and_flag_override(filled, capsys, tmp_path):
    f = tmp_path / "thresholds.yaml"
    f.write_text("daily_spend_usd: 100\nuntagged_share_pct: 5\nperiod: 7d\n")
    code, out = run(capsys, *AT, "--ledger", filled, "--thresholds", str(f), "--daily-spend", "1")
    assert code == 1
    assert {a["alert"] for a in out["alerts"]} == {"daily_spend", "untagged_share"}


def test_usage_errors_exit_2(filled, capsys, tmp_path):
    assert main(["alerts", "--ledger", filled]) == 2
    bad = tmp_path / "t.yaml"
    bad.write_text("daily_spend: 3\n")
    assert main(["alerts", "--ledger", filled, "--thresholds", str(bad)]) == 2
    assert main(["alerts", "--ledger", filled, "--daily-spend", "lots"]) == 2
    err = capsys.readouterr().err
    assert "no alert threshold set" in err and "unknown alert threshold" in err and "must be a number" in err


def test_feature_trend_ignores_features_below_the_minimum():
    rows = [
        make_row("0.01", at="2026-02-26T10:00", tags={"feature": "tiny"}),
        make_row("0.50", at="2026-03-10T10:00", tags={"feature": "tiny"}),
    ]
    t = Thresholds(feature_cost_vs_usage_pct=Decimal(10))
    assert evaluate(rows, ts("2026-03-11T00:00"), t) == []
    t = Thresholds(feature_cost_vs_usage_pct=Decimal(10), min_feature_cost_usd=Decimal(0))
    assert [a.subject for a in evaluate(rows, ts("2026-03-11T00:00"), t)] == ["tiny"]


def _ledger(url: str, rows) -> str:
    w = open_ledger(url, flush_interval_s=0.05)
    w.write(rows)
    w.close(10)
    return url


def test_unpriced_calls_of_the_day_are_said_not_spent_as_zero(ledger_url, capsys):
    """The day's spend is its priced calls; two unpriced calls (cost unknown) were a silent $0 in it, whether the
    alert fired or not."""
    rows = [make_row("3.00", at="2026-03-10T10:00", tags={"customer_id": "acme"}) for _ in range(2)]
    rows += [make_row(None, at="2026-03-10T11:00", tags={"customer_id": "acme"}) for _ in range(2)]
    rows += [make_row(None, at="2026-03-09T11:00")]  # the day before: not the checked day's
    url = _ledger(ledger_url, rows)
    code, out = run(capsys, *AT, "--daily-spend", "5", "--customer-daily", "5", "--ledger", url)
    spend = Decimal("3.00") * 2
    assert code == 1 and {a["alert"]: a["value"] for a in out["alerts"]} == {
        "daily_spend": spend,
        "customer_daily_spend": spend,
    }
    assert all("2 unpriced calls are not in it" in a["message"] for a in out["alerts"])
    assert out["unpriced_calls"] == 2
    code, out = run(capsys, *AT, "--daily-spend", "100", "--ledger", url)
    assert code == 0 and out["ok"] is True and out["unpriced_calls"] == 2


def test_a_feature_cost_per_call_is_per_priced_call(ledger_url, capsys):
    """Cost per call is priced cost over priced calls: search's half-unpriced week before (5 x $1 priced, 5 unpriced)
    against 10 x $1 priced read cost x2 on flat calls, +100% (a false alarm at 50%); chat's $1 calls becoming $3 with
    half unpriced read cost x1.5 on flat calls, +50%, where each priced call cost 200% more (missed at 100%)."""
    rows = []
    for i in range(10):
        rows.append(make_row("1.00" if i < 5 else None, at="2026-02-26T10:00", tags={"feature": "search"}))
        rows.append(make_row("1.00", at="2026-03-06T10:00", tags={"feature": "search"}))
        rows.append(make_row("1.00", at="2026-02-26T10:00", tags={"feature": "chat"}))
        rows.append(make_row("3.00" if i < 5 else None, at="2026-03-06T10:00", tags={"feature": "chat"}))
    url = _ledger(ledger_url, rows)
    for pct in ("50", "100"):
        code, out = run(capsys, *AT, "--feature-cost-vs-usage", pct, "--ledger", url)
        got = {a["subject"]: a["value"] for a in out["alerts"]}
        chat = ((Decimal("15") / 5) / (Decimal("10") / 10) - 1) * 100  # $3 a priced call against $1
        assert got == {"chat": chat}, pct
        assert "5 unpriced calls are left out" in out["alerts"][0]["message"]


def test_cost_per_active_user_counts_the_users_of_priced_calls(ledger_url, capsys):
    """u1 and u2 cost $10 each the week before; this week u1 $20 and u2 $10, and u3..u6 came on an unpriced model.
    Their cost is unknown, not $0: counted as users of $0, cost per user read $30 / 6 against $20 / 2 (-50%, no
    alert) where the users with a known cost went from $10 to $15 (+50%)."""
    rows = []
    for user in ("u1", "u2"):
        rows.append(make_row("10.00", at="2026-02-26T10:00", tags={"user_id": user}))
        rows.append(make_row("10.00", at="2026-03-06T10:00", tags={"user_id": user}))
    rows += [make_row(None, at="2026-03-06T10:00", tags={"user_id": f"u{n}"}) for n in range(3, 7)]
    rows.append(make_row("10.00", at="2026-03-06T11:00", tags={"user_id": "u1"}))  # u1 costs $20 this week
    url = _ledger(ledger_url, rows)
    code, out = run(capsys, *AT, "--cost-per-user-growth", "20", "--ledger", url)
    growth = ((Decimal("30") / 2) / (Decimal("20") / 2) - 1) * 100
    assert code == 1 and [(a["alert"], a["value"]) for a in out["alerts"]] == [("cost_per_user_trend", growth)]
