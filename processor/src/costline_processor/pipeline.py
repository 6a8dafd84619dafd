"""Wires the stages of `costline serve` and their start/stop order; nothing else.

  receive (grpc, http: the body parses, or 400/INVALID_ARGUMENT)
    -> intake (split into span bytes, check IDs, group by trace; nothing decoded)
    -> TraceBuffer (wait for quiet; bounded by traces, spans and bytes)
    -> assemble_trace (read the attributes stages need, normalize, tags, paths, price, rollup)
    -> assembly.tally (stats) and sinks (ledger, metrics: LedgerRows)
    -> export.batches (append attributes to span bytes, frame requests, one join per request)
    -> ExportQueue per target

Everything runs on one asyncio event loop, so the buffer needs no locks (the
Collector's groupbytrace makes the same choice with its event machine). Assembly is
the expensive part and runs in slices (SLICE_SPANS) with the loop's other work in
between: the ticker flushes quiet traces, and while some wait, a request pays for
assembling as many spans as it brought before it is answered (take_traces), so
senders are slowed to what assembly keeps up with. What an OTLP success means: the
spans are in costline's memory buffer; they leave through the export queues,
retried until the backend takes them (see README, "Guarantees").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Set

from costline_processor.assembly.buffer import Flush, TraceBuffer
from costline_processor.assembly.reader import SpanReader
from costline_processor.assembly.rollup import assemble_trace
from costline_processor.assembly.tags import TagReader
from costline_processor.assembly.tally import Tally
from costline_processor.config import Config
from costline_processor.export.batches import Trace, encode_requests, without_segments
from costline_processor.export.client import make_client
from costline_processor.export.queue import Batch, ExportQueue
from costline_processor.intake import Intake
from costline_processor.journal import Journal
from costline_processor.memory import MemoryBudget, MiB, default_limit_mib
from costline_processor.receive.errors import Throttled
from costline_processor.records import LedgerRow
from costline_processor.stats import FirstSeen, Sometimes, Stats

log = logging.getLogger("costline")

SLICE_SPANS = 512  # spans assembled between two turns of the event loop (~10 ms)


class Pipeline:
    def __init__(self, config: Config, pricer, sinks=(), clock=time.monotonic):
        self.config = config
        self.pricer = pricer
        self.sinks = list(sinks)
        self.clock = clock
        self.stats = Stats()
        self._first_seen = FirstSeen(log)
        self._broken_log = Sometimes(log)  # a sender's broken links can repeat in every trace
        self.intake = Intake()
        self.reader = SpanReader(TagReader(config.tagging))  # what assembly reads of a span
        self.buffer = TraceBuffer(config.assembly)
        self.queues: list[ExportQueue] = []
        self._ticker: asyncio.Task | None = None
        self._closed = False
        self._pending: list[Trace] = []  # assembled, not yet encoded
        self._pending_spans = 0
        self._paying = 0  # requests assembling quiet traces before their answer
        self.journal: Journal | None = None  # --queue-dir: acknowledged spans kept on disk until done
        self._acking = [s for s in self.sinks if getattr(s, "acknowledges", False)]  # the ledger
        self._party = {sink: "ledger" if i == 0 else f"ledger{i}" for i, sink in enumerate(self._acking)}
        self._replay: asyncio.Task | None = None
        self._request_bytes = config.export.request_bytes()  # each export request's bound (encoded)
        limit_mib = config.memory.limit_mib
        self.memory = MemoryBudget((default_limit_mib() if limit_mib is None else limit_mib) * MiB, self)

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        cfg = self.config.export
        self.queues = [ExportQueue(make_client(t), cfg, self.stats) for t in cfg.targets]
        if cfg.queue_dir:  # who must be done with a span before its segment goes (journal.py)
            parties = (("export",) if self.queues else ()) + tuple(self._party.values())
            journal = self.journal = Journal(
                cfg.queue_dir,
                fsync=cfg.queue_fsync,
                max_bytes=cfg.queue_max_bytes,
                segment_bytes=cfg.queue_segment_bytes,
                parties=parties,
            )
            if journal.left_over:
                self._replay = asyncio.ensure_future(self._replay_left_over(journal))
        self._ticker = asyncio.ensure_future(self._tick_forever())

    async def shutdown(self, deadline: float | None = None) -> None:
        """Flush every buffered trace, then drain the export queues and close the sinks
        together, all by one deadline: `deadline` (event-loop time; Server.stop takes it when
        the signal comes), else export.drain_timeout_s from now. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        if deadline is None:
            deadline = loop.time() + self.config.export.drain_timeout_s
        if self._ticker:
            self._ticker.cancel()
        if self._replay:
            self._replay.cancel()  # what it has not read stays on disk for the next start
        self._flush(self.buffer.drain())
        left = max(0.0, deadline - loop.time())
        closing: list[asyncio.Future[None]] = [asyncio.ensure_future(q.close(left)) for q in self.queues]
        closing += [_close_in_thread(sink, left) for sink in self.sinks]
        late: set[asyncio.Future[None]] = set()
        if closing:
            _, late = await asyncio.wait(closing, timeout=max(0.0, deadline - loop.time()) + 0.05)
        if late:  # a sink overran its own timeout: its thread is a daemon, the process exits anyway
            log.error("%d export queue(s) or sink(s) did not close by the drain deadline", len(late))
        if self.journal:
            self.journal.close()

    async def _tick_forever(self) -> None:
        interval = max(0.01, min(0.1, self.config.assembly.trace_wait_s / 4))
        while True:
            await asyncio.sleep(interval)
            try:
                if self.journal:
                    self.journal.tick()
                await self.catch_up()
            except Exception:  # a bug here must not stop flushing forever
                log.exception("flush failed")

    async def catch_up(self) -> None:
        """Flush every quiet trace, in slices of SLICE_SPANS spans with the event loop's other
        work (receivers, exports) in between, so assembling a backlog never stalls exports."""
        while not self._paying:  # requests paying for their spans go first (see take_traces)
            n = self.tick(SLICE_SPANS, final=False)
            if n < SLICE_SPANS:
                break
            await asyncio.sleep(0)
        self._emit(final=not self._paying)

    def tick(self, max_spans: int | None = None, final: bool = True) -> int:
        """Flush traces quiet for trace_wait (about `max_spans` spans at most); returns how many spans."""
        flushes = self.buffer.expired(self.clock(), max_spans)
        self._flush(flushes, final)
        return sum(len(f.spans) for f in flushes)

    # -- receive side ----------------------------------------------------------------
    def check_capacity(self, size: int = 0) -> None:
        """Raise Throttled while any export queue is full, or the memory budget has no room for
        `size` more bytes (the sender retries later)."""
        refusal = self.memory.refusal(size)
        if refusal:
            self.stats.add("requests_throttled", 1, "memory")
            self._first_seen(("memory",), "%s: throttling senders until it drains (memory.limit_mib)", refusal)
            raise Throttled(f"{refusal}; retry later", self.config.receive.retry_after_s)
        for q in self.queues:
            if q.saturated:
                self.stats.add("requests_throttled", 1, q.client.name)
                raise Throttled(
                    f"export queue for {q.client.name} is full; retry later", self.config.receive.retry_after_s
                )
        if self.journal and self.journal.full:
            self.stats.add("requests_throttled", 1, "queue_dir")
            raise Throttled("the queue directory is full; retry later", self.config.receive.retry_after_s)

    def accept_traces(self, request) -> tuple[int, str]:
        """Take an ExportTraceServiceRequest: its bytes (already parsed once, so known to be
        valid) or the decoded message. Returns (rejected spans, message)."""
        if self._closed:
            raise Throttled("costline is shutting down", self.config.receive.retry_after_s)
        body = request if isinstance(request, bytes) else request.SerializeToString()
        self.check_capacity(len(body))
        by_trace, accepted, rejected, message = self.intake.group(body)
        if accepted:
            self.memory.span_bytes = len(body) // accepted
        receipt = None
        if self.journal and accepted:
            try:  # on disk before the sender hears OK
                receipt = self.journal.append(body, accepted)
            except OSError as e:
                log.error("cannot write to the queue directory: %s", e)
                self.stats.add("requests_throttled", 1, "queue_dir_error")
                raise Throttled(
                    "costline cannot write its queue directory; retry later", self.config.receive.retry_after_s
                ) from None
        self.stats.add("spans_received", accepted)
        self.stats.add("spans_rejected", rejected, "invalid_id")
        self._buffer(by_trace, receipt)
        return rejected, message

    def _buffer(self, by_trace: dict, receipt: int | None) -> None:
        now = self.clock()
        add = self.buffer.add
        early: list[Flush] = []
        for trace_id, group in by_trace.items():
            flushed = add(trace_id, group, now, receipt)
            if flushed:
                early.extend(flushed)
        if early:
            self._flush(early)
        if self.config.assembly.trace_wait_s == 0:
            self.tick()

    async def _replay_left_over(self, journal: Journal) -> None:
        """Feed the requests an earlier process left back through the pipeline, at the pace
        the export queues take them (the journal gives each only to the parties not done with it)."""
        spans = 0
        for receipt, body in journal.replay():
            while (
                any(q.saturated for q in self.queues)
                or self.buffer.span_count >= self.config.assembly.max_spans
                or self.memory.over_soft
            ):
                await asyncio.sleep(0.05)
            try:
                by_trace, accepted, _, _ = self.intake.group(body)
            except Exception:  # it parsed when it was accepted; a bug must not stop the rest
                log.exception("queue dir: a record of segment %d could not be read back", receipt)
                self.stats.add("queue_dir_records_unreadable")
                continue
            if accepted:
                journal.hold(receipt, accepted)
                self._buffer(by_trace, receipt)
                spans += accepted
                self.stats.add("spans_replayed", accepted)
            await asyncio.sleep(0)
        self.stats.add("queue_dir_records_torn", journal.torn_records)
        log.info("queue dir: replayed %d span(s) acknowledged before the last stop", spans)

    async def take_traces(self, body: bytes) -> tuple[int, str]:
        """accept_traces for the receivers: intake is cheap and assembly is not, so while
        quiet traces wait to be assembled, the request pays for assembling about as many
        spans as it brought (in slices, the loop's other work in between) before it is
        answered. A sender faster than costline is slowed down by its answers instead of
        growing a backlog; the ticker works a backlog off when no request is paying, so at
        saturation admissions match assembly instead of swinging between flood and drain."""
        before = self.buffer.span_count
        rejected, message = self.accept_traces(body)
        owed = self.buffer.span_count - before
        if owed > 0 and self.buffer.has_expired(self.clock()):
            self._paying += 1
            try:
                while owed > 0 and self.buffer.has_expired(self.clock()):
                    owed -= self.tick(min(owed, SLICE_SPANS), final=False)
                    await asyncio.sleep(0)
            except Exception:  # the request's spans are taken: a flush bug must not fail its answer
                log.exception("flush failed")
            finally:
                self._paying -= 1
        return rejected, message

    def accept_passthrough(self, signal: str, body: bytes) -> None:
        """Metrics and logs: forwarded unchanged to every target."""
        self.check_capacity(len(body))
        for q in self.queues:
            q.put(Batch(signal, body, 0))
        self.stats.add(f"{signal}_requests_received")

    # -- flush -----------------------------------------------------------------------
    def _flush(self, flushes: list[Flush], final: bool = True) -> None:
        """Assemble traces and queue their spans for export (with final=False, a partial
        last batch waits for the next call, so slices of a backlog still fill batches)."""
        if not flushes:
            if final:
                self._emit(final)
            return
        traces, rows, ledger_rows = self._assemble(flushes)
        if rows:
            self._write_rows(rows, ledger_rows, flushes)
        elif self.journal is not None:
            self._nothing_to_record(flushes)
        if not self.queues:
            self.stats.add("spans_processed_no_exporter", sum(len(t[0]) for t in traces))
            return
        self._pending.extend(traces)
        self._pending_spans += sum(len(t[0]) for t in traces)
        self._emit(final)

    def _assemble(self, flushes: list[Flush]) -> tuple[list[Trace], list[LedgerRow], list[LedgerRow]]:
        """(per trace: spans, what each gets appended, journal runs; ledger rows; the rows the ledger
        still needs, when replaying a queue dir) of the flushed traces, counted in the stats."""
        cfg, stats, reader = self.config, self.stats, self.reader
        price, write, tagging = self.pricer.price, cfg.pricing.write_gen_ai_usage_cost, cfg.tagging
        remember, policy, sinks = self.buffer.remember, reader.tags.policy, self.sinks
        # Replaying a queue dir: segments the export or the ledger finished before the restart
        skip_export, skip_ledger = self._finished_before()
        traces: list[Trace] = []
        counts = Tally(self._first_seen, self._broken_log)
        rows: list[LedgerRow] = []
        ledger_rows = [] if skip_ledger else rows
        for f in flushes:
            a = assemble_trace(f.trace_id, f.spans, f.known, tagging, price, write, reader)
            remember(f.trace_id, a.remember, len(f.spans), len(a.calls))
            counts.add(f, a)
            if sinks and a.calls:
                rows.extend(a.rows)
                if skip_ledger and not (f.runs and all(r[0] in skip_ledger for r in f.runs)):
                    ledger_rows.extend(a.rows)
            spans, appended = a.rewritten(policy, stats) if a.rewrite else (f.spans, a.appended)
            runs = f.runs
            if skip_export and runs and any(r[0] in skip_export for r in runs):
                spans, appended, runs = without_segments(spans, appended, runs, skip_export)
                stats.add("spans_replayed_not_exported", len(f.spans) - len(spans))
            traces.append((spans, appended, runs))
        counts.record(stats)
        return traces, rows, ledger_rows

    def _write_rows(self, rows: list[LedgerRow], ledger_rows: list[LedgerRow], flushes: list[Flush]) -> None:
        """Hand the rows to every sink; with a journal, the ledger's claim on the flushed spans is done
        once its rows are committed."""
        journal = self.journal
        done = _segment_counts(flushes) if journal is not None else None
        for sink in self.sinks:
            try:
                if journal is not None and done is not None and sink in self._acking:
                    sink.write(ledger_rows, on_commit=journal.claim(self._party[sink], done).done)
                else:
                    sink.write(rows)
            except Exception:
                log.exception("sink %r failed to take %d rows", sink, len(rows))
                self.stats.add("ledger_rows_dropped", len(rows), "sink_error")

    def _nothing_to_record(self, flushes: list[Flush]) -> None:
        """The ledger is done with flushed spans that gave no rows."""
        journal, done = self.journal, _segment_counts(flushes)
        if journal is not None and done:
            for sink in self._acking:
                journal.release(done, self._party[sink])

    def _emit(self, final: bool) -> None:
        size = self.config.export.batch_spans
        if not self._pending or (not final and self._pending_spans < size):
            return
        journal = self.journal
        for body, n, segments in encode_requests(self._pending, size, final, self._request_bytes):
            claim = None if journal is None or segments is None else journal.claim("export", segments, len(self.queues))
            batch = Batch("traces", body, n, claim)
            for q in self.queues:
                q.put(batch)
            self._pending_spans -= n

    def _finished_before(self) -> tuple[Set[int], Set[int]]:
        """(segments the export, the ledger finished before this start): replayed to the other party only."""
        journal = self.journal
        if journal is None:
            return _NONE, _NONE
        ledger = journal.finished_before("ledger") if len(self._acking) == 1 else _NONE
        return journal.finished_before("export"), ledger


_NONE: frozenset[int] = frozenset()


def _close_in_thread(sink, timeout_s: float) -> asyncio.Future:
    """sink.close(timeout_s) on a daemon thread: its future is done when close returns. Not
    asyncio.to_thread: the loop's executor is joined at exit without a bound, so a close that
    overran (a database lock, a stuck push) would hold the process past the drain deadline."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def finished() -> None:
        if not done.done():
            done.set_result(None)

    def run() -> None:
        try:
            sink.close(timeout_s)
        except Exception:
            log.exception("closing sink %r failed", sink)
        with contextlib.suppress(RuntimeError):  # (the loop is gone: nobody waits any more)
            loop.call_soon_threadsafe(finished)

    threading.Thread(target=run, name=f"costline-close-{type(sink).__name__}", daemon=True).start()
    return done


def _segment_counts(flushes: list[Flush]) -> dict[int, int]:
    out: dict[int, int] = {}
    for f in flushes:
        for seg, n in f.runs or ():
            if seg is not None:
                out[seg] = out.get(seg, 0) + n
    return out
