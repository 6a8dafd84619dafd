"""LedgerWriter: the ledger sink, batching rows off the event loop into the store.

    write(rows) --append--> pending (bounded, in memory)
        --every flush_interval_s, or at batch_rows--> writer thread --> store.insert (one transaction)

Guarantee: a row handed to `write()` is committed within `flush_interval_s` (plus the
time of one insert) while the database accepts writes; a crash of the process loses at
most the rows of that last interval. When the database refuses a batch (down, locked),
the batch stays pending and is retried with backoff, never dropped; only when pending
would pass `max_pending` rows are new rows refused, and each is counted in `dropped`.
Inserts are idempotent on (trace_id, span_id), so replaying spans after a crash neither
duplicates nor changes a stored call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from costline_processor.records import LedgerRow

_log = logging.getLogger(__name__)

DEFAULT_FLUSH_INTERVAL_S = 1.0
DEFAULT_BATCH_ROWS = 2_000
DEFAULT_MAX_PENDING = 1_000_000
_RETRY_MAX_S = 10.0


class Store(Protocol):
    dialect: str
    location: str

    def insert(self, rows: list[LedgerRow], recorded_unix_nano: int) -> None: ...
    def close(self) -> None: ...


class LedgerWriter:
    """A sink: `write` never blocks on I/O; `close` flushes and is idempotent.

    It acknowledges: `write(rows, on_commit)` calls `on_commit` (on the writer thread) once
    those rows are committed, which is how `--queue-dir` knows a span's row is safe."""

    acknowledges = True

    def __init__(
        self,
        store: Store,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
        *,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        max_pending: int = DEFAULT_MAX_PENDING,
        clock_ns: Callable[[], int] = time.time_ns,
    ):
        if flush_interval_s <= 0:
            raise ValueError("flush_interval_s must be more than zero")
        self.store = store
        self.flush_interval_s = flush_interval_s
        self.batch_rows = batch_rows
        self.max_pending = max_pending
        self._clock_ns = clock_ns
        self._pending: list[LedgerRow] = []
        self._cond = threading.Condition()
        self._accepted = 0  # rows taken by write(), ever
        self._waiting: deque[tuple[int, Callable[[], None]]] = deque()  # (rows accepted then, on_commit)
        self._done = 0  # rows of those committed (or abandoned at close)
        self.written = 0
        self.dropped = 0
        self.failures = 0
        self._close_failures = 0
        self._closing = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="costline-ledger-writer", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        with self._cond:
            return self._accepted - self._done

    def write(self, rows: list[LedgerRow], on_commit: Callable[[], None] | None = None) -> None:
        """Queue rows for the next commit; `on_commit` runs once they are all committed
        (never, when any of them is refused: the caller keeps its own copy then)."""
        if not rows:
            if on_commit:
                on_commit()
            return
        with self._cond:
            if self._closing:
                self.dropped += len(rows)
                _log.error("ledger closed: %d row(s) not recorded", len(rows))
                return
            room = self.max_pending - (self._accepted - self._done)
            if len(rows) > room:
                lost = len(rows) - max(room, 0)
                self.dropped += lost
                _log.error("ledger backlog full (%d rows): %d row(s) not recorded", self.max_pending, lost)
                rows = rows[: max(room, 0)]
                on_commit = None
            self._pending.extend(rows)
            self._accepted += len(rows)
            if on_commit:
                self._waiting.append((self._accepted, on_commit))
            if len(self._pending) >= self.batch_rows:
                self._cond.notify_all()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every row written so far is committed; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            target = self._accepted
            self._cond.notify_all()
            while self._done < target:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        with self._cond:
            if self._closed:
                return
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout_s)
        with self._cond:
            self._closed = True
            lost = self._accepted - self._done
        if lost:
            _log.error("ledger close timed out: %d row(s) not recorded", lost)
        if not self._thread.is_alive():
            self.store.close()

    def _run(self) -> None:
        backoff = 0.0
        while True:
            with self._cond:
                if not self._closing and len(self._pending) < self.batch_rows:
                    self._cond.wait(backoff or self.flush_interval_s)
                if self._closing and not self._pending:
                    return
                batch, self._pending = self._pending[: self.batch_rows], self._pending[self.batch_rows :]
            if not batch:
                continue
            try:
                self.store.insert(batch, self._clock_ns())
            except Exception as e:  # the database refused: keep the rows, retry later
                self.failures += 1
                backoff = min(max(backoff * 2, 0.1), _RETRY_MAX_S)
                _log.warning("ledger insert of %d row(s) failed (%s); retrying in %.1fs", len(batch), e, backoff)
                with self._cond:
                    self._pending[:0] = batch
                    if self._closing and self._give_up_at_close():
                        return
                continue
            backoff = 0.0
            committed = []
            with self._cond:
                self.written += len(batch)
                self._done += len(batch)
                while self._waiting and self._waiting[0][0] <= self._done:
                    committed.append(self._waiting.popleft()[1])
                self._cond.notify_all()
            for callback in committed:
                try:
                    callback()
                except Exception:
                    _log.exception("ledger commit callback failed")

    def _give_up_at_close(self) -> bool:
        """At close, stop retrying a failing database after a few attempts (caller holds the lock)."""
        self._close_failures += 1
        return self._close_failures >= 3
