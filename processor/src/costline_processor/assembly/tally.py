"""What a batch of assembled traces adds to the stats, and what it logs.

Per batch of flushes (Pipeline._flush): broken parent links, calls billed in a parent, duplicate
spans, call twins (agreeing or conflicting usage), spans that took the root's tags, traces
flushed per reason, and llm_calls per status (`priced`, or why not). A model call that cannot
be priced, a sender's broken links and conflicting twins are logged too: the first of each
kind (stats.FirstSeen), broken links now and then (stats.Sometimes), since a sender's broken
links can repeat in every trace.
"""

from __future__ import annotations

from collections.abc import Sequence

from costline_processor.assembly.assembled import Assembled
from costline_processor.assembly.buffer import Flush
from costline_processor.records import Cost
from costline_processor.stats import FirstSeen, Sometimes, Stats


def tally(
    stats: Stats,
    flushes: Sequence[Flush],
    assembled: Sequence[Assembled],
    first_seen: FirstSeen,
    now_and_then: Sometimes,
) -> None:
    """Count (and log) what assembling `flushes` gave: `assembled[k]` is `flushes[k]`'s."""
    broken = covered = duplicates = twins = conflicting = from_root = 0
    reasons: dict[str, int] = {}
    for f, a in zip(flushes, assembled):
        broken += a.broken_links
        covered += a.billed_in_parent
        duplicates += a.duplicate_calls
        if a.twin_calls:
            twins += a.twin_calls
            conflicting += a.conflicting_usage
        from_root += a.tags_from_root
        reasons[f.reason] = reasons.get(f.reason, 0) + 1
        if a.broken_links:
            now_and_then(
                "trace %s has %d broken parent link(s) (a cycle, a duplicate span id or a self-parent): cut "
                "there, counted as broken_parent_links",
                f.trace_id.hex(),
                a.broken_links,
            )
    stats.add("broken_parent_links", broken)
    stats.add("calls_billed_in_parent", covered)
    stats.add("duplicate_calls", duplicates)
    if twins:
        stats.add("call_twins", twins - conflicting, "agreeing_usage")
        stats.add("call_twins", conflicting, "conflicting_usage")
        if conflicting:
            first_seen(
                ("conflicting_usage",),
                "two spans of one model call (same response id) report different usage: billed once, on "
                "the larger (or on the first one billed, when the other came in a later flush); counted "
                "as call_twins{conflicting_usage}",
            )
    stats.add("spans_tags_from_root", from_root)
    for reason, n in reasons.items():
        stats.add("traces_flushed", n, reason)
    for status, n in _statuses(assembled, first_seen).items():
        stats.add("llm_calls", n, status)


def _statuses(assembled: Sequence[Assembled], first_seen: FirstSeen) -> dict[str, int]:
    """Billed calls per status: `priced`, or the reason a call could not be priced (logged once per kind)."""
    statuses: dict[str, int] = {}
    for a in assembled:
        for _, _, _, result in a.calls:
            if isinstance(result, Cost):
                status = "priced"
            else:
                status = result.reason
                first_seen(
                    ("unpriced", status, result.detail),
                    "a model call could not be priced: %s (%s); counted as llm_calls{%s}",
                    status,
                    result.detail,
                    status,
                )
            statuses[status] = statuses.get(status, 0) + 1
    return statuses
