"""OTLP/HTTP receiver: POST /v1/traces, /v1/metrics, /v1/logs (protobuf or JSON, gzip).

Answers as the OTLP spec asks: the response in the request's encoding, a
google.rpc.Status body on errors, 400 undecodable, 413 too large (checked after
decompression, in bounded chunks), 415 unknown content type or encoding, 503 with
Retry-After when throttling. GET /healthz reports liveness and buffer levels.

Every export request passes the Admission (token, in-flight cap) on its headers before
its body is read, and its body must parse as the signal's request message: protobuf as
sent, JSON as the protobuf it converts to (decode.from_json), which is what is kept.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import cast

from aiohttp import web
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from costline_processor import listen
from costline_processor.receive import decode, utf8
from costline_processor.receive.admission import Admission
from costline_processor.receive.errors import RequestError, Throttled, TooLarge, Unauthenticated

log = logging.getLogger("costline.receive")


class HttpReceiver:
    def __init__(self, pipeline, max_request_bytes: int, stats, gate: Admission):
        self.pipeline = pipeline
        self.gate = gate
        self.max_bytes = max_request_bytes
        self.stats = stats
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.addresses: list[str] = []  # as bound, e.g. 127.0.0.1:4318, [::1]:4318

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_bytes)
        app.router.add_post("/v1/traces", self._traces)
        app.router.add_post("/v1/metrics", self._passthrough("metrics"))
        app.router.add_post("/v1/logs", self._passthrough("logs"))
        app.router.add_get("/healthz", self._health)
        return app

    async def start(self, host: str, port: int, reuse_port: bool = False) -> int:
        # Bodies are decompressed by decode.decompress, which enforces the size cap.
        self.runner = web.AppRunner(self.app(), auto_decompress=False, access_log=None)
        await self.runner.setup()
        ssl_context = self.gate.security.ssl_context() if self.gate.security else None
        for h in listen.hosts(host):  # each address itself, all or fail: processor/listen.py
            site = web.TCPSite(
                self.runner, h, self.port or port, reuse_port=reuse_port or None, ssl_context=ssl_context
            )
            await site.start()
            server = cast("asyncio.Server", site._server)  # started just above (asyncio's or uvloop's)
            self.port = server.sockets[0].getsockname()[1]
            self.addresses.append(listen.hostport(h, self.port))
        return self.port

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _checked(self, request: web.Request, signal: str) -> tuple[str, bytes]:
        """(media type, the body as protobuf bytes that parse as the signal's request)."""
        kind, data = await self._body(request)
        message = decode.REQUESTS[signal]
        if kind == decode.PROTOBUF:
            data, repaired = decode.checked(message, data)  # undecodable -> 400
        else:
            data, repaired = decode.checked_json(message, data, self.max_bytes)
        utf8.note(self.stats, repaired)
        return kind, data

    async def _body(self, request: web.Request) -> tuple[str, bytes]:
        kind = decode.media_type(request.headers.get("Content-Type"))
        if request.content_length is not None and request.content_length > self.max_bytes:
            raise TooLarge(f"request body of {request.content_length} bytes exceeds the {self.max_bytes}-byte limit")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise TooLarge(f"request body exceeds the {self.max_bytes}-byte limit") from None
        return kind, decode.decompress(raw, request.headers.get("Content-Encoding"), self.max_bytes)

    async def _traces(self, request: web.Request) -> web.Response:
        kind = decode.JSON if "json" in (request.headers.get("Content-Type") or "") else decode.PROTOBUF
        try:
            self.gate.enter(request.headers.get("Authorization"))  # before the body is read
        except RequestError as e:
            return self._error(kind, e)
        try:
            kind, data = await self._checked(request, "traces")
            rejected, error = await self.pipeline.take_traces(data)  # the checked bytes
        except RequestError as e:
            return self._error(kind, e)
        finally:
            self.gate.leave()
        response = ExportTraceServiceResponse()
        if rejected:
            response.partial_success.rejected_spans = rejected
            response.partial_success.error_message = error
        if kind == decode.JSON:
            partial = {"partialSuccess": {"rejectedSpans": str(rejected), "errorMessage": error}} if rejected else {}
            return web.Response(body=json.dumps(partial).encode(), content_type=decode.JSON)
        return web.Response(body=response.SerializeToString(), content_type=decode.PROTOBUF)

    def _passthrough(self, signal: str):
        async def handler(request: web.Request) -> web.Response:
            kind = decode.JSON if "json" in (request.headers.get("Content-Type") or "") else decode.PROTOBUF
            try:
                self.gate.enter(request.headers.get("Authorization"))  # before the body is read
            except RequestError as e:
                return self._error(kind, e)
            try:
                kind, data = await self._checked(request, signal)  # forwarded as protobuf
                self.pipeline.accept_passthrough(signal, data)
            except RequestError as e:
                return self._error(kind, e)
            finally:
                self.gate.leave()
            body = b"{}" if kind == decode.JSON else b""
            return web.Response(body=body, content_type=kind)

        return handler

    def _error(self, kind: str, e: RequestError) -> web.Response:
        self.stats.add("requests_refused", 1, e.reason)
        log.info("refused HTTP export: %s", e)
        headers = {}
        if isinstance(e, Throttled):
            headers["Retry-After"] = str(math.ceil(e.retry_after_s))  # HTTP takes whole seconds
        elif isinstance(e, Unauthenticated):
            headers["WWW-Authenticate"] = "Bearer"
        status = status_pb2.Status(code=e.grpc_code.value[0], message=str(e))
        if kind == decode.JSON:
            body = json.dumps({"code": status.code, "message": status.message}).encode()
        else:
            body = status.SerializeToString()
        return web.Response(status=e.http_status, body=body, content_type=kind, headers=headers)

    async def _health(self, request: web.Request) -> web.Response:
        p = self.pipeline
        doc = {
            "status": "ok",
            "buffered_traces": len(p.buffer),
            "buffered_spans": p.buffer.span_count,
            "buffered_bytes": p.buffer.byte_count,
            "export_queues": {q.client.name: len(q) for q in p.queues},
            "stats": p.stats.snapshot(),
        }
        return web.json_response(doc)
