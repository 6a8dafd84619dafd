"""`costline reprice` recomputes stored calls with a price file; expected costs by hand."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from costline_processor.cli import main
from costline_processor.ledger import open_ledger, open_reader
from tests.ledger.factory import make_row

PRICES = "models:\n  - model: house-1\n    input: 1.5\n    cache_read: 0.15\n    output: 6\n"
M = Decimal(1_000_000)
# tokens (input incl. cache reads, output, cache_read, cache_write, reasoning)
TOKENS = (1000, 500, 200, 0, 0)
NEW = (Decimal(800) * Decimal("1.5") + Decimal(200) * Decimal("0.15") + Decimal(500) * 6) / M  # 0.00423


@pytest.fixture
def filled(ledger_url, tmp_path):
    rows = {
        "stale": make_row("0.01", model="house-1", provider="house", tokens=TOKENS, at="2026-03-02T10:00"),
        "unknown": make_row(None, model="house-1", provider="house", tokens=TOKENS, at="2026-03-02T11:00"),
        "no_usage": make_row(
            None, model="house-1", provider="house", tokens=(0, 0, 0, 0, 0), status="no_usage", at="2026-03-02T12:00"
        ),
        "reported": make_row("0.50", model="house-1", provider="house", tokens=TOKENS, at="2026-03-02T13:00"),
        "old": make_row("0.02", model="house-1", provider="house", tokens=TOKENS, at="2026-02-01T10:00"),
    }
    rows["reported"].price_source = "reported"
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write(list(rows.values()))
    w.close(10)
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES)
    return ledger_url, str(prices), rows


def stored(url):
    with open_reader(url) as r:
        return {x.span_id: x for x in r.rows()}


def test_dry_run_reports_the_delta_and_changes_nothing(filled, capsys):
    url, prices, rows = filled
    assert (
        main(
            [
                "reprice",
                "--prices",
                prices,
                "--since",
                "2026-03-01",
                "--until",
                "2026-03-03",
                "--format",
                "json",
                "--ledger",
                url,
            ]
        )
        == 0
    )
    (out,) = json.loads(capsys.readouterr().out, parse_float=Decimal)
    assert out["model"] == "house-1" and out["calls"] == 4 and out["changed_calls"] == 2
    old = Decimal("0.01") + Decimal("0.50")
    new = NEW + NEW + Decimal("0.50")
    assert out["old_cost_usd"] == old and out["new_cost_usd"] == new and out["delta_usd"] == new - old
    assert out["old_unpriced"] == 2 and out["new_unpriced"] == 1
    assert stored(url)[rows["stale"].span_id].cost_usd == Decimal("0.01")


def test_apply_writes_new_costs_and_keeps_what_cannot_be_repriced(filled, capsys):
    url, prices, rows = filled
    assert (
        main(
            [
                "reprice",
                "--prices",
                prices,
                "--since",
                "2026-03-01",
                "--until",
                "2026-03-03",
                "--apply",
                "--ledger",
                url,
            ]
        )
        == 0
    )
    assert "applied" in capsys.readouterr().out
    got = stored(url)
    for name in ("stale", "unknown"):
        row = got[rows[name].span_id]
        assert row.cost_usd == NEW and row.status is None and "prices.yaml" in row.price_source
        assert row.input_usd + row.output_usd + row.cache_read_usd + row.cache_write_usd == NEW
    assert got[rows["no_usage"].span_id].status == "no_usage" and got[rows["no_usage"].span_id].cost_usd is None
    assert got[rows["reported"].span_id].cost_usd == Decimal("0.50")
    assert got[rows["old"].span_id].cost_usd == Decimal("0.02")  # outside the window
    # a second run finds nothing left to change
    assert (
        main(
            [
                "reprice",
                "--prices",
                prices,
                "--since",
                "2026-03-01",
                "--until",
                "2026-03-03",
                "--format",
                "json",
                "--ledger",
                url,
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)[0]["changed_calls"] == 0


def test_missing_price_file_is_one_line_error(filled, capsys):
    url, _, _ = filled
    assert main(["reprice", "--prices", "/nonexistent.yaml", "--ledger", url]) == 2
    assert capsys.readouterr().err.startswith("costline: price file not found")


WINDOW = ["--since", "2026-03-01", "--until", "2026-03-03"]


def test_the_table_says_the_unpriced_calls_its_totals_leave_out(filled, capsys):
    """The totals count an unpriced call as nothing: old $0.51 (stale $0.01 + reported $0.50) -> new $0.50846 is the
    stale call's -$0.00577 and the unknown call's first price +$0.00423 together; the footer says both counts."""
    url, prices, _ = filled
    assert main(["reprice", "--prices", prices, *WINDOW, "--ledger", url]) == 0
    footer = capsys.readouterr().out.splitlines()[-1]
    old, new = Decimal("0.51"), NEW + NEW + Decimal("0.50")
    assert footer == (
        f"total: ${old:.4f} -> ${new:.4f} (delta -${old - new:.4f}) over 2 changed calls; unpriced calls, not in "
        "these totals: 2 before, 1 after; run with --apply to store"
    )


def test_a_delta_under_a_hundredth_of_a_cent_is_not_printed_as_zero(ledger_url, tmp_path, capsys):
    """The footer printed money to four decimals: a call repriced from $0.00424 to $0.00423 read `delta $0.0000`."""
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write([make_row("0.00424", model="house-1", provider="house", tokens=TOKENS)])
    w.close(10)
    (tmp_path / "p.yaml").write_text(PRICES)
    assert main(["reprice", "--prices", str(tmp_path / "p.yaml"), *WINDOW, "--ledger", ledger_url]) == 0
    footer = capsys.readouterr().out.splitlines()[-1]
    assert footer.startswith("total: $0.0042 -> $0.0042 (delta -$0.000010) over 1 changed calls")


def test_by_a_shared_tag_each_owner_gets_its_part(ledger_url, tmp_path, capsys):
    """A call shared 3:1 by acme and globex was one group named by its JSON text; each owner gets its part of the
    old and new cost, as in every report."""
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    shared = '{"acme":3,"globex":1}'
    w.write(
        [
            make_row("0.01", model="house-1", provider="house", tokens=TOKENS, tags={"customer_id": shared}),
            make_row("0.02", model="house-1", provider="house", tokens=TOKENS, tags={"customer_id": "acme"}),
        ]
    )
    w.close(10)
    (tmp_path / "p.yaml").write_text(PRICES)
    argv = ["reprice", "--prices", str(tmp_path / "p.yaml"), *WINDOW, "--by", "customer_id", "--format", "json"]
    assert main([*argv, "--ledger", ledger_url]) == 0
    got = {
        g["customer_id"]: (g["calls"], g["old_cost_usd"], g["new_cost_usd"])
        for g in json.loads(capsys.readouterr().out, parse_float=Decimal)
    }
    assert got == {
        "acme": (2, Decimal("0.01") * 3 / 4 + Decimal("0.02"), NEW * 3 / 4 + NEW),
        "globex": (1, Decimal("0.01") / 4, NEW / 4),
    }
