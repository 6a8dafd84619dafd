"""`costline explain`: why spend changed between two periods, row by row, effect by effect.

Flags become an Ask; ledger/explanation.py runs one GROUP BY per period and splits each row's
change (ledger/decomposition.py); this module prints the headline, the table and its footer, or
CSV rows, or one JSON object.
"""

from __future__ import annotations

import argparse
import sys

from costline_processor.ledger import options
from costline_processor.ledger.decomposition import EFFECTS
from costline_processor.ledger.dimensions import parse_dimensions
from costline_processor.ledger.drivers import signed
from costline_processor.ledger.explanation import Ask, Explanation, Period, against_period, explain
from costline_processor.ledger.filters import describe as describe_filters
from costline_processor.ledger.filters import parse_where
from costline_processor.ledger.periods import describe
from costline_processor.ledger.render import render, render_object, total_money
from costline_processor.ledger.safe_cells import terminal_text

DESCRIPTION = """\
Why did spend change? The change in cost between two periods (default: the last 7 days against
the 7 before), split by --by (default: feature), then, within each row, into effects that add up
to the row's change exactly:
  volume            more or fewer calls, at the old cost per call
  model mix         calls moved between models, each at its old cost per call
  tokens per call   longer or shorter prompts and answers, one effect per token type (input,
                    cached input, cache write, output, reasoning): a lost cache hit shows here
  price             the same tokens priced differently (a price change, a discount)
  new / gone        a row with no call in the earlier period, or none in this one

Method: a chained shift-share (sequential substitution). The factors of cost (calls x share of
calls per model x tokens per call x price per token) move from old to new one at a time in the
order above, each valued with the factors before it at their new values and the rest at their
old ones; the steps telescope from the old cost to the new, so there is no residual. Only priced
calls count. Rows are sorted by the size of their change; the first line names the biggest
driver of the row that changed most."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "explain",
        help="why spend changed: volume, model mix, tokens per call, price, per feature",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--against",
        metavar="PERIOD",
        help="the period to compare with: previous (default: as long, just before; after --month or "
        "--last-month, the month before), a month (2026-02) or WHEN..WHEN (14d..7d, 2026-02-01..2026-02-08)",
    )
    p.add_argument(
        "--by",
        default="feature",
        metavar="DIM[,DIM]",
        help="rows: tag names, model, provider, agent, service, operation, status (default: feature)",
    )
    options.add_window(p, since="7d")
    options.add_filters(p, sort=False)
    options.add_format(p)
    options.add_ledger(p)
    p.add_argument("--limit", type=int, metavar="N", help="show only the N rows that changed most")
    p.set_defaults(func=run)


def run(args) -> int:
    config = options.load_config(args)
    now = options.now_ns()
    since, until = options.time_window(args, now)
    if since is None:
        since = until - 7 * 86_400 * 10**9
    period = Period(since, until)
    calendar = bool(args.month or args.last_month)
    ask = Ask(
        dims=tuple(parse_dimensions(args.by)),
        period=period,
        against=against_period(args.against, period, now, calendar=calendar),
        filters=parse_where(args.where),
        untagged=config.tagging.default,
    )
    with options.reader(args, config) as ledger:
        explanation = explain(ledger, ask)
    rows = explanation.rows()[: args.limit] if args.limit is not None else explanation.rows()
    if args.format == "json":
        render_object(explanation.as_object(args.limit), sys.stdout)
    elif args.format == "csv":
        render(rows, "csv", sys.stdout, columns=columns(ask.dims, bool(explanation.unpriced)))
    else:
        print(terminal_text(explanation.headline()))
        shown = [{k: v if v or not k.endswith("_usd") or k in _AMOUNTS else None for k, v in r.items()} for r in rows]
        render(shown, "table", sys.stdout, columns=_shown(explanation, rows), footer=footer(explanation))
    return 0


_AMOUNTS = ("prev_cost_usd", "cost_usd", "change_usd")  # the effects are the other _usd columns: a zero one reads -


def columns(dims: tuple[str, ...], unpriced: bool = False) -> list[str]:
    """Every column of a row, in order (CSV and JSON); the unpriced calls' counts when either period has some."""
    out = [*dims, "prev_calls", "calls", "prev_cost_usd", "cost_usd", "change_usd", "change_pct"]
    return [*out, *(f"{e}_usd" for e in EFFECTS), "driver", *(["prev_unpriced_calls", "unpriced_calls"] * unpriced)]


def _shown(explanation: Explanation, rows: list[dict]) -> list[str]:
    """The table's columns: an effect that is zero in every row and the total is left out."""
    empty = {f"{e}_usd" for e in EFFECTS if not explanation.total[f"{e}_usd"] and not any(r[f"{e}_usd"] for r in rows)}
    return [c for c in columns(explanation.ask.dims, bool(explanation.unpriced)) if c not in empty]


def footer(explanation: Explanation) -> list[str]:
    t, ask = explanation.total, explanation.ask
    pct = f", {t['change_pct']:+.1f}%" if t["change_pct"] is not None else ""
    where = f"; where {describe_filters(ask.filters)}" if ask.filters else ""
    return [
        f"total: {total_money(t['prev_cost_usd'])} -> {total_money(t['cost_usd'])} ({signed(t['change_usd'])}{pct}) "
        f"over {t['prev_calls']:,} -> {t['calls']:,} priced calls{where}",
        explanation.effects_line(),
        *([unpriced] if (unpriced := _unpriced_line(t)) else []),
        f"period: {describe(ask.period.since_ns, ask.period.until_ns)}; against: "
        f"{describe(ask.against.since_ns, ask.against.until_ns)}",
        "method: chained shift-share (volume, model mix, tokens per call, price); effects add up to each change",
    ]


def _unpriced_line(t: dict) -> str:
    was, now = t["prev_unpriced_calls"], t["unpriced_calls"]
    return f"unpriced calls, not in these figures (their cost is unknown): {was:,} -> {now:,}" if was or now else ""
