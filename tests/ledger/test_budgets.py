"""`costline budgets` and the `budgets:` config: spent, used, forecast and status of each budget, on both ledgers.

Every expected figure is computed from the rows the test writes (budget_data.ROWS), the forecast by
the method `--help` states, written out again by hand (budget_data.by_hand).
"""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
import yaml

from costline_processor.cli import main
from costline_processor.config import ConfigError
from costline_processor.config_sources import load_config
from costline_processor.ledger import budgets, open_ledger, open_reader, options
from tests.ledger.budget_data import NOW, by_hand, close, spent, write
from tests.ledger.factory import make_row, ts

CONFIG = """
budgets:
  - scope: {feature: search}
    period: month
    amount_usd: 2
  - name: search tight
    scope: {feature: search}
    amount_usd: 1.2
    warn_at: [0.8]
  - name: each customer daily
    scope: {customer_id: "*"}
    period: day
    amount_usd: 0.25
  - name: everything weekly
    period: week
    amount_usd: 1
    warn_at: [0.5, 0.9]
"""


@pytest.fixture
def ledger(ledger_url, tmp_path, monkeypatch):
    monkeypatch.setattr(options, "now_ns", lambda: ts(NOW))
    write(ledger_url)
    (tmp_path / "costline.yaml").write_text(CONFIG)
    return ledger_url, str(tmp_path / "costline.yaml")


def run_budgets(capsys, ledger, *argv) -> tuple[int, list[dict]]:
    url, config = ledger
    code = main(["budgets", "--ledger", url, "--config", config, "--format", "json", *argv])
    return code, json.loads(capsys.readouterr().out, parse_float=D)


def test_each_budget_spent_used_forecast_and_status(ledger, capsys):
    code, rows = run_budgets(capsys, ledger)
    assert code == 1  # initech is over its daily budget
    got = {(r["budget"], r["scope"]): r for r in rows}
    search = lambda f, cu: f == "search"
    month = got[("feature=search per month", "feature=search")]
    assert month["spent_usd"] == spent(search, "2026-03-01") == D("1.00")
    assert close(month["used"], D("0.5")) and month["status"] == "ok" and month["period"] == "month"
    assert month["since"] == "2026-03-01T00:00:00Z"
    assert close(month["forecast_usd"], by_hand(search, "2026-03-01", "2026-04-01T00:00"))
    tight = got[("search tight", "feature=search")]
    assert tight["status"] == "warn" and close(tight["used"], D("1.00") / D("1.2"))
    for customer, status in (("acme", "ok"), ("globex", "ok"), ("initech", "over")):
        row = got[("each customer daily", f"customer_id={customer}")]
        mine = lambda f, cu, c=customer: cu == c
        assert row["spent_usd"] == spent(mine, "2026-03-10"), customer
        assert row["status"] == status, customer
        assert close(row["forecast_usd"], by_hand(mine, "2026-03-10", "2026-03-11T00:00")), customer
    assert not any("untagged" in scope for _, scope in got)  # calls without the tag are nobody's
    week = got[("everything weekly", "all calls")]
    everyone = lambda f, cu: True
    assert week["spent_usd"] == spent(everyone, "2026-03-09") and week["status"] == "warn"
    assert close(week["forecast_usd"], by_hand(everyone, "2026-03-09", "2026-03-16T00:00"))
    assert len(rows) == 6


def test_the_forecast_method_on_its_three_cases(ledger, capsys):
    """acme: 7 full days of history; globex: 4 (its first call was on the 6th); initech: today only."""
    _, rows = run_budgets(capsys, ledger)
    got = {r["scope"]: r["forecast_usd"] for r in rows if r["budget"] == "each customer daily"}
    assert close(got["customer_id=acme"], D("0.10") + D("0.70") / 7 * D("0.5"))
    assert close(got["customer_id=globex"], D("0.02") + D("0.08") / 4 * D("0.5"))
    assert close(got["customer_id=initech"], D("0.30") + D("0.30") * 2 * D("0.5"))


