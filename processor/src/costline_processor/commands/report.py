"""`costline report`: spend grouped by any tags, model, provider, agent or calendar bucket.

The ledger's database adds up (ledger/query.py); this command turns flags into a Question
and the Answer into a table, CSV or JSON.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from costline_processor.config import ConfigError
from costline_processor.ledger import allocation, forecast, options, query
from costline_processor.ledger.dimensions import parse_dimensions
from costline_processor.ledger.filters import describe, parse_where
from costline_processor.ledger.periods import iso
from costline_processor.ledger.render import render, render_object, total_money
from costline_processor.ledger.reports import caveat_lines
from costline_processor.ledger.safe_cells import terminal_text


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help="cost by feature, customer, model, agent, day... from the ledger")
    p.add_argument(
        "--by",
        default="feature",
        metavar="DIM[,DIM]",
        help="tag names, model, provider, agent, service, operation, status, trace, caveat, day, week, month",
    )
    options.add_window(p)
    options.add_filters(p)
    options.add_format(p)
    options.add_ledger(p)
    options.add_allocation(p)
    p.add_argument("--per-user", action="store_true", help="add active users (distinct user_id) and cost per user")
    p.add_argument("--user-tag", default="user_id", help="tag that names a user for --per-user (default: user_id)")
    p.add_argument(
        "--outcome", metavar="VALUE[,VALUE]", help="add cost per unit of value: traces tagged costline.outcome=VALUE"
    )
    p.add_argument("--compare", action="store_true", help="add the previous period of the same length and the change")
    p.add_argument(
        "--untagged",
        action="store_true",
        help="show only the untagged bucket (calls missing a required tag) and its owner",
    )
    p.add_argument("--limit", type=int, metavar="N", help="show only the first N rows")
    p.add_argument(
        "--forecast",
        nargs="?",
        const="auto",
        metavar="PERIOD",
        help="add forecast_usd: each row's projected total for the current UTC day, week or month (default: the "
        f"--by calendar bucket, else month). {forecast.METHOD}",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    config = options.load_config(args)
    tagging = config.tagging
    since, until = options.time_window(args, options.now_ns())
    q = query.Question(
        dims=() if args.untagged else tuple(parse_dimensions(args.by)),
        since_ns=since,
        until_ns=until,
        filters=parse_where(args.where),
        untagged=tagging.default,
        user_tag=args.user_tag if args.per_user else None,
        outcomes=tuple(dict.fromkeys(v.strip() for v in (args.outcome or "").split(",") if v.strip())),
        required=tuple(tagging.required) if args.format == "table" or args.untagged else (),
        compare=args.compare,
        sort=args.sort,
        limit=args.limit,
    )
    if args.allocate_untagged is not None:
        q = replace(q, allocate=allocation.check(q.dims, args.allocate_untagged))
    with options.reader(args, config) as ledger:
        if args.untagged:
            return _untagged(query.untagged_summary(ledger, q, tagging.owner), args.format)
        by_forecast = bool(args.forecast) and q.sort == "forecast_usd"
        answer = query.ask(ledger, replace(q, sort=None, limit=None) if by_forecast else q)
        projected = _forecast(ledger, q, answer, args.forecast) if args.forecast else None
    if by_forecast:
        answer.rows = query.sort_rows(answer.rows, q)[: q.limit]
    footer = []
    if args.format == "table" and answer.total["calls"]:
        total = answer.total
        where = f"; where {describe(q.filters)}" if q.filters else ""
        footer.append(
            f"total: {total_money(total['cost_usd'])} over {total['calls']:,} calls "
            f"({total['unpriced_calls']:,} unpriced){where}"
        )
        footer.append(untagged_line({**total["untagged"], "owner": tagging.owner}))
        footer.extend(caveat_lines(answer.caveats))
        footer.extend([allocation.line(answer.allocation)] if answer.allocation else [])
    if args.format == "table" and projected:
        footer.append(projected)
    columns = _columns(replace(q, sort=None) if by_forecast else q, answer)  # --sort forecast_usd: a column of ours
    if args.forecast:
        columns.insert(columns.index("share") + 1, "forecast_usd")
    render(answer.rows, args.format, sys.stdout, columns=columns, footer=footer)
    return 0


def _forecast(ledger, q: query.Question, answer: query.Answer, period: str) -> str:
    """--forecast: each row's forecast_usd, and the footer's line (the forecast of every call the filters pass)."""
    calendar = [d for d in q.dims if d in forecast.PERIODS]
    period = (calendar[0] if calendar else "month") if period == "auto" else period
    if period not in forecast.PERIODS:
        raise ConfigError(f"--forecast takes day, week or month, not {period!r}")
    now = options.now_ns()
    total = forecast.annotate(answer.rows, ledger, q.dims, q.filters, period, now, q.untagged)
    end = iso(forecast.period_bounds(period, now)[1])
    return f"forecast: {total_money(total)} for this {period} (to {end}), the sum of every group's; {forecast.METHOD}"


def _columns(q: query.Question, answer: query.Answer) -> list[str]:
    caveat = ["caveat_calls", "caveat_usd"] if answer.caveats else []
    return [*query.columns(q), *caveat]


def _untagged(summary: dict, fmt: str) -> int:
    if fmt == "table":
        print(terminal_text(untagged_line(summary)))
    elif fmt == "json":
        render_object(summary, sys.stdout)
    else:
        render([flatten(summary)], fmt, sys.stdout)
    return 0


def untagged_line(s: dict) -> str:
    share = f"{s['share'] * 100:.1f}%" if s["share"] is not None else "-"
    missing = ", ".join(f"{k} on {v:,}" for k, v in s["missing"].items() if v) or "none"
    owner = s["owner"] or "nobody (set tagging.owner)"
    return (
        f"untagged: {total_money(s['cost_usd'])} ({share}) over {s['calls']:,} calls missing {missing}; owner: {owner}"
    )


def flatten(s: dict) -> dict:
    return {k: v for k, v in s.items() if k != "missing"} | {f"missing_{k}": v for k, v in s["missing"].items()}
