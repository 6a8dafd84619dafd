"""`report --forecast` and ledger/forecast.py: the current UTC period's projected total per row, by the stated
method (budget_data.by_hand writes it out again), on both ledgers."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from costline_processor.cli import main
from costline_processor.ledger import options
from costline_processor.ledger.forecast import period_bounds, projection
from tests.ledger.budget_data import NOW, by_hand, close, spent, write
from tests.ledger.factory import ts

DAY = 86_400 * 10**9


@pytest.mark.parametrize(
    ("period", "now", "start", "end"),
    [
        ("day", "2026-03-10T12:00", "2026-03-10T00:00", "2026-03-11T00:00"),
        ("day", "2026-03-10T00:00", "2026-03-10T00:00", "2026-03-11T00:00"),
        ("week", "2026-03-10T12:00", "2026-03-09T00:00", "2026-03-16T00:00"),  # Tuesday: from Monday
        ("week", "2026-03-15T23:59", "2026-03-09T00:00", "2026-03-16T00:00"),  # Sunday: still that week
        ("week", "2026-03-16T00:00", "2026-03-16T00:00", "2026-03-23T00:00"),
        ("week", "2027-01-01T08:00", "2026-12-28T00:00", "2027-01-04T00:00"),  # across a year
        ("month", "2026-02-14T12:00", "2026-02-01T00:00", "2026-03-01T00:00"),
        ("month", "2026-12-31T23:59", "2026-12-01T00:00", "2027-01-01T00:00"),
    ],
)
def test_period_bounds_are_utc_calendar_periods(period, now, start, end):
    assert period_bounds(period, ts(now)) == (ts(start), ts(end))


def test_projection_by_its_three_rules():
    now = ts("2026-03-10T18:00")
    end = ts("2026-03-11T00:00")  # a quarter of a day left
    full = projection(D("1"), D("0.7"), D("0.2"), ts("2026-03-01T09:00"), now, end)  # 7 full days
    assert full.rate_usd_per_day == D("0.1") and full.forecast_usd == D("1.025")
    young = projection(D("1"), D("0.3"), D("0.2"), ts("2026-03-07T23:00"), now, end)  # first call on the 7th: 3 days
    assert young.rate_usd_per_day == D("0.1") and young.forecast_usd == D("1.025")
    today = projection(D("0.3"), D("0"), D("0.3"), ts("2026-03-10T02:00"), now, end)  # 0.3 in 18 h: 0.4 a day
    assert today.rate_usd_per_day == D("0.4") and today.forecast_usd == D("0.4")
    idle = projection(D("0"), D("0"), D("0"), None, now, end)
    assert idle.forecast_usd == 0


@pytest.fixture
def ledger(ledger_url, monkeypatch):
    monkeypatch.setattr(options, "now_ns", lambda: ts(NOW))
    write(ledger_url)
    return ledger_url


def report(capsys, url, *argv) -> list[dict]:
    assert main(["report", "--ledger", url, "--format", "json", *argv]) == 0
    return json.loads(capsys.readouterr().out, parse_float=D)


def test_report_forecast_per_row_for_the_month(ledger, capsys):
    rows = report(capsys, ledger, "--by", "feature", "--mtd", "--forecast")
    got = {r["feature"]: r for r in rows}
    for feature in ("search", "chat"):
        mine = lambda f, cu, x=feature: f == x
        assert got[feature]["cost_usd"] == spent(mine, "2026-03-01")
        assert close(got[feature]["forecast_usd"], by_hand(mine, "2026-03-01", "2026-04-01T00:00")), feature
    assert list(rows[0]).index("forecast_usd") == list(rows[0]).index("share") + 1


def test_report_forecast_of_a_week_with_filters_and_sorted_by_it(ledger, capsys):
    rows = report(
        capsys, ledger, "--by", "customer_id", "--since", "7d", "--where", "feature=chat", "--forecast", "week",
        "--sort", "forecast_usd", "--limit", "2",
    )  # fmt: skip
    expected = {
        cu or "untagged": by_hand(lambda f, c, cu=cu: f == "chat" and c == cu, "2026-03-09", "2026-03-16T00:00")
        for cu in ("globex", "initech", None)
    }
    assert [r["customer_id"] for r in rows] == sorted(expected, key=expected.get, reverse=True)[:2]
    for r in rows:
        assert close(r["forecast_usd"], expected[r["customer_id"]])


def test_only_the_current_bucket_gets_a_forecast(ledger, capsys):
    rows = report(capsys, ledger, "--by", "day", "--since", "2026-03-08", "--forecast")
    assert [r["day"] for r in rows] == ["2026-03-08", "2026-03-09", "2026-03-10"]
    assert rows[0]["forecast_usd"] is None and rows[1]["forecast_usd"] is None
    everyone = lambda f, cu: True
    assert close(rows[2]["forecast_usd"], by_hand(everyone, "2026-03-10", "2026-03-11T00:00"))


def test_the_table_says_the_method_and_the_total(ledger, capsys):
    assert main(["report", "--ledger", ledger, "--by", "feature", "--forecast"]) == 0
    out = capsys.readouterr().out
    total = sum(by_hand(lambda f, cu, x=x: f == x, "2026-03-01", "2026-04-01T00:00") for x in ("search", "chat"))
    assert f"forecast: ${total:,.2f} for this month (to 2026-04-01T00:00:00Z), the sum of every group's" in out
    assert "last 7 full UTC days" in out


def test_forecast_flags_refused_in_one_line(ledger, capsys):
    for argv in (["--forecast", "year"], ["--by", "month", "--forecast", "week"], ["--sort", "forecast_usd"]):
        assert main(["report", "--ledger", ledger, *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and ("forecast" in err), err
    assert "run rate" in _help(capsys)


def _help(capsys) -> str:
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    return capsys.readouterr().out
