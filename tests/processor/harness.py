"""Runs a real costline Server on loopback in a background event loop, for tests."""

from __future__ import annotations

import asyncio
import threading

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from costline_processor.config import Config, ExportTarget
from costline_processor.server import Server


def loopback_config(sink=None, protocol: str = "grpc", trace_wait: float = 0.2, **assembly) -> Config:
    cfg = Config()
    cfg.receive.grpc = "127.0.0.1:0"
    cfg.receive.http = "127.0.0.1:0"
    cfg.assembly.trace_wait_s = trace_wait
    for k, v in assembly.items():
        setattr(cfg.assembly, k, v)
    cfg.export.retry_initial_s = 0.05
    cfg.export.retry_max_s = 0.3
    cfg.export.drain_timeout_s = 5
    if sink is not None:
        endpoint = sink.grpc_endpoint if protocol == "grpc" else sink.http_endpoint
        cfg.export.targets = [ExportTarget(protocol, endpoint)]
    return cfg


class RunningServer:
    """`with RunningServer(cfg) as srv:` -> srv.grpc_endpoint, srv.http_url, srv.pipeline."""

    def __init__(self, config: Config, pricer=None, sinks=()):
        self.config = config
        self.server = Server(config, pricer=pricer, sinks=sinks)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> RunningServer:
        self._thread.start()
        self.call(self.server.start())
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def call(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def run(self, fn, *args):
        """Run a plain function on the server's loop (the pipeline is single-threaded)."""

        async def wrapper():
            return fn(*args)

        return self.call(wrapper())

    def stop(self) -> None:
        if self._thread.is_alive():
            self.call(self.server.stop())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)

    @property
    def pipeline(self):
        return self.server.pipeline

    @property
    def stats(self):
        return self.server.pipeline.stats

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.server.grpc.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.server.http.port}"


def sdk_tracer(endpoint: str, protocol: str = "grpc", service: str = "checkout"):
    """A real OTel SDK TracerProvider exporting to costline; call .shutdown() to flush."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if protocol == "grpc":
        exporter = GrpcSpanExporter(endpoint=endpoint, insecure=True)
    else:
        exporter = HttpSpanExporter(endpoint=f"{endpoint}/v1/traces")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def assemble_scopes(groups):
    """A trace's spans as intake buffers them (each group `(scope, [spans])`), assembled and priced as serve would:
    the assembly, and each span's added attributes by span id."""
    from costline_processor.assembly.rollup import assemble_trace
    from costline_processor.config import PricingConfig, TaggingConfig
    from costline_processor.intake import Intake
    from costline_processor.pricing import Pricer
    from tests.processor.spans import request

    intake, buffered = Intake(), []
    for scope, spans in groups:
        pairs, rejected, _ = intake.spans(request(spans, "chat-api", scope))
        assert rejected == 0
        buffered.extend(b for _, b in pairs)
    a = assemble_trace(groups[0][1][0].trace_id, buffered, {}, TaggingConfig(), Pricer(PricingConfig()).price)
    return a, {s.span_id: dict(p) for s, p in zip(buffered, a.additions)}
