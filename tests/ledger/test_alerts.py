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
