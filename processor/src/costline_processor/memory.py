"""The memory budget: one byte bound, `memory.limit_mib`, on the telemetry costline holds.

What it counts, each a running byte count its owner keeps, summed once per request:

    trace buffer        buffer.byte_count: wire bytes + SPAN_OVERHEAD per buffered span
    recent traces       buffer.recent_bytes: RECENT_SPAN_BYTES per remembered span, capped at
                        RECENT_SHARE of the limit (a cache: the oldest entries give way)
    assembled spans     waiting to fill a batch: pending spans x the last request's bytes/span
    export queues       the bodies queued or in flight, forwarded metrics and logs included;
                        one batch is shared by every target and all queues take the same
                        batches in order, so what they hold together is the slowest queue's
    ledger backlog      rows waiting for a commit x LEDGER_ROW_BYTES

Like the Collector's memory_limiter there are two limits. From the soft limit
(SOFT_FRACTION of the limit) every new request, traces, metrics or logs, is answered
with throttling (gRPC UNAVAILABLE with RetryInfo, HTTP 503 with Retry-After), so senders
retry later; the replay of a queue directory waits too. The hard limit is the limit
itself: no request is admitted whose bytes would carry the count past it (unless the
count is under half the soft limit: a request larger than the 20% headroom, possible when
`receive.max_request_bytes` is near the limit, still gets in once). What was
admitted keeps moving (traces flushed into batches gain costline's attributes, ~5%), so
the count can pass the soft limit by what is in flight, never by what senders send.
Nothing acknowledged is dropped: at the bound, senders wait.

Counted bytes, not RSS: CPython's allocators keep memory they freed, so an RSS test
would throttle on after a peak, with nothing left to drain. The process's RSS is its
start-up size (~75 MiB: interpreter, gRPC, price data) + the count + what parsing the
requests in flight takes (README, Performance: benchmarks/memory.py measures it).

Default: DEFAULT_FRACTION of the machine's memory (/proc/meminfo MemTotal, or
os.sysconf), or of the cgroup's limit when one is set and lower, shared by --workers.
"""

from __future__ import annotations

import os
from pathlib import Path

MiB = 1 << 20
DEFAULT_FRACTION = 0.5  # of the machine's (or the cgroup's) memory, shared by the workers
SOFT_FRACTION = 0.8  # of the limit: senders are throttled from here (the memory_limiter's spike headroom)
RECENT_SHARE = 0.125  # of the limit: most the recent-trace cache may take
RECENT_SPAN_BYTES = 100  # a remembered span's context (a span ID, its share of shared tags and paths)
RECENT_CALL_BYTES = 280  # a remembered billed call's identity, for late twins (context.identities: a 10-tuple, its ids)
LEDGER_ROW_BYTES = 1_500  # a LedgerRow waiting for its commit (strings, Decimals, tags)


class MemoryBudget:
    """Reads the byte counts of a Pipeline's parts; `refusal(size)` says whether a request may enter."""

    def __init__(self, limit_bytes: int, pipeline):
        self.limit = limit_bytes  # 0: no bound
        self.soft = int(limit_bytes * SOFT_FRACTION)
        self.pipeline = pipeline
        self.span_bytes = 0  # wire bytes per span of the last request (prices the assembled, unframed spans)
        self.peak = 0  # the most counted at an admission
        pipeline.buffer.recent_max_bytes = int(limit_bytes * RECENT_SHARE)

    def held(self) -> int:
        p = self.pipeline
        n = p.buffer.byte_count + p.buffer.recent_bytes + p._pending_spans * self.span_bytes
        if p.queues:
            n += max(getattr(q, "bytes", 0) for q in p.queues)  # (a test's stand-in queue may not count)
        for sink in p._acking:
            n += getattr(sink, "pending", 0) * LEDGER_ROW_BYTES
        return n

    def refusal(self, size: int) -> str | None:
        """Why a request of `size` bytes may not enter now (None: it may)."""
        if not self.limit:
            return None
        held = self.held()
        if held > self.peak:
            self.peak = held
        if held >= self.soft:
            return f"costline holds {held // MiB} MiB, over its soft memory limit of {self.soft // MiB} MiB"
        if (
            held + size > self.limit and held > self.soft // 2
        ):  # (a request over the headroom enters a near-empty budget)
            return f"a request of {size} bytes would take costline past its memory limit of {self.limit // MiB} MiB"
        return None

    @property
    def over_soft(self) -> bool:
        return bool(self.limit) and self.held() >= self.soft


def default_limit_mib(workers: int = 1) -> int:
    """DEFAULT_FRACTION of the machine's memory, or of the cgroup limit when lower, per worker."""
    total = min(x for x in (_machine_bytes(), _cgroup_bytes()) if x)
    return max(16, int(total * DEFAULT_FRACTION / max(1, workers)) // MiB)


def _machine_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 4 << 30  # unknown: assume a small machine


def _cgroup_bytes() -> int | None:
    """The memory limit of this process's cgroup (v2 memory.max, or v1 memory.limit_in_bytes), if any."""
    candidates: list[Path] = []
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers == "":
                candidates.append(Path("/sys/fs/cgroup") / path.lstrip("/") / "memory.max")
            elif "memory" in controllers.split(","):
                candidates.append(Path("/sys/fs/cgroup/memory") / path.lstrip("/") / "memory.limit_in_bytes")
    except (OSError, ValueError):
        pass
    candidates += [Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes")]
    for candidate in candidates:
        try:
            raw = candidate.read_text().strip()
        except OSError:
            continue
        if raw.isdigit() and int(raw) < 1 << 60:  # "max", or v1's "no limit" (a huge number)
            return int(raw)
    return None
