"""`costline export --format focus`: attributed cost as a FOCUS-style CSV for finance."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from decimal import Decimal

from costline_processor.config import ConfigError
from costline_processor.ledger import options
from costline_processor.ledger.focus import COLUMNS, focus_rows
from costline_processor.ledger.render import money, render
from costline_processor.records import LedgerRow


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="write attributed cost as a FinOps FOCUS CSV")
    p.add_argument("--format", choices=["focus"], default="focus", help="export format (default: focus)")
    p.add_argument("--period", choices=["day", "month"], default="day", help="charge period of each row (default: day)")
    p.add_argument(
        "--tags", metavar="TAG[,TAG]", help="tags kept in the Tags column (default: all but session_id and outcome)"
    )
    p.add_argument("--billing-account", default="", metavar="ID", help="value of BillingAccountId")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    options.add_window(p)
    options.add_ledger(p)
    p.set_defaults(func=run)


def run(args) -> int:
    since, until = options.time_window(args, options.now_ns())
    tags = [t.strip() for t in args.tags.split(",") if t.strip()] if args.tags else None
    seen = {"unpriced": 0, "caveat": 0, "caveat_usd": Decimal(0)}
    with options.reader(args) as ledger:
        rows = focus_rows(
            counted(ledger.rows(since, until), seen), args.period, tags, args.billing_account, (since, until)
        )
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8", newline="") as f:
                render(rows, "csv", f, columns=COLUMNS)
        except OSError as e:
            raise ConfigError(f"cannot write {args.output}: {e.strerror}") from None
    else:
        render(rows, "csv", sys.stdout, columns=COLUMNS)
    if seen["unpriced"]:
        print(
            f"costline: {seen['unpriced']} unpriced call(s) are not in BilledCost (see x_UnpricedCalls)",
            file=sys.stderr,
        )
    if seen["caveat"]:
        print(
            f"costline: {seen['caveat']} call(s) ({money(seen['caveat_usd'])}) carry a price caveat: their price may "
            "not be the bill (see x_PriceCaveat)",
            file=sys.stderr,
        )
    return 0


def counted(rows: Iterable[LedgerRow], seen: dict) -> Iterator[LedgerRow]:
    """`rows`, counting the unpriced calls and those with a price caveat once each (a call shared among owners
    is a row per owner in the export, one call here)."""
    for r in rows:
        if r.cost_usd is None:
            seen["unpriced"] += 1
        elif r.price_caveat:
            seen["caveat"] += 1
            seen["caveat_usd"] += r.cost_usd
        yield r
