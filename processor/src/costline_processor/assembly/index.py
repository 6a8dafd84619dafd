"""One flush of a trace, indexed: each span's IDs and, for the spans that carry attributes
assembly reads, what the reader makes of them (reader.SpanInfo).

The first pass of assembly and the only one that touches span bytes (later passes work
on these lists, by a span's position in the flush). IDs are sliced where a span laid out
in field order has them (one `startswith` checks the trace and span ID heads), read
from anywhere otherwise (wire.span.ids). Most spans carry no attribute a stage reads
and are never decoded (`SpanReader.marks`).
"""

from __future__ import annotations

from collections.abc import Sequence

from costline_processor.assembly.reader import SpanInfo, SpanReader
from costline_processor.records import BufferedSpan
from costline_processor.wire.span import PARENT_HEAD, PARENT_HEAD_AT, PARENT_ID, SPAN_ID, ids_head
from costline_processor.wire.span import ids as span_ids

# Per span (by position in the flush): span ids, parent ids (b"" for none), SpanInfo or None; then span
# id -> the first position it appears at, how many spans repeat an earlier span's id (they cannot be
# parents), the positions of the model-call spans (in flush order), and whether any span has tags or is
# an agent step (something to pass down).
TraceIndex = tuple[list[bytes], list[bytes], list["SpanInfo | None"], dict[bytes, int], int, list[int], bool]


def index_trace(trace_id: bytes, spans: Sequence[BufferedSpan], reader: SpanReader) -> TraceIndex:
    """(sids, pids, infos, first, duplicate ids, call spans, inherits): a flush's IDs, and the SpanInfo
    of each span that carries attributes assembly reads. A plain tuple, not a NamedTuple: one is
    made per trace, and a NamedTuple's constructor costs ~3 000 instructions (callgrind)."""
    marks, read = reader.marks, reader.read_marked
    n = len(spans)
    sids: list[bytes] = [b""] * n
    pids: list[bytes] = [b""] * n
    infos: list[SpanInfo | None] = [None] * n
    first: dict[bytes, int] = {}
    setdefault = first.setdefault
    duplicates = 0
    inherits = False
    call_spans: list[int] = []
    head = ids_head(trace_id)  # one startswith for the trace and span ID heads
    for i, (d, origin) in enumerate(spans):
        if d.startswith(head) and d.startswith(PARENT_HEAD, PARENT_HEAD_AT):
            sid = d[SPAN_ID]
            pids[i] = d[PARENT_ID]
        else:
            sid, pids[i] = span_ids(d)
        sids[i] = sid
        if setdefault(sid, i) != i:
            duplicates += 1
        if marks(d) is not None:
            info = read(d, origin)
            if info is not None:
                infos[i] = info
                if info.call is not None:
                    call_spans.append(i)
                if info.tags or info.step is not None:
                    inherits = True
    return sids, pids, infos, first, duplicates, call_spans, inherits
