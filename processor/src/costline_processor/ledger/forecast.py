"""Spend projected to the end of the current UTC calendar period (day, week or month), per group.

    forecast = spent so far this period + daily run rate x days left in the period (fractional)

The daily run rate is the group's cost over the last 7 full UTC days (today is not over, so it
is left out) divided by 7; when the group's first call of those days is more recent, divided by
the full days since that call's day instead, so a customer who started on Tuesday is not
averaged with days before it existed. A group whose only calls are today's runs at today's
spend so far, scaled to a whole day; a group with no call in the last 7 days, at zero. The rate
looks back across period boundaries (on the 1st of the month it is last month's last week).

One GROUP BY answers every group at once, over [the earlier of the period's start and 7 days before
today, now): where SQLite's per-day rollup holds the groups (by feature, model, the whole ledger...),
their sums per UTC day, read from the rollup and added up here (the Overview's month: 0.22 -> 0.02 s
on a 1M-call ledger); otherwise the period's cost, the rate window's cost, today's cost and the first
call of the rate window as conditional sums, in one pass over the calls (one row per group, where a
row per group and day would be thousands of customers times 38 days). Both give the same figures:
the rate needs only the day of that first call. `report --forecast` and `costline budgets` both ask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from costline_processor.config import ConfigError
from costline_processor.ledger.aggregation import EXACT, Plan, Scope, aggregate, rollup_holds
from costline_processor.ledger.filters import Filter
from costline_processor.ledger.periods import DAY_NS, TIME_DIMENSIONS, bucket, day_start, month_start, next_month_start
from costline_processor.ledger.statement import Measure, Statement

RATE_DAYS = 7
PERIODS = ("day", "week", "month")
_NANO_USD = Decimal("1e-9")  # a forecast is an estimate: nano-dollars are plenty
METHOD = (
    "forecast = spent so far this UTC period + daily run rate x days left in it; the run rate is the group's "
    f"cost over the last {RATE_DAYS} full UTC days / {RATE_DAYS} (or / the full days since its first call in them; "
    "only calls today: today's spend scaled to a day)"
)


@dataclass(frozen=True)
class Projection:
    """One group's period so far and where it is heading."""

    spent_usd: Decimal  # from the period's start to now
    rate_usd_per_day: Decimal
    forecast_usd: Decimal  # at the period's end, at that rate
    unpriced_calls: int = 0  # calls of the period so far whose cost is unknown: in neither figure


def period_bounds(period: str, now_ns: int) -> tuple[int, int]:
    """[start, end) of the UTC calendar `period` (day, week from Monday, month) that holds now_ns."""
    if period == "day":
        start = day_start(now_ns)
        return start, start + DAY_NS
    if period == "week":
        day = now_ns // DAY_NS
        start = (day - (day + 3) % 7) * DAY_NS  # 1970-01-01 was a Thursday
        return start, start + 7 * DAY_NS
    if period == "month":
        return month_start(now_ns), next_month_start(now_ns)
    raise ValueError(f"a forecast period is day, week or month, not {period!r}")


def project(
    reader,
    dims: tuple[str, ...],
    filters: tuple[Filter, ...],
    period: str,
    now_ns: int,
    untagged: str,
    *,
    ended: bool = False,
) -> dict[tuple, Projection]:
    """Each group's (one per value of `dims`, labelled as a report labels it) Projection to the end of `period`,
    over the calls passing `filters`. A group with no call in the period or the rate window is absent. With
    `ended`, now_ns at a period's first instant (a midnight) is the end of the period before it (`alerts --at`)."""
    start, end = period_bounds(period, now_ns - 1 if ended else now_ns)
    today = day_start(now_ns)
    rate_start = today - RATE_DAYS * DAY_NS
    since = min(start, rate_start)
    scope = Scope(since, now_ns, filters, untagged)
    daily = Plan((*dims, "day"), _DAILY)
    if rollup_holds(reader, scope, daily):
        groups = _by_day(aggregate(reader, scope, daily)[0], since, start, rate_start, today)
    else:
        groups = aggregate(reader, scope, Plan(dims, _measures(start, rate_start, today)))[0]
    return {
        key: projection(g["spent"], g["recent"], g["today"], g["first_ns"] or None, now_ns, end, g["unpriced"] or 0)
        for key, g in groups.items()
    }


_DAILY = (
    Measure("calls", "count", "COUNT(*)"),
    Measure("cost", "money"),
    Measure("unpriced", "count", "COUNT(*) - COUNT(cost_usd)"),
)


