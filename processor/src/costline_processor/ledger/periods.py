"""Time windows and calendar buckets, all in UTC. Pure: `now_ns` is always passed in."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from costline_processor.config import ConfigError

NS = 1_000_000_000
DAY_NS = 86_400 * NS
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
TIME_DIMENSIONS = ("day", "week", "month")


def parse_duration(text: str) -> int:
    """'7d' -> nanoseconds. Units: s, m, h, d, w."""
    m = _DURATION.match(text.strip())
    if not m or int(m.group(1)) == 0:
        raise ConfigError(f"a duration looks like 30m, 12h, 7d or 2w, not {text!r}")
    return int(m.group(1)) * _UNIT_S[m.group(2)] * NS


def parse_time(text: str, now_ns: int) -> int:
    """A point in time: 'now', 'today' or 'yesterday' (their UTC midnight), a duration ago ('7d'),
    a date ('2026-03-01') or ISO time (UTC if no zone)."""
    text = text.strip()
    if text == "now":
        return now_ns
    if text in ("today", "yesterday"):
        return day_start(now_ns) - (DAY_NS if text == "yesterday" else 0)
    if _DURATION.match(text):
        return now_ns - parse_duration(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"a time looks like 7d, yesterday, 2026-03-01 or 2026-03-01T12:00, not {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * NS + dt.microsecond * 1000


def window(since: str | None, until: str | None, now_ns: int) -> tuple[int | None, int]:
    """[since, until) in ns; no since means from the beginning."""
    start = parse_time(since, now_ns) if since else None
    end = parse_time(until, now_ns) if until else now_ns
    if start is not None and start >= end:
        raise ConfigError("--since must be earlier than --until")
    return start, end


def utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // NS, tz=UTC)


def bucket(ns: int, unit: str) -> str:
    """The calendar bucket label of a time: day 2026-03-02, week 2026-W10 (ISO), month 2026-03."""
    dt = utc(ns)
    if unit == "day":
        return dt.strftime("%Y-%m-%d")
    if unit == "week":
        year, week, _ = dt.isocalendar()
        return f"{year}-W{week:02d}"
    if unit == "month":
        return dt.strftime("%Y-%m")
    raise ValueError(unit)


def day_start(ns: int) -> int:
    return ns - ns % DAY_NS


def iso(ns: int) -> str:
    """RFC 3339 UTC with a Z, second precision."""
    return utc(ns).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_month_start(ns: int) -> int:
    dt = utc(ns).replace(day=1, hour=0, minute=0, second=0)
    nxt = (dt + timedelta(days=32)).replace(day=1)
    return int(nxt.timestamp()) * NS


def month_start(ns: int) -> int:
    return int(utc(ns).replace(day=1, hour=0, minute=0, second=0).timestamp()) * NS


def month_window(text: str) -> tuple[int, int]:
    """--month YYYY-MM: that UTC calendar month."""
    try:
        start = datetime.strptime(text.strip(), "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ConfigError(f"--month looks like 2026-03, not {text!r}") from None
    begin = int(start.timestamp()) * NS
    return begin, next_month_start(begin)


def last_month_window(now_ns: int) -> tuple[int, int]:
    """--last-month: the UTC calendar month before the current one."""
    this = month_start(now_ns)
    return month_start(this - 1), this


def month_to_date_window(now_ns: int) -> tuple[int, int]:
    """--mtd: from the first of this UTC month to now."""
    return month_start(now_ns), now_ns


def describe(start: int | None, end: int) -> str:
    """A window for a message: 'from 2026-03-01T00:00:00Z to 2026-04-01T00:00:00Z'."""
    return f"from {iso(start) if start is not None else 'the beginning'} to {iso(end)}"
