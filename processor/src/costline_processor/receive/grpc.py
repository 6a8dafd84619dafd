"""OTLP/gRPC receiver: TraceService, MetricsService and LogsService on grpc.aio.

Request bytes are decoded here, not by the generated servicer: the generated
`add_TraceServiceServicer_to_server` answers undecodable bytes with INTERNAL, a
conformant server with INVALID_ARGUMENT; every signal's body must parse as its request
message. Throttling answers carry RetryInfo in both `grpc-status-details-bin` and
`google.rpc.retryinfo-bin` (Go and Python clients read different ones).

Each Export is served as a stream-unary method, though senders call it unary (the wire
is the same): grpc.aio reads a unary request's whole message before the handler runs,
and calls no handler at all for a call cancelled meanwhile. A streaming handler runs as
soon as the headers are in, so Admission refuses a wrong token or a request over the
in-flight cap before the body is read (16 senders of 60 MB with a wrong token: RSS +1.5
GB before, flat after), and always runs, so the slot it takes is always given back.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from costline_processor import listen
from costline_processor.receive import utf8
from costline_processor.receive.admission import Admission
from costline_processor.receive.decode import REQUESTS, checked
from costline_processor.receive.errors import RequestError, Throttled, TooLarge, Undecodable

log = logging.getLogger("costline.receive")

_SERVICES = {
    "traces": "opentelemetry.proto.collector.trace.v1.TraceService",
    "metrics": "opentelemetry.proto.collector.metrics.v1.MetricsService",
    "logs": "opentelemetry.proto.collector.logs.v1.LogsService",
}


def retry_trailers(code: grpc.StatusCode, message: str, seconds: float) -> tuple:
    whole = int(seconds)
    info = error_details_pb2.RetryInfo(retry_delay=Duration(seconds=whole, nanos=round((seconds - whole) * 1e9)))
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message)
    status.details.add().Pack(info)
    return (
        ("grpc-status-details-bin", status.SerializeToString()),
        ("google.rpc.retryinfo-bin", info.SerializeToString()),
    )


class GrpcReceiver:
    def __init__(self, pipeline, max_request_bytes: int, stats, gate: Admission):
        self.pipeline = pipeline
        self.gate = gate
        self.max_bytes = max_request_bytes
        self.stats = stats
        self.server: grpc.aio.Server | None = None
        self.port = 0
        self.addresses: list[str] = []  # as bound, e.g. 127.0.0.1:4317, [::1]:4317

    async def start(self, host: str, port: int) -> int:
        self.server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", self.max_bytes),
                ("grpc.max_send_message_length", 4 << 20),
            ]
        )
        handlers = []
        for signal, service in _SERVICES.items():
            fn = self._traces if signal == "traces" else self._passthrough(signal)
            # see the module docstring
            method: grpc.RpcMethodHandler[Any, Any] = grpc.stream_unary_rpc_method_handler(self._admitted(fn))
            handlers.append(grpc.method_handlers_generic_handler(service, {"Export": method}))
        self.server.add_generic_rpc_handlers(handlers)
        security = self.gate.security
        credentials = security.grpc_credentials() if security else None
        for h in listen.hosts(host):  # each address itself, all or fail: processor/listen.py
            addr = listen.hostport(h, self.port or port)
            if credentials is not None:
                self.port = self.server.add_secure_port(addr, credentials)
            else:
                self.port = self.server.add_insecure_port(addr)
            if not self.port:
                raise OSError(f"cannot listen for gRPC on {addr}")
            self.addresses.append(listen.hostport(h, self.port))
        await self.server.start()
        return self.port

    async def stop(self, grace: float = 1.0) -> None:
        if self.server is not None:
            await self.server.stop(grace)

    async def _refuse(self, context, e: RequestError) -> None:
        self.stats.add("requests_refused", 1, e.reason)
        if isinstance(e, Throttled):
            await context.abort(
                e.grpc_code, str(e), trailing_metadata=retry_trailers(e.grpc_code, str(e), e.retry_after_s)
            )
        log.info("refused gRPC export: %s", e)
        await context.abort(e.grpc_code, str(e))

    def _admitted(self, export):
        """`export(body, context)` behind the Admission, on the one request message."""
        gate = self.gate

        async def handler(requests, context) -> bytes:
            try:
                gate.enter(_authorization(context) if gate.needs_token else None)
            except RequestError as e:
                await self._refuse(context, e)  # raises: the body is never read
            try:
                body = await context.read()
                if body is grpc.aio.EOF:
                    await self._refuse(context, Undecodable("the call carried no request message"))
                return await export(body, context)
            finally:
                gate.leave()

        return handler

    async def _traces(self, body: bytes, context) -> bytes:
        try:
            if len(body) > self.max_bytes:
                raise TooLarge(f"request of {len(body)} bytes exceeds the {self.max_bytes}-byte limit")
            body, repaired = checked(ExportTraceServiceRequest, body)  # undecodable -> INVALID_ARGUMENT
            utf8.note(self.stats, repaired)
            rejected, message = await self.pipeline.take_traces(body)  # the checked bytes, not the message
        except RequestError as e:
            await self._refuse(context, e)
            return b""
        if not rejected:
            return b""  # an empty ExportTraceServiceResponse
        response = ExportTraceServiceResponse()
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
        return response.SerializeToString()

    def _passthrough(self, signal: str):
        message = REQUESTS[signal]

        async def export(body: bytes, context) -> bytes:
            try:
                body, repaired = checked(message, body)  # undecodable -> INVALID_ARGUMENT, not forwarded
                utf8.note(self.stats, repaired)
                self.pipeline.accept_passthrough(signal, body)
            except RequestError as e:
                await self._refuse(context, e)
            return b""  # an empty Export*ServiceResponse

        return export


def _authorization(context) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return value
    return None
