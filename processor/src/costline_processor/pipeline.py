"""Wires the stages of `costline serve` and their start/stop order; nothing else.

  receive (grpc, http: the body parses, or 400/INVALID_ARGUMENT)
    -> intake (split into span bytes, check IDs, group by trace; nothing decoded)
    -> TraceBuffer (wait for quiet; bounded by traces, spans and bytes)
    -> assemble_trace (read the attributes stages need, normalize, tags, paths, price, rollup)
    -> wire (append attributes to span bytes, frame requests, one join per batch) -> ExportQueue per target
                                          \\-> sinks (ledger, metrics) get LedgerRows

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
import logging
import threading
import time
from collections.abc import Set

from costline_processor.assembly.buffer import Flush, TraceBuffer
from costline_processor.assembly.reader import SpanReader
from costline_processor.assembly.rollup import assemble_trace
from costline_processor.assembly.tags import TagReader
from costline_processor.config import DEFAULT_EXPORT_REQUEST_BYTES, Config
from costline_processor.export.client import make_client
from costline_processor.export.queue import Batch, ExportQueue
from costline_processor.intake import Intake
from costline_processor.journal import Journal
from costline_processor.memory import MiB, MemoryBudget, default_limit_mib
from costline_processor.receive.errors import Throttled
from costline_processor.records import SERVICE, Cost
from costline_processor.stats import FirstSeen, Sometimes, Stats
from costline_processor.wire import framing
from costline_processor.wire.span import without_attributes

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
        self._pending: list[tuple[list, list[bytes], list | None]] = []  # assembled, not yet encoded
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
        closing = [asyncio.ensure_future(q.close(left)) for q in self.queues]
        closing += [_close_in_thread(sink, left) for sink in self.sinks]
        late = ()
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
                raise Throttled("costline cannot write its queue directory; retry later",
                                self.config.receive.retry_after_s) from None
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
            while (any(q.saturated for q in self.queues) or self.buffer.span_count >= self.config.assembly.max_spans
                   or self.memory.over_soft):
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
        cfg, stats = self.config, self.stats
        price, write, reader = self.pricer.price, cfg.pricing.write_gen_ai_usage_cost, self.reader
        tagging, remember = cfg.tagging, self.buffer.remember
        traces: list[tuple[list, list[bytes], list | None]] = []  # (spans, what each gets appended, segments)
        rows = []
        # Replaying a queue dir: segments the export or the ledger finished before the restart
        skip_export, skip_ledger = self._finished_before()
        ledger_rows = [] if skip_ledger else rows
        reasons: dict[str, int] = {}
        statuses: dict[str, int] = {}
        broken = covered = duplicates = twins = conflicting = from_root = 0
        for f in flushes:
            a = assemble_trace(f.trace_id, f.spans, f.known, tagging, price, write, reader)
            remember(f.trace_id, a.remember, len(f.spans), len(a.calls))
            broken += a.broken_links
            covered += a.billed_in_parent
            duplicates += a.duplicate_calls
            if a.twin_calls:
                twins += a.twin_calls
                conflicting += a.conflicting_usage
            from_root += a.tags_from_root
            reasons[f.reason] = reasons.get(f.reason, 0) + 1
            for _, _, _, result in a.calls:
                if type(result) is Cost:
                    status = "priced"
                else:
                    status = result.reason
                    self._first_seen(("unpriced", status, result.detail),
                                     "a model call could not be priced: %s (%s); counted as llm_calls{%s}",
                                     status, result.detail, status)
                statuses[status] = statuses.get(status, 0) + 1
            if a.broken_links:
                self._broken_log("trace %s has %d broken parent link(s) (a cycle, a duplicate span id or a "
                                 "self-parent): cut there, counted as broken_parent_links",
                                 f.trace_id.hex(), a.broken_links)
            if self.sinks and a.calls:
                rows.extend(a.rows)
                if skip_ledger and not (f.runs and all(r[0] in skip_ledger for r in f.runs)):
                    ledger_rows.extend(a.rows)
            spans, appended = f.spans, a.appended
            if a.rewrite:  # slow path: spans that already carry attributes costline writes, or tags
                spans, appended = list(spans), list(appended)  # the tag policy rejects or hides
                policy = reader.tags.policy
                for i in a.rewrite:
                    added = a.pairs(i)
                    if added or policy is not None:
                        d, origin = spans[i]
                        hide = policy.hider(origin[SERVICE], self.stats) if policy is not None else None
                        # appended[i] already encodes `added` (cached tag blocks): only its keys are needed here
                        spans[i] = (without_attributes(d, [k for k, _ in added], hide) + appended[i], origin)
                        appended[i] = b""
            runs = f.runs
            if skip_export and runs and any(r[0] in skip_export for r in runs):
                spans, appended, runs = _without(spans, appended, runs, skip_export)
                stats.add("spans_replayed_not_exported", len(f.spans) - len(spans))
            traces.append((spans, appended, runs))
        stats.add("broken_parent_links", broken)
        stats.add("calls_billed_in_parent", covered)
        stats.add("duplicate_calls", duplicates)
        if twins:
            stats.add("call_twins", twins - conflicting, "agreeing_usage")
            stats.add("call_twins", conflicting, "conflicting_usage")
            if conflicting:
                self._first_seen(("conflicting_usage",),
                                 "two spans of one model call (same response id) report different usage: billed "
                                 "once, on the larger (or on the first one billed, when the other came in a later "
                                 "flush); counted as call_twins{conflicting_usage}")
        stats.add("spans_tags_from_root", from_root)
        for reason, n in reasons.items():
            stats.add("traces_flushed", n, reason)
        for status, n in statuses.items():
            stats.add("llm_calls", n, status)
        journal = self.journal
        done = _segment_counts(flushes) if journal else None  # for the ledger's acknowledgement
        if rows:
            for sink in self.sinks:
                try:
                    if journal is not None and done is not None and sink in self._acking:
                        sink.write(ledger_rows, on_commit=journal.claim(self._party[sink], done).done)
                    else:
                        sink.write(rows)
                except Exception:
                    log.exception("sink %r failed to take %d rows", sink, len(rows))
                    stats.add("ledger_rows_dropped", len(rows), "sink_error")
        elif journal is not None and done:
            for sink in self._acking:  # nothing to record for these spans
                journal.release(done, self._party[sink])
        if not self.queues:
            stats.add("spans_processed_no_exporter", sum(len(t[0]) for t in traces))
            return
        self._pending.extend(traces)
        self._pending_spans += sum(len(t[0]) for t in traces)
        self._emit(final)

    def _emit(self, final: bool) -> None:
        size = self.config.export.batch_spans
        if not self._pending or (not final and self._pending_spans < size):
            return
        journal = self.journal
        for body, n, segments in _encode_requests(self._pending, size, final, self._request_bytes):
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


def _without(spans: list, appended: list, runs: list, skip) -> tuple[list, list, list]:
    """A trace's spans, appended attributes and journal runs without the spans of segments in `skip`."""
    keep_spans, keep_appended, keep_runs = [], [], []
    at = 0
    for seg, n in runs:
        if seg not in skip:
            keep_spans += spans[at : at + n]
            keep_appended += appended[at : at + n]
            keep_runs.append([seg, n])
        at += n
    return keep_spans, keep_appended, keep_runs


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
        try:
            loop.call_soon_threadsafe(finished)
        except RuntimeError:  # the loop is gone: nobody waits any more
            pass

    threading.Thread(target=run, name=f"costline-close-{type(sink).__name__}", daemon=True).start()
    return done


