"""`costline reconcile` against synthetic OpenAI, Anthropic and plain cost exports."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from costline.processor.cli import main
from costline.processor.config import ConfigError
from costline.processor.ledger import open_ledger
from costline.processor.ledger.reconcile import model_key, parse_invoice
from tests.ledger.factory import make_row

INVOICES = Path(__file__).resolve().parents[1] / "testdata" / "invoices"
D = Decimal


@pytest.fixture
def filled(ledger_url):
    rows = [
        make_row("0.10", at="2026-03-02T10:00", model="gpt-4o-2024-08-06"),
        make_row("0.02", at="2026-03-02T11:00", model="gpt-4o-2024-08-06"),
        make_row("0.03", at="2026-03-02T12:00", model="gpt-4o-mini"),
        make_row("0.25", at="2026-03-03T09:00", model="gpt-4o"),
        make_row(None, at="2026-03-03T10:00", model="gpt-4o-mini"),
        make_row("1.50", at="2026-03-02T10:00", model="claude-sonnet-4-5-20250929", provider="anthropic"),
        make_row("0.18", at="2026-03-04T10:00", model="claude-haiku-4-5", provider="anthropic"),
        make_row("9.00", at="2026-03-05T10:00", model="gpt-4o"),  # after the invoice: not compared
    ]
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write(rows)
    w.close(10)
    return ledger_url


def run(capsys, *argv):
    code = main(["reconcile", *argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out, parse_float=Decimal)


def test_openai_export_by_day_and_model(filled, capsys):
    code, out = run(capsys, "--invoice", str(INVOICES / "openai-costs.csv"), "--ledger", filled)
    assert code == 0 and out["provider"] == "openai"
    got = {(r["day"], r["model"]): (r["invoice_usd"], r["attributed_usd"], r["gap_usd"]) for r in out["rows"]}
    assert got == {
        ("2026-03-02", "gpt-4o"): (D("0.12"), D("0.12"), D("0")),
        ("2026-03-02", "gpt-4o-mini"): (D("0.03"), D("0.03"), D("0")),
        ("2026-03-03", "gpt-4o"): (D("0.30"), D("0.25"), D("-0.05")),
        ("2026-03-03", "gpt-4o-mini"): (D("0"), D("0"), D("0")),
        ("2026-03-03", "web-search-tool-calls"): (D("0.05"), D("0"), D("-0.05")),
    }
    assert out["total"]["invoice_usd"] == D("0.50") and out["total"]["attributed_usd"] == D("0.40")
    assert out["total"]["gap_usd"] == D("-0.10") and out["total"]["gap_pct"] == D("-20")
    assert out["total"]["unpriced_calls"] == 1


def test_anthropic_export_display_names_match_api_ids(filled, capsys):
    code, out = run(capsys, "--invoice", str(INVOICES / "anthropic-costs.csv"), "--ledger", filled)
    assert code == 0 and out["provider"] == "anthropic"
    got = {(r["day"], r["model"]): r["gap_usd"] for r in out["rows"]}
    assert got == {("2026-03-02", "claude-sonnet-4-5"): D("0"), ("2026-03-04", "claude-haiku-4-5"): D("-0.02")}


def test_tolerance_sets_the_exit_code(filled, capsys):
    assert run(capsys, "--invoice", str(INVOICES / "openai-costs.csv"), "--ledger", filled, "--tolerance", "25")[0] == 0
    assert run(capsys, "--invoice", str(INVOICES / "openai-costs.csv"), "--ledger", filled, "--tolerance", "10")[0] == 1


def test_by_day_only_and_plain_format(filled, capsys):
    _, out = run(capsys, "--invoice", str(INVOICES / "openai-costs.csv"), "--ledger", filled, "--by", "day")
    assert [(r["day"], r["gap_usd"]) for r in out["rows"]] == [("2026-03-02", D("0")), ("2026-03-03", D("-0.10"))]
    _, out = run(capsys, "--invoice", str(INVOICES / "plain-costs.csv"), "--ledger", filled)
    assert out["provider"] == "mistral" and out["total"]["gap_usd"] == D("-0.40")


def test_model_keys():
    assert model_key("Claude Sonnet 4.5") == model_key("claude-sonnet-4-5-20250929") == "claude-sonnet-4-5"
    assert model_key("Claude 3.5 Sonnet") == model_key("claude-3-5-sonnet-latest") == "claude-3-5-sonnet"
    assert model_key("gpt-4o-2024-08-06") == "gpt-4o" != model_key("gpt-4o-mini-2024-07-18")


def test_bad_exports_are_named(tmp_path, capsys):
    with pytest.raises(ConfigError, match="not a cost export I know.*foo, bar"):
        parse_invoice("foo,bar\n1,2\n", "x.csv")
    with pytest.raises(ConfigError, match="line 2: cost 'lots'"):
        parse_invoice("date,model,cost_usd\n2026-03-01,m,lots\n", "x.csv")
    with pytest.raises(ConfigError, match="only USD"):
        parse_invoice("start_time,amount_value,amount_currency,line_item\n1772409600,1,eur,\"gpt-4o, input\"\n")
    assert main(["reconcile", "--invoice", str(tmp_path / "none.csv")]) == 2
    assert "cannot read invoice" in capsys.readouterr().err