def test_status_thresholds_exactly():
    from costline_processor.config import Budget
    from costline_processor.ledger.budgets import Standing

    b = Budget(D("10"), warn_at=[0.8, 1.0])
    status = {v: Standing(b, "all calls", 0, 1, D(v), D(v)).status for v in ("7.99", "8", "10", "10.01")}
    assert status == {"7.99": "ok", "8": "warn", "10": "warn", "10.01": "over"}
    assert Standing(b, "all calls", 0, 1, D("10"), D("0")).reached == D("1.0")
    assert Standing(Budget(D("10"), warn_at=[]), "all calls", 0, 1, D("9.99"), D(0)).status == "ok"


def test_table_and_csv_and_exit_zero_when_nothing_is_over(ledger, tmp_path, capsys):
    url, _ = ledger
    (tmp_path / "calm.yaml").write_text("budgets: [{scope: {feature: chat}, period: day, amount_usd: 100}]")
    assert main(["budgets", "--ledger", url, "--config", str(tmp_path / "calm.yaml")]) == 0
    out = capsys.readouterr().out
    assert "feature=chat per day" in out and "0 over, 0 warn, 1 ok" in out and "run rate" in out
    assert main(["budgets", "--ledger", url, "--config", str(tmp_path / "calm.yaml"), "--format", "csv"]) == 0
    header, line = capsys.readouterr().out.splitlines()
    assert header == ",".join(budgets.COLUMNS)
    chat_today = spent(lambda f, cu: f == "chat", "2026-03-10")
    assert line.split(",")[5] == str(chat_today) and line.endswith(",ok")


def test_a_star_budget_with_no_call_yet_shows_one_row(ledger, tmp_path, capsys):
    url, _ = ledger
    (tmp_path / "b.yaml").write_text('budgets: [{scope: {customer_id: "*", feature: summarize}, amount_usd: 5}]')
    code = main(["budgets", "--ledger", url, "--config", str(tmp_path / "b.yaml"), "--format", "json"])
    assert code == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["scope"] == "customer_id=*, feature=summarize" and row["spent_usd"] == 0 and row["status"] == "ok"


