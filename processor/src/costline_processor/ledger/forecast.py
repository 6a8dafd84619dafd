"""Spend projected to the end of the current UTC calendar period (day, week or month), per group.

    forecast = spent so far this period + daily run rate x days left in the period (fractional)

The daily run rate is the group's cost over the last 7 full UTC days (today is not over, so it
is left out) divided by 7; when the group's first call of those days is more recent, divided by
the full days since that call's day instead, so a customer who started on Tuesday is not
averaged with days before it existed. A group whose only calls are today's runs at today's
spend so far, scaled to a whole day; a group with no call in the last 7 days, at zero. The rate
looks back across period boundaries (on the 1st of the month it is last month's last week).

One GROUP BY answers every group at once: the period's cost, the rate window's cost, today's
cost and the first call of the rate window are conditional sums over [the earlier of the period's
start and 7 days before today, now). `report --forecast` and `costline budgets` both ask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from costline_processor.config import ConfigError
from costline_processor.ledger.aggregation import Plan, Scope, aggregate
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
    measures = (
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
    scope = Scope(min(start, rate_start), now_ns, filters, untagged)
    groups, _ = aggregate(reader, scope, Plan(dims, measures))
    return {
        key: projection(g["spent"], g["recent"], g["today"], g["first_ns"] or None, now_ns, end, g["unpriced"] or 0)
        for key, g in groups.items()
    }


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
