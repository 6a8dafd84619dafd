"""The Overview's panels, each asked of the ledger modules the commands use (no sums of its own).

    months     this month so far, last month, last month to the same day, the month's forecast
                                                                 report --by month --mtd --forecast month
    series     spend per day|week|month stacked by feature       report --by day,feature
    features   the 10 costliest features                         top features -n 10
    customers  the 10 costliest customers                        top customers -n 10
    users      cost per active user by week                      report --by week --per-user
    cohorts    cost per active user of each value of a tag       report --by plan --per-user
    untagged   calls missing a required tag, their share, owner  report --untagged
    changes    why spend changed: the last 7 days, the 7 before  explain --by feature
    budgets    each budget: spent this period, used, forecast    budgets

Each panel answers on its own (a tag the period lacks is that panel's message, not the page's
error). The forecast is `report --forecast`'s (ledger/forecast.py): the month so far plus the
recent days' rate until its end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from costline_processor.config import Budget, ConfigError, TaggingConfig
from costline_processor.ledger import budgets as budget_standings
from costline_processor.ledger import query, reports
from costline_processor.ledger.explanation import Ask, Period, against_period, explain
from costline_processor.ledger.forecast import project
from costline_processor.ledger.periods import (
    DAY_NS,
    TIME_DIMENSIONS,
    bucket,
    last_month_window,
    month_start,
    next_month_start,
)
from costline_processor.ledger.query import Question

TOP = 10
CHANGED = 5
CHANGE_DAYS = 7
USER_TAG = "user_id"


@dataclass(frozen=True)
class Frame:
    """What every panel shares: the period and filters (a Question without dimensions), the clock, the contract."""

    q: Question
    now_ns: int
    tagging: TaggingConfig
    unit: str = "day"
    cohort: str = "plan"
    budgets: tuple[Budget, ...] = ()


def months(reader, f: Frame) -> dict:
    """This calendar month so far against last month, whole and to the same point, and a forecast."""
    this = month_start(f.now_ns)
    last_since, last_until = last_month_window(f.now_ns)
    same_point = min(last_since + (f.now_ns - this), last_until)

    by_month = query.ask(reader, replace(f.q, dims=("month",), since_ns=last_since, until_ns=f.now_ns)).rows
    month = {r["month"]: r for r in by_month}  # the rows of report --by month: last month's and this one's
    this_row, last_row = month.get(bucket(this, "month")), month.get(bucket(last_since, "month"))
    to_date: dict | None = last_row  # this month is already longer than the last was
    if same_point < last_until:  # last month up to the same day and time: a question of its own
        to_date = query.ask(reader, replace(f.q, since_ns=last_since, until_ns=same_point)).total

    def cost(row: dict | None, since: int, until: int) -> dict:
        row = row or {"cost_usd": Decimal(0), "calls": 0}
        return {"cost_usd": row["cost_usd"], "calls": row["calls"], "since": since, "until": until}

    projection = project(reader, (), f.q.filters, "month", f.now_ns, f.q.untagged).get(())
    this_month, last_to_date = cost(this_row, this, f.now_ns), cost(to_date, last_since, same_point)
    return {
        "this_month": this_month,
        "last_month": cost(last_row, last_since, last_until),
        "last_month_to_date": last_to_date,
        # against last month to the same point, as --compare's change_pct (None when that month had no cost)
        "change_pct": reports.change(this_month["cost_usd"], last_to_date["cost_usd"])["change_pct"],
        "forecast_usd": projection.forecast_usd if projection else Decimal(0),
        "elapsed_share": Decimal(f.now_ns - this) / (next_month_start(this) - this),
    }


def series(reader, f: Frame) -> query.Answer:
    if f.unit not in TIME_DIMENSIONS:
        raise ConfigError(f"unit must be one of {', '.join(TIME_DIMENSIONS)}, not {f.unit!r}")
    return query.ask(reader, replace(f.q, dims=(f.unit, "feature")))


def features(reader, f: Frame) -> query.Answer:
    """`top features -n 10`, asked without its LIMIT and cut here: a question by feature alone is answered from
    the ledger's per-day rollup (ledger/rollup.py), which a LIMIT handed to the database bypasses for a scan of
    the period's calls (30 days of the 1M-call ledger: 1.0 s against 0.01 s). The rows are the same: the
    database and the query layer both order them by cost, largest first, then by name."""
    answer = query.ask(reader, replace(f.q, dims=("feature",)))
    answer.rows = answer.rows[:TOP]
    return answer


def customers(reader, f: Frame) -> query.Answer:
    return query.ask(reader, replace(f.q, dims=("customer_id",), limit=TOP))


def users(reader, f: Frame) -> query.Answer:
    return query.ask(reader, replace(f.q, dims=("week",), user_tag=USER_TAG))


def cohorts(reader, f: Frame) -> query.Answer:
    """`report --by plan --per-user`. Whether a call of the period has the tag is asked first (the query layer's
    own check, which ask() makes after its GROUP BY): the cohort tag is a guess the ledger may not bear out, and
    then the panel's note comes without the scan (30 days of the 1M-call ledger: 0.6 s, not 1.9 s)."""
    q = replace(f.q, dims=(f.cohort,), user_tag=USER_TAG)
    query.check_tags(reader, q, {})
    return query.ask(reader, q)


def untagged(reader, f: Frame) -> dict:
    q = replace(f.q, required=tuple(f.tagging.required))
    return query.untagged_summary(reader, q, f.tagging.owner)


def changes(reader, f: Frame) -> dict:
    """`costline explain --by feature`: the last 7 days against the 7 before (explain's default: the week's change
    is what a look at the Overview asks, and two weeks are two short scans where two 30-day periods are not),
    split into effects (ledger/explanation.py): the headline, the effects' totals, the five features that
    changed most."""
    period = Period(f.now_ns - CHANGE_DAYS * DAY_NS, f.now_ns)
    ask = Ask(("feature",), period, against_period(None, period, f.now_ns), f.q.filters, f.q.untagged)
    return explain(reader, ask).as_object(limit=CHANGED)


def budgets(reader, f: Frame) -> dict:
    """Each budget of the config (each value of a "*" scope) as `costline budgets` shows it: spent in its current
    period, its amount, the used share, the forecast and the status (ledger/budgets.py)."""
    standings = budget_standings.evaluate(reader, list(f.budgets), f.now_ns, f.tagging.default)
    return {"columns": budget_standings.COLUMNS, "rows": [s.row() for s in standings]}


PANELS: dict[str, Callable] = {
    "months": months,
    "series": series,
    "features": features,
    "customers": customers,
    "users": users,
    "cohorts": cohorts,
    "untagged": untagged,
    "changes": changes,
    "budgets": budgets,
}
