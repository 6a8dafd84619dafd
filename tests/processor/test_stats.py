"""Log limiters: a reason is named in the log without flooding it; Stats keeps the totals."""

from __future__ import annotations

import logging

from costline_processor.stats import FirstSeen, Sometimes


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def logger(name: str):
    log = logging.getLogger(name)
    log.propagate = False
    handler = Lines()
    log.addHandler(handler)
    return log, handler.lines


def test_first_seen_names_each_case_once_up_to_its_limit():
    log, lines = logger("t.first")
    seen = FirstSeen(log, limit=2)
    for key in ["a", "a", "b", "a", "c", "d"]:
        seen(key, "case %s", key)
    assert lines == ["case a", "case b", "more than 2 distinct reasons seen: only the counters report new ones"]


def test_sometimes_logs_once_per_interval_and_says_how_many_it_skipped():
    log, lines = logger("t.sometimes")
    now = [0.0]
    limiter = Sometimes(log, interval_s=60, clock=lambda: now[0])
    for t in [0, 1, 2, 59, 61, 62, 200]:
        now[0] = t
        limiter("trace %s broken", t)
    assert lines == [
        "trace 0 broken",
        "trace 61 broken (and 3 more like it since the last such line)",
        "trace 200 broken (and 1 more like it since the last such line)",
    ]
