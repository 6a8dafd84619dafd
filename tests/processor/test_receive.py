"""Receivers over real loopback: every bad input answered as OTLP asks, good spans still arrive."""

import gzip
import json
import socket
import time

import grpc
import pytest
import requests
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.fakes.otlp_sink import OtlpSink
from tests.processor.harness import RunningServer, loopback_config, sdk_tracer
from tests.processor.spans import new_trace_id, request, span
from tests.processor.test_assembly import FlatPricer

TRACE_PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def raw_grpc(endpoint, body, path=TRACE_PATH):
    with grpc.insecure_channel(endpoint) as ch:
        return ch.unary_unary(path, request_serializer=None, response_deserializer=None).with_call(body, timeout=10)


def send_good_span(srv, sink, name):
    provider = sdk_tracer(srv.grpc_endpoint)
    provider.get_tracer("t").start_span(name).end()
    provider.shutdown()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if name in sink.by_name():
            return
        time.sleep(0.05)
    raise AssertionError(f"good span {name} never arrived")


@pytest.fixture
def running():
    with OtlpSink() as sink, RunningServer(loopback_config(sink, trace_wait=0.1), pricer=FlatPricer()) as srv:
        yield srv, sink


def test_grpc_garbage_is_invalid_argument_and_good_span_still_arrives(running):
    srv, sink = running
    with pytest.raises(grpc.RpcError) as e:
        raw_grpc(srv.grpc_endpoint, b"\xff\xff\xff\xff\x0fnot protobuf")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    send_good_span(srv, sink, "after-garbage")
    assert srv.stats.get("requests_refused", "undecodable") == 1


def test_grpc_partial_success_for_invalid_ids(running):
    srv, sink = running
    t = new_trace_id()
    good = span(t, "good")
    bad = span(b"\x00" * 16, "zero-trace")
    short = span(t, "short-id", span_id=b"\x01\x02")
    body = request([good, bad, short]).SerializeToString()
    resp, _ = raw_grpc(srv.grpc_endpoint, body)
    parsed = ExportTraceServiceResponse.FromString(resp)
    assert parsed.partial_success.rejected_spans == 2
    assert "invalid trace or span ID" in parsed.partial_success.error_message
    sink.wait_for_spans(1)
    assert [s.name for s in sink.spans()] == ["good"]


def test_grpc_oversized_request_is_resource_exhausted():
    cfg = loopback_config(None, trace_wait=0.1)
    cfg.receive.max_request_bytes = 4096
    with RunningServer(cfg, pricer=FlatPricer()) as srv:
        t = new_trace_id()
        big = request([span(t, f"s{i}", payload="x" * 200) for i in range(50)]).SerializeToString()
        with pytest.raises(grpc.RpcError) as e:
            raw_grpc(srv.grpc_endpoint, big)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


