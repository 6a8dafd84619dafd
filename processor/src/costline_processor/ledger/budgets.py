"""Budgets checked against the ledger: each one's spend this period, its forecast and its status.

    config.budgets --evaluate(reader, budgets, now)--> one Standing per budget (per value of a "*" scope)
                   --alerts(standings)--> the Alerts `costline alerts` fires (and --notify posts)

A budget (config.py `Budget`) counts the calls its scope names (tag or field = value, all of
them; `*`: each value apart, calls without the tag left out) from the start of the current
UTC period to now. used = spent / amount; the status is `over` when spent is above the
amount, `warn` from the lowest of its warning shares, else `ok`. Spent is the priced calls'
cost: the period's calls without a price are counted apart (`unpriced_calls`) and said in the
budget's alert, never added as $0. The forecast is forecast.py's,
the same as `report --forecast`: one GROUP BY per budget answers spent and forecast for every
value of its scope. A scope tag that no call of the last days carries is refused as a report's
`--by` typo is (exit 2, one line naming the tags there), instead of reading $0 forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from costline_processor.config import EACH, Budget, ConfigError
from costline_processor.ledger import dimensions, query
from costline_processor.ledger.alerts import Alert
from costline_processor.ledger.filters import Filter
from costline_processor.ledger.forecast import RATE_DAYS, Projection, period_bounds, project
from costline_processor.ledger.periods import DAY_NS, day_start, iso
from costline_processor.ledger.render import total_money

ZERO = Decimal(0)
COLUMNS = [
    "budget",
    "scope",
    "period",
    "since",
    "amount_usd",
    "spent_usd",
    "unpriced_calls",
    "used",
    "forecast_usd",
    "status",
]


@dataclass(frozen=True)
class Standing:
    """Where one budget (for one value of a "*" scope) stands now."""

    budget: Budget
    scope: str  # `feature=search`, `customer_id=acme`, `all calls`
    since_ns: int  # the period's start
    until_ns: int  # its end
    spent_usd: Decimal
    forecast_usd: Decimal
    unpriced_calls: int = 0  # calls of the period whose cost is unknown: not in spent_usd

    @property
    def used(self) -> Decimal:
        return self.spent_usd / self.budget.amount_usd

    @property
    def reached(self) -> Decimal | None:
        """The highest warning share spent has reached, if any."""
        shares = [Decimal(str(s)) for s in self.budget.warn_at]
        return max((s for s in shares if self.used >= s), default=None)

    @property
    def status(self) -> str:
        if self.spent_usd > self.budget.amount_usd:
            return "over"
        return "warn" if self.reached is not None else "ok"

    def row(self) -> dict:
        b = self.budget
        return {
            "budget": b.label,
            "scope": self.scope,
            "period": b.period,
            "since": iso(self.since_ns),
            "amount_usd": b.amount_usd,
            "spent_usd": self.spent_usd,
            "unpriced_calls": self.unpriced_calls,
            "used": self.used,
            "forecast_usd": self.forecast_usd,
            "status": self.status,
        }


def evaluate(reader, budgets: list[Budget], now_ns: int, untagged: str, *, ended: bool = False) -> list[Standing]:
    """Every budget's standing at now_ns: in config order; a "*" budget's values by spend, largest first. With
    `ended`, now_ns at a period's first instant (a midnight) stands for the period that ended there (`alerts --at
    2026-03-11` checks March 10's daily budgets, as its thresholds check March 10), not the new one ($0 spent)."""
    out: list[Standing] = []
    for b in budgets:
        try:
            out += _standings(reader, b, now_ns, untagged, ended)
        except ConfigError as e:
            raise ConfigError(f"budget {b.label!r}: {e}") from None
    return out


def _standings(reader, b: Budget, now_ns: int, untagged: str, ended: bool) -> list[Standing]:
    each = tuple(k for k, v in b.scope.items() if v == EACH)
    filters = tuple(Filter(k, (v,)) for k, v in b.scope.items() if v != EACH)
    filters += tuple(Filter(k, (untagged,), exclude=True) for k in each if dimensions.is_tag(k))
    start, end = period_bounds(b.period, now_ns - 1 if ended else now_ns)
    found = project(reader, each, filters, b.period, now_ns, untagged, ended=ended)
    if not found:
        since = min(start, day_start(now_ns) - RATE_DAYS * DAY_NS)
        query.check_tags(reader, query.Question(each, since, now_ns, filters, untagged), {})
        found = {tuple(EACH for _ in each): Projection(ZERO, ZERO, ZERO)}
    fixed = {k: v for k, v in b.scope.items() if v != EACH}
    out = []
    for key, p in found.items():
        scope = {**fixed, **dict(zip(each, key))}
        label = ", ".join(f"{k}={scope[k]}" for k in b.scope) or "all calls"
        out.append(Standing(b, label, start, end, p.spent_usd, p.forecast_usd, p.unpriced_calls))
    return sorted(out, key=lambda s: (-s.spent_usd, s.scope))


def alerts(standings: list[Standing]) -> list[Alert]:
    """An Alert for each budget over its amount (budget_over) or at a warning share (budget_warning)."""
    out = []
    for s in standings:
        b = s.budget
        where = f"budget {b.label}" + (f" ({s.scope})" if s.scope != b.label else "")
        spent = f"{total_money(s.spent_usd)} spent this {b.period} (since {iso(s.since_ns)})"
        ahead = f"forecast {total_money(s.forecast_usd)} by {iso(s.until_ns)}"
        if s.unpriced_calls:
            ahead += f"; {s.unpriced_calls:,} unpriced calls this {b.period} are not in it (their cost is unknown)"
        if s.status == "over":
            message = f"{where}: {spent}, over its {total_money(b.amount_usd)}; {ahead}"
            out.append(Alert("budget_over", f"{b.label}: {s.scope}", s.spent_usd, b.amount_usd, message))
        elif s.status == "warn" and s.reached is not None:
            used = f"{s.used * 100:.0f}% of {total_money(b.amount_usd)} (warns at {s.reached * 100:.0f}%)"
            message = f"{where}: {spent}, {used}; {ahead}"
            out.append(Alert("budget_warning", f"{b.label}: {s.scope}", s.spent_usd, b.amount_usd * s.reached, message))
    return out