def _encode_requests(traces: list[tuple[list, list[bytes], list | None]], batch_spans: int, final: bool = True,
                     max_bytes: int = DEFAULT_EXPORT_REQUEST_BYTES):
    """(request bytes, spans, journal segments) per batch of at most `batch_spans` spans and
    `max_bytes` encoded bytes, in flush order.

    Takes the traces out of `traces`; with final=False the spans of a last partial batch
    are put back at its front instead of being encoded.

    Spans are framed into ScopeSpans per (resource, scope), those into ResourceSpans per
    resource, in order of first appearance; each span's appended attributes follow its
    bytes inside its frame, so nothing is copied until the one join per request. With a
    journal, each batch also says how many of its spans came from which segment
    ({segment: spans}), so the segment can go once every batch holding its spans is done.

    The byte count is the spans' frames plus, per (resource, scope) in the batch, an upper
    bound of its framing (framing.bound), so a request never passes `max_bytes`; a batch ends
    before the span that would pass it. A span larger than `max_bytes` goes alone.
    """
    prefix, bound = framing.span_field_prefix, framing.bound
    groups: dict = {}  # Origin -> [parts, size]
    origin = group = None
    count = size = 0
    owed: list = []  # (runs, spans) of the batch being built, counted into segments when it is yielded
    todo = list(traces)
    traces.clear()
    batch_start = (0, 0)  # (trace, span) where the batch being built started
    for t, (spans, appended, runs) in enumerate(todo):
        first = 0  # this trace's first span in the batch being built
        for i, (d, o) in enumerate(spans):
            a = appended[i]
            n = len(d) + len(a)
            p = prefix(n)
            m = len(p) + n
            size += m
            if o is not origin:
                origin = o
                group = groups.get(o)
                if group is None:
                    group = groups[o] = [[], 0]
                    size += bound(o)
            if size > max_bytes and count:  # the batch ends before this span
                if not group[0]:
                    del groups[o]  # opened for this span: not in the batch
                if runs is not None and i > first:
                    owed.append((runs, i - first))
                    first = i
                yield framing.request(groups), count, _take_runs(owed)
                group = [[], 0]
                groups, count, size = {o: group}, 0, m + bound(o)
                batch_start = (t, i)
            parts = group[0]
            parts.append(p)
            parts.append(d)
            if a:
                parts.append(a)
            group[1] += m
            count += 1
            if count == batch_spans:
                if runs is not None:
                    owed.append((runs, i + 1 - first))
                    first = i + 1
                yield framing.request(groups), count, _take_runs(owed)
                groups, origin, count, size = {}, None, 0, 0
                batch_start = (t, i + 1)
        if runs is not None and len(spans) > first:
            owed.append((runs, len(spans) - first))
    if count:
        if final:
            yield framing.request(groups), count, _take_runs(owed)
        else:
            # Runs are consumed only for yielded batches, so trace t's runs start at span i.
            t, i = batch_start
            spans, appended, runs = todo[t]
            traces.extend(x for x in [(spans[i:], appended[i:], runs)] + todo[t + 1 :] if x[0])


def _take_runs(owed: list) -> dict | None:
    """{segment: spans} for the (runs, next n spans) in `owed`, consuming those runs; None without a journal."""
    if not owed:
        return None
    into: dict = {}
    for runs, n in owed:
        while n:
            run = runs[0]
            k = min(n, run[1])
            if run[0] is not None:
                into[run[0]] = into.get(run[0], 0) + k
            run[1] -= k
            n -= k
            if not run[1]:
                runs.pop(0)
    owed.clear()
    return into


def _segment_counts(flushes: list[Flush]) -> dict[int, int]:
    out: dict[int, int] = {}
    for f in flushes:
        for seg, n in f.runs or ():
            if seg is not None:
                out[seg] = out.get(seg, 0) + n
    return out
