"""OpenTelemetry JS, as a JS app runs it (tests/js/send.js, the versions pinned in tests/js/package.json),
sending model-call spans to a real costline over OTLP/HTTP, JSON and protobuf.

The SDK cuts attribute values to their length limit in UTF-16 units: a cut through an emoji leaves half of
it, which the JSON exporter sends as a lone surrogate escape; and it writes any integral number as an
intValue, 2**70 too, beyond int64. costline refused such a request (400, not retried: every span of the
batch lost); now the half becomes U+FFFD (receive/utf8.py), the number the double it was, and every call
is priced and recorded. ./dev installs the packages into .js-senders (TEST_JS_SENDERS); without node and npm
these tests skip.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from costline_processor.server import open_sinks
from tests.fakes.otlp_sink import OtlpSink
from tests.processor.harness import RunningServer, loopback_config

SEND = Path(__file__).resolve().parents[1] / "js" / "send.js"
GPT_4O = (1_000 * Decimal("2.50") + 100 * Decimal("10")) / 1_000_000  # published $/MTok, 1000 in / 100 out
LIMIT = 11  # "summarize 😀" is 12 UTF-16 units: the SDK keeps "summarize " and half the emoji


def _senders() -> Path:
    where = os.environ.get("TEST_JS_SENDERS")
    if not where or not (Path(where) / "node_modules" / "@opentelemetry" / "sdk-trace-base").is_dir():
        pytest.skip("OpenTelemetry JS is not installed: ./dev test installs tests/js/package.json (needs node, npm)")
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    return Path(where)


@pytest.mark.parametrize("format", ["json", "proto"])
def test_a_js_app_s_calls_are_all_priced_and_recorded(tmp_path, format):
    senders = _senders()
    features = ["search", "summarize 😀 and more", "chat"]
    with OtlpSink() as sink:
        cfg = loopback_config(sink, trace_wait=0.1)
        cfg.ledger = str(tmp_path / "ledger.db")
        with RunningServer(cfg, sinks=open_sinks(cfg)) as srv:
            done = subprocess.run(
                ["node", str(SEND), f"{srv.http_url}/v1/traces", format, str(LIMIT), *features],
                env={**os.environ, "NODE_PATH": str(senders / "node_modules")},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0 and done.stdout.strip() == "sent", done.stdout + done.stderr
            spans = sink.wait_for_spans(3)
            repaired = srv.stats.get("strings_repaired", "invalid_utf8")
            refused = srv.stats.get("requests_refused")
    exported = sorted(s.attributes["costline.feature"] for s in spans)
    assert exported == ["chat", "search", "summarize \ufffd"]
    assert all(s.attributes["costline.cost.usd"] == float(GPT_4O) for s in spans)
    assert all(s.attributes["app.big_number"] == float(2**70) for s in spans)  # an intValue beyond int64, in JSON
    assert refused == 0
    assert repaired == (1 if format == "json" else 0)  # the protobuf exporter writes U+FFFD itself
    db = sqlite3.connect(cfg.ledger)
    try:
        rows = db.execute("SELECT tags, cost_usd FROM costline_calls").fetchall()
    finally:
        db.close()
    assert sorted((json.loads(t)["feature"], Decimal(c)) for t, c in rows) == [
        ("chat", GPT_4O),
        ("search", GPT_4O),
        ("summarize \ufffd", GPT_4O),
    ]