def _by_day(days: dict[tuple, dict], since: int, start: int, rate_start: int, today: int) -> dict[tuple, dict]:
    """`_measures`' figures per group, added up from its sums per day (the last key of each of `days`), every
    digit kept (EXACT: a GPU-hour cost has 28 of its own)."""
    day_ns = {bucket(d, "day"): d for d in range(day_start(since), today + DAY_NS, DAY_NS)}
    groups: dict[tuple, dict] = {}
    with localcontext(EXACT):
        for (*key, label), sums in days.items():
            _add_day(groups.setdefault(tuple(key), _zero()), day_ns[label], sums, start, rate_start, today)
    return groups


def _zero() -> dict:
    return {"spent": Decimal(0), "unpriced": 0, "recent": Decimal(0), "today": Decimal(0), "first_ns": None}


def _add_day(g: dict, day: int, sums: dict, start: int, rate_start: int, today: int) -> None:
    if day >= start:
        g["spent"] += sums["cost"]
        g["unpriced"] += sums["unpriced"]
    if rate_start <= day < today:
        g["recent"] += sums["cost"]
    if day >= today:
        g["today"] += sums["cost"]
    if day >= rate_start and (g["first_ns"] is None or day < g["first_ns"]):
        g["first_ns"] = day


def _measures(start: int, rate_start: int, today: int) -> tuple[Measure, ...]:
    return (
        Measure("calls", "count", "COUNT(*)"),
        Measure("spent", "money", lambda st: f"start_unix_nano >= {st.bind(start)}"),
        Measure(
            "unpriced",
            "count",
            lambda st: f"SUM(CASE WHEN cost_usd IS NULL AND start_unix_nano >= {st.bind(start)} THEN 1 ELSE 0 END)",
        ),
        Measure("recent", "money", lambda st: _between(st, rate_start, today)),
        Measure("today", "money", lambda st: f"start_unix_nano >= {st.bind(today)}"),
        Measure(
            "first_ns", "distinct", lambda st: f"MIN(CASE WHEN {_between(st, rate_start)} THEN start_unix_nano END)"
        ),
    )


def _between(st: Statement, since: int, until: int | None = None) -> str:
    upper = f" AND start_unix_nano < {st.bind(until)}" if until is not None else ""
    return f"start_unix_nano >= {st.bind(since)}{upper}"


def projection(
    spent: Decimal,
    recent: Decimal,
    today: Decimal,
    first_ns: int | None,
    now_ns: int,
    end_ns: int,
    unpriced: int = 0,
) -> Projection:
    """The forecast of one group (pure): `recent` is its cost over the last RATE_DAYS full days, `today` its cost
    today so far, `first_ns` its first call since the start of those days (None: none), `unpriced` how many
    calls of the period have no cost (said beside the figures, never counted as $0)."""
    midnight = day_start(now_ns)
    if first_ns is not None and first_ns < midnight:
        days = min(RATE_DAYS, (midnight - day_start(first_ns)) // DAY_NS)
        rate = recent / days
    elif today and now_ns > midnight:
        rate = today * DAY_NS / (now_ns - midnight)
    else:
        rate = Decimal(0)
    left = Decimal(max(end_ns - now_ns, 0)) / DAY_NS
    return Projection(spent, rate.quantize(_NANO_USD), (spent + rate * left).quantize(_NANO_USD), unpriced)


def annotate(
    rows: list[dict],
    reader,
    dims: tuple[str, ...],
    filters: tuple[Filter, ...],
    period: str,
    now_ns: int,
    untagged: str,
) -> Decimal:
    """`report --forecast`: set each report row's forecast_usd (its group's Projection to the end of `period`) and
    return the forecast of all the groups the filters pass. With a calendar bucket among `dims` (it must be
    `period`), only the current bucket's rows get one; the others' is None."""
    calendar = [d for d in dims if d in TIME_DIMENSIONS]
    if calendar and calendar != [period]:
        raise ConfigError(
            f"--forecast {period} with --by {calendar[0]}: forecast the {calendar[0]} or drop it from --by"
        )
    plain = tuple(d for d in dims if d not in TIME_DIMENSIONS)
    found = project(reader, plain, filters, period, now_ns, untagged)
    current = bucket(now_ns, period)
    for row in rows:
        projected = found.get(tuple(row[d] for d in plain))
        now = not calendar or row[calendar[0]] == current
        row["forecast_usd"] = (projected.forecast_usd if projected else Decimal(0)) if now else None
    return sum((p.forecast_usd for p in found.values()), Decimal(0))
