"""Runs `costline serve`: builds the pipeline, starts the receivers, stops on SIGTERM.

Stop order is the reverse of the data flow: receivers stop taking requests, the
trace buffer is flushed, export queues and sinks drain (bounded by
`export.drain_timeout_s`), then the process exits 0.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable

from costline.processor.config import Config, parse_hostport
from costline.processor.pipeline import Pipeline
from costline.processor.receive.grpc import GrpcReceiver
from costline.processor.receive.http import HttpReceiver

log = logging.getLogger("costline")


class Server:
    """The running processor; `start()` then `stop()`; usable in-process by tests."""

    def __init__(self, config: Config, pricer=None, sinks=()):
        if pricer is None:
            from costline.processor.pricing import Pricer

            pricer = Pricer(config.pricing)
        self.config = config
        self.pipeline = Pipeline(config, pricer, sinks)
        self.grpc: GrpcReceiver | None = None
        self.http: HttpReceiver | None = None

    async def start(self) -> None:
        cfg = self.config
        await self.pipeline.start()
        stats = self.pipeline.stats
        if cfg.receive.grpc:
            self.grpc = GrpcReceiver(self.pipeline, cfg.receive.max_request_bytes, stats)
            port = await self.grpc.start(*parse_hostport(cfg.receive.grpc, "--grpc"))
            log.info("OTLP/gRPC receiver on %s", _with_port(cfg.receive.grpc, port))
        if cfg.receive.http:
            self.http = HttpReceiver(self.pipeline, cfg.receive.max_request_bytes, stats)
            port = await self.http.start(*parse_hostport(cfg.receive.http, "--http"))
            log.info("OTLP/HTTP receiver on %s", _with_port(cfg.receive.http, port))
        for q in self.pipeline.queues:
            log.info("exporting to %s", q.client.name)
        if not self.pipeline.queues:
            log.info("no exporter configured: spans are priced and recorded only")

    async def stop(self) -> None:
        if self.grpc:
            await self.grpc.stop(0.5)
        if self.http:
            await self.http.stop()
        await self.pipeline.shutdown()
        close = getattr(self.pipeline.pricer, "close", None)
        if close:
            close()  # stops genai-prices' updater thread when network updates are on
        log.info("stopped: %s", self.pipeline.stats.snapshot())


def _with_port(addr: str, port: int) -> str:
    return f"{addr.rpartition(':')[0]}:{port}"


async def serve_forever(config: Config, sinks=(), ready: Callable[[Server], None] | None = None) -> int:
    server = Server(config, sinks=sinks)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    # Everything built so far (price data, modules) lives as long as the process: keep it out
    # of the collector's passes. Buffered spans are tuples the collector does not track, so
    # the collections left are of short-lived assembly objects: make them less frequent.
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
    if ready:
        ready(server)
    await stop.wait()
    log.info("signal received: draining")
    await server.stop()
    return 0


def run(config: Config, sinks=()) -> int:
    try:
        import uvloop

        return uvloop.run(serve_forever(config, sinks))
    except ImportError:
        return asyncio.run(serve_forever(config, sinks))
