"""Issue #14, item 1: export requests bounded by bytes; "too large" splits, never drops.

Real processes on loopback: a `costline serve` process with `--queue-dir` and a ledger,
a real OTLP backend with the standard 4 MiB gRPC receive limit (or an HTTP one answering
413 over 4 MiB), and a gRPC sender pushing 2 000 acknowledged spans of ~3.5 KB: at 2 048
spans per batch that used to be one ~7 MB request, refused by the backend and dropped as
a permanent error. Now batches stop at `export.max_request_bytes` (4 MiB) and a refused
request is split in halves and sent again. A single span larger than the backend takes
is dropped alone, counted as spans_dropped{too_large} and logged once.

TEST_SERVE_ROOT=/tmp/pre14 runs the server from another checkout (serve_proc.py).
"""

from __future__ import annotations

import os
import re
import sqlite3
import time

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from tests.fakes.otlp_sink import OtlpSink
from tests.processor.spans import llm, request, span
from tests.reliability.serve_proc import ServeProcess

SPANS = 2_000
PER_REQUEST = 100  # one trace of 100 spans per sender request (~350 KB)
PROMPT = 3_000  # bytes of prompt text on each span: ~3.5 KB per span on the wire
LIMIT = 4 << 20  # the backend's limit, and costline's default export.max_request_bytes


def _send(port: str, huge: int = 0) -> tuple[set[str], set[str]]:
    """Push SPANS spans (a model call every 10th), each request retried until acknowledged.
    With `huge`, one more request carries one span of `huge` bytes. Returns (acked, huge ids)."""
    acked, big = set(), set()
    channel = grpc.insecure_channel(port, options=[("grpc.max_send_message_length", 64 << 20)])
    stub = trace_service_pb2_grpc.TraceServiceStub(channel)
    batches = [[] for _ in range(SPANS // PER_REQUEST)]
    for spans in batches:
        trace_id = os.urandom(16)
        root = span(
            trace_id, "POST /answer", span_id=os.urandom(8), costline__customer_id="acme", gen_ai__prompt="p" * PROMPT
        )
        spans.append(root)
        for k in range(PER_REQUEST - 1):
            if k % 10 == 0:
                spans.append(
                    llm(trace_id, root, model="gpt-4o-mini", span_id=os.urandom(8), gen_ai__prompt="q" * PROMPT)
                )
            else:
                spans.append(span(trace_id, f"tool {k}", root, span_id=os.urandom(8), gen_ai__prompt="t" * PROMPT))
    if huge:
        trace_id = os.urandom(16)
        one = span(trace_id, "a huge span", span_id=os.urandom(8), gen_ai__prompt="h" * huge)
        big.add(one.span_id.hex())
        batches.insert(len(batches) // 2, [one])
    for spans in batches:
        for _ in range(100):
            try:
                stub.Export(request(spans, service="answers"), timeout=10)
                break
            except grpc.RpcError:
                time.sleep(0.1)
        else:
            raise AssertionError("costline never acknowledged a request")
        acked.update(s.span_id.hex() for s in spans)
    channel.close()
    return acked, big


def _run(tmp_path, figures, name: str, sink: OtlpSink, export: list[str], huge: int = 0) -> tuple[str, dict]:
    ledger = tmp_path / "ledger.db"
    with ServeProcess(
        tmp_path, *export, "--trace-wait", "0.5", "--queue-dir", str(tmp_path / "queue"), "--ledger", str(ledger)
    ) as srv:
        acked, big = _send(srv.grpc, huge)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(acked - big - {s.span_id for s in sink.spans()}) > 0:
            time.sleep(0.1)
        time.sleep(1.5)  # the ledger commits, the journal deletes finished segments
        code = srv.stop()
        log = srv.text()
    assert code == 0, log[-3000:]
    received = [s.span_id for s in sink.spans()]
    lost = acked - set(received)
    stats = _stats(log)
    splits = sum(v for k, v in stats.items() if k.startswith("export_requests_split"))
    left = sorted(p.name for p in (tmp_path / "queue").glob("*.otlp"))
    with sqlite3.connect(ledger) as db:
        (calls,) = db.execute("SELECT count(*) FROM costline_calls").fetchone()
    figures(
        f"{name}: spans acknowledged {len(acked)}, received {len(received)} ({len(set(received))} distinct), "
        f"lost {len(lost)} ({len(lost & big)} of them the one span over the limit); backend took "
        f"{sink.requests} requests; costline split {splits} refused as too large; "
        f"spans_dropped { ({k: v for k, v in stats.items() if k.startswith('spans_dropped')}) }; "
        f"ledger calls {calls}; queue-dir segments left {len(left)}"
    )
    return log, {
        "acked": acked,
        "big": big,
        "lost": lost,
        "left": left,
        "stats": stats,
        "received": received,
        "calls": calls,
    }


def _stats(log: str) -> dict:
    m = re.search(r"stopped: (\{.*\})", log)
    return eval(m.group(1)) if m else {}


def _check_all_delivered(r: dict) -> None:
    assert not r["lost"] - r["big"], f"{len(r['lost'] - r['big'])} acknowledged spans lost"
    assert r["calls"] == SPANS // 10, r["calls"]
    assert r["left"] == [], f"journal segments left after a clean stop: {r['left']}"  # accounting exact


def test_batches_fit_a_4_mib_grpc_backend_no_acknowledged_span_lost(tmp_path, figures):
    with OtlpSink(grpc_max_receive_bytes=LIMIT) as sink:
        _, r = _run(tmp_path, figures, "4 MiB gRPC backend, --queue-dir", sink, ["--export-grpc", sink.grpc_endpoint])
    _check_all_delivered(r)
    assert len(r["received"]) == SPANS
    assert all(len(s.raw.SerializeToString()) > PROMPT for s in sink.spans()[:1])


def test_an_http_413_splits_the_batch_and_resends_the_halves(tmp_path, figures):
    """A backend whose limit (2 MiB) is below costline's 4 MiB: it answers 413, costline
    splits each refused request in halves and sends them again."""
    with OtlpSink(http_max_bytes=2 << 20) as sink:
        _, r = _run(
            tmp_path,
            figures,
            "HTTP backend answering 413 over 2 MiB, --queue-dir",
            sink,
            ["--export-http", sink.http_endpoint],
        )
    _check_all_delivered(r)
    assert sink.too_large > 0, "the backend never refused: the test proves nothing"
    assert r["stats"].get("spans_dropped{permanent_error}", 0) == 0


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_one_span_over_the_limit_is_dropped_alone_and_counted(tmp_path, figures, protocol):
    with OtlpSink(grpc_max_receive_bytes=LIMIT, http_max_bytes=LIMIT) as sink:
        target = ["--export-grpc", sink.grpc_endpoint] if protocol == "grpc" else ["--export-http", sink.http_endpoint]
        log, r = _run(tmp_path, figures, f"one 5 MiB span among {SPANS} ({protocol})", sink, target, huge=5 << 20)
    assert r["lost"] == r["big"], f"lost {len(r['lost'])}, of them the huge span: {len(r['lost'] & r['big'])}"
    _check_all_delivered(r)
    assert r["stats"].get("spans_dropped{too_large}") == 1, r["stats"]
    assert len([line for line in log.splitlines() if "too large" in line and "ERROR" in line]) == 1, log[-3000:]
