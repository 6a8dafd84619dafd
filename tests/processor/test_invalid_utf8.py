"""A string that is not UTF-8 costs the sender nothing: the request is taken, the bad characters become
U+FFFD, every span of it is priced, recorded and exported (receive/utf8.py). Before, the whole request
was refused (400 / INVALID_ARGUMENT), and an OTLP exporter does not retry that: its spans were lost.

The JSON case is what OpenTelemetry JS sends when it cuts an attribute through an emoji (its OTLP/JSON
exporter writes the half left as a lone surrogate escape); the protobuf one, bytes a sender that does not
check forwards (ED A0 BD: that half in UTF-8's form for surrogates, which UTF-8 forbids; a stray FF).
"""

from __future__ import annotations

import base64
import json
import sqlite3
from decimal import Decimal

import grpc
import pytest
import requests

from costline_processor.server import open_sinks
from tests.fakes.otlp_sink import OtlpSink
from tests.processor.harness import RunningServer, loopback_config
from tests.processor.spans import llm, new_trace_id, request
from tests.processor.test_receive import raw_grpc

GPT_4O = (1_000 * Decimal("2.50") + 100 * Decimal("10")) / 1_000_000  # published $/MTok, 1000 in / 100 out
HALF_EMOJI = b"\xed\xa0\xbd"  # U+D83D (the first half of U+1F600) as CESU bytes: not UTF-8
R = "\ufffd"


@pytest.fixture
def served(tmp_path):
    with OtlpSink() as sink:
        cfg = loopback_config(sink, trace_wait=0.1)
        cfg.ledger = str(tmp_path / "ledger.db")
        with RunningServer(cfg, sinks=open_sinks(cfg)) as srv:
            yield srv, sink, cfg.ledger


def _two_calls(marker: str):
    """A good call and one whose tag and name carry `marker` (replaced in the bytes by the test)."""
    good = llm(new_trace_id(), None, costline__feature="search")
    bad = llm(new_trace_id(), None, costline__feature=f"sum{marker}mary", costline__customer_id=f"{marker}acme")
    bad.name = f"chat {marker}"
    return good, bad


def _ledger(path: str) -> dict[str, tuple[str, Decimal]]:
    db = sqlite3.connect(path)
    try:
        return {s: (json.loads(t).get("feature"), Decimal(c)) for s, t, c in db.execute(
            "SELECT span_id, tags, cost_usd FROM costline_calls")}  # fmt: skip
    finally:
        db.close()


def _check(srv, sink, ledger: str, good, bad, repaired: int) -> None:
    spans = {s.span_id: s for s in sink.wait_for_spans(2)}
    g, b = spans[good.span_id.hex()], spans[bad.span_id.hex()]
    assert g.attributes["costline.feature"] == "search"
    assert b.attributes["costline.feature"].startswith("sum") and R in b.attributes["costline.feature"]
    assert b.attributes["costline.customer_id"].endswith("acme") and b.name.startswith("chat ")
    assert (b.trace_id, b.span_id) == (bad.trace_id.hex(), bad.span_id.hex())  # IDs untouched
    assert g.attributes["costline.cost.usd"] == b.attributes["costline.cost.usd"] == float(GPT_4O)
    assert srv.stats.get("strings_repaired", "invalid_utf8") == repaired
    assert srv.stats.get("requests_refused") == 0


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_protobuf_with_bytes_that_are_not_utf8(served, transport):
    srv, sink, ledger = served
    good, bad = _two_calls("QQQQ")  # as long as what replaces it: the length prefixes stay right
    body = request([good, bad]).SerializeToString().replace(b"QQQQ", HALF_EMOJI + b"\xff")
    with pytest.raises(UnicodeDecodeError):
        body.decode()
    if transport == "grpc":
        _, call = raw_grpc(srv.grpc_endpoint, body)
        assert call.code() == grpc.StatusCode.OK
    else:
        r = requests.post(f"{srv.http_url}/v1/traces", data=body, timeout=10,
                          headers={"Content-Type": "application/x-protobuf"})  # fmt: skip
        assert r.status_code == 200
    _check(srv, sink, ledger, good, bad, repaired=3)  # the tag, the customer and the span's name


def test_otlp_json_with_a_lone_surrogate(served):
    srv, sink, ledger = served
    good, bad = _two_calls("QQ")
    doc = json.dumps(_as_otlp_json(request([good, bad]))).replace("QQ", "\\ud83d")
    assert "\\ud83d" in doc
    r = requests.post(f"{srv.http_url}/v1/traces", data=doc, timeout=10, headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    _check(srv, sink, ledger, good, bad, repaired=3)


def test_the_ledger_records_both_calls(served):
    srv, sink, ledger = served
    good, bad = _two_calls("QQQ")
    raw_grpc(srv.grpc_endpoint, request([good, bad]).SerializeToString().replace(b"QQQ", HALF_EMOJI))
    sink.wait_for_spans(2)
    srv.stop()  # the writer drains
    rows = _ledger(ledger)
    assert rows[good.span_id.hex()] == ("search", GPT_4O)
    assert rows[bad.span_id.hex()] == (f"sum{R * 3}mary", GPT_4O)  # Python replaces each of the three bytes


def test_a_request_broken_otherwise_is_still_refused(served):
    srv, sink, _ = served
    good, bad = _two_calls("QQQ")
    body = request([good, bad]).SerializeToString().replace(b"QQQ", HALF_EMOJI)[:-7]  # and cut short
    with pytest.raises(grpc.RpcError) as e:
        raw_grpc(srv.grpc_endpoint, body)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert srv.stats.get("requests_refused", "undecodable") == 1 and not srv.stats.get("strings_repaired")


def test_metrics_passed_through_are_repaired_too(served):
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    srv, sink, _ = served
    req = ExportMetricsServiceRequest()
    metric = req.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name, metric.description = "tokens", "QQQ"
    body = req.SerializeToString().replace(b"QQQ", HALF_EMOJI)
    r = requests.post(f"{srv.http_url}/v1/metrics", data=body, timeout=10,
                      headers={"Content-Type": "application/x-protobuf"})  # fmt: skip
    assert r.status_code == 200
    assert srv.stats.get("strings_repaired", "invalid_utf8") == 1


def _as_otlp_json(req) -> dict:
    """The request as OTLP/JSON (hex IDs, as the spec and OpenTelemetry JS write them)."""
    from google.protobuf import json_format

    doc = json_format.MessageToDict(req)
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for k in ("traceId", "spanId", "parentSpanId"):
                    if s.get(k):
                        s[k] = base64.b64decode(s[k]).hex()
    return doc
