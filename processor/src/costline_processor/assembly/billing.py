"""Which model-call spans of a flush are billed here, and why each of the others is not.

A model call is billed once, on the span that holds its usage first-hand. A call span is
not billed (its `costline.cost.status` says why) when it is

  - `aggregate_usage`: a model call is below it (here, or billed in an earlier flush
    under it): it repeats its children's usage, and the leaves are billed;
  - `billed_in_parent`: it arrived late, under a call priced in an earlier flush, which
    repeated its usage;
  - `duplicate_span`: a second copy of a span (the same span id, here or in an earlier
    flush: a sender's retry);
  - `duplicate_call`: another library's span of a call billed on another span (twins.py).

Everything here is decided before pricing, from the tree and the earlier flushes'
context; rollup prices the rest (the billable leaves) in its bottom-up pass.

A count only the outer span of a call has moves to the leaf that is billed: Pydantic AI's
`chat` span records Anthropic's web searches, the SDK's own span below it (the leaf, with the
same tokens) does not. An aggregate span with one model call below it is that call, so the
leaf is billed for the larger count (`_searches_to_leaf`); with several calls below (or its one
call billed in an earlier flush), whose searches they were cannot be told: they stay where they
are, and those beyond what the calls below count themselves are counted as
`web_searches_unattributed` (and logged once): possibly unbilled, never silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from costline_processor.assembly import twins as twins_of
from costline_processor.assembly.context import Inherited
from costline_processor.assembly.reader import SpanInfo
from costline_processor.records import (
    AGGREGATE,
    BILLED_IN_PARENT,
    DUPLICATE,
    SCOPE_NAME,
    BufferedSpan,
    Cost,
    Unpriced,
)

# A call span's verdict: AGGREGATE, BILLED_IN_PARENT or DUPLICATE (a status), a Twin, or its price (Cost | Unpriced).
Result = str | twins_of.Twin | Cost | Unpriced


def judge(
    call_spans: list[int],
    parent: list[int],
    roots: list[int],
    infos: list[SpanInfo | None],
    sids: list[bytes],
    pids: list[bytes],
    first: Mapping[bytes, int],
    known: Mapping[bytes, Inherited],
    covered: list[bool] | None,
    twins: Mapping[int, twins_of.Twin] | None,
    results: list[Result | None],
) -> tuple[tuple[int, int, int, int, int], list[bytes]]:
    """Set `results[i]` for each call span not billed here, to why (the billable ones stay None).
    Returns ((billed_in_parent, duplicate spans, twins, twins with conflicting usage, web searches no call
    took), dangling): the
    counts, and the parents not in this flush with model calls below them, in the order a bottom-up
    walk meets them (if such a parent arrives later and is a model call, it repeats their usage)."""
    below = [False] * len(parent)  # a model call below: in this flush, or billed under it in an earlier one
    sources = call_spans
    if known:  # late spans that were parents of calls billed earlier (context.Inherited.calls_below)
        late = [i for i, sid in enumerate(sids) if (ctx := known.get(sid)) is not None and ctx.calls_below]
        if late:
            for i in late:
                below[i] = True
            sources = call_spans + late
    for s in sources:  # mark each one's ancestors, up to one marked already (what is above that one is too)
        p = parent[s]
        while p >= 0 and not below[p]:
            below[p] = True
            p = parent[p]
    billed_in_parent = duplicates = twin_calls = conflicting = unattributed = 0
    for i in call_spans:
        if below[i]:
            results[i] = AGGREGATE
            info = infos[i]
            u = info.call.usage if info is not None and info.call is not None else None
            if u is not None and u.web_searches:  # (rare: only a parent span that records searches)
                unattributed += _searches_to_leaf(i, u.web_searches, call_spans, parent, infos, below, twins)
        elif covered is not None and covered[i]:
            results[i] = BILLED_IN_PARENT
            billed_in_parent += 1
        elif first[sids[i]] != i or (known and priced_before(known, sids[i])):
            results[i] = DUPLICATE  # (the first copy, in this flush or an earlier one, is billed)
            duplicates += 1
        elif twins is not None and i in twins:
            twin = results[i] = twins[i]
            twin_calls += 1
            conflicting += twin.conflicting
    dangling = []
    for r in reversed(roots):
        if pids[r]:
            info = infos[r]
            if below[r] or (info is not None and info.call is not None):
                dangling.append(pids[r])
    return (billed_in_parent, duplicates, twin_calls, conflicting, unattributed), dangling


def _searches_to_leaf(
    outer: int,
    searches: int,
    call_spans: list[int],
    parent: list[int],
    infos: list[SpanInfo | None],
    below: list[bool],
    twins: Mapping[int, twins_of.Twin] | None,
) -> int:
    """Bill the one model call below aggregate span `outer` for `outer`'s web searches when it counts fewer.
    A leaf another library's span of the same request bills (`twins`) is that call again, not another.
    Returns the searches no call took: with no call below here or several, those beyond the calls' own."""
    leaves = []
    for c in call_spans:
        p = parent[c]
        while p >= 0 and p != outer:
            p = parent[p]
        if p == outer and not below[c] and not (twins is not None and c in twins):
            leaves.append(c)
    calls = [info.call for c in leaves if (info := infos[c]) is not None and info.call is not None]
    if len(leaves) != 1:
        return max(0, searches - sum(c.usage.web_searches for c in calls if c.usage is not None))
    call = calls[0] if calls else None
    if call is not None and call.usage is not None and call.usage.web_searches < searches:
        call.usage = replace(call.usage, web_searches=searches)
    return 0


