"""One call through the whole path, for the tests of what a call is billed apiece (web, preview and file searches):
served over OTLP into a ledger, repriced and exported as FOCUS; an older ledger; the billed twin of two spans."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from decimal import Decimal

from costline_processor.cli import main
from costline_processor.ledger import open_ledger, open_reader, schema
from costline_processor.records import LedgerRow
from tests.processor.costs import NOV
from tests.processor.harness import assemble_scopes

NOVEMBER = ["--since", "2026-11-01", "--until", "2026-12-01"]


def served(tmp_path, model: str, **attributes) -> tuple[object, LedgerRow, str]:
    """A `model` call of 6,000 tokens in and 400 out with `attributes`, sent over OTLP to `costline serve` with a
    ledger: the span it exported, the ledger's row and the ledger."""
    from costline_processor.server import open_sinks
    from tests.fakes.otlp_sink import OtlpSink
    from tests.processor.harness import RunningServer, loopback_config
    from tests.processor.spans import llm, new_trace_id, request
    from tests.processor.test_receive import raw_grpc

    spans = [llm(new_trace_id(), None, model, 6_000, 400, "openai", start=NOV, **attributes)]
    with OtlpSink() as sink:
        cfg = loopback_config(sink, trace_wait=0.2)
        cfg.ledger = str(tmp_path / "ledger.db")
        with RunningServer(cfg, sinks=open_sinks(cfg)) as srv:
            raw_grpc(srv.grpc_endpoint, request(spans).SerializeToString())
            (exported,) = sink.wait_for_spans(1)
    with open_reader(cfg.ledger) as r:
        (row,) = list(r.rows())
    return exported, row, cfg.ledger


def repriced(ledger: str, capsys) -> tuple[int, Decimal]:
    """`costline reprice --apply` over November: the calls it changed and their new cost."""
    assert main(["reprice", *NOVEMBER, "--ledger", ledger, "--format", "json", "--apply"]) == 0
    out = json.loads(capsys.readouterr().out, parse_float=Decimal)
    return sum(g["changed_calls"] for g in out), sum(g["new_cost_usd"] for g in out)


def focus_rows(ledger: str, capsys, sku: str) -> list[tuple[str, str, Decimal]]:
    """The FOCUS export's rows of SKU `sku` over November: quantity, unit and billed cost."""
    assert main(["export", *NOVEMBER, "--ledger", ledger]) == 0
    rows = csv.DictReader(io.StringIO(capsys.readouterr().out))
    return [
        (r["ConsumedQuantity"], r["ConsumedUnit"], Decimal(r["BilledCost"])) for r in rows if r["SkuId"].endswith(sku)
    ]


def opened_old_ledger(tmp_path, version: str) -> tuple[LedgerRow, str]:
    """A one-call ledger ($0.01) taken back to schema `version` (the later columns dropped), then opened: its row
    and the schema version it has now."""
    from tests.ledger.factory import make_row

    path = str(tmp_path / "old.db")
    w = open_ledger(path, flush_interval_s=0.02)
    w.write([make_row("0.01")])
    w.close(10)
    with sqlite3.connect(path) as conn:
        for column in schema.COLUMNS[len(schema.columns_of(version)) :]:
            conn.execute(f"ALTER TABLE {schema.TABLE} DROP COLUMN {column[0]}")
        conn.execute(f"UPDATE costline_meta SET value = '{version}' WHERE key = 'schema_version'")
    with open_reader(path) as r:
        (row,) = list(r.rows())
    with sqlite3.connect(path) as conn:
        (now,) = conn.execute("SELECT value FROM costline_meta WHERE key = 'schema_version'").fetchone()
    return row, now


def billed_twin(model: str, response_id: str, **ours) -> list[LedgerRow]:
    """The rows of one response traced twice, by openai-v2 and by costline (whose span has `ours`)."""
    from tests.processor.spans import llm, new_trace_id, span

    t = new_trace_id()
    root = span(t, "POST /ask", start=NOV)
    twin = dict(start=NOV, gen_ai__response__id=response_id)
    other = llm(t, root, model, 6_000, 400, "openai", **twin)
    mine = llm(t, root, model, 6_000, 400, "openai", **twin, **ours)
    a, _ = assemble_scopes(
        [("test", [root]), ("opentelemetry.instrumentation.openai_v2", [other]), ("costline", [mine])]
    )
    return a.rows
