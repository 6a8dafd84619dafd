"""What a batch of assembled traces adds to the stats, and what it logs.

Per batch of flushes (Pipeline._flush): broken parent links, calls billed in a parent, duplicate
spans, call twins (agreeing or conflicting usage), web searches no call took, spans that took the root's tags, traces
flushed per reason, and llm_calls per status (`priced`, or why not). A model call that cannot
be priced, a sender's broken links and conflicting twins are logged too: the first of each
kind (stats.FirstSeen), broken links now and then (stats.Sometimes), since a sender's broken
links can repeat in every trace.

A Tally is fed trace by trace and keeps only counts: holding a batch's Assembled traces until
the batch ends (to count them afterwards) cost 3.6% more instructions per span, the garbage
collector's walks over the objects kept alive (pipeline_instructions.py, lean: 98.9k -> 102.5k).
"""

from __future__ import annotations

from costline_processor.assembly.assembled import Assembled
from costline_processor.assembly.buffer import Flush
from costline_processor.records import Cost, Unpriced
from costline_processor.stats import FirstSeen, Sometimes, Stats


class Tally:
    """The counts of one batch of flushes: `add` each flush with its assembled trace, then `record`."""

    def __init__(self, first_seen: FirstSeen, now_and_then: Sometimes):
        self._first_seen, self._now_and_then = first_seen, now_and_then
        self.broken = self.covered = self.duplicates = self.twins = self.conflicting = self.from_root = 0
        self.searches = 0
        self.reasons: dict[str, int] = {}
        self.statuses: dict[str, int] = {}

    def add(self, f: Flush, a: Assembled) -> None:
        self.covered += a.billed_in_parent
        self.duplicates += a.duplicate_calls
        self.from_root += a.tags_from_root
        if a.twin_calls:
            self.twins += a.twin_calls
            self.conflicting += a.conflicting_usage
        self.searches += a.searches_unattributed
        self.reasons[f.reason] = self.reasons.get(f.reason, 0) + 1
        if a.broken_links:
            self.broken += a.broken_links
            self._now_and_then(
                "trace %s has %d broken parent link(s) (a cycle, a duplicate span id or a self-parent): cut "
                "there, counted as broken_parent_links",
                f.trace_id.hex(),
                a.broken_links,
            )
        statuses = self.statuses
        for _, _, _, result in a.calls:
            status = "priced" if isinstance(result, Cost) else self._unpriced(result)
            statuses[status] = statuses.get(status, 0) + 1

    def _unpriced(self, result: Unpriced) -> str:
        """Why a call is unpriced, logged the first time this (status, detail) is seen."""
        status, detail = result.reason, result.detail
        self._first_seen(
            ("unpriced", status, detail),
            "a model call could not be priced: %s (%s); counted as llm_calls{%s}",
            status,
            detail,
            status,
        )
        return status

    def record(self, stats: Stats) -> None:
        """Add the counts to `stats` (and log conflicting twins the first time)."""
        stats.add("broken_parent_links", self.broken)
        stats.add("calls_billed_in_parent", self.covered)
        stats.add("duplicate_calls", self.duplicates)
        if self.twins:
            stats.add("call_twins", self.twins - self.conflicting, "agreeing_usage")
            stats.add("call_twins", self.conflicting, "conflicting_usage")
            if self.conflicting:
                self._first_seen(
                    ("conflicting_usage",),
                    "two spans of one model call (same response id) report different usage: billed once, on "
                    "the larger (or on the first one billed, when the other came in a later flush); counted "
                    "as call_twins{conflicting_usage}",
                )
        if self.searches:
            stats.add("web_searches_unattributed", self.searches)
            self._first_seen(
                ("web_searches_unattributed",),
                "a span above several model calls (or above one billed earlier) counts web searches the calls' "
                "own spans do not: which call ran them is not known, so they are in no call's cost; counted as "
                "web_searches_unattributed (have the model calls' spans record them: costline's instrumentation does)",
            )
        stats.add("spans_tags_from_root", self.from_root)
        for reason, n in self.reasons.items():
            stats.add("traces_flushed", n, reason)
        for status, n in self.statuses.items():
            stats.add("llm_calls", n, status)
