"""Attributed cost as FinOps FOCUS-style rows (https://focus.finops.org), for finance. Pure.

One row per charge period (UTC day or month), provider, model and set of attribution
tags. BilledCost is the attributed cost of the priced calls in it (equal to
EffectiveCost, ListCost and ContractedCost: costline knows one price per call);
ConsumedQuantity is tokens (input + output; input includes cache reads and writes).
Tags is a JSON object of the attribution dimensions. Columns costline adds beyond
FOCUS carry the `x_` prefix FOCUS reserves for them; x_UnpricedCalls counts calls
whose cost is unknown and therefore missing from BilledCost.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Iterable

from costline.processor.ledger.periods import DAY_NS, day_start, iso, month_start, next_month_start
from costline.processor.ledger.schema import TOKEN_FIELDS
from costline.processor.records import LedgerRow

COLUMNS = [
    "BillingAccountId", "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd",
    "ChargeCategory", "ChargeFrequency", "ChargeDescription", "BilledCost", "EffectiveCost", "ListCost",
    "ContractedCost", "BillingCurrency", "ServiceCategory", "ServiceName", "ProviderName", "PublisherName",
    "InvoiceIssuerName", "SkuId", "ConsumedQuantity", "ConsumedUnit", "PricingQuantity", "PricingUnit", "Tags",
    "x_Calls", "x_UnpricedCalls", "x_InputTokens", "x_OutputTokens", "x_CacheReadTokens", "x_CacheWriteTokens",
    "x_ReasoningTokens", "x_PriceSource",
]
SERVICE_CATEGORY = "AI and Machine Learning"
DEFAULT_EXCLUDED_TAGS = frozenset({"session_id", "outcome"})  # per-request values: one row per session is no summary


def period_bounds(ns: int, period: str) -> tuple[int, int]:
    if period == "month":
        return month_start(ns), next_month_start(ns)
    start = day_start(ns)
    return start, start + DAY_NS


def focus_rows(rows: Iterable[LedgerRow], period: str = "day", tags: list[str] | None = None,
               billing_account: str = "") -> list[dict]:
    """Group calls into FOCUS rows. `tags` names the tags kept in Tags (None: all but per-request ones)."""
    groups: dict[tuple, dict] = {}
    for r in rows:
        start, end = period_bounds(r.start_unix_nano, period)
        kept = {k: v for k, v in sorted(r.tags.items()) if (k in tags if tags is not None else k not in DEFAULT_EXCLUDED_TAGS)}
        tag_json = json.dumps(kept, separators=(",", ":"), ensure_ascii=False)
        provider, model = r.provider or "unknown", r.model or r.request_model or "unknown"
        k = (start, provider, model, tag_json)
        g = groups.get(k)
        if g is None:
            g = groups[k] = {"start": start, "end": end, "provider": provider, "model": model, "tags": tag_json,
                             "cost": Decimal(0), "calls": 0, "unpriced": 0, "sources": set(),
                             **{f: 0 for f in TOKEN_FIELDS}}
        g["calls"] += 1
        for f in TOKEN_FIELDS:
            g[f] += getattr(r, f)
        if r.cost_usd is None:
            g["unpriced"] += 1
        else:
            g["cost"] += r.cost_usd
            g["sources"].add(r.price_source or "")
    out = [_row(g, billing_account) for g in groups.values()]
    out.sort(key=lambda x: (x["ChargePeriodStart"], x["ProviderName"], x["SkuId"], x["Tags"]))
    return out


def _row(g: dict, account: str) -> dict:
    bill_start = month_start(g["start"])
    tokens = g["input_tokens"] + g["output_tokens"]
    tags = json.loads(g["tags"])
    what = ", ".join(f"{k}={v}" for k, v in tags.items()) or "untagged"
    return {
        "BillingAccountId": account,
        "BillingPeriodStart": iso(bill_start),
        "BillingPeriodEnd": iso(next_month_start(bill_start)),
        "ChargePeriodStart": iso(g["start"]),
        "ChargePeriodEnd": iso(g["end"]),
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "ChargeDescription": f"{g['model']} tokens for {what}",
        "BilledCost": g["cost"],
        "EffectiveCost": g["cost"],
        "ListCost": g["cost"],
        "ContractedCost": g["cost"],
        "BillingCurrency": "USD",
        "ServiceCategory": SERVICE_CATEGORY,
        "ServiceName": g["provider"],
        "ProviderName": g["provider"],
        "PublisherName": g["provider"],
        "InvoiceIssuerName": g["provider"],
        "SkuId": g["model"],
        "ConsumedQuantity": tokens,
        "ConsumedUnit": "Tokens",
        "PricingQuantity": tokens,
        "PricingUnit": "Tokens",
        "Tags": g["tags"],
        "x_Calls": g["calls"],
        "x_UnpricedCalls": g["unpriced"],
        "x_InputTokens": g["input_tokens"],
        "x_OutputTokens": g["output_tokens"],
        "x_CacheReadTokens": g["cache_read_tokens"],
        "x_CacheWriteTokens": g["cache_write_tokens"],
        "x_ReasoningTokens": g["reasoning_tokens"],
        "x_PriceSource": ";".join(sorted(s for s in g["sources"] if s)),
    }
