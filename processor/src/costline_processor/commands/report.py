"""`costline report`: spend grouped by any tags, model, provider, agent or calendar bucket."""

from __future__ import annotations

import sys

from costline_processor.config import ConfigError
from costline_processor.ledger import options, reports
from costline_processor.ledger.dimensions import parse_dimensions
from costline_processor.ledger.render import money, render, render_object
from costline_processor.ledger.safe_cells import terminal_text


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help="cost by feature, customer, model, agent, day... from the ledger")
    p.add_argument("--by", default="feature", metavar="DIM[,DIM]", help="tag names, model, provider, agent, service, status, day, week, month")
    options.add_window(p)
    options.add_format(p)
    options.add_ledger(p)
    p.add_argument("--per-user", action="store_true", help="add active users (distinct user_id) and cost per user")
    p.add_argument("--user-tag", default="user_id", help="tag that names a user for --per-user (default: user_id)")
    p.add_argument("--outcome", metavar="VALUE[,VALUE]", help="add cost per unit of value: traces tagged costline.outcome=VALUE")
    p.add_argument("--compare", action="store_true", help="add the previous period of the same length and the change")
    p.add_argument("--untagged", action="store_true", help="show only the untagged bucket (calls missing a required tag) and its owner")
    p.add_argument("--limit", type=int, metavar="N", help="show only the first N rows")
    p.set_defaults(func=run)


def run(args) -> int:
    config = options.load_config(args)
    tagging = config.tagging
    since, until = options.time_window(args, options.now_ns())
    with options.reader(args, config) as ledger:
        if args.untagged:
            summary = reports.untagged_summary(ledger.rows(since, until), tagging.required, tagging.default, tagging.owner)
            if args.format == "table":
                print(terminal_text(untagged_line(summary)))
            elif args.format == "json":
                render_object(summary, sys.stdout)
            else:
                render([flatten(summary)], args.format, sys.stdout)
            return 0
        dims = parse_dimensions(args.by)
        opts = reports.Options(
            untagged=tagging.default,
            user_tag=args.user_tag if args.per_user else None,
            outcomes=frozenset(v.strip() for v in (args.outcome or "").split(",") if v.strip()),
        )
        rows = list(ledger.rows(since, until))
        groups, total = reports.aggregate(rows, dims, opts)
        previous = None
        if args.compare:
            if since is None:
                raise ConfigError("--compare needs --since, so the previous period has a length")
            previous, _ = reports.aggregate(ledger.rows(since - (until - since), since), dims, opts)
    out = reports.report_rows(groups, dims, total, opts, previous)
    if args.limit is not None:
        out = out[: args.limit]
    footer = []
    if args.format == "table" and rows:
        footer.append(f"total: {money(total.cost_usd)} over {total.calls:,} calls ({total.unpriced_calls:,} unpriced)")
        footer.append(untagged_line(reports.untagged_summary(rows, tagging.required, tagging.default, tagging.owner)))
        footer.extend(reports.caveat_lines(total))
    render(out, args.format, sys.stdout, footer=footer)
    return 0


def untagged_line(s: dict) -> str:
    share = f"{s['share'] * 100:.1f}%" if s["share"] is not None else "-"
    missing = ", ".join(f"{k} on {v:,}" for k, v in s["missing"].items() if v) or "none"
    owner = s["owner"] or "nobody (set tagging.owner)"
    return f"untagged: {money(s['cost_usd'])} ({share}) over {s['calls']:,} calls missing {missing}; owner: {owner}"


def flatten(s: dict) -> dict:
    return {k: v for k, v in s.items() if k != "missing"} | {f"missing_{k}": v for k, v in s["missing"].items()}
