"""A bounded export queue per target, with retries on a shared backoff policy.

`put` never drops: when a queue holds `queue_batches` or more, it reports itself
saturated and the receivers answer senders with throttling (UNAVAILABLE / 503 and a
retry hint) until it drains, so the memory bound is the trace buffer's plus this.
Retryable failures are retried with exponential backoff and jitter (server hints
win) until they succeed, or until `retry_max_elapsed_s` when that is set; permanent
failures are dropped and counted with their reason. Each finished batch (taken or
refused for good) is reported to `on_done`; with a persistent queue (`--queue-dir`) a
batch still unsent at the shutdown deadline is not reported, so its spans stay on disk
and are sent after the next start instead of being dropped.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from dataclasses import dataclass

from costline.processor.config import ExportConfig
from costline.processor.stats import Stats

log = logging.getLogger("costline.export")


@dataclass(slots=True)
class Batch:
    signal: str  # "traces", "metrics" or "logs"
    body: bytes
    spans: int  # spans in a traces batch (0 for the other signals)
    segments: dict | None = None  # with --queue-dir: {journal segment: spans} (see journal.py)
    holders: int = 1  # queues still to finish with this batch (one Batch is shared by all targets)


class ExportQueue:
    def __init__(self, client, config: ExportConfig, stats: Stats, workers: int = 2, on_done=None,
                 persistent: bool = False):
        self.client = client
        self.on_done = on_done
        self.persistent = persistent
        self.config = config
        self.stats = stats
        self._items: deque[Batch] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._inflight = 0
        self.bytes = 0  # bodies queued or in flight, for the memory budget (processor/memory.py)
        self._closing = False
        self._deadline: float | None = None
        self._workers = [asyncio.ensure_future(self._work()) for _ in range(workers)]

    @property
    def saturated(self) -> bool:
        return len(self._items) >= self.config.queue_batches

    def __len__(self) -> int:
        return len(self._items) + self._inflight

    def put(self, batch: Batch) -> None:
        self._items.append(batch)
        self.bytes += len(batch.body)
        self._idle.clear()
        self._wakeup.set()

    async def _work(self) -> None:
        while True:
            while not self._items:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
            batch = self._items.popleft()
            self._inflight += 1
            try:
                if await self._deliver(batch) and self.on_done:
                    self.on_done(batch)
            except Exception:  # never let one batch stop the worker
                log.exception("export to %s failed unexpectedly", self.client.name)
                self.stats.add(f"{_unit(batch)}_dropped", batch.spans or 1, "export_error")
            finally:
                self._inflight -= 1
                self.bytes -= len(batch.body)
                if not self._items and not self._inflight:
                    self._idle.set()

    async def _deliver(self, batch: Batch) -> bool:
        """Send until taken or refused for good (True), or until the shutdown deadline (False)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        attempt = 0
        cfg = self.config
        while True:
            outcome = await self.client.send(batch.signal, batch.body)
            if outcome.ok:
                self.stats.add(f"{_unit(batch)}_exported", batch.spans or 1, self.client.name)
                if outcome.rejected:
                    self.stats.add("spans_rejected_by_backend", outcome.rejected, self.client.name)
                return True
            if not outcome.retryable:
                self._drop(batch, "permanent_error", outcome.detail)
                return True
            delay = outcome.retry_after_s
            if delay is None:
                delay = min(cfg.retry_max_s, cfg.retry_initial_s * 2**attempt) * random.uniform(0.8, 1.2)
            attempt += 1
            now = loop.time()
            if cfg.retry_max_elapsed_s and now + delay - started > cfg.retry_max_elapsed_s:
                self._drop(batch, "retry_exhausted", outcome.detail)
                return True
            if self._deadline is not None and now + delay > self._deadline:
                self._left(batch, outcome.detail)
                return False
            self.stats.add("export_retries", 1, self.client.name)
            if attempt == 1 or attempt % 10 == 0:
                log.warning("export to %s failed (%s); retrying in %.1fs", self.client.name, outcome.detail, delay)
            await asyncio.sleep(delay)

    def _left(self, batch: Batch, detail: str) -> None:
        if self.persistent and batch.segments is not None:
            self.stats.add("spans_kept_for_restart", batch.spans, self.client.name)
            log.warning("%d spans for %s kept in the queue dir for the next start (%s)", batch.spans, self.client.name, detail)
        else:
            self._drop(batch, "shutdown", detail)

    def _drop(self, batch: Batch, reason: str, detail: str) -> None:
        self.stats.add(f"{_unit(batch)}_dropped", batch.spans or 1, reason)
        log.error("dropped a %s batch (%d spans) for %s: %s (%s)", batch.signal, batch.spans, self.client.name, reason, detail)

    async def close(self, timeout_s: float) -> None:
        """Drain what is queued (retrying until the deadline), then stop."""
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + timeout_s
        self._closing = True
        self._wakeup.set()
        try:
            await asyncio.wait_for(asyncio.gather(*self._workers, return_exceptions=True), timeout_s + 1)
        except TimeoutError:
            for w in self._workers:
                w.cancel()
        left = sum(b.spans for b in self._items)
        kept = sum(b.spans for b in self._items if self.persistent and b.segments is not None)
        if kept:
            self.stats.add("spans_kept_for_restart", kept, self.client.name)
            log.warning("%d queued spans for %s kept in the queue dir for the next start", kept, self.client.name)
        if left - kept:
            self.stats.add("spans_dropped", left - kept, "shutdown")
            log.error("shutdown left %d spans unexported for %s", left - kept, self.client.name)
        await self.client.close()


def _unit(batch: Batch) -> str:
    return "spans" if batch.signal == "traces" else f"{batch.signal}_requests"
