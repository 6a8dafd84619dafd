"""`costline alerts`: check cost alerts against the ledger, for cron or CI.

Checks the thresholds given, and the config's budgets (a budget at a warning share or over
its amount is an alert: ledger/budgets.py). Prints JSON; exits 0 when nothing fires, 1 when an
alert fires, 2 on a usage error, 3 when --notify could not post every alert's message. Spend is the
priced calls': when the checked day has unpriced calls, the JSON says how many (`unpriced_calls`).
"""

from __future__ import annotations

import sys

from costline_processor.config import ConfigError
from costline_processor.config_sources import load_yaml_file
from costline_processor.ledger import budgets, notify, options
from costline_processor.ledger.alerts import evaluate, thresholds_from
from costline_processor.ledger.dimensions import parse_dimensions
from costline_processor.ledger.explanation import day_change
from costline_processor.ledger.periods import DAY_NS, parse_duration, parse_time
from costline_processor.ledger.render import render, render_object

FLAGS = {
    "daily_spend": "daily_spend_usd",
    "customer_daily": "customer_daily_usd",
    "user_daily": "user_daily_usd",
    "cost_per_user_growth": "cost_per_user_growth_pct",
    "feature_cost_vs_usage": "feature_cost_vs_usage_pct",
    "untagged_share": "untagged_share_pct",
    "min_feature_cost": "min_feature_cost_usd",
    "period": "period",
}


def register(subparsers) -> None:
    p = subparsers.add_parser("alerts", help="check spend alerts against the ledger (exit 1 when one fires)")
    p.add_argument("--thresholds", metavar="FILE", help="YAML mapping of the thresholds below (flags override it)")
    p.add_argument("--daily-spend", metavar="USD", help="total spend in one UTC day above USD")
    p.add_argument("--customer-daily", metavar="USD", help="one customer_id above USD in one day")
    p.add_argument("--user-daily", metavar="USD", help="one user_id above USD in one day")
    p.add_argument(
        "--cost-per-user-growth", metavar="PCT", help="cost per active user up more than PCT%% on the previous period"
    )
    p.add_argument(
        "--feature-cost-vs-usage", metavar="PCT", help="a feature's cost growing PCT%% faster than its calls"
    )
    p.add_argument("--untagged-share", metavar="PCT", help="more than PCT%% of the day's spend untagged")
    p.add_argument("--min-feature-cost", metavar="USD", help="skip features cheaper than USD last period (default: 1)")
    p.add_argument("--period", metavar="DURATION", help="trend period (default: 7d)")
    p.add_argument(
        "--at",
        default="now",
        metavar="WHEN",
        help="check as of this time; a midnight such as 2026-03-05 checks the day that ended, and the budgets of the "
        "periods that ended there (default: now)",
    )
    p.add_argument(
        "--explain",
        nargs="?",
        const="feature",
        metavar="DIM",
        help="attach to a firing daily_spend alert why the day's spend changed against the same hours of the day "
        "before, by DIM (default: feature; see costline explain)",
    )
    p.add_argument(
        "--notify",
        metavar="URL",
        help='POST each alert that fires to this webhook as a Slack-compatible JSON message ({"text": ...}); '
        "a failure is one line on stderr and exit 3",
    )
    options.add_format(p, default="json")
    options.add_ledger(p)
    p.set_defaults(func=run)


def run(args) -> int:
    data = {}
    if args.thresholds:
        data = load_yaml_file(args.thresholds)
    for flag, key in FLAGS.items():
        if getattr(args, flag) is not None:
            data[key] = getattr(args, flag)
    t = thresholds_from(data, "thresholds")
    config = options.load_config(args)
    if not t.any and not config.budgets:
        raise ConfigError(
            "no alert threshold set and no budgets: pass e.g. --daily-spend 100, --thresholds FILE, or --config FILE "
            "with a budgets: list"
        )
    url = notify.check_url(args.notify) if args.notify else None
    now = options.now_ns()
    at = parse_time(args.at, now)
    since = min(at - 2 * parse_duration(t.period), (at - 1) - (at - 1) % DAY_NS)
    with options.reader(args, config) as ledger:
        tagging = config.tagging
        rows = list(ledger.rows(since, at)) if t.any else []
        fired = evaluate(rows, at, t, tagging.required, tagging.default) if t.any else []
        fired += budgets.alerts(budgets.evaluate(ledger, config.budgets, at, tagging.default, ended=True))
        daily = any(a.alert == "daily_spend" for a in fired)
        why = _why(ledger, args, at, config.tagging.default) if daily else None
    alerts = [
        {"alert": a.alert, "subject": a.subject, "value": a.value, "threshold": a.threshold, "message": a.message}
        for a in fired
    ]
    for a in alerts if args.explain else ():
        a["explanation"] = why if a["alert"] == "daily_spend" else None
    if args.format == "json":
        checked = [
            k for k in FLAGS.values() if k not in ("period", "min_feature_cost_usd") and getattr(t, k) is not None
        ]
        checked += ["budgets"] if config.budgets else []
        out = {"ok": not alerts, "checked": checked, "alerts": alerts}
        day = (at - 1) - (at - 1) % DAY_NS
        unpriced = sum(1 for r in rows if r.cost_usd is None and day <= r.start_unix_nano)
        if unpriced:  # the checked day's calls without a price: in no spend above, their cost unknown
            out["unpriced_calls"] = unpriced
        render_object(out, sys.stdout)
    elif alerts:
        render(alerts, args.format, sys.stdout)
    elif args.format == "table":
        print("ok: no alert fired")
    failures = notify.post(url, fired) if url and fired else []
    if failures and url:
        print(f"costline: {notify.failure_line(url, len(fired), failures)}", file=sys.stderr)
        return 3
    return 1 if alerts else 0


def _why(ledger, args, at: int, untagged: str) -> dict | str | None:
    """--explain: why the day's spend changed (costline explain), for a firing daily_spend alert; in a table
    or CSV, its headline (or why there is none)."""
    if not args.explain:
        return None
    why = day_change(ledger, at, tuple(parse_dimensions(args.explain, "--explain")), untagged)
    return why if args.format == "json" else why.get("headline", why.get("error"))
