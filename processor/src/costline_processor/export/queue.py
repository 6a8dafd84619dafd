"""A bounded export queue per target, with retries on a shared backoff policy.

`put` never drops: when a queue holds `queue_batches` or more, it reports itself
saturated and the receivers answer senders with throttling (UNAVAILABLE / 503 and a
retry hint) until it drains, so the memory bound is the trace buffer's plus this.
Retryable failures are retried with exponential backoff and jitter (server hints
win) until they succeed, or until `retry_max_elapsed_s` when that is set; permanent
failures are dropped and counted with their reason. With `--queue-dir` a traces batch
carries the export's claim on its journaled spans (journal.py), done once the batch is
finished (taken or refused for good); a batch still unsent at the shutdown deadline is
not, so its spans stay on disk and are sent after the next start instead of being dropped.

A request the backend refuses as too large (gRPC RESOURCE_EXHAUSTED without a retry
hint, HTTP 413) is not a permanent error: it is split in halves (split.py), each sent
(and split again) in order, so only a lone span the backend will not take is dropped.
The halves live in the worker that splits them; the Batch and its claim stay whole,
so `--queue-dir` accounting does not change with splits. `close` takes
the deadline once: queued batches are retried until it, sends still in flight at it
are cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from costline_processor.config import ExportConfig
from costline_processor.export import split
from costline_processor.stats import Stats

log = logging.getLogger("costline.export")


class Claim(Protocol):
    """The export's claim on a batch's journaled spans (journal.Claim, opaque here)."""

    def done(self) -> None: ...


@dataclass(slots=True)
class Batch:
    signal: str  # "traces", "metrics" or "logs"
    body: bytes
    spans: int  # spans in a traces batch (0 for the other signals)
    claim: Claim | None = None  # with --queue-dir: done() once this queue is finished with the batch


class ExportQueue:
    def __init__(self, client, config: ExportConfig, stats: Stats, workers: int = 2):
        self.client = client
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
        self._told: set[str] = set()  # what was logged once (a split, a span too large)
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
                if await self._deliver(batch) and batch.claim is not None:
                    batch.claim.done()
            except Exception:  # never let one batch stop the worker
                log.exception("export to %s failed unexpectedly", self.client.name)
                self.stats.add(f"{_unit(batch)}_dropped", batch.spans or 1, "export_error")
            finally:
                self._inflight -= 1
                self.bytes -= len(batch.body)
                if not self._items and not self._inflight:
                    self._idle.set()

    async def _deliver(self, batch: Batch) -> bool:
        """Send until every piece is taken or refused for good (True), or until the shutdown
        deadline (False). A piece the backend refuses as too large is split in halves, sent
        in order; a single span it refuses so is dropped (`too_large`), nothing else. The
        batch's claim is done once, as a whole: journal accounting stays per batch."""
        started = asyncio.get_running_loop().time()
        pieces = [(batch.body, batch.spans or 1)]  # a stack; the last one is being sent
        try:
            while pieces:
                body, n = pieces[-1]
                verdict, outcome = await self._send(batch.signal, body, started)
                if verdict == "deadline":
                    self._left(batch, sum(k for _, k in pieces), outcome.detail)
                    return False
                pieces.pop()
                if verdict == "ok":
                    self.stats.add(f"{_unit(batch)}_exported", n, self.client.name)
                    if outcome.rejected:
                        self.stats.add("spans_rejected_by_backend", outcome.rejected, self.client.name)
                elif verdict == "too_large" and (parts := _halves(batch.signal, body)):
                    self.stats.add("export_requests_split", 1, self.client.name)
                    self._once(
                        "split",
                        logging.WARNING,
                        "%s refused a request of %d bytes as too large (%s): split in "
                        "halves and sent again; set export.max_request_bytes to its limit",
                        self.client.name,
                        len(body),
                        outcome.detail,
                    )
                    pieces += reversed(parts)  # the first half goes first
                elif verdict == "too_large":
                    self.stats.add(f"{_unit(batch)}_dropped", n, "too_large")
                    self._once(
                        "too_large",
                        logging.ERROR,
                        "dropped a %s of %d bytes that %s refuses as too large (%s), "
                        "alone in its request; counted as %s_dropped{too_large}, not logged again",
                        "span" if batch.signal == "traces" else f"{batch.signal} item",
                        len(body),
                        self.client.name,
                        outcome.detail,
                        _unit(batch),
                    )
                else:
                    self._drop(batch, n, verdict, outcome.detail)
            return True
        except asyncio.CancelledError:  # in flight at the shutdown deadline (close)
            self._left(batch, sum(k for _, k in pieces), "in flight at the shutdown deadline")
            raise

    async def _send(self, signal: str, body: bytes, started: float):
        """Send one piece, retrying retryable failures: ("ok" | "too_large" | "permanent_error" |
        "retry_exhausted" | "deadline", the last Outcome)."""
        loop = asyncio.get_running_loop()
        attempt = 0
        cfg = self.config
        while True:
            outcome = await self.client.send(signal, body)
            if outcome.ok:
                return "ok", outcome
            if outcome.too_large:
                return "too_large", outcome
            if not outcome.retryable:
                return "permanent_error", outcome
            delay = outcome.retry_after_s
            if delay is None:
                delay = min(cfg.retry_max_s, cfg.retry_initial_s * 2**attempt) * random.uniform(0.8, 1.2)
            attempt += 1
            now = loop.time()
            if cfg.retry_max_elapsed_s and now + delay - started > cfg.retry_max_elapsed_s:
                return "retry_exhausted", outcome
            if self._deadline is not None and now + delay > self._deadline:
                return "deadline", outcome
            self.stats.add("export_retries", 1, self.client.name)
            if attempt == 1 or attempt % 10 == 0:
                log.warning("export to %s failed (%s); retrying in %.1fs", self.client.name, outcome.detail, delay)
            await asyncio.sleep(delay)

    def _once(self, kind: str, level: int, message: str, *args) -> None:
        if kind not in self._told:
            self._told.add(kind)
            log.log(level, message, *args)

    def _left(self, batch: Batch, n: int, detail: str) -> None:
        """`n` spans of `batch` were not sent by the shutdown deadline."""
        if batch.claim is not None:  # on disk until the claim is done
            self.stats.add("spans_kept_for_restart", n, self.client.name)
            log.warning("%d spans for %s kept in the queue dir for the next start (%s)", n, self.client.name, detail)
        else:
            self._drop(batch, n, "shutdown", detail)

    def _drop(self, batch: Batch, n: int, reason: str, detail: str) -> None:
        self.stats.add(f"{_unit(batch)}_dropped", n, reason)
        log.error(
            "dropped %d of a %s batch (%d spans) for %s: %s (%s)",
            n,
            batch.signal,
            batch.spans,
            self.client.name,
            reason,
            detail,
        )

    async def close(self, timeout_s: float) -> None:
        """Drain what is queued, retrying until the deadline `timeout_s` from now, then stop:
        sends still in flight then are cancelled and, like what is still queued, kept in the
        queue dir (persistent) or dropped and counted (`shutdown`)."""
        loop = asyncio.get_running_loop()
        timeout_s = max(0.0, timeout_s)
        self._deadline = loop.time() + timeout_s
        self._closing = True
        self._wakeup.set()
        _, late = await asyncio.wait(self._workers, timeout=timeout_s)
        for w in late:
            w.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        left = sum(b.spans for b in self._items)
        kept = sum(b.spans for b in self._items if b.claim is not None)
        if kept:
            self.stats.add("spans_kept_for_restart", kept, self.client.name)
            log.warning("%d queued spans for %s kept in the queue dir for the next start", kept, self.client.name)
        if left - kept:
            self.stats.add("spans_dropped", left - kept, "shutdown")
            log.error("shutdown left %d spans unexported for %s", left - kept, self.client.name)
        try:
            await asyncio.wait_for(self.client.close(), max(0.05, self._deadline - loop.time()))
        except TimeoutError:
            log.warning("closing the connection to %s did not finish by the shutdown deadline", self.client.name)


def _halves(signal: str, body: bytes) -> list | None:
    """The two halves of a refused request, as [(body, count)]: spans for traces, 1 request
    each for the other signals; None when it cannot be split (one item) or read."""
    try:
        parts = split.halves(body)
    except ValueError:
        return None
    if parts is None:
        return None
    return list(parts) if signal == "traces" else [(parts[0][0], 1), (parts[1][0], 1)]


def _unit(batch: Batch) -> str:
    return "spans" if batch.signal == "traces" else f"{batch.signal}_requests"
