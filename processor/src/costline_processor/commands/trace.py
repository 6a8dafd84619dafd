"""`costline trace TRACE_ID`: what one request cost, step by agent step."""

from __future__ import annotations

import sys

from costline_processor.config import ConfigError
from costline_processor.ledger import options, reports
from costline_processor.ledger.render import money, render, render_object


def register(subparsers) -> None:
    p = subparsers.add_parser("trace", help="the cost of one trace, broken down by agent step")
    p.add_argument("trace_id", metavar="TRACE_ID", help="32 hex digits")
    options.add_format(p)
    options.add_ledger(p)
    p.set_defaults(func=run)


def run(args) -> int:
    trace_id = args.trace_id.strip().lower()
    if len(trace_id) != 32 or any(c not in "0123456789abcdef" for c in trace_id):
        raise ConfigError(f"a trace id is 32 hex digits, not {args.trace_id!r}")
    with options.reader(args) as ledger:
        rows = ledger.trace(trace_id)
    if not rows:
        raise ConfigError(f"no calls of trace {trace_id} in the ledger")
    steps, calls, total = reports.trace_steps(rows)
    if args.format == "json":
        render_object(
            {
                "trace_id": trace_id,
                "cost_usd": total.cost_usd,
                "calls": total.calls,
                "unpriced_calls": total.unpriced_calls,
                "steps": steps,
                "call_list": calls,
            },
            sys.stdout,
        )
        return 0
    if args.format == "csv":
        render(calls, "csv", sys.stdout)
        return 0
    print(f"trace {trace_id}: {money(total.cost_usd, 6)} over {total.calls} calls ({total.unpriced_calls} unpriced)\n")
    render(steps, "table", sys.stdout, columns=["agent", "calls", "input_tokens", "output_tokens", "cost_usd", "share"])
    print()
    columns = ["time", "span_id", "agent", "model", "input_tokens", "output_tokens", "cost_usd", "status"]
    render(calls, "table", sys.stdout, columns=columns + (["caveat"] if calls and "caveat" in calls[0] else []))
    return 0
