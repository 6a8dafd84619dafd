"""Assembled traces into export requests: batches bounded by spans and bytes, each with the journal
segments its spans came from.

The pipeline hands over traces as (spans, what each span gets appended, journal runs): the
buffered span bytes, the attributes assembly encoded for each, and with `--queue-dir` the
[segment, spans] runs of the trace in span order (journal.py). `encode_requests` frames them
into OTLP export requests (wire/framing.py) without copying a span until the one join per
request, and says per request how many of its spans came from each segment, so a segment can
go once every request holding its spans is done. `without_segments` drops, from a trace being
replayed after a restart, the spans of segments the export had already finished.
"""

from __future__ import annotations

from collections.abc import Iterator, Set
from typing import Any

from costline_processor.config import DEFAULT_EXPORT_REQUEST_BYTES
from costline_processor.wire import framing

Runs = list[list[Any]]  # [[segment or None, spans], ...] in span order; consumed as requests are made
Trace = tuple[list[Any], list[bytes], "Runs | None"]  # (spans, appended per span, journal runs)


def encode_requests(
    traces: list[Trace], batch_spans: int, final: bool = True, max_bytes: int = DEFAULT_EXPORT_REQUEST_BYTES
) -> Iterator[tuple[bytes, int, dict[int, int] | None]]:
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
    groups: dict[Any, list[Any]] = {}  # Origin -> [parts, size]
    origin: Any = None
    group: list[Any] = [[], 0]
    count = size = 0
    owed: list[tuple[Runs, int]] = []  # (runs, spans) of the batch being built, counted into segments when yielded
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
                found = groups.get(o)
                if found is None:
                    found = groups[o] = [[], 0]
                    size += bound(o)
                group = found
            if size > max_bytes and count:  # the batch ends before this span
                if not group[0]:
                    del groups[o]  # opened for this span: not in the batch
                if runs is not None and i > first:
                    owed.append((runs, i - first))
                    first = i
                yield framing.request(groups), count, take_runs(owed)
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
                yield framing.request(groups), count, take_runs(owed)
                groups, origin, count, size = {}, None, 0, 0
                batch_start = (t, i + 1)
        if runs is not None and len(spans) > first:
            owed.append((runs, len(spans) - first))
    if count:
        if final:
            yield framing.request(groups), count, take_runs(owed)
        else:
            # Runs are consumed only for yielded batches, so trace t's runs start at span i.
            t, i = batch_start
            spans, appended, runs = todo[t]
            traces.extend(x for x in [(spans[i:], appended[i:], runs), *todo[t + 1 :]] if x[0])


def take_runs(owed: list[tuple[Runs, int]]) -> dict[int, int] | None:
    """{segment: spans} for the (runs, next n spans) in `owed`, consuming those runs; None without a journal."""
    if not owed:
        return None
    into: dict[int, int] = {}
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


def without_segments(spans: list[Any], appended: list[bytes], runs: Runs, skip: Set[int]) -> Trace:
    """A trace's spans, appended attributes and journal runs without the spans of segments in `skip`."""
    keep_spans: list[Any] = []
    keep_appended: list[bytes] = []
    keep_runs: Runs = []
    at = 0
    for seg, n in runs:
        if seg not in skip:
            keep_spans += spans[at : at + n]
            keep_appended += appended[at : at + n]
            keep_runs.append([seg, n])
        at += n
    return keep_spans, keep_appended, keep_runs
