"""Ledger connections and the threads that use them: one reader per request at a time, reused.

A report query blocks (SQLite or psycopg), so handlers run it in one of the pool's `size`
threads (`run`) and the event loop keeps answering. `size` defaults to the machine's cores (at
most 4): the Overview asks its nine panels at once, and more threads than cores would make every
panel as late as the last, where queued ones (first asked, first run) let the first come first. A
LedgerReader is one connection, used by one thread at a time: the pool hands one out per request
and takes it back, opening another only when all are busy.

With a columnar copy (ledger/columnar.py: a SQLite ledger's calls in DuckDB), a request's questions
are answered from the copy once it is loaded and caught up, and from SQLite otherwise; a question
the copy fails on (a DuckDB error) is answered from SQLite again, and logged once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from costline_processor.ledger import LedgerReader, open_reader
from costline_processor.ledger.columnar import ColumnarCopy

T = TypeVar("T")
log = logging.getLogger("costline")


class ReaderPool:
    def __init__(
        self,
        location: str,
        size: int | None = None,
        opener: Callable[[str], LedgerReader] = open_reader,
        columnar: ColumnarCopy | None = None,
    ) -> None:
        size = size or min(os.cpu_count() or 2, 4)
        self.location = location
        self._threads = ThreadPoolExecutor(size, thread_name_prefix="costline-ui")
        self._open = opener
        self._idle: queue.LifoQueue[LedgerReader] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._all: list[LedgerReader] = []
        self._lock = threading.Lock()
        self.columnar = columnar
        self.fallbacks = 0  # questions the columnar copy failed on, answered from SQLite

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
                copy = self.columnar.reader(r) if self.columnar is not None else None
                if copy is None:
                    return work(r)
                import duckdb

                try:
                    return work(copy)
                except duckdb.Error as e:
                    self.fallbacks += 1
                    if self.fallbacks == 1:
                        log.warning("the page's columnar copy failed on a question (%s); SQLite answers it", e)
                return work(r)

        return await asyncio.get_running_loop().run_in_executor(self._threads, job)

    def check(self) -> None:
        """Open one reader now: a missing or foreign ledger is a ConfigError at start, not on the first page."""
        with self.reader():
            pass

    def close(self) -> None:
        """Close the readers (not the columnar copy: whoever made it closes it)."""
        self._threads.shutdown(wait=False)
        with self._lock:
            for r in self._all:
                r.close()
            self._all.clear()
