"""`costline reprice`: recompute stored calls with the current (or a given) price file.

Reports old cost, new cost and the delta per model (or --by); `--apply` writes the new
costs into the ledger (one transaction per 1,000 calls). Without --apply nothing changes.
A call written before the ledger recorded service tiers (schema 7) keeps its cost unless
--assume-standard-tier says it ran in the standard tier; how many did is said on stderr.
"""

from __future__ import annotations

import sys
from decimal import Decimal

from costline_processor.config import ConfigError
from costline_processor.ledger import dimensions, options
from costline_processor.ledger.dimensions import parse_dimensions
from costline_processor.ledger.render import amount, render
from costline_processor.ledger.reprice import reprice, untiered
from costline_processor.shares import split_row

_BATCH = 1000


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "reprice", help="recompute stored calls' cost with current or given prices; report the delta"
    )
    p.add_argument(
        "--prices",
        metavar="FILE",
        help="price file (negotiated prices, discounts); default: the config's, else genai-prices alone",
    )
    p.add_argument("--by", default="model", metavar="DIM[,DIM]", help="group the delta by (default: model)")
    p.add_argument("--apply", action="store_true", help="write the new costs into the ledger")
    p.add_argument(
        "--assume-standard-tier",
        action="store_true",
        help="reprice calls written before the ledger recorded service tiers at the standard tier's rates "
        "(default: they keep their cost; a batch call among them would be billed twice over)",
    )
    options.add_window(p, since=None)
    options.add_format(p)
    options.add_ledger(p)
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        from costline_processor.pricing import Pricer
    except ImportError as e:
        raise ConfigError(f"repricing needs the processor extra: {e}") from None
    config = options.load_config(args)
    if args.prices:
        config.pricing.prices_file = args.prices
    config.pricing.allow_network_updates = False
    config.validate()
    dims = parse_dimensions(args.by)
    since, until = options.time_window(args, options.now_ns())
    pricer = Pricer(config.pricing)
    try:
        with options.reader(args, config) as ledger:
            results = reprice(ledger.rows(since, until), pricer.price, args.assume_standard_tier)
            if args.apply:
                changed = [r.new for r in results if r.changed]
                for i in range(0, len(changed), _BATCH):
                    ledger.update_prices(changed[i : i + _BATCH])
    finally:
        pricer.close()
    _say_untiered(results, args.assume_standard_tier)
    rows = summarize(results, dims, config.tagging.default)
    footer = []
    if args.format == "table":
        old = sum((r["old_cost_usd"] for r in rows), Decimal(0))
        new = sum((r["new_cost_usd"] for r in rows), Decimal(0))
        n = sum(r["changed_calls"] for r in rows)
        was, now = sum(r["old_unpriced"] for r in rows), sum(r["new_unpriced"] for r in rows)
        footer.append(
            f"total: {amount(old, 4)} -> {amount(new, 4)} (delta {amount(new - old, 4, sign=True)}) over {n:,} "
            "changed calls"
            + (f"; unpriced calls, not in these totals: {was:,} before, {now:,} after" if was or now else "")
            + (", applied" if args.apply else "; run with --apply to store")
        )
    render(rows, args.format, sys.stdout, footer=footer)
    return 0


def _say_untiered(results, assumed: bool) -> None:
    n = sum(1 for r in results if untiered(r.old))
    if not n:
        return
    if assumed:
        print(
            f"reprice: {n:,} calls have no recorded service tier: priced at the standard tier's rates", file=sys.stderr
        )
        return
    print(
        f"reprice: {n:,} calls were written before the ledger recorded service tiers and keep their cost "
        "(the standard rates would bill a batch call among them twice over); --assume-standard-tier reprices them",
        file=sys.stderr,
    )


def summarize(results, dims: list[str], untagged: str) -> list[dict]:
    """One row per group of `dims`; a call whose tag among them names several owners is each owner's part of
    it (shares.split_row, as every report splits it), counted as a call of each."""
    groups: dict[tuple, dict] = {}
    split = [dimensions.tag_name(d) for d in dims if dimensions.is_tag(d)]
    for r in results:
        for old, new in zip(split_row(r.old, split), split_row(r.new, split)) if split else ((r.old, r.new),):
            _add(groups, dims, dimensions.key(old, dims, untagged), old, new, r.changed)
    out = []
    for g in groups.values():
        g["delta_usd"] = g["new_cost_usd"] - g["old_cost_usd"]
        g["delta_pct"] = g["delta_usd"] * 100 / g["old_cost_usd"] if g["old_cost_usd"] else None
        out.append(g)
    out.sort(key=lambda g: (-abs(g["delta_usd"]), tuple(g[d] for d in dims)))
    return out


def _add(groups: dict[tuple, dict], dims: list[str], k: tuple, old, new, changed: bool) -> None:
    g = groups.setdefault(
        k,
        {
            **dict(zip(dims, k)),
            "calls": 0,
            "changed_calls": 0,
            "old_unpriced": 0,
            "new_unpriced": 0,
            "old_cost_usd": Decimal(0),
            "new_cost_usd": Decimal(0),
        },
    )
    g["calls"] += 1
    g["changed_calls"] += changed
    g["old_unpriced"] += old.cost_usd is None
    g["new_unpriced"] += new.cost_usd is None
    g["old_cost_usd"] += old.cost_usd or 0
    g["new_cost_usd"] += new.cost_usd or 0
