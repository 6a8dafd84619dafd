"""OTLP/gRPC receiver: TraceService, MetricsService and LogsService on grpc.aio.

Request bytes are decoded here, not by the generated servicer: the generated
`add_TraceServiceServicer_to_server` answers undecodable bytes with INTERNAL, a
conformant server with INVALID_ARGUMENT. Throttling answers carry RetryInfo in both
`grpc-status-details-bin` and `google.rpc.retryinfo-bin` (Go and Python clients
read different ones).
"""

from __future__ import annotations

import logging

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from costline.processor.receive.decode import parse_protobuf
from costline.processor.receive.errors import RequestError, Throttled, TooLarge

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
    def __init__(self, pipeline, max_request_bytes: int, stats, security=None):
        self.pipeline = pipeline
        self.security = security
        self.max_bytes = max_request_bytes
        self.stats = stats
        self.server: grpc.aio.Server | None = None
        self.port = 0

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
            method = grpc.unary_unary_rpc_method_handler(fn, request_deserializer=None, response_serializer=None)
            handlers.append(grpc.method_handlers_generic_handler(service, {"Export": method}))
        self.server.add_generic_rpc_handlers(handlers)
        credentials = self.security.grpc_credentials() if self.security else None
        if credentials is not None:
            self.port = self.server.add_secure_port(f"{host}:{port}", credentials)
        else:
            self.port = self.server.add_insecure_port(f"{host}:{port}")
        if not self.port:
            raise OSError(f"cannot listen for gRPC on {host}:{port}")
        await self.server.start()
        return self.port

    async def stop(self, grace: float = 1.0) -> None:
        if self.server is not None:
            await self.server.stop(grace)

    async def _refuse(self, context, e: RequestError) -> None:
        self.stats.add("requests_refused", 1, e.reason)
        if isinstance(e, Throttled):
            await context.abort(e.grpc_code, str(e), trailing_metadata=retry_trailers(e.grpc_code, str(e), e.retry_after_s))
        log.info("refused gRPC export: %s", e)
        await context.abort(e.grpc_code, str(e))

    def _authenticate(self, context) -> None:
        if self.security is not None and self.security.token is not None:
            meta = dict(context.invocation_metadata() or ())
            self.security.check(meta.get("authorization"))

    async def _traces(self, body: bytes, context) -> bytes:
        try:
            self._authenticate(context)
            if len(body) > self.max_bytes:
                raise TooLarge(f"request of {len(body)} bytes exceeds the {self.max_bytes}-byte limit")
            parse_protobuf(ExportTraceServiceRequest, body)  # undecodable -> INVALID_ARGUMENT
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
        async def export(body: bytes, context) -> bytes:
            try:
                self._authenticate(context)
                self.pipeline.accept_passthrough(signal, body)
            except RequestError as e:
                await self._refuse(context, e)
            return b""  # an empty Export*ServiceResponse

        return export
