"""Spans grouped by trace until the trace has been quiet for `trace_wait`.

Like the Collector's groupbytrace: one OrderedDict in least-recently-updated order,
so expiry and the memory bound both pop from the front. At the bound (max traces
or max spans) the oldest traces flush early: nothing is dropped. Flushed traces are
remembered (bounded) so a late span still inherits its ancestors' tags and path.
Single-threaded: it is only touched from the event loop.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from costline.processor.assembly.rollup import Inherited
from costline.processor.config import AssemblyConfig
from costline.processor.intake import BufferedSpan


@dataclass(slots=True)
class _Trace:
    spans: list[BufferedSpan]
    updated: float


@dataclass(slots=True)
class Flush:
    trace_id: bytes
    spans: list[BufferedSpan]
    known: dict[bytes, Inherited]  # context from earlier flushes of this trace
    reason: str  # "quiet", "bound", "drain"


class TraceBuffer:
    def __init__(self, config: AssemblyConfig):
        self.config = config
        self._traces: OrderedDict[bytes, _Trace] = OrderedDict()
        self._recent: OrderedDict[bytes, dict[bytes, Inherited]] = OrderedDict()
        self.span_count = 0
        self.late_spans = 0  # spans of a trace that had already been flushed
        self.early_flushes = 0  # traces flushed before their wait because of the bound

    def __len__(self) -> int:
        return len(self._traces)

    def add(self, trace_id: bytes, spans: list[BufferedSpan], now: float) -> list[Flush]:
        entry = self._traces.get(trace_id)
        if entry is None:
            if trace_id in self._recent:
                self.late_spans += len(spans)
            self._traces[trace_id] = _Trace(list(spans), now)
        else:
            entry.spans.extend(spans)
            entry.updated = now
            self._traces.move_to_end(trace_id)
        self.span_count += len(spans)
        out = []
        cfg = self.config
        while len(self._traces) > cfg.max_traces or (self.span_count > cfg.max_spans and len(self._traces) > 1):
            self.early_flushes += 1
            out.append(self._pop_oldest("bound"))
        if self.span_count > cfg.max_spans and self._traces:
            # A single trace larger than the bound: flush what it has now.
            self.early_flushes += 1
            out.append(self._pop_oldest("bound"))
        return out

    def expired(self, now: float) -> list[Flush]:
        out = []
        deadline = now - self.config.trace_wait_s
        while self._traces:
            trace_id, entry = next(iter(self._traces.items()))
            if entry.updated > deadline:
                break
            out.append(self._pop_oldest("quiet"))
        return out

    def drain(self) -> list[Flush]:
        return [self._pop_oldest("drain") for _ in range(len(self._traces))]

    def remember(self, trace_id: bytes, context: dict[bytes, Inherited]) -> None:
        if self.config.recent_traces <= 0:
            return
        known = self._recent.get(trace_id)
        if known is None:
            self._recent[trace_id] = context
        else:
            known.update(context)
            self._recent.move_to_end(trace_id)
        while len(self._recent) > self.config.recent_traces:
            self._recent.popitem(last=False)

    def _pop_oldest(self, reason: str) -> Flush:
        trace_id, entry = self._traces.popitem(last=False)
        self.span_count -= len(entry.spans)
        return Flush(trace_id, entry.spans, self._recent.get(trace_id, {}), reason)
