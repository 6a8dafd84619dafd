"""`costline top customers|users|features|models|agents|calls`: where to look first."""

from __future__ import annotations

import sys

from costline_processor.ledger import options, reports
from costline_processor.ledger.render import render

KINDS = {
    "customers": "customer_id",
    "users": "user_id",
    "features": "feature",
    "teams": "team",
    "models": "model",
    "providers": "provider",
    "agents": "agent",
    "environments": "environment",
}


def register(subparsers) -> None:
    p = subparsers.add_parser("top", help="the N costliest customers, users, features, models, agents or single calls")
    p.add_argument("kind", metavar="KIND", help=f"{', '.join(KINDS)}, calls, or any tag name")
    p.add_argument("-n", "--limit", type=int, default=10, help="how many (default: 10)")
    options.add_window(p)
    options.add_format(p)
    options.add_ledger(p)
    p.set_defaults(func=run)


def run(args) -> int:
    config = options.load_config(args)
    since, until = options.time_window(args, options.now_ns())
    with options.reader(args, config) as ledger:
        if args.kind == "calls":
            render(reports.top_calls(ledger.rows(since, until), args.limit), args.format, sys.stdout)
            return 0
        dim = KINDS.get(args.kind, args.kind)
        opts = reports.Options(untagged=config.tagging.default)
        groups, total = reports.aggregate(ledger.rows(since, until), [dim], opts)
    rows = reports.report_rows(groups, [dim], total, opts)[: args.limit]
    render(rows, args.format, sys.stdout)
    return 0