def test_a_scope_tag_no_call_carries_is_refused_in_one_line(ledger, tmp_path, capsys):
    url, _ = ledger
    (tmp_path / "typo.yaml").write_text('budgets: [{scope: {customer: "*"}, amount_usd: 5}]')
    assert main(["budgets", "--ledger", url, "--config", str(tmp_path / "typo.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "budget 'customer=* per month'" in err and "customer_id" in err


def test_no_budgets_is_a_usage_error(ledger, tmp_path, capsys):
    url, _ = ledger
    (tmp_path / "none.yaml").write_text("tagging: {owner: finops}\n")
    assert main(["budgets", "--ledger", url, "--config", str(tmp_path / "none.yaml")]) == 2
    assert "no budgets" in capsys.readouterr().err


def test_both_ledgers_agree(ledger, capsys):
    """The same rows give the same standings through the module (the CLI above runs on both engines too)."""
    url, config = ledger
    with open_reader(url) as reader:
        standings = budgets.evaluate(reader, load_config(config).budgets, ts(NOW), "untagged")
    assert [s.status for s in standings] == ["ok", "warn", "over", "ok", "ok", "warn"]


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("{amount_usd: -5}", ["budgets[0]", "amount_usd", "more than zero"]),
        ("{amount_usd: 0}", ["budgets[0]", "more than zero"]),
        ("{amount_usd: 5, period: year, name: big}", ["budgets[0] ('big')", "period", "day, week or month"]),
        ("{amount_usd: 5, amout: 3}", ["budgets[0]", "unknown key 'amout'"]),
        ("{scope: {feature: search}}", ["budgets[0]", "amount_usd is missing"]),
        ("{amount_usd: ten}", ["budgets[0]", "amount_usd must be a number"]),
        ("{amount_usd: 5, scope: {day: monday}}", ["budgets[0]", "scope key 'day'"]),
        ("{amount_usd: 5, scope: [feature]}", ["budgets[0]", "scope must be a mapping"]),
        ("{amount_usd: 5, scope: {feature: ''}}", ["budgets[0]", 'or "*"']),
        ("{amount_usd: 5, warn_at: [0.8, -1]}", ["budgets[0]", "warn_at"]),
        ("{amount_usd: 5}, {amount_usd: 6}", ["two budgets are called 'all calls per month'"]),
    ],
)
def test_a_wrong_budget_is_refused_at_load_naming_the_entry(tmp_path, entry, words):
    (tmp_path / "c.yaml").write_text(f"budgets: [{entry}]\n")
    with pytest.raises(ConfigError) as e:
        load_config(str(tmp_path / "c.yaml"))
    assert "\n" not in str(e.value)
    for w in words:
        assert w in str(e.value)


def test_a_budget_loads_with_its_defaults(tmp_path):
    (tmp_path / "c.yaml").write_text("budgets:\n  - scope: {costline.customer_id: 42}\n    amount_usd: 0.1\n")
    (b,) = load_config(str(tmp_path / "c.yaml")).budgets
    assert b.scope == {"customer_id": "42"} and b.period == "month" and b.warn_at == [0.8, 1.0]
    assert b.amount_usd == D("0.1") and b.label == "customer_id=42 per month"


def test_config_check_shows_the_budgets(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text(CONFIG)
    assert main(["config", "check", str(tmp_path / "c.yaml")]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)["budgets"]
    assert [(b["name"], b["amount_usd"], b["period"]) for b in shown] == [
        (None, 2, "month"),
        ("search tight", 1.2, "month"),
        ("each customer daily", 0.25, "day"),
        ("everything weekly", 1, "week"),
    ]


def test_unpriced_calls_in_a_budget_are_said_not_spent_as_zero(ledger_url, tmp_path, capsys, monkeypatch):
    """A budget's spent is its priced calls; an unpriced call's cost is unknown, not $0. Before, a budget with
    $1.50 priced and two unpriced calls read `warn, 75%` with nothing to say that part of its spend was missing."""
    from costline_processor.ledger.budgets import Standing

    monkeypatch.setattr(options, "now_ns", lambda: ts(NOW))
    calls = [
        make_row("1.50", at="2026-03-03T10:00", tags={"feature": "search"}),
        make_row(None, at="2026-03-04T10:00", tags={"feature": "search"}),
        make_row(None, at="2026-03-10T11:59", tags={"feature": "search"}),
        make_row(None, at="2026-02-27T10:00", tags={"feature": "search"}),  # last month: not this budget's
        make_row(None, at="2026-03-05T10:00", tags={"feature": "chat"}),  # another scope
    ]
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write(calls)
    w.close(10)
    (tmp_path / "b.yaml").write_text("budgets: [{scope: {feature: search}, amount_usd: 2, warn_at: [0.5]}]")
    code, (row,) = run_budgets(capsys, (ledger_url, str(tmp_path / "b.yaml")))
    assert code == 0 and row["spent_usd"] == D("1.50") and row["status"] == "warn"
    assert row["unpriced_calls"] == 2
    with open_reader(ledger_url) as reader:
        (standing,) = budgets.evaluate(reader, load_config(str(tmp_path / "b.yaml")).budgets, ts(NOW), "untagged")
    (alert,) = budgets.alerts([standing])
    assert "2 unpriced calls this month are not in it" in alert.message
    b = load_config(str(tmp_path / "b.yaml")).budgets[0]
    assert "unpriced" not in budgets.alerts([Standing(b, "feature=search", 0, 1, D("1.5"), D("2"))])[0].message
