"""Cost alerts checked against the ledger: the four from the field plus untagged share.

Pure: `evaluate(rows, now_ns, thresholds)` over calls in [now - 2*period, now). The
per-day checks look at the UTC day up to `now` (at midnight: the day just ended); the trend checks compare
the last `period` with the one before it. A threshold left at None is not checked.
Costs are the priced calls': a spend alert says how many unpriced calls (cost unknown) it leaves
out, and the per-call and per-user trends divide by the priced calls and their users, so a call
that is priced in one period and not in the other moves neither side.
Prometheus carries the same alerts as rules (dashboards/prometheus/costline-alerts.yml).
Budgets (config `budgets:`) are alerts too: budgets.py turns one at a warning share or over
its amount into an Alert of this module, and `costline budgets --prometheus-rules` writes them as rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from typing import Any

from costline_processor.config import DEFAULT_UNTAGGED, ConfigError
from costline_processor.ledger.periods import DAY_NS, bucket, day_start, parse_duration
from costline_processor.ledger.reports import Options, Totals, aggregate, untagged_summary
from costline_processor.records import LedgerRow

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Thresholds:
    daily_spend_usd: Decimal | None = None  # total spend in one UTC day
    customer_daily_usd: Decimal | None = None  # one customer_id in one day
    user_daily_usd: Decimal | None = None  # one user_id in one day
    cost_per_user_growth_pct: Decimal | None = None  # cost per active user, period over period
    feature_cost_vs_usage_pct: Decimal | None = None  # a feature's cost per call, period over period
    untagged_share_pct: Decimal | None = None  # share of the day's spend missing a required tag
    min_feature_cost_usd: Decimal = Decimal(1)  # features cheaper than this last period are not trended
    period: str = "7d"

    @property
    def any(self) -> bool:
        return any(
            getattr(self, f.name) is not None
            for f in fields(self)
            if f.name.endswith(("_usd", "_pct")) and f.name != "min_feature_cost_usd"
        )


def thresholds_from(data: dict[str, Any], where: str) -> Thresholds:
    """Thresholds from a YAML mapping or flags; unknown keys and non-numbers are errors."""
    names = {f.name for f in fields(Thresholds)}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            raise ConfigError(f"unknown alert threshold {where}.{key}")
        if value is None:
            continue
        if key == "period":
            parse_duration(str(value))
            out[key] = str(value)
            continue
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ConfigError(f"{where}.{key} must be a number, not {value!r}") from None
        if number < 0:
            raise ConfigError(f"{where}.{key} must not be negative")
        out[key] = number
    return Thresholds(**out)


@dataclass(frozen=True)
class Alert:
    alert: str
    subject: str
    value: Decimal
    threshold: Decimal
    message: str


def evaluate(
    rows: Iterable[LedgerRow],
    now_ns: int,
    t: Thresholds,
    required: Sequence[str] = ("feature", "customer_id"),
    untagged: str = DEFAULT_UNTAGGED,
) -> list[Alert]:
    period = parse_duration(t.period)
    today = day_start(now_ns - 1)  # at midnight exactly: the day that just ended
    day_rows, cur, prev = [], [], []
    for r in rows:
        if today <= r.start_unix_nano < today + DAY_NS and r.start_unix_nano < now_ns:
            day_rows.append(r)
        if now_ns - period <= r.start_unix_nano < now_ns:
            cur.append(r)
        elif now_ns - 2 * period <= r.start_unix_nano < now_ns - period:
            prev.append(r)
    day = bucket(today, "day")
    out: list[Alert] = []
    if t.daily_spend_usd is not None:
        spend = sum((r.cost_usd for r in day_rows if r.cost_usd is not None), Decimal(0))
        if spend > t.daily_spend_usd:
            unpriced = sum(1 for r in day_rows if r.cost_usd is None)
            out.append(
                Alert(
                    "daily_spend",
                    day,
                    spend,
                    t.daily_spend_usd,
                    f"spend on {day} is ${spend:.2f}, above ${t.daily_spend_usd}{_left_out(unpriced)}",
                )
            )
    for name, tag, limit in (
        ("customer_daily_spend", "customer_id", t.customer_daily_usd),
        ("user_daily_spend", "user_id", t.user_daily_usd),
    ):
        if limit is None:
            continue
        groups, _ = aggregate(day_rows, [tag], Options(untagged=untagged))
        for (who,), tot in sorted(groups.items()):
            if who != untagged and tot.cost_usd > limit:
                said = f"{tag} {who} cost ${tot.cost_usd:.2f} on {day}, above ${limit}{_left_out(tot.unpriced_calls)}"
                out.append(Alert(name, who, tot.cost_usd, limit, said))
    if t.cost_per_user_growth_pct is not None:
        out += _cost_per_user(cur, prev, t, untagged)
    if t.feature_cost_vs_usage_pct is not None:
        out += _feature_cost_vs_usage(cur, prev, t, untagged)
    if t.untagged_share_pct is not None:
        s = untagged_summary(day_rows, list(required), untagged)
        share = (s["share"] or Decimal(0)) * HUNDRED
        if share > t.untagged_share_pct:
            out.append(
                Alert(
                    "untagged_share",
                    day,
                    share,
                    t.untagged_share_pct,
                    f"{share:.1f}% of spend on {day} is untagged (${s['cost_usd']:.2f})",
                )
            )
    return out


def _left_out(unpriced: int) -> str:
    return f" ({unpriced:,} unpriced calls are not in it: their cost is unknown)" if unpriced else ""


def _cost_per_user(cur: list[LedgerRow], prev: list[LedgerRow], t: Thresholds, untagged: str) -> list[Alert]:
    """Cost per active user, period over period: the users of priced calls (a user whose calls have no price
    has no known cost, not $0)."""
    opts = Options(untagged=untagged, user_tag="user_id")
    _, now_tot = aggregate([r for r in cur if r.cost_usd is not None], [], opts)
    _, prev_tot = aggregate([r for r in prev if r.cost_usd is not None], [], opts)
    limit = t.cost_per_user_growth_pct
    if limit is None or not now_tot.users or not prev_tot.users or not prev_tot.cost_usd:
        return []
    now_cpu = now_tot.cost_usd / len(now_tot.users)
    prev_cpu = prev_tot.cost_usd / len(prev_tot.users)
    growth = (now_cpu / prev_cpu - 1) * HUNDRED
    if growth <= limit:
        return []
    return [
        Alert(
            "cost_per_user_trend",
            "all",
            growth,
            limit,
            f"cost per active user rose {growth:.1f}% (${prev_cpu:.4f} -> ${now_cpu:.4f}) over the last {t.period}",
        )
    ]


def _feature_cost_vs_usage(cur: list[LedgerRow], prev: list[LedgerRow], t: Thresholds, untagged: str) -> list[Alert]:
    opts = Options(untagged=untagged)
    now_g, _ = aggregate(cur, ["feature"], opts)
    prev_g, _ = aggregate(prev, ["feature"], opts)
    limit = t.feature_cost_vs_usage_pct
    out: list[Alert] = []
    if limit is None:
        return out
    for (feature,), p in sorted(prev_g.items()):
        n = now_g.get((feature,)) or Totals()
        if p.cost_usd < t.min_feature_cost_usd or not p.priced_calls or not n.priced_calls:
            continue
        cost_growth = n.cost_usd / p.cost_usd
        usage_growth = Decimal(n.priced_calls) / p.priced_calls  # the calls the cost is of
        excess = (cost_growth / usage_growth - 1) * HUNDRED
        if excess > limit:
            unpriced = n.unpriced_calls + p.unpriced_calls
            left = f" ({unpriced:,} unpriced calls are left out)" if unpriced else ""
            out.append(
                Alert(
                    "feature_cost_vs_usage",
                    feature,
                    excess,
                    limit,
                    f"feature {feature}: cost x{cost_growth:.2f} but priced calls x{usage_growth:.2f} "
                    f"over the last {t.period}{left}",
                )
            )
    return out
