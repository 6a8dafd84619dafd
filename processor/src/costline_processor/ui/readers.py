"""Ledger connections and the threads that use them: one reader per request at a time, reused.

A report query blocks (SQLite or psycopg), so handlers run it in one of the pool's `size`
threads (`run`) and the event loop keeps answering. `size` defaults to the machine's cores (at
most 4): the Overview asks its nine panels at once, and more threads than cores would make every
panel as late as the last, where queued ones (first asked, first run) let the first come first. A
LedgerReader is one connection, used by one thread at a time: the pool hands one out per request
and takes it back, opening another only when all are busy.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from costline_processor.ledger import LedgerReader, open_reader

T = TypeVar("T")


class ReaderPool:
    def __init__(
        self, location: str, size: int | None = None, opener: Callable[[str], LedgerReader] = open_reader
    ) -> None:
        size = size or min(os.cpu_count() or 2, 4)
        self.location = location
        self._threads = ThreadPoolExecutor(size, thread_name_prefix="costline-ui")
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

    async def run(self, work: Callable[[LedgerReader], T]) -> T:
        """`work(reader)` in one of the pool's threads."""

        def job() -> Any:
            with self.reader() as r:
                return work(r)

        return await asyncio.get_running_loop().run_in_executor(self._threads, job)

    def check(self) -> None:
        """Open one reader now: a missing or foreign ledger is a ConfigError at start, not on the first page."""
        with self.reader():
            pass

    def close(self) -> None:
        self._threads.shutdown(wait=False)
        with self._lock:
            for r in self._all:
                r.close()
            self._all.clear()
