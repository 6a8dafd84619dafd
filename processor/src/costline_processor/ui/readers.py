"""Ledger connections for the page's worker threads: one reader per request at a time, reused.

A report query blocks (SQLite or psycopg), so handlers run it in a thread and the event loop
keeps answering. A LedgerReader is one connection, used by one thread at a time: the pool hands
one out per request and takes it back, opening another only when all are busy, up to `size`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from costline_processor.ledger import LedgerReader, open_reader


class ReaderPool:
    def __init__(self, location: str, size: int = 4, opener: Callable[[str], LedgerReader] = open_reader) -> None:
        self.location = location
        self._open = opener
        self._idle: queue.LifoQueue[LedgerReader] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._all: list[LedgerReader] = []
        self._lock = threading.Lock()

    @contextmanager
    def reader(self) -> Iterator[LedgerReader]:
        """A reader for the calling thread until the block ends (waits while `size` are in use)."""
        with self._slots:
            try:
                r = self._idle.get_nowait()
            except queue.Empty:
                r = self._open(self.location)
                with self._lock:
                    self._all.append(r)
            try:
                yield r
            finally:
                self._idle.put(r)

    def check(self) -> None:
        """Open one reader now: a missing or foreign ledger is a ConfigError at start, not on the first page."""
        with self.reader():
            pass

    def close(self) -> None:
        with self._lock:
            for r in self._all:
                r.close()
            self._all.clear()
