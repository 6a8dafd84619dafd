"""List cost beside billed cost in the ledger (schema version 3) and in the FOCUS export, SKU by SKU.

Expected money is computed here from published per-million-token prices (openai.com/api/pricing:
gpt-4o $2.50 input, $1.25 cached input, $10 output; anthropic.com/pricing: Claude Sonnet 4.5
$3 input, $0.30 cache read, $15 output) and the test price file's own numbers.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from dataclasses import replace
from decimal import Decimal

import pytest

from costline_processor.cli import main
from costline_processor.config import PricingConfig
from costline_processor.ledger import open_ledger, open_reader, schema
from costline_processor.ledger.reprice import reprice_row
from costline_processor.pricing import Pricer
from tests.ledger.factory import make_row

WINDOW = ["--since", "2026-03-01", "--until", "2026-03-10"]
D = Decimal


def mtok(usd: str, tokens: int) -> Decimal:
    return D(usd) * tokens / 1_000_000


@pytest.fixture(scope="module")
def pricer(tmp_path_factory) -> Pricer:
    f = tmp_path_factory.mktemp("prices") / "prices.yaml"
    f.write_text(
        "discounts:\n  - provider: openai\n    discount: 0.20\n"
        "models:\n  - provider: anthropic\n    model: claude-sonnet-4-5\n    input: 2.40\n    output: 12\n"
    )
    return Pricer(PricingConfig(prices_file=str(f)))


def priced_rows(pricer):
    """Ledger rows as costline writes them: the rows' costs come from the Pricer (reprice_row sets the same fields)."""
    gpt = make_row("0", model="gpt-4o", provider="openai", tokens=(10_000, 2_000, 4_000, 0, 0))
    claude = make_row("0", model="claude-sonnet-4-5", provider="anthropic", tokens=(12_000, 400, 10_000, 0, 0))
    return [reprice_row(r, pricer.price) for r in (gpt, claude)]


def export(capsys, ledger) -> list[dict]:
    assert main(["export", *WINDOW, "--ledger", ledger]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def test_a_20_percent_discount_shows_as_list_cost(pricer, ledger_url, capsys):
    rows = priced_rows(pricer)
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write(rows)
    w.close(10)
    with open_reader(ledger_url) as r:
        assert list(r.rows()) == rows  # list_usd and skus round-trip
    out = [r for r in export(capsys, ledger_url) if r["SkuId"].startswith("gpt-4o/")]
    listed = mtok("2.50", 6_000) + mtok("1.25", 4_000) + mtok("10", 2_000)
    assert sum(D(r["ListCost"]) for r in out) == listed
    assert sum(D(r["BilledCost"]) for r in out) == listed * D("0.8")
    for r in out:  # every SKU 20% below its list cost, exactly
        assert D(r["BilledCost"]) == D(r["ListCost"]) * D("0.8") == D(r["ContractedCost"]) == D(r["EffectiveCost"])
    by_sku = {r["SkuId"]: r for r in out}
    assert set(by_sku) == {"gpt-4o/input", "gpt-4o/cached_input", "gpt-4o/output"}
    assert (
        by_sku["gpt-4o/input"]["ConsumedQuantity"],
        by_sku["gpt-4o/cached_input"]["ConsumedQuantity"],
        by_sku["gpt-4o/output"]["ConsumedQuantity"],
    ) == ("6000", "4000", "2000")
    assert D(by_sku["gpt-4o/input"]["ListUnitPrice"]) == D("2.50") / 1_000_000
    assert D(by_sku["gpt-4o/input"]["ContractedUnitPrice"]) == D("2.00") / 1_000_000
    assert D(by_sku["gpt-4o/output"]["ListUnitPrice"]) == D("10") / 1_000_000


def test_an_override_lists_each_sku_at_the_price_it_overrides(pricer, sqlite_path, capsys):
    rows = priced_rows(pricer)
    w = open_ledger(sqlite_path, flush_interval_s=0.05)
    w.write(rows)
    w.close(10)
    out = {r["SkuId"]: r for r in export(capsys, sqlite_path) if r["SkuId"].startswith("claude")}
    want = {  # sku: (tokens, billed, list); cache reads are not in the entry: list price both sides
        "claude-sonnet-4-5/input": (2_000, mtok("2.40", 2_000), mtok("3", 2_000)),
        "claude-sonnet-4-5/cached_input": (10_000, mtok("0.30", 10_000), mtok("0.30", 10_000)),
        "claude-sonnet-4-5/output": (400, mtok("12", 400), mtok("15", 400)),
    }
    assert {k: (int(r["ConsumedQuantity"]), D(r["BilledCost"]), D(r["ListCost"])) for k, r in out.items()} == want
    call = rows[1]
    assert sum(v[1] for v in want.values()) == call.cost_usd and sum(v[2] for v in want.values()) == call.list_usd


def test_a_version_2_ledger_is_migrated_and_lists_what_it_billed(tmp_path, capsys):
    path = str(tmp_path / "v2.db")
    conn = sqlite3.connect(path)
    v2 = schema.columns_of("2")
    conn.execute(
        f"CREATE TABLE {schema.TABLE} ({', '.join(f'{c[0]} {c[1]}' for c in v2)}, PRIMARY KEY (trace_id, span_id))"
    )
    conn.execute("CREATE TABLE costline_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO costline_meta VALUES ('schema_version', '2')")
    old = make_row("0.08", split=("0.05", "0.03", "0", "0"), list_cost="0.10")  # v2 never stored the 0.10
    conn.execute(
        f"INSERT INTO {schema.TABLE} VALUES ({', '.join('?' for _ in v2)})",
        schema.to_params(old, 1, "sqlite")[: len(v2)],
    )
    conn.commit()
    conn.close()
    with open_reader(path) as r:
        got = list(r.rows())
    assert got == [replace(old, list_usd=D("0.08"), tier=None)]  # old rows: list = billed, tier not recorded
    (version,) = sqlite3.connect(path).execute("SELECT value FROM costline_meta").fetchone()
    assert version == schema.SCHEMA_VERSION
    out = export(capsys, path)
    assert [(r["SkuId"], r["BilledCost"], r["ListCost"]) for r in out] == [
        ("gpt-4o-mini/input", "0.05", "0.05"),
        ("gpt-4o-mini/output", "0.03", "0.03"),
    ]


def test_migration_statements_fill_list_cost(tmp_path):
    for dialect in ("sqlite", "postgresql"):
        steps = schema.migrations("2", dialect)
        assert any("ADD COLUMN" in s and "list_usd" in s for s in steps)
        assert f"UPDATE {schema.TABLE} SET list_usd = cost_usd" in steps
        assert steps[-1].endswith("WHERE key = 'schema_version'")
