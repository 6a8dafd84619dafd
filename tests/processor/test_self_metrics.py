"""costline's own counters and levels on /metrics: what came in, went out, and why not."""

from __future__ import annotations

import re
import time
import urllib.request

import grpc
import pytest

from costline_processor.metrics import MetricsSink
from tests.fakes.otlp_sink import OtlpSink
from tests.processor.harness import RunningServer, loopback_config
from tests.processor.spans import llm, new_trace_id, request, span

TRACE_PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(costline_[a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def test_self_metrics_count_what_came_in_went_out_and_was_refused():
    metrics = MetricsSink()
    _, port = metrics.serve("127.0.0.1", 0)
    with OtlpSink() as sink, RunningServer(loopback_config(sink, trace_wait=0.1), sinks=[metrics]) as srv:
        with grpc.insecure_channel(srv.grpc_endpoint) as ch:
            export = ch.unary_unary(TRACE_PATH, request_serializer=None, response_deserializer=None)
            with pytest.raises(grpc.RpcError):
                export(b"\xff\xfe not protobuf", timeout=10)
            t = new_trace_id()
            root = span(t, "root")
            body = request([root, llm(t, root, model="gpt-4o-mini"), span(b"\x00" * 16, "bad id")]).SerializeToString()
            export(body, timeout=10)
        sink.wait_for_spans(2)
        target = srv.pipeline.queues[0].client.name
        deadline = time.monotonic() + 10
        while True:
            got = scrape(port)
            if got.get(f'costline_spans_exported_total{{target="{target}"}}') == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    metrics.close()
    assert got["costline_spans_received_total"] == 2
    assert got[f'costline_spans_exported_total{{target="{target}"}}'] == 2
    assert got['costline_requests_refused_total{reason="undecodable"}'] == 1
    assert got['costline_spans_rejected_total{reason="invalid_id"}'] == 1
    assert got["costline_buffer_spans"] == 0
    assert got[f'costline_export_queue_batches{{target="{target}"}}'] == 0
    assert (
        got[
            'costline_llm_calls_total{agent="",customer_id="untagged",environment="untagged",feature="untagged",model="gpt-4o-mini",provider="openai",team="untagged"}'
        ]
        == 1
    )
