"""The intake journal behind `--queue-dir`: what costline acknowledged, kept on disk until done.

    accept: request bytes --append (one write)--> segment file --> then the sender's OK
    done:   each party (`export`: every export target took the span or refused it for
            good; `ledger`: its row is committed) finishes a closed segment once it is done
            with every span in it; a party that finishes before the others leaves a marker
            file, SEGMENT.PARTY.done; the segment goes when every party has finished it
    start:  segments left by an earlier process are replayed through the pipeline, each
            only to the parties that had not finished it (`done_before`)

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

Each record is `length, crc32, body` written with one `os.write` to a file opened
O_APPEND, so a `kill -9` cannot leave a record half in the page cache; a torn record at
a segment's end (power loss without `fsync`) is detected by its length or checksum,
logged and counted, and the records before it are kept. With `fsync: true` every
append is flushed to the device before the sender is answered.

Accounting is per segment and party: `hold(segment, n)` when a request's spans enter
(for each party that has not finished the segment), `release(counts, party)` from
whichever stage finishes them (export queues on the event loop, the ledger writer's
thread), so releases take a lock.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

from costline_processor.config import ConfigError

log = logging.getLogger("costline.journal")

_HEADER = struct.Struct("<II")  # body length, crc32 of the body
_SUFFIX = ".otlp"
_DONE = ".done"  # SEGMENT.PARTY.done: that party finished the segment before the others
DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024
DEFAULT_SEGMENT_AGE_S = 1.0  # a segment is closed after this long, so finished ones can be deleted
DEFAULT_MAX_BYTES = 2 * 1024 * 1024 * 1024  # on disk; over it the receivers throttle senders


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
        self.dir = Path(directory)
        try:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # it holds tags in clear (README, Security)
        except OSError as e:
            raise ConfigError(f"cannot create the queue directory {self.dir}: {e.strerror}") from None
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        self.segment_age_s = segment_age_s
        self.max_bytes = max_bytes
        self.clock = clock
        self._lock = threading.Lock()
        self.parties = parties  # who must finish a segment before it goes (pipeline: export, ledger)
        self._index = {p: i for i, p in enumerate(parties)}
        self._held: dict[int, list[int]] = {}  # segment -> spans not yet done, per party
        self._finished: dict[int, set[int]] = {}  # segment -> parties that finished it (marker files)
        self._sizes: dict[int, int] = {}  # segment -> bytes on disk
        self._open: int | None = None  # the segment being appended to
        self._fd: int | None = None
        self._opened_at = 0.0
        self.bytes = 0  # on disk, all segments
        self.torn_records = 0
        self.deleted_segments = 0
        self._lock_dir()
        self._left = sorted(int(p.stem) for p in self.dir.glob("*" + _SUFFIX) if p.stem.isdigit())
        for seg in self._left:
            size = self._path(seg).stat().st_size
            self._sizes[seg] = size
            self.bytes += size
        self._next = (self._left[-1] + 1) if self._left else 1
        self.done_before: dict[str, set[int]] = {p: set() for p in parties}  # left-over segments a party finished
        self._read_markers()

    def _lock_dir(self) -> None:
        """One process per directory: a second costline on it would delete the first one's segments."""
        import fcntl

        try:
            self._lockfile = open(self.dir / "lock", "w")
        except OSError as e:
            raise ConfigError(f"cannot write to the queue directory {self.dir}: {e.strerror}") from None
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lockfile.close()
            raise ConfigError(f"queue directory {self.dir} is in use by another costline process") from None

    def _read_markers(self) -> None:
        left = set(self._left)
        for path in self.dir.glob("*" + _DONE):
            seg, _, party = path.name[: -len(_DONE)].partition(".")
            if not seg.isdigit() or int(seg) not in left:
                path.unlink(missing_ok=True)  # its segment went (a crash between the two unlinks)
            elif party in self._index:
                self._finished.setdefault(int(seg), set()).add(self._index[party])
                self.done_before[party].add(int(seg))

    # -- replay ------------------------------------------------------------------------
    def todo(self, seg: int) -> tuple[str, ...]:
        """The parties that have not finished `seg` (a left-over segment is replayed to these)."""
        done = self._finished.get(seg, ())
        return tuple(p for i, p in enumerate(self.parties) if i not in done)

    @property
    def left_over(self) -> list[int]:
        """Segments an earlier process left (to replay, oldest first)."""
        return list(self._left)

    def records(self, seg: int) -> Iterator[bytes]:
        """The complete records of a left-over segment; a torn tail is logged, counted, skipped."""
        path = self._path(seg)
        data = path.read_bytes()
        pos, end = 0, len(data)
        while pos < end:
            if end - pos < _HEADER.size:
                self._torn(path, pos, "a header cut short")
                return
            length, crc = _HEADER.unpack_from(data, pos)
            body = data[pos + _HEADER.size : pos + _HEADER.size + length]
            if len(body) < length:
                self._torn(path, pos, "a body cut short")
                return
            if zlib.crc32(body) != crc:
                self._torn(path, pos, "a checksum mismatch")
                return
            pos += _HEADER.size + length
            yield body

    def _torn(self, path: Path, pos: int, what: str) -> None:
        self.torn_records += 1
        log.error("queue dir: %s ends with %s at byte %d; the records before it are replayed", path.name, what, pos)

    def replayed(self, seg: int) -> None:
        """A left-over segment has been read back in full: delete it once its spans are done."""
        with self._lock:
            self._left.remove(seg)
            self._maybe_finish(seg)

    # -- accept ------------------------------------------------------------------------
    @property
    def full(self) -> bool:
        return self.max_bytes > 0 and self.bytes >= self.max_bytes

    def append(self, body: bytes, holds: int) -> int:
        """Write one accepted request; returns its segment, holding `holds` spans for every party."""
        now = self.clock()
        if self._fd is not None and (
            self._sizes[self._open] >= self.segment_bytes or now - self._opened_at >= self.segment_age_s
        ):
            self._close_open()
        if self._fd is None:
            self._start_segment(now)
        seg = self._open
        record = _HEADER.pack(len(body), zlib.crc32(body)) + body
        try:
            _write_all(self._fd, record)
            if self.fsync:
                os.fsync(self._fd)
        except OSError:
            self._close_open()  # a segment may now end torn: start a fresh one next time
            raise
        finally:
            with self._lock:
                if seg in self._sizes:
                    self._sizes[seg] += len(record)
                    self.bytes += len(record)
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

    def tick(self) -> None:
        """Close the open segment once it is old enough (so quiet traffic does not pin it)."""
        if self._fd is not None and self.clock() - self._opened_at >= self.segment_age_s:
            self._close_open()

    def close(self) -> None:
        """Stop appending; segments with spans not done stay for the next start."""
        self._close_open()
        kept = sorted(self._sizes)
        if kept:
            log.warning("queue dir: %d segment(s) (%d bytes) kept for the next start", len(kept), self.bytes)
        self._lockfile.close()

    @property
    def pending_spans(self) -> int:
        with self._lock:
            return sum(sum(h) for h in self._held.values())

    # -- segments ----------------------------------------------------------------------
    def _path(self, seg: int) -> Path:
        return self.dir / f"{seg:012d}{_SUFFIX}"

    def _start_segment(self, now: float) -> None:
        seg = self._next
        self._next += 1
        self._fd = os.open(self._path(seg), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        if self.fsync:
            _fsync_dir(self.dir)
        self._open = seg
        self._opened_at = now
        self._sizes[seg] = 0

    def _close_open(self) -> None:
        if self._fd is None:
            return
        fd, seg = self._fd, self._open
        self._fd = self._open = None
        if self.fsync:
            os.fsync(fd)
        os.close(fd)
        with self._lock:
            self._maybe_finish(seg)

    def _maybe_finish(self, seg: int) -> None:
        """Once nothing appends to or replays from `seg`: mark each party done with its spans
        as finished, and delete the segment when every party is (lock held)."""
        if seg == self._open or seg in self._left or seg not in self._sizes:
            return
        held = self._held.get(seg, ())
        finished = self._finished.setdefault(seg, set())
        newly = [i for i, n in enumerate(held) if n == 0 and i not in finished]
        finished.update(newly)
        if len(finished) < len(self.parties) and any(n > 0 for n in held):
            for i in newly:  # the others still hold it: a restart must not replay it to this party
                self._marker(seg, self.parties[i]).touch(mode=0o600)
            return
        self._held.pop(seg, None)
        for i in self._finished.pop(seg, ()):
            self._marker(seg, self.parties[i]).unlink(missing_ok=True)
        for segs in self.done_before.values():
            segs.discard(seg)
        try:
            self._path(seg).unlink()
        except FileNotFoundError:
            pass
        self.bytes -= self._sizes.pop(seg)
        self.deleted_segments += 1

    def _marker(self, seg: int, party: str) -> Path:
        return self.dir / f"{seg:012d}.{party}{_DONE}"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
