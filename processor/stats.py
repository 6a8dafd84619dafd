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
        return {f"{k}{{{l}}}" if l else k: v for (k, l), v in sorted(self.counts.items())}
