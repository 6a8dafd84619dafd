"""`costline reprice` prices a call again as it was billed: in its service tier (a batch call at batch
rates), with its 1-hour cache writes at their rate. Before schema 7 the ledger kept neither, and a
repriced batch call cost twice its bill. Expected costs from the providers' published per-million-token
prices, written out here.
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

from costline_processor.cli import main
from costline_processor.ledger import open_ledger, open_reader, schema
from tests.fakes.otlp_sink import OtlpSink
from tests.ledger.factory import make_row
from tests.processor.harness import RunningServer, loopback_config

M = Decimal(1_000_000)
GPT_4O = {"in": Decimal("2.50"), "out": Decimal("10")}  # batch: half (OpenAI's Batch API FAQ)
GPT_4O_PRIORITY = {"in": Decimal("4.25"), "out": Decimal("17")}
SONNET_45 = {"in": Decimal("3"), "write1h": Decimal("6"), "out": Decimal("15")}
BATCH = (10_000 * GPT_4O["in"] + 2_000 * GPT_4O["out"]) / 2 / M  # 0.0225
STANDARD = (10_000 * GPT_4O["in"] + 2_000 * GPT_4O["out"]) / M  # 0.045
PRIORITY = (1_000 * GPT_4O_PRIORITY["in"] + 100 * GPT_4O_PRIORITY["out"]) / M
ONE_HOUR = (1_000 * SONNET_45["in"] + 1_000 * SONNET_45["write1h"] + 100 * SONNET_45["out"]) / M  # 0.0105
WINDOW = ["--since", "2026-11-01", "--until", "2026-12-01"]
NOV = 1_763_900_000_000_000_000 + 365 * 86_400 * 10**9  # 2026-11-23, when genai-prices lists these tiers


def reprice(capsys, url: str, *flags: str) -> tuple[list[dict], str]:
    assert main(["reprice", *WINDOW, "--format", "json", "--ledger", url, *flags]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out, parse_float=Decimal), captured.err


def test_calls_served_are_repriced_in_their_tier(tmp_path, capsys):
    from costline_processor.server import open_sinks
    from tests.processor.spans import llm, new_trace_id, request
    from tests.processor.test_receive import raw_grpc

    t = new_trace_id()
    spans = {
        "batch": llm(t, None, input_tokens=10_000, output_tokens=2_000, costline__batch=True, start=NOV),
        "priority": llm(
            t, None, input_tokens=1_000, output_tokens=100, openai__response__service_tier="priority", start=NOV
        ),
        "1h": llm(
            t,
            None,
            model="claude-sonnet-4-5",
            provider="anthropic",
            input_tokens=2_000,
            output_tokens=100,
            gen_ai__usage__cache_creation__input_tokens=1_000,
            costline__usage__cache_write_1h_tokens=1_000,
            start=NOV,
        ),
    }
    with OtlpSink() as sink:
        cfg = loopback_config(sink, trace_wait=0.2)
        cfg.ledger = str(tmp_path / "ledger.db")
        with RunningServer(cfg, sinks=open_sinks(cfg)) as srv:
            raw_grpc(srv.grpc_endpoint, request(list(spans.values())).SerializeToString())
            sink.wait_for_spans(3)
    with open_reader(cfg.ledger) as r:
        got = {row.span_id: row for row in r.rows()}
    rows = {name: got[s.span_id.hex()] for name, s in spans.items()}
    assert (rows["batch"].tier, rows["priority"].tier, rows["1h"].tier) == ("batch", "priority", "")
    assert rows["1h"].cache_write_1h_tokens == 1_000 and rows["batch"].cache_write_1h_tokens == 0
    want = {"batch": BATCH, "priority": PRIORITY, "1h": ONE_HOUR}
    assert {name: row.cost_usd for name, row in rows.items()} == want
    out, err = reprice(capsys, cfg.ledger, "--apply")
    assert sum(g["changed_calls"] for g in out) == 0 and err == ""
    assert sum(g["new_cost_usd"] for g in out) == sum(want.values()) == sum(g["old_cost_usd"] for g in out)
    with open_reader(cfg.ledger) as r:
        assert {row.span_id: row.cost_usd for row in r.rows()} == {s.span_id.hex(): want[n] for n, s in spans.items()}


def _as_version_6(url: str) -> None:
    """The ledger as schema 6 left it: no tier, no 1-hour count (the next open upgrades it)."""
    added = schema.COLUMNS[len(schema.columns_of("6")) :]  # version 7's and later
    if "://" in url:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            for column in added:
                conn.execute(f"ALTER TABLE {schema.TABLE} DROP COLUMN {column[0]}")
            conn.execute("UPDATE costline_meta SET value = '6' WHERE key = 'schema_version'")
        return
    conn = sqlite3.connect(url)
    for column in added:
        conn.execute(f"ALTER TABLE {schema.TABLE} DROP COLUMN {column[0]}")
    conn.execute("UPDATE costline_meta SET value = '6' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()


def test_an_upgraded_ledger_keeps_what_it_cannot_price_again(ledger_url, capsys):
    at = "2026-11-23T10:00"
    tokens = (10_000, 2_000, 0, 0, 0)
    by_rule = make_row(str(BATCH), at=at, model="gpt-4o", provider="openai", tokens=tokens)
    by_rule.price_caveat, by_rule.tier = "tier_by_rule:batch", "batch"
    unknown = make_row(str(BATCH), at=at, model="gpt-4o", provider="openai", tokens=tokens)  # a batch call, no caveat
    one_hour = make_row(
        str(ONE_HOUR), at=at, model="claude-sonnet-4-5", provider="anthropic", tokens=(2_000, 100, 0, 1_000, 0)
    )
    one_hour.cache_write_1h_tokens = 1_000
    one_hour.skus = (
        ("input", 1_000, 1_000 * SONNET_45["in"] / M, 1_000 * SONNET_45["in"] / M),
        ("cache_write_1h", 1_000, 1_000 * SONNET_45["write1h"] / M, 1_000 * SONNET_45["write1h"] / M),
        ("output", 100, 100 * SONNET_45["out"] / M, 100 * SONNET_45["out"] / M),
    )
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write([by_rule, unknown, one_hour])
    w.close(10)
    _as_version_6(ledger_url)
    with open_reader(ledger_url) as r:  # upgraded in place
        got = {row.span_id: row for row in r.rows()}
    assert got[by_rule.span_id].tier == "batch"  # its caveat named it
    assert got[unknown.span_id].tier is None  # not recorded
    assert got[one_hour.span_id].cache_write_1h_tokens == 1_000  # from its SKUs
    out, err = reprice(capsys, ledger_url, "--apply")
    assert "2 calls were written before the ledger recorded service tiers and keep their cost" in err
    assert sum(g["new_cost_usd"] for g in out) == BATCH + BATCH + ONE_HOUR
    with open_reader(ledger_url) as r:
        assert {row.span_id: row.cost_usd for row in r.rows()}[unknown.span_id] == BATCH
    out, err = reprice(capsys, ledger_url, "--apply", "--assume-standard-tier")
    assert "2 calls have no recorded service tier: priced at the standard tier's rates" in err
    assert sum(g["new_cost_usd"] for g in out) == BATCH + STANDARD + ONE_HOUR
    with open_reader(ledger_url) as r:
        after = {row.span_id: row for row in r.rows()}
    assert after[unknown.span_id].cost_usd == STANDARD and after[by_rule.span_id].cost_usd == BATCH
    # priced in its tier again: from genai-prices' batch prices, listed by this date, so no rule's caveat now
    assert after[by_rule.span_id].tier == "batch" and after[by_rule.span_id].price_caveat is None


def test_a_price_file_rate_on_a_batch_call_says_it_is_not_the_batch_bill(ledger_url, tmp_path, capsys):
    """A price file's entry is a standard rate: gpt-4o at a negotiated $2.00/$8.00 per million repriced a batch call
    (10k in / 2k out, billed $0.0225 at OpenAI's batch rates) to $0.036, 60% over its bill, with no caveat. What a
    negotiated batch rate is, costline cannot know, so the price stays the file's and the call says so
    (tier_unpriced:batch, as a tier with no rule); the same call in the standard tier has no caveat."""
    at, tokens = "2026-11-23T10:00", (10_000, 2_000, 0, 0, 0)
    batch = make_row(str(BATCH), at=at, model="gpt-4o", provider="openai", tokens=tokens)
    batch.tier = "batch"
    standard = make_row(str(STANDARD), at=at, model="gpt-4o", provider="openai", tokens=tokens)
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write([batch, standard])
    w.close(10)
    prices = tmp_path / "prices.yaml"
    prices.write_text("models:\n  - provider: openai\n    model: gpt-4o\n    input: 2.00\n    output: 8\n")
    reprice(capsys, ledger_url, "--apply", "--prices", str(prices))
    negotiated = (10_000 * Decimal("2.00") + 2_000 * Decimal(8)) / M
    with open_reader(ledger_url) as r:
        got = {row.span_id: (row.cost_usd, row.price_caveat) for row in r.rows()}
    assert got == {batch.span_id: (negotiated, "tier_unpriced:batch"), standard.span_id: (negotiated, None)}
