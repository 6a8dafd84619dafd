"""`costline top customers|users|features|models|agents|traces|sessions|calls`: where to look first.

`top traces` lists the costliest requests (`costline trace ID` shows one step by step);
`top sessions` the costliest sessions, where calls carry a session_id tag. The database
ranks them (ledger/query.py): only the N rows shown come back.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from costline_processor.ledger import allocation, options, query, reports
from costline_processor.ledger.filters import parse_where
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
    "sessions": "session_id",
}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "top", help="the N costliest customers, users, features, models, agents, traces, sessions or single calls"
    )
    p.add_argument("kind", metavar="KIND", help=f"{', '.join(KINDS)}, traces, calls, or any tag name")
    p.add_argument("-n", "--limit", type=int, default=10, help="how many (default: 10)")
    options.add_window(p)
    options.add_filters(p)
    options.add_format(p)
    options.add_ledger(p)
    options.add_allocation(p)
    p.set_defaults(func=run)


def run(args) -> int:
    config = options.load_config(args)
    since, until = options.time_window(args, options.now_ns())
    q = query.Question(
        since_ns=since,
        until_ns=until,
        filters=parse_where(args.where),
        untagged=config.tagging.default,
        sort=args.sort,
        limit=args.limit,
    )
    with options.reader(args, config) as ledger:
        if args.kind == "calls":
            rows = query.costliest_calls(ledger, q, args.limit)
            render(reports.with_caveats([reports.call_row(r) for r in rows], rows), args.format, sys.stdout)
            return 0
        if args.kind == "traces":
            answer = query.top_traces(ledger, q)
            footer = ["costline trace TRACE_ID shows one request step by step"] if answer.rows else []
            render(answer.rows, args.format, sys.stdout, columns=_trace_columns(answer), footer=footer)
            return 0
        dim = KINDS.get(args.kind, args.kind)
        q = replace(q, dims=(dim,), traces=dim == "session_id")
        if args.allocate_untagged is not None:
            q = replace(q, allocate=allocation.check(q.dims, args.allocate_untagged))
        answer = query.ask(ledger, q)
    caveat = ["caveat_calls", "caveat_usd"] if answer.caveats else []
    footer = [allocation.line(answer.allocation)] if answer.allocation else []
    render(answer.rows, args.format, sys.stdout, columns=[*query.columns(q), *caveat], footer=footer)
    return 0


def _trace_columns(answer: query.Answer) -> list[str]:
    columns = ["trace_id", "started", "service", "agent", "first_call", "calls", "unpriced_calls", "cost_usd", "share"]
    return [*columns, *(["caveat_calls", "caveat_usd"] if answer.caveats else []), "tags"]
