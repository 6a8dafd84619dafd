"""Spans grouped by trace until the trace has been quiet for `trace_wait`.

Like the Collector's groupbytrace: one OrderedDict in least-recently-updated order,
so expiry and the memory bound both pop from the front. At the bound (max traces,
max spans or max bytes) the oldest traces flush early: nothing is dropped. Bytes
are each span's wire size plus SPAN_OVERHEAD, what buffering one costs besides
(measured by benchmarks/memory.py), so the bound is close to the memory it takes. Flushed traces are
remembered (bounded by count, and by bytes: RECENT_SPAN_BYTES per span, at most
`recent_max_bytes`, which the memory budget sets) so a late span still inherits its
ancestors' tags and path.
Single-threaded: it is only touched from the event loop.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from costline_processor.assembly.context import Inherited
from costline_processor.config import AssemblyConfig
from costline_processor.memory import RECENT_CALL_BYTES, RECENT_SPAN_BYTES
from costline_processor.records import BufferedSpan

SPAN_OVERHEAD = 160  # bytes per buffered span beyond its wire size (tuple, bytes header, list slot, its trace's share)


@dataclass(slots=True)
class _Trace:
    spans: list[BufferedSpan]
    updated: float
    size: int  # bytes, as counted against max_buffer_bytes
    runs: list | None  # with a journal: [[receipt, spans], ...] in span order (see journal.py)


@dataclass(slots=True)
class Flush:
    trace_id: bytes
    spans: list[BufferedSpan]
    known: Mapping[Any, Inherited]  # context from earlier flushes of this trace (context.Remembered or a dict)
    reason: str  # "quiet", "bound", "drain"
    runs: list | None = None  # journal receipts of `spans`, in order: [[receipt, count], ...]


class TraceBuffer:
    def __init__(self, config: AssemblyConfig):
        self.config = config
        self._traces: OrderedDict[bytes, _Trace] = OrderedDict()
        self._recent: OrderedDict[bytes, Mapping[Any, Inherited]] = OrderedDict()
        self._recent_sizes: dict[bytes, int] = {}  # trace -> bytes counted in recent_bytes
        self.recent_bytes = 0  # RECENT_SPAN_BYTES per remembered span
        self.recent_max_bytes = 0  # 0: bounded by recent_traces only
        self.span_count = 0
        self.byte_count = 0  # wire bytes of buffered spans + SPAN_OVERHEAD each
        self.late_spans = 0  # spans of a trace that had already been flushed
        self.early_flushes = 0  # traces flushed before their wait because of the bound

    def __len__(self) -> int:
        return len(self._traces)

    def add(self, trace_id: bytes, spans: list[BufferedSpan], now: float, receipt: int | None = None) -> list[Flush]:
        """Buffer `spans` (each `(wire bytes, Origin)`) of one trace; returns traces flushed early.
        `receipt`: the journal's token for the request they came in (opaque here), if any."""
        size = sum([len(s[0]) for s in spans]) + SPAN_OVERHEAD * len(spans)
        entry = self._traces.get(trace_id)
        if entry is None:
            if trace_id in self._recent:
                self.late_spans += len(spans)
            self._traces[trace_id] = _Trace(
                list(spans), now, size, None if receipt is None else [[receipt, len(spans)]]
            )
        else:
            entry.spans.extend(spans)
            entry.updated = now
            entry.size += size
            self._traces.move_to_end(trace_id)
            if receipt is not None:
                runs = entry.runs
                if runs and runs[-1][0] == receipt:
                    runs[-1][1] += len(spans)
                elif runs is not None:
                    runs.append([receipt, len(spans)])
                else:  # cannot happen with one journal per process; keep positions right anyway
                    entry.runs = [[None, len(entry.spans) - len(spans)], [receipt, len(spans)]]
        self.span_count += len(spans)
        self.byte_count += size
        cfg = self.config
        if (
            len(self._traces) <= cfg.max_traces
            and self.span_count <= cfg.max_spans
            and (not cfg.max_buffer_bytes or self.byte_count <= cfg.max_buffer_bytes)
        ):
            return []
        out = []
        while len(self._traces) > 1 and self._over():
            self.early_flushes += 1
            out.append(self._pop_oldest("bound"))
        if self._traces and self._over():
            # A single trace larger than the bound: flush what it has now.
            self.early_flushes += 1
            out.append(self._pop_oldest("bound"))
        return out

    def _over(self) -> bool:
        cfg = self.config
        return (
            len(self._traces) > cfg.max_traces
            or self.span_count > cfg.max_spans
            or (cfg.max_buffer_bytes > 0 and self.byte_count > cfg.max_buffer_bytes)
        )

    def expired(self, now: float, max_spans: int | None = None) -> list[Flush]:
        """Traces quiet for `trace_wait`, oldest first; with `max_spans`, stop once that many
        spans are out (at least one trace), so a backlog is flushed in slices."""
        out = []
        deadline = now - self.config.trace_wait_s
        taken = 0
        traces = self._traces
        while traces:
            entry = traces[next(iter(traces))]
            if entry.updated > deadline or (max_spans is not None and taken >= max_spans):
                break
            taken += len(entry.spans)
            out.append(self._pop_oldest("quiet"))
        return out

    def has_expired(self, now: float) -> bool:
        if not self._traces:
            return False
        return self._traces[next(iter(self._traces))].updated <= now - self.config.trace_wait_s

    def drain(self) -> list[Flush]:
        return [self._pop_oldest("drain") for _ in range(len(self._traces))]

    def remember(self, trace_id: bytes, context: Mapping[Any, Inherited], spans: int = 0, calls: int = 0) -> None:
        """Keep a flushed trace's context (`spans`, `calls`: how many spans and billed calls it had, for the
        byte count)."""
        if self.config.recent_traces <= 0:
            return
        size = spans * RECENT_SPAN_BYTES + calls * RECENT_CALL_BYTES
        self.recent_bytes += size
        sizes = self._recent_sizes
        sizes[trace_id] = sizes.get(trace_id, 0) + size
        known = self._recent.get(trace_id)
        if known is None:
            self._recent[trace_id] = context
        else:
            if not isinstance(known, dict):  # an assembly's lazy context (context.Remembered): made a dict to add to
                known = self._recent[trace_id] = dict(known)
            known.update(context)
            self._recent.move_to_end(trace_id)
        cap = self.recent_max_bytes
        while len(self._recent) > self.config.recent_traces or (
            cap and self.recent_bytes > cap and len(self._recent) > 1
        ):
            old, _ = self._recent.popitem(last=False)
            self.recent_bytes -= sizes.pop(old, 0)

    def _pop_oldest(self, reason: str) -> Flush:
        trace_id, entry = self._traces.popitem(last=False)
        self.span_count -= len(entry.spans)
        self.byte_count -= entry.size
        return Flush(trace_id, entry.spans, self._recent.get(trace_id, {}), reason, entry.runs)
