"""costline's counters about itself: what came in, went out, and why anything did not.

The healthy-state equality: spans_received = spans_exported{target} + spans_dropped{reason}
+ spans in the buffer and queues, per target. Every refusal and drop has a reason.
"""

from __future__ import annotations

from collections import Counter


class Stats:
    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()

    def add(self, name: str, n: int = 1, label: str = "") -> None:
        if n:
            self.counts[(name, label)] += n

    def get(self, name: str, label: str | None = None) -> int:
        if label is not None:
            return self.counts.get((name, label), 0)
        return sum(v for (k, _), v in self.counts.items() if k == name)

    def snapshot(self) -> dict[str, int]:
        return {f"{k}{{{label}}}" if label else k: v for (k, label), v in sorted(self.counts.items())}


class FirstSeen:
    """Logs a reason the first time each distinct case of it is seen (bounded), so an
    unknown model or a broken parent link is named in the log once, not once per span;
    the counters in Stats carry the totals."""

    def __init__(self, logger, limit: int = 1000):
        self.log = logger
        self.limit = limit
        self._seen: set = set()

    def __call__(self, key, message: str, *args) -> None:
        if key in self._seen:
            return
        if len(self._seen) >= self.limit:
            if len(self._seen) == self.limit:
                self._seen.add(None)
                self.log.warning("more than %d distinct reasons seen: only the counters report new ones", self.limit)
            return
        self._seen.add(key)
        self.log.warning(message, *args)


class Sometimes:
    """Logs at most once per `interval_s`, saying how many similar cases it did not log
    since: for a reason that can repeat per trace (a sender with broken parent links), so
    the log names it without being flooded; the counters in Stats carry the totals."""

    def __init__(self, logger, interval_s: float = 60.0, clock=None):
        import time

        self.log = logger
        self.interval_s = interval_s
        self.clock = clock or time.monotonic
        self._next = 0.0
        self._quiet = 0

    def __call__(self, message: str, *args) -> None:
        now = self.clock()
        if now < self._next:
            self._quiet += 1
            return
        if self._quiet:
            message += " (and %d more like it since the last such line)"
            args = (*args, self._quiet)
        self._next, self._quiet = now + self.interval_s, 0
        self.log.warning(message, *args)
