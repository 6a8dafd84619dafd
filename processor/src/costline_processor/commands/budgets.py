"""`costline budgets`: the config's budgets against the ledger, or as Prometheus alerting rules.

Prints one row per budget (per value of a "*" scope): scope, period, amount, spent this UTC
period, used share, forecast to the period's end, status ok/warn/over. Exits 0 when none is
over, 1 when one is, 2 on a usage or config error. `--prometheus-rules [FILE]` writes the
budgets as Prometheus alerting rules instead (ledger/budget_rules.py) and reads no ledger.
"""

from __future__ import annotations

import sys
from pathlib import Path

from costline_processor.config import ConfigError
from costline_processor.ledger import budget_rules, budgets, options
from costline_processor.ledger.forecast import METHOD
from costline_processor.ledger.periods import parse_time
from costline_processor.ledger.render import render

EXAMPLE = "budgets: [{scope: {feature: search}, period: month, amount_usd: 500}]"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "budgets",
        help="each budget of the config: spent this period, forecast, status (exit 1 when one is over)",
        description=f"{__doc__.splitlines()[0]} The forecast: {METHOD}.",
    )
    p.add_argument("--at", default="now", metavar="WHEN", help="as of this time (default: now)")
    p.add_argument(
        "--prometheus-rules",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write the budgets as Prometheus alerting rules to FILE (none or -: stdout) instead",
    )
    options.add_format(p)
    options.add_ledger(p)
    p.set_defaults(func=run)


def run(args) -> int:
    config = options.load_config(args)
    if not config.budgets:
        raise ConfigError(f"no budgets: the config file (--config FILE) needs a list such as {EXAMPLE}")
    if args.prometheus_rules:
        return _rules(config, args.prometheus_rules)
    at = parse_time(args.at, options.now_ns())
    with options.reader(args, config) as ledger:
        standings = budgets.evaluate(ledger, config.budgets, at, config.tagging.default)
    rows = [s.row() for s in standings]
    if args.format == "table":
        for row in rows:
            row["used"] = f"{row['used'] * 100:.1f}%"
    counts = {status: sum(s.status == status for s in standings) for status in ("over", "warn", "ok")}
    footer = [", ".join(f"{n} {status}" for status, n in counts.items()), f"{METHOD}."]
    render(rows, args.format, sys.stdout, columns=budgets.COLUMNS, footer=footer)
    return 1 if counts["over"] else 0


def _rules(config, target: str) -> int:
    document, skipped = budget_rules.rules(config.budgets, config.metrics.dimensions, config.tagging.default)
    for line in skipped:
        print(f"costline: {line}", file=sys.stderr)
    text = budget_rules.dump(document)
    if target == "-":
        sys.stdout.write(text)
    else:
        Path(target).write_text(text, encoding="utf-8")
    return 0
