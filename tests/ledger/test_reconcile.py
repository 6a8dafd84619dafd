"""`costline reconcile` against synthetic OpenAI, Anthropic and plain cost exports."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from costline_processor.cli import main
from costline_processor.config import ConfigError
from costline_processor.ledger import open_ledger
from costline_processor.ledger.reconcile import model_key, parse_invoice
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
        parse_invoice('start_time,amount_value,amount_currency,line_item\n1772409600,1,eur,"gpt-4o, input"\n')
    assert main(["reconcile", "--invoice", str(tmp_path / "none.csv")]) == 2
    assert "cannot read invoice" in capsys.readouterr().err


def test_an_openai_export_is_compared_with_openai_calls_alone(filled, capsys):
    code, out = run(capsys, "--invoice", str(INVOICES / "openai-costs.csv"), "--ledger", filled)
    assert code == 0 and out["provider"] == "openai"
    assert not [r for r in out["rows"] if "claude" in r["model"]]  # the $1.50 Sonnet call that day is not OpenAI's
    assert out["total"]["calls"] == 5  # the OpenAI calls of 2026-03-02 and 03 only


def refused(capsys, tmp_path, text: str, *argv) -> str:
    f = tmp_path / "invoice.csv"
    f.write_text(text)
    assert main(["reconcile", "--invoice", str(f), "--ledger", str(tmp_path / "none.db"), *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    return captured.err


def test_an_export_that_does_not_name_one_provider_is_refused_in_one_line(tmp_path, capsys):
    err = refused(capsys, tmp_path, "date,model,cost_usd\n2026-03-02,gpt-4o,0.40\n")
    assert "names no provider" in err and "--provider" in err
    err = refused(capsys, tmp_path, "date,model,cost_usd,provider\n2026-03-02,a,1,openai\n2026-03-02,b,1,mistral\n")
    assert "names 2 providers (mistral, openai)" in err
    err = refused(capsys, tmp_path, "usage_date_utc,date,model,cost_usd\n2026-03-02,2026-03-02,m,1\n")
    assert "ambiguous cost export" in err and "anthropic and plain" in err
    err = refused(capsys, tmp_path, (INVOICES / "openai-costs.csv").read_text(), "--provider", "anthropic")
    assert "openai's cost export; --provider anthropic contradicts it" in err


def test_a_plain_export_takes_its_provider_from_the_command_line(filled, capsys, tmp_path):
    f = tmp_path / "invoice.csv"
    f.write_text("date,model,cost_usd\n2026-03-04,claude-haiku-4-5,0.20\n")
    code, out = run(capsys, "--invoice", str(f), "--ledger", filled, "--provider", "anthropic")
    assert code == 0 and out["provider"] == "anthropic" and out["total"]["gap_usd"] == D("-0.02")


def test_the_gap_is_printed_with_its_sign_before_the_dollar(filled, capsys):
    assert main(["reconcile", "--invoice", str(INVOICES / "openai-costs.csv"), "--ledger", filled]) == 0
    out = capsys.readouterr().out
    assert "gap -$0.10 (-20.00%)" in out and "-$0.0500" in out and "$-" not in out


def test_a_bill_of_zero_against_spend_is_past_any_tolerance(ledger_url, capsys, tmp_path):
    """A gap against a $0 invoice has no percentage, which the tolerance check read as no gap: $5.25 of attributed
    calls against a $0 bill (credits, a wrong account's export) passed --tolerance 1 with exit 0."""
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write([make_row("5.00", at="2026-03-02T10:00", model="gpt-4o"), make_row("0.25", at="2026-03-02T11:00")])
    w.close(10)
    f = tmp_path / "invoice.csv"
    f.write_text("date,model,cost_usd,provider\n2026-03-02,gpt-4o,0,openai\n")
    code, out = run(capsys, "--invoice", str(f), "--ledger", ledger_url, "--tolerance", "1")
    assert out["total"]["gap_usd"] == D("5.25") and out["total"]["gap_pct"] is None
    assert code == 1
    f.write_text("date,model,cost_usd,provider\n2026-03-03,gpt-4o,0,openai\n")  # no call that day: no gap
    assert run(capsys, "--invoice", str(f), "--ledger", ledger_url, "--tolerance", "1")[0] == 0


def test_a_gap_under_a_cent_is_not_printed_as_zero(ledger_url, capsys, tmp_path):
    """The footer rounded totals to cents: invoice $1.00, attributed $1.004 printed `gap $0.00 (+0.40%)`."""
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write([make_row("1.004", at="2026-03-02T10:00", model="gpt-4o")])
    w.close(10)
    f = tmp_path / "invoice.csv"
    f.write_text("date,model,cost_usd,provider\n2026-03-02,gpt-4o,1.00,openai\n")
    assert main(["reconcile", "--invoice", str(f), "--ledger", ledger_url]) == 0
    footer = capsys.readouterr().out.splitlines()[-1]
    assert footer == "total: invoice $1.00, attributed $1.00, gap +$0.0040 (+0.40%)"
