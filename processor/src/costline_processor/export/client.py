"""OTLP clients that send already-encoded request bytes, and say whether to retry.

Results, not exceptions, at the boundary: each send returns an `Outcome`. The
retryable sets follow the OTLP spec's failure sections: gRPC CANCELLED,
DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS (and
RESOURCE_EXHAUSTED only with a RetryInfo hint); HTTP 429, 502, 503, 504 and
connection failures. Server retry hints (RetryInfo, Retry-After) are honoured.
RESOURCE_EXHAUSTED without a hint, and HTTP 413, say the request is too large
(`too_large`): the queue splits it and sends the halves (split.py) instead of dropping.
"""

from __future__ import annotations

import gzip
import logging
from dataclasses import dataclass
from pathlib import Path

import grpc

from costline_processor.config import ExportTarget

log = logging.getLogger("costline.export")

SERVICES = {
    "traces": ("/opentelemetry.proto.collector.trace.v1.TraceService/Export", "/v1/traces"),
    "metrics": ("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", "/v1/metrics"),
    "logs": ("/opentelemetry.proto.collector.logs.v1.LogsService/Export", "/v1/logs"),
}
_RETRYABLE_GRPC = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
_RETRYABLE_HTTP = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    retryable: bool = False
    retry_after_s: float | None = None
    detail: str = ""
    rejected: int = 0  # spans the backend reported in partial_success
    too_large: bool = False  # refused for its size (gRPC RESOURCE_EXHAUSTED without RetryInfo, HTTP 413)


def _retry_info_delay(trailers) -> float | None:
    from google.rpc import error_details_pb2, status_pb2

    for key, value in trailers or ():
        try:
            if key == "grpc-status-details-bin":
                status = status_pb2.Status.FromString(value)
                for d in status.details:
                    if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                        info = error_details_pb2.RetryInfo()
                        d.Unpack(info)
                        return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
            elif key == "google.rpc.retryinfo-bin":
                info = error_details_pb2.RetryInfo.FromString(value)
                return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
        except Exception:  # a malformed hint is no hint
            continue
    return None


class GrpcClient:
    def __init__(self, target: ExportTarget):
        self.target = target
        self.name = f"grpc://{target.endpoint}"
        options = [
            ("grpc.max_send_message_length", -1),
            ("grpc.max_receive_message_length", 64 << 20),
            # Reconnect soon after a backend comes back (gRPC's default backoff grows to 120 s).
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.min_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 5000),
        ]
        compression = grpc.Compression.Gzip if target.compression == "gzip" else grpc.Compression.NoCompression
        if target.insecure:
            self._channel = grpc.aio.insecure_channel(target.endpoint, options=options, compression=compression)
        else:
            roots = Path(target.ca_file).read_bytes() if target.ca_file else None
            self._channel = grpc.aio.secure_channel(
                target.endpoint,
                grpc.ssl_channel_credentials(root_certificates=roots),
                options=options,
                compression=compression,
            )
        self._metadata = tuple((k.lower(), v) for k, v in target.headers.items())
        self._calls: dict[str, grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]] = {
            signal: self._channel.unary_unary(path, request_serializer=None, response_deserializer=None)
            for signal, (path, _) in SERVICES.items()
        }

    async def send(self, signal: str, body: bytes) -> Outcome:
        call = self._calls[signal](body, timeout=self.target.timeout_s, metadata=self._metadata)
        try:
            response = await call
        except grpc.aio.AioRpcError as e:
            code = e.code()
            delay = _retry_info_delay(e.trailing_metadata())
            exhausted = code == grpc.StatusCode.RESOURCE_EXHAUSTED
            retryable = code in _RETRYABLE_GRPC or (exhausted and delay is not None)
            return Outcome(
                False, retryable, delay, f"{code.name}: {e.details()}", too_large=exhausted and delay is None
            )
        return Outcome(True, rejected=_rejected(signal, response))

    async def close(self) -> None:
        await self._channel.close()


class HttpClient:
    def __init__(self, target: ExportTarget):
        import aiohttp

        self.target = target
        base = target.endpoint.rstrip("/")
        for _, suffix in SERVICES.values():
            if base.endswith(suffix):
                base = base[: -len(suffix)]
        self._urls = {signal: base + suffix for signal, (_, suffix) in SERVICES.items()}
        self.name = self._urls["traces"]
        self._session: aiohttp.ClientSession | None = None
        self._aiohttp = aiohttp

    async def send(self, signal: str, body: bytes) -> Outcome:
        aiohttp = self._aiohttp
        if self._session is None:
            connector = None
            if self.target.ca_file:
                import ssl

                connector = aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=self.target.ca_file))
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.target.timeout_s), connector=connector
            )
        headers = {"Content-Type": "application/x-protobuf", **self.target.headers}
        if self.target.compression == "gzip":
            body = gzip.compress(body, 5)
            headers["Content-Encoding"] = "gzip"
        try:
            async with self._session.post(self._urls[signal], data=body, headers=headers) as resp:
                payload = await resp.read()
                if 200 <= resp.status < 300:
                    return Outcome(True, rejected=_rejected(signal, payload))
                after = _retry_after(resp.headers.get("Retry-After"))
                return Outcome(
                    False, resp.status in _RETRYABLE_HTTP, after, f"HTTP {resp.status}", too_large=resp.status == 413
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            return Outcome(False, True, None, f"{type(e).__name__}: {e}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


def _rejected(signal: str, payload: bytes) -> int:
    if signal != "traces" or not payload:
        return 0
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    try:
        return ExportTraceServiceResponse.FromString(payload).partial_success.rejected_spans
    except Exception:
        return 0


def make_client(target: ExportTarget):
    return GrpcClient(target) if target.protocol == "grpc" else HttpClient(target)
