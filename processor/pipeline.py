"""Wires the stages of `costline serve` and their start/stop order; nothing else.

  receive (grpc, http) -> intake (one pass over attributes, normalize)
    -> TraceBuffer (wait for quiet) -> assemble_trace (tags, paths, price, rollup)
    -> encode (append attributes to span bytes, frame requests) -> ExportQueue per target
                                          \\-> sinks (ledger, metrics) get LedgerRows

Everything runs on one asyncio event loop, so the buffer needs no locks (the
Collector's groupbytrace makes the same choice with its event machine). What an
OTLP success means: the spans are in costline's memory buffer; they leave through
the export queues, retried until the backend takes them (see README, "Guarantees").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict

from costline.processor.assembly.buffer import Flush, TraceBuffer
from costline.processor.assembly.rollup import assemble_trace
from costline.processor.assembly.tags import TagReader
from costline.processor.config import Config
from costline.processor.export import encode
from costline.processor.export.client import make_client
from costline.processor.export.queue import Batch, ExportQueue
from costline.processor.intake import Intake
from costline.processor.receive.errors import Throttled
from costline.processor.stats import Stats

log = logging.getLogger("costline")


class Pipeline:
    def __init__(self, config: Config, pricer, sinks=(), clock=time.monotonic):
        self.config = config
        self.pricer = pricer
        self.sinks = list(sinks)
        self.clock = clock
        self.stats = Stats()
        self.intake = Intake(TagReader(config.tagging))
        self.buffer = TraceBuffer(config.assembly)
        self.queues: list[ExportQueue] = []
        self._ticker: asyncio.Task | None = None
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        self.queues = [ExportQueue(make_client(t), self.config.export, self.stats) for t in self.config.export.targets]
        self._ticker = asyncio.ensure_future(self._tick_forever())

    async def shutdown(self) -> None:
        """Flush every buffered trace, drain the export queues and sinks. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._ticker:
            self._ticker.cancel()
        self._flush(self.buffer.drain())
        timeout = self.config.export.drain_timeout_s
        await asyncio.gather(*(q.close(timeout) for q in self.queues))
        for sink in self.sinks:
            try:
                await asyncio.to_thread(sink.close, timeout)
            except Exception:
                log.exception("closing sink %r failed", sink)

    async def _tick_forever(self) -> None:
        interval = max(0.01, min(0.1, self.config.assembly.trace_wait_s / 4))
        while True:
            await asyncio.sleep(interval)
            try:
                self.tick()
            except Exception:  # a bug here must not stop flushing forever
                log.exception("flush failed")

    def tick(self) -> None:
        self._flush(self.buffer.expired(self.clock()))

    # -- receive side ----------------------------------------------------------------
    def check_capacity(self) -> None:
        """Raise Throttled while any export queue is full (the sender retries later)."""
        for q in self.queues:
            if q.saturated:
                self.stats.add("requests_throttled", 1, q.client.name)
                raise Throttled(
                    f"export queue for {q.client.name} is full; retry later", self.config.receive.retry_after_s
                )

    def accept_traces(self, request) -> tuple[int, str]:
        """Take a decoded ExportTraceServiceRequest. Returns (rejected spans, message)."""
        if self._closed:
            raise Throttled("costline is shutting down", self.config.receive.retry_after_s)
        self.check_capacity()
        spans, rejected, message = self.intake.spans(request)
        self.stats.add("spans_received", len(spans))
        self.stats.add("spans_rejected", rejected, "invalid_id")
        by_trace: dict[bytes, list] = defaultdict(list)
        for trace_id, span in spans:
            by_trace[trace_id].append(span)
        now = self.clock()
        early: list[Flush] = []
        for trace_id, group in by_trace.items():
            early.extend(self.buffer.add(trace_id, group, now))
        if early:
            self._flush(early)
        if self.config.assembly.trace_wait_s == 0:
            self.tick()
        return rejected, message

    def accept_passthrough(self, signal: str, body: bytes) -> None:
        """Metrics and logs: forwarded unchanged to every target."""
        self.check_capacity()
        for q in self.queues:
            q.put(Batch(signal, body, 0))
        self.stats.add(f"{signal}_requests_received")

    # -- flush -----------------------------------------------------------------------
    def _flush(self, flushes: list[Flush]) -> None:
        if not flushes:
            return
        cfg = self.config
        out: list[tuple[object, bytes]] = []
        rows = []
        for f in flushes:
            assembled = assemble_trace(
                f.trace_id, f.spans, f.known, cfg.tagging, self.pricer.price, cfg.pricing.write_gen_ai_usage_cost
            )
            self.buffer.remember(f.trace_id, assembled.remember)
            self.stats.add("broken_parent_links", assembled.broken_links)
            self.stats.add(f"traces_flushed", 1, f.reason)
            rows.extend(assembled.rows)
            for span, added in zip(f.spans, assembled.additions):
                out.append((span.origin, _enriched(span, added)))
        for row in rows:
            self.stats.add("llm_calls", 1, row.status or "priced")
        if rows:
            for sink in self.sinks:
                try:
                    sink.write(rows)
                except Exception:
                    log.exception("sink %r failed to take %d rows", sink, len(rows))
                    self.stats.add("ledger_rows_dropped", len(rows), "sink_error")
        if not self.queues:
            self.stats.add("spans_processed_no_exporter", len(out))
            return
        size = cfg.export.batch_spans
        for k in range(0, len(out), size):
            chunk = out[k : k + size]
            body = _encode_request(chunk)
            for q in self.queues:
                q.put(Batch("traces", body, len(chunk)))


def _enriched(span, added: list) -> bytes:
    if not added:
        return span.data
    if span.rewrite:
        return _rewrite(span.data, added)
    return span.data + encode.attributes(added)


def _rewrite(data: bytes, added: list) -> bytes:
    """Slow path: the span already carries attributes costline writes; replace them."""
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    span = Span.FromString(data)
    replaced = {k for k, _ in added}
    keep = [kv for kv in span.attributes if kv.key not in replaced]
    del span.attributes[:]
    span.attributes.extend(keep)
    return span.SerializeToString() + encode.attributes(added)


def _encode_request(chunk: list[tuple[object, bytes]]) -> bytes:
    groups: dict[tuple, list[bytes]] = defaultdict(list)
    for origin, data in chunk:
        groups[(origin.resource, origin.resource_schema, origin.scope, origin.scope_schema)].append(data)
    by_resource: dict[tuple, list[bytes]] = defaultdict(list)
    for (res, res_schema, scope, scope_schema), spans in groups.items():
        by_resource[(res, res_schema)].append(encode.scope_spans(scope, spans, scope_schema))
    return encode.export_request([encode.resource_spans(res, scopes, schema) for (res, schema), scopes in by_resource.items()])