@pytest.mark.parametrize(
    "headers,body,status",
    [
        ({"Content-Type": "text/plain"}, b"hello", 415),
        ({"Content-Type": "application/x-protobuf"}, b"\xff\xff\xff\xff\x0f", 400),
        ({"Content-Type": "application/json"}, b"{broken", 400),
        ({"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}, b"not gzip", 400),
        ({"Content-Type": "application/x-protobuf", "Content-Encoding": "br"}, b"x", 415),
    ],
)
def test_http_bad_bodies(running, headers, body, status):
    srv, sink = running
    r = requests.post(f"{srv.http_url}/v1/traces", data=body, headers=headers, timeout=10)
    assert r.status_code == status
    if headers["Content-Type"] == "application/x-protobuf":
        assert status_pb2.Status.FromString(r.content).message  # a google.rpc.Status body
    send_good_span(srv, sink, f"after-{status}")


def test_http_gzip_bomb_is_413_and_good_span_still_arrives():
    with OtlpSink() as sink:
        cfg = loopback_config(sink, trace_wait=0.1)
        cfg.receive.max_request_bytes = 8 * 1024 * 1024
        with RunningServer(cfg, pricer=FlatPricer()) as srv:
            bomb = gzip.compress(b"\0" * (256 * 1024 * 1024), 9)
            r = requests.post(
                f"{srv.http_url}/v1/traces",
                data=bomb,
                timeout=30,
                headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
            )
            assert r.status_code == 413
            too_big = b"\0" * (9 * 1024 * 1024)
            r = requests.post(
                f"{srv.http_url}/v1/traces",
                data=too_big,
                timeout=30,
                headers={"Content-Type": "application/x-protobuf"},
            )
            assert r.status_code == 413
            send_good_span(srv, sink, "after-bomb")


def test_http_json_and_gzip_protobuf_both_accepted(running):
    srv, sink = running
    t = new_trace_id()
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "js-app"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": t.hex(),
                                "spanId": "00000000000000aa",
                                "name": "from-json",
                                "startTimeUnixNano": "1",
                                "endTimeUnixNano": "2",
                            }
                        ]
                    }
                ],
            }
        ]
    }
    r = requests.post(
        f"{srv.http_url}/v1/traces", data=json.dumps(doc), headers={"Content-Type": "application/json"}, timeout=10
    )
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    body = gzip.compress(request([span(t, "from-gzip")]).SerializeToString())
    r = requests.post(
        f"{srv.http_url}/v1/traces",
        data=body,
        timeout=10,
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 200
    spans = {s.name: s for s in sink.wait_for_spans(2)}
    assert spans["from-json"].trace_id == t.hex() and spans["from-json"].span_id == "00000000000000aa"
    assert spans["from-json"].resource["service.name"] == "js-app"


def test_metrics_and_logs_are_forwarded_unchanged():
    with OtlpSink():
        received = []

        class Servicer:
            pass

        # The sink only speaks traces; a second raw gRPC server records metrics and logs bytes.
        from concurrent import futures

        server = grpc.server(futures.ThreadPoolExecutor(2))

        def record(body, ctx):
            received.append(body)
            return b""

        for svc in (
            "opentelemetry.proto.collector.metrics.v1.MetricsService",
            "opentelemetry.proto.collector.logs.v1.LogsService",
        ):
            server.add_generic_rpc_handlers(
                [grpc.method_handlers_generic_handler(svc, {"Export": grpc.unary_unary_rpc_method_handler(record)})]
            )
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        try:
            cfg = loopback_config(None)
            from costline_processor.config import ExportTarget

            cfg.export.targets = [ExportTarget("grpc", f"127.0.0.1:{port}")]
            with RunningServer(cfg, pricer=FlatPricer()) as srv:
                metrics = ExportMetricsServiceRequest()
                metrics.resource_metrics.add().scope_metrics.add().metrics.add(name="requests", unit="1")
                logs = ExportLogsServiceRequest()
                logs.resource_logs.add().scope_logs.add().log_records.add(severity_text="INFO")
                raw_grpc(
                    srv.grpc_endpoint,
                    metrics.SerializeToString(),
                    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
                )
                r = requests.post(
                    f"{srv.http_url}/v1/logs",
                    data=logs.SerializeToString(),
                    headers={"Content-Type": "application/x-protobuf"},
                    timeout=10,
                )
                assert r.status_code == 200
                deadline = time.monotonic() + 10
                while len(received) < 2 and time.monotonic() < deadline:
                    time.sleep(0.05)
            assert sorted(received) == sorted([metrics.SerializeToString(), logs.SerializeToString()])
        finally:
            server.stop(0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_export_retries_while_backend_down_then_up(protocol):
    port = _free_port()
    cfg = loopback_config(None, trace_wait=0.1)
    from costline_processor.config import ExportTarget

    endpoint = f"127.0.0.1:{port}" if protocol == "grpc" else f"http://127.0.0.1:{port}"
    cfg.export.targets = [ExportTarget(protocol, endpoint)]
    with RunningServer(cfg, pricer=FlatPricer()) as srv:
        provider = sdk_tracer(srv.grpc_endpoint)
        tracer = provider.get_tracer("t")
        for i in range(20):
            tracer.start_span(f"while-down-{i}").end()
        provider.shutdown()
        time.sleep(1.0)  # backend is down: the queue keeps retrying
        assert srv.stats.get("export_retries") >= 1
        kwargs = {"grpc_port": port} if protocol == "grpc" else {"http_port": port}
        with OtlpSink(**kwargs) as sink:
            spans = sink.wait_for_spans(20, timeout=20)
            assert sorted(s.name for s in spans) == sorted(f"while-down-{i}" for i in range(20))
    assert srv.stats.get("spans_dropped") == 0


@pytest.mark.parametrize("hint,grpc_delay,http_header", [(2, (2, 0), "2"), (1.25, (1, 250_000_000), "2")])
def test_full_queue_throttles_senders_then_everything_arrives(hint, grpc_delay, http_header):
    with OtlpSink() as sink:
        cfg = loopback_config(sink, trace_wait=0)
        cfg.export.queue_batches = 1
        cfg.receive.retry_after_s = hint
        with RunningServer(cfg, pricer=FlatPricer()) as srv:
            sink.fail_next(10_000)  # backend answers UNAVAILABLE: batches pile up
            sent = []
            for i in range(4):
                t = new_trace_id()
                body = request([span(t, f"queued-{i}")]).SerializeToString()
                try:
                    raw_grpc(srv.grpc_endpoint, body)
                    sent.append(f"queued-{i}")
                except grpc.RpcError as e:
                    assert e.code() == grpc.StatusCode.UNAVAILABLE
                    trailers = dict(e.trailing_metadata())
                    info = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
                    assert (info.retry_delay.seconds, info.retry_delay.nanos) == grpc_delay
                    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
                    assert status.details[0].Is(error_details_pb2.RetryInfo.DESCRIPTOR)
                    break
                time.sleep(0.2)
            else:
                raise AssertionError("costline never throttled with a full queue")
            r = requests.post(
                f"{srv.http_url}/v1/traces",
                data=request([span(new_trace_id(), "x")]).SerializeToString(),
                headers={"Content-Type": "application/x-protobuf"},
                timeout=10,
            )
            assert r.status_code == 503 and r.headers["Retry-After"] == http_header  # whole seconds, rounded up
            with sink._lock:
                sink._failures.clear()  # backend recovers
            spans = sink.wait_for_spans(len(sent), timeout=20)
            assert sorted(s.name for s in spans) == sorted(sent)
