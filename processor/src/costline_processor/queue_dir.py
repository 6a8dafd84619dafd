"""The files of `--queue-dir`: segments of checksummed records, done markers, the lock.

Bytes on disk only; what they promise (which segment may go when) is journal.py's.

    DIR/lock                       flock'ed: one costline process per directory
    DIR/000000000007.otlp          a segment: records appended, one per accepted request
    DIR/000000000007.export.done   a marker: that party finished segment 7 before the others

A segment is open (taking appends) until it is `segment_bytes` long or `segment_age_s`
old, then closed for good (`on_closed` says which); numbering goes on after the segments
an earlier process left, which are `found` at start.

Each record is `length, crc32, body` written with one `os.write` to a file opened
O_APPEND, so a `kill -9` cannot leave a record half in the page cache; a torn record at
a segment's end (power loss without `fsync`) is detected by its length or checksum,
logged and counted, and the records before it are kept. With `fsync: true` every
append is flushed to the device before the sender is answered.

Sizes are counted under a lock: a segment is deleted from whichever thread finishes it
(journal.py), while appends run on the event loop.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from costline_processor.config import ConfigError

log = logging.getLogger("costline.journal")

_HEADER = struct.Struct("<II")  # body length, crc32 of the body
_SUFFIX = ".otlp"
_DONE = ".done"  # SEGMENT.PARTY.done
DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024
DEFAULT_SEGMENT_AGE_S = 1.0  # a segment is closed after this long, so finished ones can be deleted
DEFAULT_MAX_BYTES = 2 * 1024 * 1024 * 1024  # on disk; over it the receivers throttle senders


class QueueDir:
    def __init__(
        self,
        directory: str | os.PathLike,
        *,
        fsync: bool = False,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        segment_age_s: float = DEFAULT_SEGMENT_AGE_S,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
        on_closed: Callable[[int], None] = lambda seg: None,
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
        self.on_closed = on_closed  # called (no lock held) once a segment takes no more appends
        self._lock = threading.Lock()  # _sizes and bytes
        self._sizes: dict[int, int] = {}  # segment -> bytes on disk
        self.open_segment: int | None = None  # the segment being appended to
        self._fd: int | None = None
        self._opened_at = 0.0
        self.bytes = 0  # on disk, all segments
        self.torn_records = 0
        self.deleted_segments = 0
        self._lock_dir()
        self.found = sorted(int(p.stem) for p in self.dir.glob("*" + _SUFFIX) if p.stem.isdigit())
        for seg in self.found:
            size = self._path(seg).stat().st_size
            self._sizes[seg] = size
            self.bytes += size
        self._next = (self.found[-1] + 1) if self.found else 1

    def _lock_dir(self) -> None:
        """One process per directory: a second costline on it would delete the first one's segments."""
        import fcntl

        try:
            self._lockfile = open(self.dir / "lock", "w")  # noqa: SIM115 (held, and locked, until close)
        except OSError as e:
            raise ConfigError(f"cannot write to the queue directory {self.dir}: {e.strerror}") from None
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lockfile.close()
            raise ConfigError(f"queue directory {self.dir} is in use by another costline process") from None

    @property
    def full(self) -> bool:
        return self.max_bytes > 0 and self.bytes >= self.max_bytes

    # -- segments ----------------------------------------------------------------------
    def append(self, body: bytes) -> int:
        """Write one record (one `os.write`); returns its segment. On OSError the open
        segment is closed (it may now end torn) and the error raised."""
        now = self.clock()
        fd, seg = self._fd, self.open_segment
        if (
            fd is not None
            and seg is not None
            and (self._sizes[seg] >= self.segment_bytes or now - self._opened_at >= self.segment_age_s)
        ):
            self._close_open()
            fd = seg = None
        if fd is None or seg is None:
            fd, seg = self._start_segment(now)
        record = _HEADER.pack(len(body), zlib.crc32(body)) + body
        try:
            _write_all(fd, record)
            if self.fsync:
                os.fsync(fd)
        except OSError:
            self._close_open()  # a fresh segment starts next time
            raise
        finally:
            with self._lock:
                if seg in self._sizes:  # (not when the close above finished and deleted it)
                    self._sizes[seg] += len(record)
                    self.bytes += len(record)
        return seg

    def tick(self) -> None:
        """Close the open segment once it is old enough (so quiet traffic does not pin it)."""
        if self._fd is not None and self.clock() - self._opened_at >= self.segment_age_s:
            self._close_open()

    def close(self) -> None:
        """Stop appending; what is left on disk stays for the next start."""
        self._close_open()
        if self._sizes:
            log.warning("queue dir: %d segment(s) (%d bytes) kept for the next start", len(self._sizes), self.bytes)
        self._lockfile.close()

    def has(self, seg: int) -> bool:
        """`seg` is still on disk."""
        return seg in self._sizes

    def delete(self, seg: int) -> None:
        self._path(seg).unlink(missing_ok=True)
        with self._lock:
            self.bytes -= self._sizes.pop(seg)
            self.deleted_segments += 1

    def _path(self, seg: int) -> Path:
        return self.dir / f"{seg:012d}{_SUFFIX}"

    def _start_segment(self, now: float) -> tuple[int, int]:
        """(fd, segment) of a new open segment."""
        seg = self._next
        self._next += 1
        fd = self._fd = os.open(self._path(seg), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        if self.fsync:
            _fsync_dir(self.dir)
        self.open_segment = seg
        self._opened_at = now
        self._sizes[seg] = 0
        return fd, seg

    def _close_open(self) -> None:
        fd, seg = self._fd, self.open_segment
        if fd is None or seg is None:
            return
        self._fd = self.open_segment = None
        if self.fsync:
            os.fsync(fd)
        os.close(fd)
        self.on_closed(seg)

    # -- records -----------------------------------------------------------------------
    def records(self, seg: int) -> Iterator[bytes]:
        """The complete records of a segment; a torn tail is logged, counted, skipped."""
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

    # -- markers -----------------------------------------------------------------------
    def markers(self) -> list[tuple[int, str]]:
        """(segment, party) of the markers of the segments `found`; markers whose segment
        went (a crash between the two unlinks) are deleted."""
        found, out = set(self.found), []
        for path in self.dir.glob("*" + _DONE):
            seg, _, party = path.name[: -len(_DONE)].partition(".")
            if not seg.isdigit() or int(seg) not in found:
                path.unlink(missing_ok=True)
            else:
                out.append((int(seg), party))
        return out

    def mark(self, seg: int, party: str) -> None:
        self._marker(seg, party).touch(mode=0o600)

    def unmark(self, seg: int, party: str) -> None:
        self._marker(seg, party).unlink(missing_ok=True)

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
