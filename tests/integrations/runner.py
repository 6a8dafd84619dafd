"""Runs one app of apps/ in the integrations venv against a real costline, and collects what came out.

    with scenario("anthropic_openllmetry.py") as run:
        run.rows      # the ledger rows of the app's calls (SQLite ledger, read after costline stopped)
        run.spans     # every span costline exported, as the backend (an OTLP sink) got it
        run.requests  # what the fake provider was asked, to price the calls really made

costline runs in process on loopback (tests.processor.harness, as test_serve_costs does) with
a short trace wait and a SQLite ledger; it exports to an OtlpSink, so each span's shape, the
way the library emitted it plus what costline added, can be dumped (`shape_report`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from costline_processor.demo.fake_provider import FakeProvider, RecordedRequest
from costline_processor.server import open_sinks
from tests.fakes.otlp_sink import OtlpSink, SinkSpan
from tests.processor.harness import RunningServer, loopback_config

ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).parent / "apps"
# OpenAI answers with a dated snapshot; instrumentations that report only the response model
# (OpenInference's llm.model_name) need one a price table knows.
SNAPSHOTS = {"gpt-4o-mini": "gpt-4o-mini-2024-07-18", "gpt-4o": "gpt-4o-2024-08-06"}
# Set to a file path to append every run's span shapes there (markdown), for whoever designs
# the processor's de-duplication; unset, nothing is written.
SHAPES = os.environ.get("COSTLINE_SPAN_SHAPES")


def integrations_python() -> str:
    """The integrations venv's python, or a skip (a failure under CI) saying how to get it."""
    for candidate in (os.environ.get("TEST_INTEGRATIONS_PYTHON"), str(ROOT / ".venv-integrations/bin/python")):
        if candidate and os.path.exists(candidate):
            return candidate
    # "not installed" in the reason: tests/conftest.py turns this skip into a failure under CI
    pytest.skip(
        "the integrations venv is not installed (./dev test makes .venv-integrations "
        "from tests/integrations/requirements.txt)"
    )


@dataclass
class Run:
    rows: list[dict]
    spans: list[SinkSpan]
    requests: list[RecordedRequest]
    stdout: str = ""
    stderr: str = ""
    shapes: str = ""  # the span-shape report (shape_report), set by record_shapes

    def total(self, trace_id: str | None = None) -> Decimal:
        """The sum of the billed costs in the ledger (of one trace, or all)."""
        return sum(
            (
                Decimal(r["cost_usd"])
                for r in self.rows
                if r["cost_usd"] is not None and (trace_id is None or r["trace_id"] == trace_id)
            ),
            Decimal(0),
        )

    def billed(self) -> list[dict]:
        return [r for r in self.rows if r["cost_usd"] is not None]

    def model_requests(self) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.method == "POST"
            and r.path.split("?")[0].startswith("/v1/")
            and isinstance(r.body, dict)
            and "model" in r.body
        ]


def read_ledger(path: Path) -> list[dict]:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in db.execute("SELECT * FROM costline_calls ORDER BY start_unix_nano")]
    finally:
        db.close()
    for r in rows:
        r["tags"] = json.loads(r["tags"])
    return rows


@contextmanager
def scenario(
    app: str,
    tmp_path: Path,
    protocol: str = "grpc",
    expect_spans: int = 1,
    env: dict | None = None,
    response_models: dict | None = None,
    timeout: float = 120,
):
    python = integrations_python()
    ledger = tmp_path / "ledger.db"
    with (
        FakeProvider(response_models=SNAPSHOTS if response_models is None else response_models) as fake,
        OtlpSink() as sink,
    ):
        cfg = loopback_config(sink, trace_wait=0.3)
        cfg.ledger = str(ledger)
        with RunningServer(cfg, sinks=open_sinks(cfg)) as srv:
            endpoint = srv.grpc_endpoint if protocol == "grpc" else srv.http_url
            app_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "COSTLINE_", "LOGFIRE_"))}
            app_env.update(
                FAKE_PROVIDER_URL=fake.base_url,
                COSTLINE_OTLP_ENDPOINT=endpoint,
                COSTLINE_OTLP_PROTOCOL=protocol,
                COSTLINE_BAGGAGE_ALLOWED_HOSTS="",
                PYTHONPATH=str(APPS),
                PYTHONUNBUFFERED="1",
                **(env or {}),
            )
            result = subprocess.run(
                [python, str(APPS / app)], env=app_env, capture_output=True, text=True, timeout=timeout, cwd=tmp_path
            )
            assert result.returncode == 0, f"{app} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            spans = sink.wait_for_spans(expect_spans, timeout=15)
            requests = fake.requests
        # the server stopped: every buffered trace was flushed and the ledger closed
        spans = sink.spans()
    yield Run(read_ledger(ledger), spans, requests, result.stdout, result.stderr)


# -- the span-shape dump -------------------------------------------------------------------
SHAPE_PREFIXES = (
    "gen_ai.",
    "llm.",
    "openinference.",
    "logfire.",
    "costline.",
    "anthropic.",
    "openai.",
    "traceloop.",
    "server.",
    "request_data",
    "response_data",
    "embedding.",
)
SKIP_KEYS = (
    "llm.input_messages",
    "llm.output_messages",
    "gen_ai.prompt",
    "gen_ai.completion",
    "llm.invocation_parameters",
    "input.value",
    "output.value",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "request_data",
    "response_data",
    "logfire.json_schema",
    "embedding.embeddings",
)


def _short(value, limit: int = 120) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def shape_report(title: str, run: Run) -> str:
    """Each span: scope, name, kind, parent (by name), the cost-relevant attributes; then the ledger rows."""
    by_id = {s.span_id: s for s in run.spans}
    lines = [f"## {title}", ""]
    for s in sorted(run.spans, key=lambda s: (s.trace_id, s.start_unix_nano)):
        parent = by_id.get(s.parent_span_id)
        rel = (
            f"child of `{parent.name}` ({parent.span_id[:8]})"
            if parent
            else (f"parent {s.parent_span_id[:8]} NOT RECEIVED" if s.parent_span_id else "root")
        )
        lines.append(
            f"- **{s.name}** span {s.span_id[:8]} trace {s.trace_id[:8]}, scope `{s.scope}`, kind {s.kind}, {rel}"
        )
        for k in sorted(s.attributes):
            if k.startswith(SHAPE_PREFIXES) and not k.startswith(SKIP_KEYS) and ".content" not in k:
                lines.append(f"    - `{k}` = {_short(s.attributes[k])}")
    lines += ["", "ledger rows:", ""]
    for r in run.rows:
        lines.append(
            f"- {r['span_name']} span {r['span_id'][:8]}: model={r['model']} request_model={r['request_model']} "
            f"in={r['input_tokens']} out={r['output_tokens']} cache_read={r['cache_read_tokens']} "
            f"cache_write={r['cache_write_tokens']} cost_usd={r['cost_usd']} status={r['status']} tags={r['tags']}"
        )
    lines.append("")
    return "\n".join(lines)


def record_shapes(title: str, run: Run) -> Run:
    """Keep this run's shapes on it (for assertion messages) and append them to SHAPES if set."""
    text = run.shapes = shape_report(title, run)
    if SHAPES:
        with open(SHAPES, "a") as f:
            f.write(text + "\n")
    return run
