"""Audio counts and price caveats in the ledger (schema version 2): stored, migrated, reported."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from decimal import Decimal

from costline_processor.cli import main
from costline_processor.ledger import open_ledger, open_reader, schema
from tests.ledger.factory import make_row

WINDOW = ["--since", "2026-03-01", "--until", "2026-03-10"]


def _rows():
    plain = make_row("0.50", tags={"feature": "chat"})
    batch = replace(make_row("0.25", tags={"feature": "etl"}), price_caveat="tier_by_rule:batch")
    voice = replace(
        make_row("1.00", tags={"feature": "voice"}, tokens=(1000, 500, 300, 0, 0)),
        audio_input_tokens=600,
        audio_output_tokens=400,
        audio_cache_read_tokens=200,
    )
    return [plain, batch, voice]


def _write(url, rows):
    w = open_ledger(url, flush_interval_s=0.05)
    w.write(rows)
    w.close(10)


def test_audio_counts_and_caveat_round_trip(ledger_url):
    rows = _rows()
    _write(ledger_url, rows)
    with open_reader(ledger_url) as r:
        assert list(r.rows()) == rows


def test_a_version_1_ledger_is_migrated_and_keeps_its_rows(tmp_path):
    path = str(tmp_path / "old.db")
    conn = sqlite3.connect(path)
    v1 = schema.columns_of("1")
    cols = ",\n  ".join(f"{c[0]} {c[1]}" for c in v1)
    conn.execute(f"CREATE TABLE {schema.TABLE} ({cols}, PRIMARY KEY (trace_id, span_id))")
    conn.execute("CREATE TABLE costline_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO costline_meta VALUES ('schema_version', '1')")
    old = make_row("0.10", tags={"feature": "chat"})
    values = schema.to_params(old, 1, "sqlite")[: len(v1)]
    conn.execute(f"INSERT INTO {schema.TABLE} VALUES ({', '.join('?' for _ in v1)})", values)
    conn.commit()
    conn.close()
    new = _rows()[1]
    _write(path, [new])  # serve opens it: migrated, then written
    with open_reader(path) as r:
        got = {row.span_id: row for row in r.rows()}
    # version 1 rows: no audio (0), no caveat (NULL), list = billed (version 3), tier not recorded (version 7)
    assert got[old.span_id] == replace(old, tier=None)
    assert got[new.span_id] == new
    (version,) = sqlite3.connect(path).execute("SELECT value FROM costline_meta").fetchone()
    assert version == schema.SCHEMA_VERSION == "10"


def test_an_unknown_version_is_refused():
    assert schema.migrations("11", "sqlite") is None and schema.migrations("x", "postgresql") is None
    assert schema.migrations("10", "sqlite") == []
    pg = schema.migrations("1", "postgresql")
    assert pg[0].startswith(f"ALTER TABLE {schema.TABLE} ADD COLUMN IF NOT EXISTS audio_input_tokens BIGINT")


def test_report_says_which_calls_carry_a_caveat(ledger_url, capsys):
    _write(ledger_url, _rows())
    assert main(["report", "--by", "feature", *WINDOW, "--ledger", ledger_url]) == 0
    out = capsys.readouterr().out
    assert "caveat_calls" in out.splitlines()[0]
    assert "caveat tier_by_rule:batch: 1 calls, $0.2500 (their tier has no listed price" in out
    assert main(["report", "--by", "feature", *WINDOW, "--format", "json", "--ledger", ledger_url]) == 0
    by = {r["feature"]: r for r in json.loads(capsys.readouterr().out, parse_float=Decimal)}
    assert by["etl"]["caveat_calls"] == 1 and by["etl"]["caveat_usd"] == Decimal("0.25")
    assert by["chat"]["caveat_calls"] == 0


def test_no_caveat_column_when_no_call_has_one(ledger_url, capsys):
    _write(ledger_url, [make_row("0.50", tags={"feature": "chat"})])
    assert main(["report", "--by", "feature", *WINDOW, "--ledger", ledger_url]) == 0
    assert "caveat" not in capsys.readouterr().out


def test_top_calls_and_trace_show_the_caveat(ledger_url, capsys):
    rows = _rows()
    _write(ledger_url, rows)
    assert main(["top", "calls", *WINDOW, "--format", "json", "--ledger", ledger_url]) == 0
    calls = json.loads(capsys.readouterr().out)
    assert {c["caveat"] for c in calls} == {None, "tier_by_rule:batch"}
    assert main(["trace", rows[1].trace_id, "--ledger", ledger_url]) == 0
    assert "tier_by_rule:batch" in capsys.readouterr().out


def test_reprice_keeps_audio_and_sets_the_caveat():
    from costline_processor.ledger.reprice import as_call, reprice_row
    from costline_processor.records import Cost

    voice = _rows()[2]
    assert as_call(voice).usage.audio_input_tokens == 600
    cost = Cost(Decimal(2), Decimal(1), Decimal(1), Decimal(0), Decimal(0), "m", "p", "s", "audio_at_text_rate")
    assert reprice_row(voice, lambda call, start, dur: cost).price_caveat == "audio_at_text_rate"
