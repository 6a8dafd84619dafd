"""Issue #14, items 2, 4 and 7: what the receivers refuse, over real processes on loopback.

A real `costline serve` subprocess (tests/reliability/serve_proc.py), real OTLP senders
(grpc channels, HTTP clients) and, where data must arrive, a real backend on loopback.

- A JSON request protobuf would refuse (an attribute nested 150 levels deep) is refused
  with 400, so the batch it would have shared with 1 000 spans of an unrelated sender is
  exported whole (before: the backend could not parse the batch; costline dropped it).
- 16 senders of 60 MB with a wrong token cost no memory: the token is checked before the
  body is read (before: RSS +1.5 GB). Requests over `receive.max_concurrent_requests` are
  throttled before their body is read too.
- Garbage sent to the metrics and logs endpoints is INVALID_ARGUMENT / 400 and never
  forwarded (before: answered OK, forwarded, dropped by the backend).

To see these fail on the code before the fix: `git worktree add /tmp/pre14-recv
0c19959` (the tree before issue 14), then `TEST_SERVE_ROOT=/tmp/pre14-recv pytest <this file>`.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import threading
import time
from concurrent import futures

import grpc
import pytest
import requests
from google.rpc import error_details_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from tests.fakes.otlp_sink import OtlpSink
from tests.processor.spans import request, span
from tests.reliability.serve_proc import MIB, PeakRss, ServeProcess

TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
METRICS_SERVICE = "opentelemetry.proto.collector.metrics.v1.MetricsService"
LOGS_SERVICE = "opentelemetry.proto.collector.logs.v1.LogsService"


def grpc_export(target: str, body: bytes, path: str = TRACES, token: str | None = None, timeout: float = 60):
    metadata = (("authorization", f"Bearer {token}"),) if token else None
    with grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 64 << 20)]) as ch:
        return ch.unary_unary(path)(body, timeout=timeout, metadata=metadata)


def grpc_code(target: str, body: bytes, path: str = TRACES, token: str | None = None):
    """(status code name, RetryInfo delay in seconds or None)."""
    try:
        grpc_export(target, body, path, token)
        return "OK", None
    except grpc.RpcError as e:
        for key, value in e.trailing_metadata() or ():
            if key == "google.rpc.retryinfo-bin":
                d = error_details_pb2.RetryInfo.FromString(value).retry_delay
                return e.code().name, d.seconds + d.nanos / 1e9
        return e.code().name, None


# -- item 2: a JSON request protobuf would refuse poisons no batch ---------------------------------


def nested_json_request(depth: int) -> dict:
    value: dict = {"stringValue": "leaf"}
    for _ in range(depth):
        value = {"arrayValue": {"values": [value]}}
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-app"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "json"},
                        "spans": [
                            {
                                "traceId": os.urandom(16).hex(),
                                "spanId": os.urandom(8).hex(),
                                "name": "deep",
                                "startTimeUnixNano": "1763900000000000000",
                                "endTimeUnixNano": "1763900001000000000",
                                "attributes": [{"key": "payload", "value": value}],
                            }
                        ],
                    }
                ],
            }
        ]
    }


def unrelated_spans(traces: int = 100, per_trace: int = 10) -> bytes:
    spans = []
    for _ in range(traces):
        t = os.urandom(16)
        root = span(t, "unrelated root", span_id=os.urandom(8))
        spans.append(root)
        spans.extend(span(t, "unrelated child", root, span_id=os.urandom(8)) for _ in range(per_trace - 1))
    return request(spans, service="unrelated").SerializeToString()


def test_a_json_request_nested_past_protobufs_limit_is_refused_and_loses_no_other_senders_spans(tmp_path, figures):
    with OtlpSink() as backend:
        # A long trace wait and a SIGTERM: every buffered trace is assembled in one flush, so
        # both requests' spans share one export batch (as they do under load).
        with ServeProcess(tmp_path, "--export-grpc", backend.grpc_endpoint, "--trace-wait", "30") as srv:
            deep = requests.post(
                f"http://{srv.http}/v1/traces",
                data=json.dumps(nested_json_request(150)),
                headers={"Content-Type": "application/json"},
                timeout=30,
            )
            grpc_export(srv.grpc, unrelated_spans())  # 1 000 spans, from another sender
            code = srv.stop()
            log = srv.text()
        arrived = [s for s in backend.spans() if s.resource.get("service.name") == "unrelated"]
    lost = 1000 - len(arrived)
    figures(
        f"receive, JSON nested 150 deep: HTTP {deep.status_code}; 1 000 spans of an unrelated sender in the "
        f"same flush: {len(arrived)} exported, {lost} lost; costline exit {code}"
    )
    assert lost == 0, [line for line in log.splitlines() if "drop" in line][:5]
    assert deep.status_code == 400, deep.text
    assert "nested" in deep.json()["message"], deep.text
    assert code == 0, log[-3000:]


# -- item 4: unauthenticated senders cost no memory; the in-flight cap ----------------------------

SENDERS = 16
BODY_BYTES = 60_000_000


def _all_at_once(send, n: int = SENDERS) -> list:
    with futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: send(), range(n)))


@pytest.fixture(scope="module")
def big_body() -> bytes:
    return os.urandom(BODY_BYTES)  # the same 60 MB object for every sender, so the test process holds one


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_senders_with_a_wrong_token_are_refused_before_their_body_is_read(tmp_path, figures, big_body, protocol):
    token = tmp_path / "token"
    token.write_text("the-right-token\n")
    with ServeProcess(tmp_path, "--bearer-token-file", str(token)) as srv:
        if protocol == "grpc":

            def send():
                return grpc_code(srv.grpc, big_body, token="a-wrong-token")[0]
        else:

            def send():
                r = requests.post(
                    f"http://{srv.http}/v1/traces",
                    data=big_body,
                    timeout=60,
                    headers={"Content-Type": "application/x-protobuf", "Authorization": "Bearer a-wrong-token"},
                )
                return r.status_code

        with PeakRss(srv.pid) as rss:
            answers = _all_at_once(send)
        good = grpc_code(srv.grpc, unrelated_spans(1, 1), token="the-right-token")[0]
    grown = (rss.peak - rss.baseline) / MIB
    figures(
        f"receive, {SENDERS} {protocol} senders of {BODY_BYTES / 1e6:.0f} MB with a wrong token: "
        f"{answers.count('UNAUTHENTICATED') + answers.count(401)} refused; costline RSS "
        f"{rss.baseline / MIB:.0f} -> {rss.peak / MIB:.0f} MiB (+{grown:.0f})"
    )
    assert set(answers) == ({"UNAUTHENTICATED"} if protocol == "grpc" else {401}), answers
    assert grown < 100, f"RSS grew by {grown:.0f} MiB for refused requests"
    assert good == "OK"


def slow_http_post(address: str, body: bytes, seconds: float) -> tuple[int, str | None]:
    """POST `body` to /v1/traces at a pace that takes `seconds` (a sender on a slow link):
    (status, Retry-After). An answer that comes before the body is sent ends the sending."""
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.putrequest("POST", "/v1/traces")
        conn.putheader("Content-Type", "application/x-protobuf")
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        view, step = memoryview(body), len(body) // 50
        for at in range(0, len(body), step):
            if select.select([conn.sock], [], [], 0)[0]:  # answered already: refused unread
                break
            conn.sock.sendall(view[at : at + step])
            time.sleep(seconds / 50)
        r = conn.getresponse()
        r.read()
        return r.status, r.getheader("Retry-After")
    except (BrokenPipeError, ConnectionResetError):
        return 0, None
    finally:
        conn.close()


def test_requests_over_the_in_flight_cap_are_throttled_before_their_body_is_read(tmp_path, figures, big_body):
    cap = 2
    config = tmp_path / "costline.yaml"
    config.write_text(f"receive: {{max_concurrent_requests: {cap}, retry_after_s: 0.5}}\n")
    with ServeProcess(tmp_path, "--config", str(config)) as srv:
        with PeakRss(srv.pid) as rss, futures.ThreadPoolExecutor(SENDERS) as pool:
            slow = [pool.submit(slow_http_post, srv.http, big_body, 3.0) for _ in range(SENDERS)]
            time.sleep(1.0)  # the slots are held by slow senders: a gRPC request is over the cap too
            over = grpc_code(srv.grpc, big_body)
            answers = [f.result() for f in slow]
        good = grpc_code(srv.grpc, unrelated_spans(1, 1))[0]
    read = sum(1 for status, _ in answers if status == 400)  # read whole, then undecodable
    throttled = [after for status, after in answers if status == 503]
    grown = (rss.peak - rss.baseline) / MIB
    figures(
        f"receive, {SENDERS} HTTP senders of {BODY_BYTES / 1e6:.0f} MB over 3 s at once, "
        f"max_concurrent_requests {cap}: {read} read, {len(throttled)} answered 503 unread (Retry-After "
        f"{throttled[0] if throttled else None}); a gRPC request meanwhile: {over[0]} (retry hint {over[1]} s); "
        f"costline RSS {rss.baseline / MIB:.0f} -> {rss.peak / MIB:.0f} MiB (+{grown:.0f})"
    )
    assert read == cap and len(throttled) == SENDERS - cap, answers
    assert set(throttled) == {"1"}, throttled  # 0.5 s, rounded up to whole seconds
    assert over == ("UNAVAILABLE", 0.5)
    # a body read costs ~3 copies while it is checked; the unread ones cost nothing
    assert grown < cap * 3 * BODY_BYTES / MIB, f"RSS grew by {grown:.0f} MiB for {read} bodies read"
    assert good == "OK"


# -- item 7: metrics and logs must parse ------------------------------------------------------------


class MetricsLogsBackend:
    """A real gRPC backend for metrics and logs: records every Export body it is sent."""

    def __init__(self):
        self.received: list[tuple[str, bytes]] = []
        self.arrived = threading.Condition()
        self.server = grpc.server(futures.ThreadPoolExecutor(4))
        for name, service in (("metrics", METRICS_SERVICE), ("logs", LOGS_SERVICE)):
            self.server.add_generic_rpc_handlers(
                [
                    grpc.method_handlers_generic_handler(
                        service, {"Export": grpc.unary_unary_rpc_method_handler(self._recorder(name))}
                    )
                ]
            )
        self.endpoint = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"

    def _recorder(self, name: str):
        def record(body: bytes, context) -> bytes:
            with self.arrived:
                self.received.append((name, body))
                self.arrived.notify_all()
            return b""

        return record

    def wait_for(self, n: int, timeout: float = 15) -> list[tuple[str, bytes]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= n, timeout)
            return list(self.received)

    def __enter__(self) -> MetricsLogsBackend:
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop(0)


def good_metrics() -> bytes:
    m = ExportMetricsServiceRequest()
    m.resource_metrics.add().scope_metrics.add().metrics.add(name="requests", unit="1")
    return m.SerializeToString()


def good_logs() -> bytes:
    m = ExportLogsServiceRequest()
    m.resource_logs.add().scope_logs.add().log_records.add(severity_text="INFO", body={"string_value": "ok"})
    return m.SerializeToString()


GARBAGE = b"\xff\xff\xff\xff\x0fnot protobuf at all"


def test_garbage_sent_to_metrics_and_logs_is_refused_and_never_forwarded(tmp_path, figures):
    with MetricsLogsBackend() as backend, ServeProcess(tmp_path, "--export-grpc", backend.endpoint) as srv:
        http = f"http://{srv.http}"
        answers = {}
        for signal, service in (("metrics", METRICS_SERVICE), ("logs", LOGS_SERVICE)):
            answers[f"gRPC {signal}"] = grpc_code(srv.grpc, GARBAGE, f"/{service}/Export")[0]
            answers[f"HTTP protobuf {signal}"] = requests.post(
                f"{http}/v1/{signal}", data=GARBAGE, headers={"Content-Type": "application/x-protobuf"}, timeout=10
            ).status_code
        deep = nested_json_request(150)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"][0]["value"]
        deep_logs = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": deep}]}]}]}
        answers["HTTP JSON logs nested 150 deep"] = requests.post(
            f"{http}/v1/logs", data=json.dumps(deep_logs), headers={"Content-Type": "application/json"}, timeout=10
        ).status_code
        # good ones after the garbage: forwarded unchanged
        good = [
            grpc_code(srv.grpc, good_metrics(), f"/{METRICS_SERVICE}/Export")[0],
            grpc_code(srv.grpc, good_logs(), f"/{LOGS_SERVICE}/Export")[0],
            requests.post(
                f"{http}/v1/metrics",
                data=good_metrics(),
                headers={"Content-Type": "application/x-protobuf"},
                timeout=10,
            ).status_code,
            requests.post(
                f"{http}/v1/logs", data=good_logs(), headers={"Content-Type": "application/x-protobuf"}, timeout=10
            ).status_code,
        ]
        received = backend.wait_for(4)
    refused = sum(1 for a in answers.values() if a in ("INVALID_ARGUMENT", 400))
    garbage_forwarded = sum(1 for _, body in received if body not in (good_metrics(), good_logs()))
    figures(
        f"receive, garbage to metrics and logs: {refused} of {len(answers)} refused "
        f"(INVALID_ARGUMENT / 400), {garbage_forwarded} forwarded; good ones after it: "
        f"{len(received) - garbage_forwarded} of 4 forwarded unchanged"
    )
    assert answers == {k: ("INVALID_ARGUMENT" if k.startswith("gRPC") else 400) for k in answers}, answers
    assert garbage_forwarded == 0
    assert good == ["OK", "OK", 200, 200]
    assert sorted(received) == sorted([("metrics", good_metrics()), ("logs", good_logs())] * 2)