def priced_before(known: Mapping[bytes, Inherited], sid: bytes) -> bool:
    """Whether this span id is a call priced in an earlier flush of the trace (then this is a copy)."""
    ctx = known.get(sid)
    return ctx is not None and ctx.billed_above


def find_twins(
    call_spans: list[int],
    parent: list[int],
    infos: list[SpanInfo | None],
    sids: list[bytes],
    pids: list[bytes],
    spans: Sequence[BufferedSpan],
    known: Mapping[bytes, Inherited],
    covered: list[bool] | None,
    first: Mapping[bytes, int],
) -> tuple[list[twins_of.Candidate] | None, dict[int, twins_of.Twin] | None]:
    """(the leaf calls that would be billed, {span: Twin} for those another span of the same provider
    request bills); (None, None) when no two calls can be twins, which the cheap test tells for
    almost every trace: their calls' response ids, and their (parent, input, output) totals, differ."""
    if not (call_spans and (known or _alike(call_spans, infos, pids))):
        return None, None
    found = candidates(call_spans, parent, infos, sids, pids, spans, known, covered, first)
    return found, twins_of.find(found, known) or None


def _alike(call_spans: list[int], infos: list[SpanInfo | None], pids: list[bytes]) -> bool:
    """Whether two calls share a response id, or (when one has none) a parent and input/output totals.
    One loop, no comprehensions: this runs for every trace with two calls or more."""
    if len(call_spans) < 2:
        return False
    ids: set[str] = set()
    keys: set[tuple[bytes, int, int]] = set()
    every_id = True
    same_totals = False
    for i in call_spans:
        info = infos[i]
        assert info is not None and info.call is not None  # (a call span)
        call = info.call
        rid = call.response_id
        if rid is None:
            every_id = False
        elif rid in ids:
            return True
        else:
            ids.add(rid)
        u = call.usage
        if u is not None:
            key = (pids[i], u.input_tokens, u.output_tokens)
            if key in keys:
                same_totals = True
            else:
                keys.add(key)
    return same_totals and not every_id  # (when every call has an id, only equal ids make twins)


def candidates(
    call_spans: list[int],
    parent: list[int],
    infos: list[SpanInfo | None],
    sids: list[bytes],
    pids: list[bytes],
    spans: Sequence[BufferedSpan],
    known: Mapping[bytes, Inherited],
    covered: list[bool] | None,
    first: Mapping[bytes, int],
) -> list[twins_of.Candidate]:
    """The call spans that would be billed: leaves (no call below them, here or in an earlier flush),
    neither covered by a call billed earlier nor a second copy of a span."""
    below: set[int] = set()
    for c in call_spans:
        p = parent[c]
        while p >= 0 and p not in below:
            below.add(p)
            p = parent[p]
    out = []
    for i in call_spans:
        if i in below or first[sids[i]] != i or (covered is not None and covered[i]):
            continue
        if known:
            ctx = known.get(sids[i])
            if ctx is not None and (ctx.calls_below or ctx.billed_above):
                continue
        info = infos[i]
        assert info is not None and info.call is not None  # (a call span)
        out.append(twins_of.Candidate(i, sids[i], pids[i], spans[i][1][SCOPE_NAME], info.start, info.end, info.call))
    return out
