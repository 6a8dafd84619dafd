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
from tests.ledger.factory import make_row


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
    assert {r["ChargePeriodEnd"] for r in rows} == {"2026-03-10T00:00:00Z"}  # the window ends there, not March
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


def _write(url: str, rows) -> str:
    w = open_ledger(url, flush_interval_s=0.05)
    w.write(rows)
    w.close(10)
    return url


def _run(capsys, url: str, *argv) -> tuple[list[dict], str]:
    assert main(["export", "--format", "focus", "--ledger", url, *argv]) == 0
    captured = capsys.readouterr()
    return list(csv.DictReader(io.StringIO(captured.out))), captured.err


@pytest.mark.parametrize(
    "period, want",
    [
        (
            "month",
            {
                ("2026-02-20T12:00:00Z", "2026-03-01T00:00:00Z", "2026-02-01T00:00:00Z"): Decimal("0.20"),
                ("2026-03-01T00:00:00Z", "2026-03-09T12:00:00Z", "2026-03-01T00:00:00Z"): Decimal("0.40"),
            },
        ),
        (
            "day",
            {
                ("2026-02-20T12:00:00Z", "2026-02-21T00:00:00Z", "2026-02-01T00:00:00Z"): Decimal("0.20"),
                ("2026-03-09T00:00:00Z", "2026-03-09T12:00:00Z", "2026-03-01T00:00:00Z"): Decimal("0.40"),
            },
        ),
    ],
)
def test_a_charge_period_the_window_cuts_is_labelled_as_cut(ledger_url, capsys, period, want):
    """A row holds the calls of its period inside the window only, so its ChargePeriodStart/End say that part:
    labelled as the whole month (the default window is 30d), February's row read as all of February's spend."""
    _write(
        ledger_url,
        [
            make_row("0.10", at="2026-02-20T06:00"),  # before the window
            make_row("0.20", at="2026-02-20T18:00"),
            make_row("0.40", at="2026-03-09T10:00"),
            make_row("0.80", at="2026-03-09T20:00"),  # after it
        ],
    )
    rows, _ = _run(capsys, ledger_url, "--period", period, "--since", "2026-02-20T12:00", "--until", "2026-03-09T12:00")
    got: dict[tuple, Decimal] = {}
    for r in rows:
        k = (r["ChargePeriodStart"], r["ChargePeriodEnd"], r["BillingPeriodStart"])
        got[k] = got.get(k, Decimal(0)) + Decimal(r["BilledCost"])
    assert got == want


M = Decimal(1_000_000)


def _gpt_4o(cost_in: str, cost_out: str, tokens: tuple[int, int], tier: str, caveat: str | None = None):
    row = make_row(
        str(Decimal(cost_in) + Decimal(cost_out)),
        at="2026-03-02T10:00",
        model="gpt-4o",
        tokens=(*tokens, 0, 0, 0),
        split=(cost_in, cost_out, "0", "0"),
        tags={"feature": "search"},
    )
    row.tier, row.price_caveat = tier, caveat
    return row


def test_each_service_tier_is_its_own_price_and_a_caveat_is_said(ledger_url, capsys):
    """gpt-4o at OpenAI's published $2.50/$10 per million tokens, batch at half, priority without a listed price
    (priced at the standard rate, caveat tier_unpriced:priority). A batch call's tokens are another price than a
    standard call's: one row each, so each row's unit price is a price (mixed, input read $1.90 per million, a price
    no one charges), and the priority call's row says its price may not be the bill."""
    standard = (10_000 * Decimal("2.50") / M, 2_000 * Decimal(10) / M)
    batch = tuple(c / 2 for c in standard)
    priority = (1_000 * Decimal("2.50") / M, 100 * Decimal(10) / M)
    _write(
        ledger_url,
        [
            _gpt_4o(*map(str, standard), (10_000, 2_000), ""),
            _gpt_4o(*map(str, batch), (10_000, 2_000), "batch"),
            _gpt_4o(*map(str, priority), (1_000, 100), "priority", "tier_unpriced:priority"),
        ],
    )
    rows, err = _run(capsys, ledger_url, "--since", "2026-03-01", "--until", "2026-03-03")
    got = {
        (r["SkuPriceId"], r["x_ServiceTier"], r["x_PriceCaveat"]): (
            int(r["PricingQuantity"]),
            Decimal(r["BilledCost"]),
            Decimal(r["ContractedUnitPrice"]),
        )
        for r in rows
    }
    assert got == {
        ("openai/gpt-4o/input", "", ""): (10_000, standard[0], Decimal("2.50") / M),
        ("openai/gpt-4o/output", "", ""): (2_000, standard[1], Decimal(10) / M),
        ("openai/gpt-4o/input/batch", "batch", ""): (10_000, batch[0], Decimal("1.25") / M),
        ("openai/gpt-4o/output/batch", "batch", ""): (2_000, batch[1], Decimal(5) / M),
        ("openai/gpt-4o/input/priority", "priority", "tier_unpriced:priority"): (
            1_000,
            priority[0],
            Decimal("2.5") / M,
        ),
        ("openai/gpt-4o/output/priority", "priority", "tier_unpriced:priority"): (100, priority[1], Decimal(10) / M),
    }
    assert err.count("\n") == 1 and "1 call(s) ($0.0035) carry a price caveat" in err


def test_an_unpriced_call_shared_by_two_owners_is_one_unpriced_call(ledger_url, capsys):
    _write(ledger_url, [make_row(None, tags={"customer_id": '["acme","globex"]'})])
    rows, err = _run(capsys, ledger_url, "--since", "2026-03-01", "--until", "2026-03-03")
    assert sorted(json.loads(r["Tags"])["customer_id"] for r in rows) == ["acme", "globex"]
    assert "costline: 1 unpriced call(s) are not in BilledCost" in err
