"""`costline export --format focus`: FOCUS columns and costs the test sums itself."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

from costline_processor.cli import main
from costline_processor.ledger import open_ledger
from tests.ledger import dataset
from tests.ledger.dataset import SPEC, TOTAL


@pytest.fixture
def filled(ledger_url):
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write(dataset.rows())
    w.close(10)
    return ledger_url


def export(capsys, *argv) -> list[dict]:
    assert main(["export", "--format", "focus", "--since", "2026-03-01", "--until", "2026-03-10", *argv]) == 0
    captured = capsys.readouterr()
    return list(csv.DictReader(io.StringIO(captured.out))), captured.err


def test_daily_focus_rows(filled, capsys):
    rows, err = export(capsys, "--ledger", filled, "--tags", "feature,customer_id")
    assert "1 unpriced call(s)" in err
    for col in (
        "BilledCost",
        "ChargePeriodStart",
        "ChargePeriodEnd",
        "ServiceCategory",
        "SkuId",
        "ConsumedQuantity",
        "ConsumedUnit",
        "Tags",
    ):
        assert col in rows[0]
    assert {r["ServiceCategory"] for r in rows} == {"AI and Machine Learning"}
    assert {r["ConsumedUnit"] for r in rows} == {"Tokens"}
    assert sum(Decimal(r["BilledCost"]) for r in rows) == TOTAL
    want: dict[tuple, Decimal] = {}
    tokens: dict[tuple, int] = {}
    for i, s in enumerate(SPEC):
        tags = {k: v for k, v in (("customer_id", s[3]), ("feature", s[2])) if v}
        k = (s[1][:10] + "T00:00:00Z", s[5], json.dumps(tags, separators=(",", ":")))
        want[k] = want.get(k, Decimal(0)) + (Decimal(s[0]) if s[0] else 0)
        tokens[k] = tokens.get(k, 0) + (1000 + i) + (100 + i)
    got: dict[tuple, Decimal] = {}
    quantities: dict[tuple, int] = {}
    for r in rows:  # each token type is its own SKU row: summed back per call group
        k = (r["ChargePeriodStart"], r["SkuId"].split("/")[0], r["Tags"])
        got[k] = got.get(k, Decimal(0)) + Decimal(r["BilledCost"])
        quantities[k] = quantities.get(k, 0) + int(r["ConsumedQuantity"])
    assert got == want and quantities == tokens
    first = next(
        r for r in rows if r["ChargePeriodStart"] == "2026-03-02T00:00:00Z" and r["SkuId"] == "claude-sonnet-4-5/input"
    )
    assert first["ChargePeriodEnd"] == "2026-03-03T00:00:00Z" and first["ProviderName"] == "anthropic"
    assert first["BillingPeriodStart"] == "2026-03-01T00:00:00Z" and first["BillingPeriodEnd"] == "2026-04-01T00:00:00Z"
    assert first["SkuMeter"] == "Input Tokens" and first["ListCost"] == first["BilledCost"] == "1.5"
    mystery = next(r for r in rows if r["SkuId"].startswith("mystery-model"))
    assert (
        mystery["SkuId"] == "mystery-model/unpriced"
        and mystery["BilledCost"] == "0"
        and mystery["x_UnpricedCalls"] == "1"
    )


def test_monthly_to_a_file_with_default_tags(filled, capsys, tmp_path):
    out = tmp_path / "focus.csv"
    assert (
        main(
            [
                "export",
                "--period",
                "month",
                "--since",
                "2026-03-01",
                "--until",
                "2026-03-10",
                "--ledger",
                filled,
                "-o",
                str(out),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(out.open()))
    assert {r["ChargePeriodStart"] for r in rows} == {"2026-03-01T00:00:00Z"}
    assert {r["ChargePeriodEnd"] for r in rows} == {"2026-04-01T00:00:00Z"}
    assert sum(Decimal(r["BilledCost"]) for r in rows) == TOTAL
    assert all("outcome" not in json.loads(r["Tags"]) for r in rows)
    assert any("user_id" in json.loads(r["Tags"]) for r in rows)


def test_a_call_shared_by_two_tags_splits_alike_from_either_engine(ledger_url):
    """A call whose customer_id and feature both name several owners is cut by one tag, then the other, in the
    tags' name order, and the second cut rounds per part of the first: the order moves a token or a femto-dollar
    between rows. PostgreSQL's JSONB gave the tags back shortest name first (feature before customer_id), SQLite
    in name order, as written: the same calls exported other rows."""
    from costline_processor.ledger import open_reader
    from costline_processor.ledger.focus import focus_rows
    from tests.ledger.factory import make_row

    tags = {"customer_id": '{"acme":3,"globex":1}', "feature": '["chat","search","x"]', "plan": "pro"}
    calls = [
        make_row(cost, at="2026-03-02T10:00", tags=tags, tokens=(n, n // 3, n // 2, n // 7, 0))
        for cost, n in (("0.0000000000000101", 1141), ("0.7", 1), ("0.000000000000013", 10), ("9.999999999999999", 99))
    ]
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write(calls)
    w.close(10)
    with open_reader(ledger_url) as r:
        stored = list(r.rows())
    assert [list(c.tags) for c in stored] == [sorted(tags)] * len(calls)
    assert focus_rows(stored) == focus_rows(calls)
