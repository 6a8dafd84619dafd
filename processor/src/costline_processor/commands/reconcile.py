"""`costline reconcile --invoice FILE`: do the attributed numbers add up to the bill?

Compares cost per UTC day and model with one provider's cost export (formats in
ledger/reconcile.py), the provider read from the export's layout; an export that does
not say which provider it bills is refused in one line (exit 2). Exits 1 when
--tolerance is given and the total gap is larger (against an invoice of $0: any gap), so a
monthly CI job can flag drift.
"""

from __future__ import annotations

import sys

from costline_processor.config import ConfigError
from costline_processor.ledger import options
from costline_processor.ledger.reconcile import compare, invoice_provider, parse_invoice, totals, window
from costline_processor.ledger.render import render, render_object, total_money


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "reconcile", help="compare attributed cost per day and model with a provider's cost export"
    )
    p.add_argument(
        "--invoice", required=True, metavar="FILE", help="OpenAI or Anthropic cost export CSV, or date,model,cost_usd"
    )
    p.add_argument(
        "--provider",
        help="the provider a plain date,model,cost_usd file bills (OpenAI's and Anthropic's exports name their own)",
    )
    p.add_argument(
        "--by", default="day,model", choices=["day,model", "day", "model"], help="comparison grain (default: day,model)"
    )
    p.add_argument(
        "--tolerance", type=float, metavar="PCT", help="exit 1 when the total gap exceeds PCT%% of the invoice"
    )
    options.add_format(p)
    options.add_ledger(p)
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        with open(args.invoice, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"cannot read invoice {args.invoice}: {e.strerror}") from None
    invoice = parse_invoice(text, args.invoice)
    provider = invoice_provider(invoice, args.provider, args.invoice)
    start, end = window(invoice)
    with options.reader(args) as ledger:
        rows = compare(invoice, ledger.rows(start, end), args.by.split(","), provider)
    total = totals(rows)
    if args.format == "json":
        render_object({"provider": provider, "total": total, "rows": rows}, sys.stdout)
    else:
        footer = [
            f"total: invoice {total_money(total['invoice_usd'])}, attributed {total_money(total['attributed_usd'])}, "
            f"gap {total_money(total['gap_usd'], sign=True)}"
            + (f" ({total['gap_pct']:+.2f}%)" if total["gap_pct"] is not None else "")
            + (f"; {total['unpriced_calls']:,} unpriced calls" if total["unpriced_calls"] else "")
        ]
        render(rows, args.format, sys.stdout, footer=footer)
    return 1 if args.tolerance is not None and beyond(total, args.tolerance) else 0


def beyond(total: dict, tolerance: float) -> bool:
    """The total gap is more than `tolerance` percent of the invoice; against an invoice of $0, any gap is."""
    if total["gap_pct"] is None:
        return bool(total["gap_usd"])
    return abs(total["gap_pct"]) > tolerance
