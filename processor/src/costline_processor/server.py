"""Runs `costline serve`: opens the sinks, builds the pipeline, starts the receivers, stops on SIGTERM.

Stop order is the reverse of the data flow: receivers stop taking requests, the
trace buffer is flushed, export queues and sinks drain together, then the process exits
0. One deadline, `export.drain_timeout_s` from the signal, bounds all of it: what is not
delivered by then stays in the queue dir (or is dropped and counted, without one).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from collections.abc import Callable

from costline_processor import redaction
from costline_processor.config import Config, parse_hostport
from costline_processor.listen import bind_error
from costline_processor.log_lines import configure_logging
from costline_processor.pipeline import Pipeline
from costline_processor.receive.admission import Admission
from costline_processor.receive.grpc import GrpcReceiver
from costline_processor.receive.http import HttpReceiver
from costline_processor.receive.security import load_security

log = logging.getLogger("costline")


class Server:
    """The running processor; `start()` then `stop()`; usable in-process by tests."""

    def __init__(self, config: Config, pricer=None, sinks=(), reuse_port: bool = False):
        if pricer is None:
            from costline_processor.pricing import Pricer

            pricer = Pricer(config.pricing)
        self.config = config
        self.reuse_port = reuse_port  # several processes share the ports (--workers)
        self.pipeline = Pipeline(config, pricer, sinks)
        self.grpc: GrpcReceiver | None = None
        self.http: HttpReceiver | None = None

    async def start(self) -> None:
        cfg = self.config
        await self.pipeline.start()
        for sink in self.pipeline.sinks:
            if hasattr(sink, "watch"):
                sink.watch(self.pipeline)  # costline's own counters and levels on /metrics
        stats = self.pipeline.stats
        r = cfg.receive  # one Admission (token, in-flight cap) for both receivers
        gate = Admission(load_security(r), r.max_concurrent_requests, r.retry_after_s, stats)
        if cfg.receive.grpc:
            self.grpc = GrpcReceiver(self.pipeline, cfg.receive.max_request_bytes, stats, gate)
            await _bind(self.grpc.start(*parse_hostport(cfg.receive.grpc, "--grpc")), "--grpc", cfg.receive.grpc)
            log.info("OTLP/gRPC receiver on %s", ", ".join(self.grpc.addresses))
        if cfg.receive.http:
            self.http = HttpReceiver(self.pipeline, cfg.receive.max_request_bytes, stats, gate)
            await _bind(
                self.http.start(*parse_hostport(cfg.receive.http, "--http"), reuse_port=self.reuse_port),
                "--http",
                cfg.receive.http,
            )
            log.info("OTLP/HTTP receiver on %s", ", ".join(self.http.addresses))
        for q in self.pipeline.queues:
            log.info("exporting to %s", q.client.name)
        if not self.pipeline.queues:
            log.info("no exporter configured: spans are priced and recorded only")
        memory = self.pipeline.memory
        if memory.limit:
            log.info(
                "memory bound: %d MiB held at most, senders throttled from %d MiB (memory.limit_mib)",
                memory.limit >> 20,
                memory.soft >> 20,
            )

    async def stop(self) -> None:
        """Stop within export.drain_timeout_s of the call: one deadline, taken now, covers the
        receivers' goodbyes, the export queues and the sinks (ledger, metrics) together."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.export.drain_timeout_s
        if self.grpc:
            await self.grpc.stop(min(0.5, self.config.export.drain_timeout_s / 4))
        if self.http:
            try:  # requests still being answered get until the deadline (aiohttp would wait 60 s)
                await asyncio.wait_for(self.http.stop(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                log.warning("the HTTP receiver was still answering at the drain deadline")
        await self.pipeline.shutdown(deadline)
        close = getattr(self.pipeline.pricer, "close", None)
        if close:
            close()  # stops genai-prices' updater thread when network updates are on
        memory = self.pipeline.memory
        log.info(
            "memory: at most %.1f MiB counted at an admission, of a %.0f MiB limit (memory.limit_mib)",
            memory.peak / (1 << 20),
            memory.limit / (1 << 20),
        )
        log.info("stopped: %s", self.pipeline.stats.snapshot())


def open_sinks(config: Config) -> list:
    """The ledger (on by default: --ledger, config, $COSTLINE_LEDGER, ./costline-ledger.db) and metrics."""
    from costline_processor.ledger import open_ledger, resolve_location

    sinks: list = []
    location = resolve_location(None, config.ledger)
    if location != "off":
        sinks.append(open_ledger(location))
        log.info("ledger: %s", redaction.url(location))  # a postgresql:// URL may hold a password
    m = config.metrics
    if m.listen or m.otlp_endpoint:
        from costline_processor.metrics import MetricsSink

        sink = MetricsSink(
            m.dimensions,
            m.max_label_values,
            untagged=config.tagging.default,
            otlp_endpoint=m.otlp_endpoint,
            otlp_interval_s=m.otlp_interval_s,
            max_series=m.max_series,
        )
        if m.listen:
            host, port = parse_hostport(m.listen, "--metrics")
            sink.serve(host, port)
            log.info("Prometheus metrics on %s", ", ".join(f"http://{a}/metrics" for a in sink.addresses))
        sinks.append(sink)
    return sinks


async def _collect_garbage(young_s: float = 1.0, full_s: float = 60.0) -> None:
    """The cyclic garbage collector on a clock instead of on allocation counts.

    Spans are freed by reference counting (nothing in the pipeline makes cycles), but the
    automatic collector still walks every young container each few thousand allocations:
    about 8% of the time at full load. Everything built at startup (price data, modules)
    is frozen out of the collector's passes; then the young generations are collected
    every second and everything every minute, which still frees what asyncio or an
    exception leaves in cycles."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        last_full = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(young_s)
            now = asyncio.get_running_loop().time()
            if now - last_full >= full_s:
                gc.collect()
                last_full = now
            else:
                gc.collect(1)
    finally:
        gc.enable()


async def _bind(starting, flag: str, value: str) -> None:
    """A receiver's start; a port taken since the preflight (processor/listen.py) is one line."""
    try:
        await starting
    except (OSError, RuntimeError) as e:  # grpc raises RuntimeError("Failed to bind to address ...")
        raise bind_error(flag, value, value, e) from None


async def serve_forever(
    config: Config, sinks=(), ready: Callable[[Server], None] | None = None, reuse_port: bool = False
) -> int:
    server = Server(config, sinks=sinks, reuse_port=reuse_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
    except BaseException:
        if server.grpc or server.http:  # a port taken since the preflight: drain what a receiver may have taken
            await server.stop()
        raise
    collector = asyncio.ensure_future(_collect_garbage())
    if ready:
        ready(server)
    await stop.wait()
    collector.cancel()
    log.info("signal received: draining")
    await server.stop()
    return 0


def run(config: Config, sinks=(), reuse_port: bool = False) -> int:
    try:
        import uvloop

        return uvloop.run(serve_forever(config, sinks, reuse_port=reuse_port))
    except ImportError:
        return asyncio.run(serve_forever(config, sinks, reuse_port=reuse_port))


# -- several processes (--workers N) ------------------------------------------------------------
#
# One Python process runs on one core. With --workers N, this process only supervises: N
# worker processes (started fresh, not forked: gRPC does not survive a fork) each run the
# whole pipeline and bind the same gRPC and HTTP ports with SO_REUSEPORT, so the kernel
# spreads connections over them. A trace is assembled by the worker its spans reach, so
# this suits senders whose whole traces travel over one connection (an SDK process); spans
# of one trace sent by several services may land on different workers, like the
# Collector's groupbytrace behind a load balancer without trace-ID routing. SIGTERM and
# SIGINT are passed on and each worker drains as a single process does; a worker that
# dies stops the rest, and the supervisor exits non-zero for the orchestrator to restart.


def run_workers(config: Config, workers: int, logs: tuple[str, str] = ("INFO", "text")) -> int:
    """Serve from `workers` processes; `logs` is their (level, format)."""
    import multiprocessing as mp
    from multiprocessing.connection import wait

    ctx = mp.get_context("spawn")
    if config.memory.limit_mib is None:  # the default share of the machine's memory, split among the workers
        from costline_processor.memory import default_limit_mib

        config.memory.limit_mib = default_limit_mib(workers)
    procs = [ctx.Process(target=_worker, args=(config, logs, i), name=f"costline-worker-{i}") for i in range(workers)]
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.is_alive() and p.pid:
                os.kill(p.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        started = []
        for p in procs:
            if stopping:
                break  # stopped while the workers start: start no more
            p.start()
            started.append(p)
        if stopping:
            stop(None, None)  # reaches those started since the signal too
        log.info("serving from %d worker processes: %s", workers, ", ".join(str(p.pid) for p in started))
        alive = list(started)
        code = 0
        while alive:
            for sentinel in wait([p.sentinel for p in alive]):
                p = next(q for q in alive if q.sentinel == sentinel)
                p.join()
                alive.remove(p)
                if p.exitcode != 0 and not (stopping and p.exitcode in _ENDED_BY_STOP):
                    code = code or 1
                if not stopping:
                    log.error("worker %s exited with %s: stopping the others", p.pid, p.exitcode)
                    stop(None, None)
        return code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# A worker ended by the stop signal itself was still starting: its handler, which drains,
# is installed before its receivers bind, so it had taken nothing. A stop, not a failure.
_ENDED_BY_STOP = (-signal.SIGTERM, -signal.SIGINT)


def _worker(config: Config, logs: tuple[str, str], index: int) -> None:
    configure_logging(*logs, worker=index)
    _stop_with_parent()
    if config.export.queue_dir:  # one journal per process: each worker keeps (and replays) its own
        config.export.queue_dir = os.path.join(config.export.queue_dir, f"worker-{index}")
    if config.metrics.listen:  # one /metrics per process: worker i on PORT+i, a scrape target each
        host, port = parse_hostport(config.metrics.listen, "--metrics")
        config.metrics.listen = f"{host}:{port + index}"

    raise SystemExit(run(config, open_sinks(config), reuse_port=True))


def _stop_with_parent() -> None:
    """Linux: SIGTERM this worker (it drains) when the supervisor dies, even by SIGKILL."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
