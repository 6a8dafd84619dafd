"""`costline prices show MODEL` and `costline prices check`: which prices costline uses, and why.

show: the rate card a call of MODEL would get (provider hint, moment): every component
in USD per million tokens, its tiers, and where it comes from: the user's price file,
the shipped corrections (with the page they cite) or genai-prices (with its version).
check: for a ledger, each model with how its calls were priced: by rule (genai-prices
or the price file), by correction, reported by the provider, or not at all (with the
reason, and what today's prices and name resolution would do), with call counts.
Both read the same config as `costline serve` (--config: pricing.prices_file,
pricing.deployments) and never touch the network.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime

from costline_processor import search_rules
from costline_processor.config import ConfigError
from costline_processor.ledger import options
from costline_processor.ledger.periods import parse_time
from costline_processor.ledger.render import render
from costline_processor.price_caveats import SEARCH_MODEL_FEE_UNPRICED, SEARCHES_UNPRICED
from costline_processor.sku_cost import SEARCH_KINDS

_RATES = (
    "input",
    "output",
    "cache_read",
    "cache_write",
    "cache_write_1h",
    "reasoning",
    "input_audio",
    "output_audio",
    "cache_audio_read",
    "input_image",
    "output_image",
    "cache_image_read",
)
_ABSENT = {
    "input": "not billed",
    "output": "not billed",
    "cache_read": "billed as input",
    "cache_write": "billed as input",
    "cache_write_1h": "billed as cache_write",
    "reasoning": "billed as output",
    "input_audio": "billed as input (caveat audio_at_text_rate)",
    "output_audio": "billed as output (caveat audio_at_text_rate)",
    "cache_audio_read": "billed as cache_read",
    "input_image": "billed as input (caveat image_at_text_rate)",
    "output_image": "billed as output (caveat image_at_text_rate)",
    "cache_image_read": "billed as cache_read",
}


def register(subparsers) -> None:
    p = subparsers.add_parser("prices", help="show the rate card for a model; check how a ledger's models were priced")
    sub = p.add_subparsers(dest="prices_command", metavar="show|check", required=True)
    show = sub.add_parser("show", help="the rate card a call of MODEL would get")
    show.add_argument("model", metavar="MODEL", help="model name as spans carry it (e.g. bedrock/us.anthropic...)")
    show.add_argument("--provider", metavar="P", help="provider hint as spans carry it (openai, aws.bedrock, azure...)")
    show.add_argument("--at", metavar="DATE", help="moment to price at: 2025-09-01 or ISO time, UTC (default: now)")
    show.add_argument(
        "--config", metavar="FILE", help="costline YAML config (pricing.prices_file, pricing.deployments)"
    )
    show.set_defaults(func=run_show)
    check = sub.add_parser("check", help="the models of a ledger: priced by rule, by correction, or not at all")
    options.add_ledger(check)
    options.add_window(check, since=None)
    options.add_format(check)
    check.set_defaults(func=run_check)


def _pricer(args):
    try:
        from costline_processor.pricing import Pricer
    except ImportError as e:
        raise ConfigError(f"prices needs the processor extra: {e}") from None
    config = options.load_config(args)
    config.pricing.allow_network_updates = False
    config.validate()
    return Pricer(config.pricing)


def run_show(args) -> int:
    from costline_processor.records import ModelCall, Usage

    now = options.now_ns()
    at = parse_time(args.at, now) if args.at else now
    pricer = _pricer(args)
    provider = args.provider.strip().lower() if args.provider else None
    card, entry = pricer.explain(ModelCall("cli", model=args.model, provider=provider, usage=Usage()), at)
    when = datetime.fromtimestamp(at / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = sys.stdout
    if not hasattr(card, "rates"):
        out.write(f"{args.model}: not priced at {when}: {card.reason}: {card.detail}\n")
        return 1
    out.write(f"{args.model} -> {card.model} ({card.provider}) at {when}\n")
    out.write(f"source: {card.source}\n")
    if entry is not None:
        out.write(f"entry: {entry.where}" + (f"\n  cites: {entry.source}" if entry.source else "") + "\n")
    render(card_rows(card), "table", out)
    if card.per_call:
        out.write(f"per call: ${card.per_call}\n")
    if card.per_second:
        out.write(f"per second of span duration: ${card.per_second}\n")
    for sku, _, price in SEARCH_KINDS:
        rate = getattr(card, price)
        said = f"${rate}" if rate is not None else f"none listed (caveat {SEARCHES_UNPRICED[sku]})"
        mark = dict(card.search_marks).get(sku)
        if mark is not None:
            said += f" (caveat {mark}: {search_rules.WHY[mark]})"
        out.write(f"per {sku.replace('_', ' ')}: {said}\n")
    fee = SEARCH_MODEL_FEE_UNPRICED
    if fee in (card.caveat or "").split(","):
        out.write(f"search fee per call: none listed (caveat {fee}: {search_rules.WHY[fee]})\n")
    if card.factor is not None:
        out.write(f"discount: {(1 - card.factor) * 100:g}% off every component\n")
    return 0


def card_rows(card) -> list[dict]:
    """One row per component: base rate, then the rate above each tier's input-token threshold."""
    thresholds = sorted({start for r in card.rates if hasattr(r, "tiers") for start, _ in r.tiers})
    rows = []
    for i, rate in enumerate(card.rates):
        name = _RATES[i] if i < len(_RATES) else f"rate_{i}"
        row = {"component": name, "usd_per_mtok": _base(rate, name)}
        for start in thresholds:
            row[f"above_{start}"] = f"${rate.at(start + 1)}" if hasattr(rate, "at") else row["usd_per_mtok"]
        rows.append(row)
    return rows


def _base(rate, name: str):
    if rate is None:
        return _ABSENT.get(name, "not billed")
    return f"${rate.base if hasattr(rate, 'base') else rate}"  # exact, as published: no rounding


def run_check(args) -> int:
    from costline_processor.records import ModelCall, Usage

    config = options.load_config(args)
    since, until = options.time_window(args, options.now_ns())
    counts: Counter = Counter()
    with options.reader(args, config) as ledger:
        for row in ledger.rows(since, until):
            counts[(row.model or row.request_model or "", row.provider or "", _priced_by(row), row.status or "")] += 1
    pricer = _pricer(args)
    rows = []
    for (model, provider, by, status), calls in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        now = ""
        if by == "not priced" and model:
            card, _ = pricer.explain(
                ModelCall("cli", model=model, provider=provider or None, usage=Usage()), options.now_ns()
            )
            now = f"priced by {card.source}" if hasattr(card, "rates") else card.reason
        rows.append(
            {"model": model, "provider": provider, "priced_by": by, "status": status, "calls": calls, "now": now}
        )
    render(rows, args.format, sys.stdout, columns=["model", "provider", "priced_by", "status", "calls", "now"])
    return 0


def _priced_by(row) -> str:
    source = row.price_source or ""
    if row.cost_usd is None or row.status:
        return "not priced"
    if source == "reported":
        return "reported"
    if "corrections" in source:
        return "correction"
    return f"rule ({source})" if source else "rule"
