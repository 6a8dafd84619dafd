"""The intake journal behind `--queue-dir`: what costline acknowledged, and who still holds it.

The promise: a span costline acknowledged (its sender heard OK) stays on disk until every
party is done with it, and a start after a crash or a stop gives it again to each party
that was not. The parties (the pipeline names them): `export`, done once every export
target took the span or refused it for good, and `ledger`, done once its row is
committed. This class alone decides when a segment may go; the stages only carry tokens
they hand back:

    receipt   `append` returns one per accepted request (its segment number): the trace
              buffer keeps it beside the request's spans, a flush hands it back with them
    Claim     a party's claim on spans, as {receipt: spans}: the export queue calls done()
              once it is finished with a batch, the ledger writer once the rows are committed

What the pipeline owes it: each span handed back once per party (a claim, or `release`
at once when the party has nothing to do for it), and only when that party is done with
it; test_journal.py checks the export's per-batch counts add up. A span of a segment the
party had finished before this start is not held for it: what comes back for it is ignored.

A segment (one file of records, queue_dir.py) goes through:

    open         this process appends to it        \\  each request in it holds its spans
    left over    an earlier process wrote it; the   >  for every party that has not
                 replay is reading it back         /   finished the segment
      -> closed    no more spans can come; each party's count falls as its claims are done
      -> finished  by a party at zero while another still holds spans: marker file
                   SEGMENT.PARTY.done, so a restart replays it only to the others
      -> released  every party at zero: the segment file and its markers are deleted

    start: each left-over segment is replayed only to the parties that had not finished
           it (`todo`, `done_before`); one they all had (a crash before its deletion) goes
           unread.

Why the received requests and not the export batches: an acknowledged span may still be
waiting in the trace buffer or the ledger writer's memory when the process dies, and only
a journal of what was acknowledged covers every such place with one mechanism. Replay
re-assembles and re-prices the same spans, so the ledger (idempotent on trace_id,
span_id) ends up with each call once; export is at least once: spans of a segment the
export had not finished are sent again after a crash. Per-party markers keep the parties
from holding each other hostage: a ledger that is down or locked for minutes does not
make the next start re-export what the backends already took, and a backend that is
down does not make it re-write the ledger (the replayed spans are still assembled, so
the rest of their traces keep their tags and rollups, but not sent to that party).

Claims are done from the event loop (export) and the ledger writer's thread, so the
counts take a lock.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Set

from costline_processor.queue_dir import (
    DEFAULT_MAX_BYTES,
    DEFAULT_SEGMENT_AGE_S,
    DEFAULT_SEGMENT_BYTES,
    QueueDir,
)

log = logging.getLogger("costline.journal")

_NONE: frozenset[int] = frozenset()


class Journal:
    def __init__(
        self,
        directory: str | os.PathLike,
        *,
        fsync: bool = False,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        segment_age_s: float = DEFAULT_SEGMENT_AGE_S,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock=time.monotonic,
        parties: tuple[str, ...] = ("done",),
    ):
        self._lock = threading.Lock()
        self.parties = parties  # who must finish a segment before it goes (pipeline: export, ledger)
        self._index = {p: i for i, p in enumerate(parties)}
        self._held: dict[int, list[int]] = {}  # segment -> spans not yet done, per party
        self._finished: dict[int, set[int]] = {}  # segment -> parties that finished it (marker files)
        self.files = QueueDir(
            directory,
            fsync=fsync,
            segment_bytes=segment_bytes,
            segment_age_s=segment_age_s,
            max_bytes=max_bytes,
            clock=clock,
            on_closed=self._closed,
        )
        self._left = list(self.files.found)  # left over, not yet read back in full
        self.done_before: dict[str, set[int]] = {p: set() for p in parties}  # left-over segments a party finished
        for seg, party in self.files.markers():
            if party in self._index:
                self._finished.setdefault(seg, set()).add(self._index[party])
                self.done_before[party].add(seg)

    # -- accept ------------------------------------------------------------------------
    @property
    def full(self) -> bool:
        return self.files.full

    def append(self, body: bytes, holds: int) -> int:
        """Write one accepted request (before its sender hears OK); returns its receipt,
        holding its `holds` spans for every party. Raises OSError (nothing held)."""
        seg = self.files.append(body)
        self.hold(seg, holds)
        return seg

    def hold(self, seg: int, n: int) -> None:
        """`n` more spans of `seg`, for every party that has not finished it."""
        with self._lock:
            held = self._held.get(seg)
            if held is None:
                held = self._held[seg] = [0] * len(self.parties)
            done = self._finished.get(seg, ())
            for i in range(len(held)):
                if i not in done:
                    held[i] += n

    def tick(self) -> None:
        """Close the open segment once it is old enough (so quiet traffic does not pin it)."""
        self.files.tick()

    def close(self) -> None:
        """Stop appending; segments with spans not done stay for the next start."""
        self.files.close()

    @property
    def pending_spans(self) -> int:
        with self._lock:
            return sum(sum(h) for h in self._held.values())

    # -- release -----------------------------------------------------------------------
    def claim(self, party: str, counts: dict[int, int], holders: int = 1) -> Claim:
        """`party`'s claim on `counts` ({receipt: spans}), done by `holders` stages."""
        return Claim(self, party, counts, holders)

    def release(self, counts: dict[int, int], party: str | None = None) -> None:
        """`party` (the only one when None) is done with `counts[segment]` spans (from any thread).
        A segment the party had finished before this start is not held: its counts are ignored."""
        i = 0 if party is None else self._index[party]
        with self._lock:
            for seg, n in counts.items():
                held = self._held.get(seg)
                if held is None or i in self._finished.get(seg, ()):
                    continue
                left = held[i] - n
                if left < 0:
                    log.error("queue dir: segment %d released %d more than it held", seg, -left)
                    left = 0
                held[i] = left
                if left == 0:
                    self._maybe_finish(seg)

    def _closed(self, seg: int) -> None:
        """The files took the last append of `seg` (QueueDir.on_closed)."""
        with self._lock:
            self._maybe_finish(seg)

    def _maybe_finish(self, seg: int) -> None:
        """Once `seg` takes no more spans (closed, or read back in full): each party at zero
        has finished it; while another party still holds spans of it, a marker records that
        for a restart; once none does, it is released (lock held)."""
        if seg == self.files.open_segment or seg in self._left or not self.files.has(seg):
            return
        held = self._held.get(seg, ())
        finished = self._finished.setdefault(seg, set())
        newly = [i for i, n in enumerate(held) if n == 0 and i not in finished]
        finished.update(newly)
        if any(n > 0 for n in held):
            for i in newly:
                self.files.mark(seg, self.parties[i])
            return
        self._held.pop(seg, None)
        for i in self._finished.pop(seg, ()):
            self.files.unmark(seg, self.parties[i])
        for segs in self.done_before.values():
            segs.discard(seg)
        self.files.delete(seg)

    # -- replay ------------------------------------------------------------------------
    @property
    def left_over(self) -> list[int]:
        """Segments an earlier process left, not yet read back (oldest first)."""
        return list(self._left)

    def todo(self, seg: int) -> tuple[str, ...]:
        """The parties that have not finished `seg` (a left-over segment is replayed to these)."""
        done = self._finished.get(seg, ())
        return tuple(p for i, p in enumerate(self.parties) if i not in done)

    def finished_before(self, party: str) -> Set[int]:
        """The left-over segments `party` had finished before this start (their spans are not held for it)."""
        return self.done_before.get(party) or _NONE

    def records(self, seg: int) -> Iterator[bytes]:
        """The complete records of a left-over segment; a torn tail is logged, counted, skipped."""
        return self.files.records(seg)

    @property
    def torn_records(self) -> int:
        return self.files.torn_records

    def replay(self) -> Iterator[tuple[int, bytes]]:
        """(receipt, request) for every record of the left-over segments some party has not
        finished, oldest first; the caller holds each request's spans (`hold`). A segment is
        read back once the caller asks past its last record; a replay stopped before that
        leaves the segment for the next start."""
        for seg in self.left_over:
            if self.todo(seg):
                for body in self.files.records(seg):
                    yield seg, body
            self.replayed(seg)

    def replayed(self, seg: int) -> None:
        """A left-over segment has been read back in full: it goes once its spans are done."""
        with self._lock:
            self._left.remove(seg)
            self._maybe_finish(seg)

    @property
    def bytes(self) -> int:  # (last: below it, `bytes` in this class body names this property)
        """On disk, all segments."""
        return self.files.bytes


class Claim:
    """A party's claim on journaled spans, {receipt: spans}, handed to the stage that finishes
    them. That stage calls `done()` once it is: the last of `holders` calls (one export Batch
    is shared by every target's queue, all on the event loop) releases the spans."""

    __slots__ = ("_counts", "_holders", "_journal", "_party")

    def __init__(self, journal: Journal, party: str, counts: dict[int, int], holders: int = 1):
        self._journal = journal
        self._party = party
        self._counts = counts
        self._holders = holders

    def done(self) -> None:
        self._holders -= 1
        if self._holders == 0 and self._counts:
            self._journal.release(self._counts, self._party)
