"""A loopback OTLP trace receiver for tests: the "backend" costline exports to.

Real gRPC (TraceService/Export) and real HTTP (POST /v1/traces, protobuf or gzip)
on 127.0.0.1, recording every request. It can answer with failures for a while
(`fail_next`), so export retries are tested against a real peer, refuse what is too
large as real backends do (gRPC's receive limit, 4 MiB by default: RESOURCE_EXHAUSTED;
HTTP: 413 over `http_max_bytes`), and hold requests unanswered (`hang`).
"""

from __future__ import annotations

import gzip
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def any_value(v: AnyValue):
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind)


@dataclass
class SinkSpan:
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict
    resource: dict
    scope: str
    start_unix_nano: int
    end_unix_nano: int
    raw: object = field(repr=False, default=None)


class OtlpSink:
    """Context manager; `.grpc_endpoint`, `.http_endpoint`, `.wait_for_spans(n)`."""

    def __init__(
        self,
        grpc_port: int = 0,
        http_port: int = 0,
        grpc_max_receive_bytes: int = 4 << 20,
        http_max_bytes: int | None = None,
    ):
        self.grpc_max_receive_bytes = grpc_max_receive_bytes  # gRPC's own default is 4 MiB too
        self.http_max_bytes = http_max_bytes  # a larger body is answered 413 (None: no limit)
        self.too_large = 0  # HTTP requests answered 413
        self._answering = threading.Event()  # cleared by hang(): requests wait, unanswered
        self._answering.set()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._spans: list[SinkSpan] = []
        self.requests = 0
        self.rejected = 0
        self.http_headers: list[dict] = []
        self._failures: list[tuple[grpc.StatusCode, int]] = []  # (grpc code, http status)
        self._grpc_port, self._http_port = grpc_port, http_port
        self._grpc = None
        self._http = None

    # -- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> OtlpSink:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        sink = self

        class Servicer(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request, context):
                sink._answering.wait()
                failure = sink._take_failure()
                if failure:
                    context.abort(failure[0], "sink told to fail")
                sink._record(request)
                return trace_service_pb2.ExportTraceServiceResponse()

        self._grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4),
            options=[("grpc.max_receive_message_length", self.grpc_max_receive_bytes)],
        )
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Servicer(), self._grpc)
        self._grpc_port = self._grpc.add_insecure_port(f"127.0.0.1:{self._grpc_port}")
        self._grpc.start()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with sink._lock:
                    sink.http_headers.append(dict(self.headers))
                sink._answering.wait()
                if sink.http_max_bytes is not None and len(body) > sink.http_max_bytes:
                    with sink._lock:
                        sink.too_large += 1
                    self.send_response(413)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                failure = sink._take_failure()
                if failure:
                    self.send_response(failure[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                req = trace_service_pb2.ExportTraceServiceRequest()
                req.ParseFromString(body)
                sink._record(req)
                out = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self._http = ThreadingHTTPServer(("127.0.0.1", self._http_port), Handler)
        self._http_port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._answering.set()  # let held requests go, so the servers can stop
        if self._grpc is not None:
            self._grpc.stop(0).wait()
            self._grpc = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    # -- controls --------------------------------------------------------------------
    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self._grpc_port}"

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self._http_port}"

    def fail_next(self, n: int, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE, http_status: int = 503) -> None:
        """Answer the next `n` export requests (either protocol) with a failure."""
        with self._lock:
            self._failures.extend([(code, http_status)] * n)

    def hang(self) -> None:
        """Hold every request from now on unanswered (a backend that stopped answering),
        until `answer()` or `stop()`."""
        self._answering.clear()

    def answer(self) -> None:
        self._answering.set()

    def _take_failure(self):
        with self._lock:
            if self._failures:
                self.rejected += 1
                return self._failures.pop(0)
        return None

    # -- data ------------------------------------------------------------------------
    def _record(self, request) -> None:
        out = []
        for rs in request.resource_spans:
            resource = {kv.key: any_value(kv.value) for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    out.append(
                        SinkSpan(
                            name=s.name,
                            kind=s.kind,
                            trace_id=s.trace_id.hex(),
                            span_id=s.span_id.hex(),
                            parent_span_id=s.parent_span_id.hex(),
                            attributes={kv.key: any_value(kv.value) for kv in s.attributes},
                            resource=resource,
                            scope=ss.scope.name,
                            start_unix_nano=s.start_time_unix_nano,
                            end_unix_nano=s.end_time_unix_nano,
                            raw=s,
                        )
                    )
        with self._cond:
            self.requests += 1
            self._spans.extend(out)
            self._cond.notify_all()

    def spans(self) -> list[SinkSpan]:
        with self._lock:
            return list(self._spans)

    def wait_for_spans(self, n: int, timeout: float = 10.0) -> list[SinkSpan]:
        """Block until at least `n` spans arrived; raise AssertionError with what did."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._spans) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} spans, sink got {len(self._spans)}")
                self._cond.wait(left)
            return list(self._spans)

    def by_name(self) -> dict[str, SinkSpan]:
        return {s.name: s for s in self.spans()}
