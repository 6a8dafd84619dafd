"""Attributed cost as FinOps FOCUS rows (https://focus.finops.org, column names of FOCUS 1.1), for finance. Pure.

One row per charge period (UTC day or month), provider, model, set of attribution tags
and SKU: each token type is its own SKU (ledger/skus.py: input, cached input, cache
write, 1-hour cache write, output, reasoning priced on its own, audio input, audio cached
input, audio output, per-request fees), SkuId `model/sku`, SkuMeter its name.
ConsumedQuantity and PricingQuantity are its tokens (requests for fees).

BilledCost = EffectiveCost = ContractedCost: what costline bills (after the price file's
discounts and overrides; costline knows no commitments, so effective equals contracted).
ListCost: the same usage at list price (genai-prices and corrections), so a negotiated
discount shows as ListCost - BilledCost. ListUnitPrice and ContractedUnitPrice are USD per
token (cost / PricingQuantity, rounded to 1e-12: a tiered or dated price makes it an
average). Each service tier is a price of its own (a batch call's tokens cost half): its rows
are apart, SkuPriceId `provider/model/sku/tier` (no tier: the standard one, and every call
written before ledger schema 7 whose caveat named none). Calls whose price may not be the
bill (a price caveat, README "Service tiers and batch") are rows apart too, the caveat in
x_PriceCaveat. Tags is a JSON object of the attribution dimensions. Columns beyond FOCUS
carry its `x_` prefix: x_Calls (calls with that SKU), x_UnpricedCalls (calls whose cost is
unknown, one `unpriced` row of their tokens: missing from BilledCost), x_PriceSource,
x_ServiceTier, x_PriceCaveat.

A row holds the calls of its charge period that started in the window asked for
([since, until)): where the window cuts a period (the default window is the last 30 days),
ChargePeriodStart and ChargePeriodEnd are the window's edges, so no row reads as a whole
day or month it holds only part of.

A call whose kept tag names several owners (customer_id=["acme","globex"]: shares.py) is one
row per owner share: each owner in Tags, with its part of every quantity and cost (by weight;
the parts add up to the call's exactly, shares.py says where rounding goes); x_Calls counts
the call in each owner's rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

from costline_processor.ledger.periods import DAY_NS, day_start, iso, month_start, next_month_start
from costline_processor.ledger.skus import ORDER, UNPRICED, row_skus
from costline_processor.records import LedgerRow
from costline_processor.shares import owners, split_row
from costline_processor.sku_cost import SEARCH_KINDS

COLUMNS = [
    "BillingAccountId",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeFrequency",
    "ChargeDescription",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "BillingCurrency",
    "ServiceCategory",
    "ServiceName",
    "ProviderName",
    "PublisherName",
    "InvoiceIssuerName",
    "SkuId",
    "SkuPriceId",
    "SkuMeter",
    "ConsumedQuantity",
    "ConsumedUnit",
    "PricingQuantity",
    "PricingUnit",
    "ListUnitPrice",
    "ContractedUnitPrice",
    "Tags",
    "x_Calls",
    "x_UnpricedCalls",
    "x_PriceSource",
    "x_ServiceTier",
    "x_PriceCaveat",
]
SERVICE_CATEGORY = "AI and Machine Learning"
_SEARCH_SKUS = frozenset(kind[0] for kind in SEARCH_KINDS)  # quantities in Searches
DEFAULT_EXCLUDED_TAGS = frozenset({"session_id", "outcome"})  # per-request values: one row per session is no summary
METERS = {
    "input": "Input Tokens",
    "cached_input": "Cached Input Tokens",
    "cache_write": "Cache Write Tokens",
    "cache_write_1h": "1-Hour Cache Write Tokens",
    "output": "Output Tokens",
    "reasoning": "Reasoning Tokens",
    "audio_input": "Audio Input Tokens",
    "audio_cached_input": "Cached Audio Input Tokens",
    "audio_output": "Audio Output Tokens",
    "image_input": "Image Input Tokens",
    "image_cached_input": "Cached Image Input Tokens",
    "image_output": "Image Output Tokens",
    "requests": "Requests",
    "web_search": "Web Searches",
    "file_search": "File Searches",
    "web_search_preview": "Web Searches (Preview Tool)",
    "other": "Reported Cost",
    UNPRICED: "Unpriced Tokens",
}
_UNIT_PRICE = Decimal("1e-12")


def period_bounds(ns: int, period: str) -> tuple[int, int]:
    if period == "month":
        return month_start(ns), next_month_start(ns)
    start = day_start(ns)
    return start, start + DAY_NS


def focus_rows(
    rows: Iterable[LedgerRow],
    period: str = "day",
    tags: list[str] | None = None,
    billing_account: str = "",
    window: tuple[int | None, int | None] = (None, None),
) -> list[dict]:
    """Group calls into FOCUS rows. `tags` names the tags kept in Tags (None: all but per-request ones);
    `window` is the [since, until) the calls were read from: a charge period it cuts ends at its edge."""
    groups: dict[tuple, dict] = {}
    for call in rows:
        for r in _shares(call, [k for k, v in call.tags.items() if _kept(k, tags) and owners(v) is not None]):
            _add(groups, r, period, tags)
    since, until = window
    for g in groups.values():
        g["start"] = g["start"] if since is None else max(g["start"], since)
        g["end"] = g["end"] if until is None else min(g["end"], until)
    return [_row(groups[k], billing_account) for k in sorted(groups)]


def _shares(call: LedgerRow, names: list[str]) -> list[LedgerRow]:
    """The call, or one row per owner share of the tags `names`, its SKUs split with it. A share's cost is
    its part of the call's (as every report splits it); what its SKUs' parts miss of it by rounding, a
    femto-dollar or so, goes to the SKU billing most, so each share's SKUs add up to the share."""
    if not names:
        return [call]
    if call.cost_usd is None:
        return split_row(call, names)
    skus = row_skus(call)
    largest = max(range(len(skus)), key=lambda i: abs(skus[i][2]))
    out = []
    for r in split_row(replace(call, skus=skus), names):
        parts = list(r.skus or ())
        sku, quantity, billed, listed = parts[largest]
        share = r.cost_usd or Decimal(0)  # priced, as the call is
        parts[largest] = (sku, quantity, billed + share - sum((p[2] for p in parts), Decimal(0)), listed)
        out.append(replace(r, skus=tuple(parts)))
    return out


def _kept(tag: str, tags: list[str] | None) -> bool:
    return tag in tags if tags is not None else tag not in DEFAULT_EXCLUDED_TAGS


def _add(groups: dict[tuple, dict], r: LedgerRow, period: str, tags: list[str] | None) -> None:
    """One call (or one owner's share of it) into its FOCUS groups, one per SKU."""
    start, end = period_bounds(r.start_unix_nano, period)
    kept = {k: v for k, v in sorted(r.tags.items()) if _kept(k, tags)}
    tag_json = json.dumps(kept, separators=(",", ":"), ensure_ascii=False)
    provider, model = r.provider or "unknown", r.model or r.request_model or "unknown"
    tier, caveat = r.tier or "", r.price_caveat or ""
    for sku, quantity, billed, listed in row_skus(r):
        k = (start, provider, model, tag_json, ORDER[sku], tier, caveat)
        g = groups.get(k)
        if g is None:
            g = groups[k] = {
                "start": start,
                "end": end,
                "provider": provider,
                "model": model,
                "tags": tag_json,
                "sku": sku,
                "tier": tier,
                "caveat": caveat,
                "quantity": 0,
                "billed": Decimal(0),
                "list": Decimal(0),
                "calls": 0,
                "sources": set(),
            }
        g["calls"] += 1
        g["quantity"] += quantity
        g["billed"] += billed
        g["list"] += listed
        if r.price_source:
            g["sources"].add(r.price_source)


def _row(g: dict, account: str) -> dict:
    bill_start = month_start(g["start"])
    tags = json.loads(g["tags"])
    what = ", ".join(f"{k}={v}" for k, v in tags.items()) or "untagged"
    sku, quantity, unpriced = g["sku"], g["quantity"], g["sku"] == UNPRICED
    tier = f"/{g['tier']}" if g["tier"] else ""
    unit = "Requests" if sku == "requests" else "Searches" if sku in _SEARCH_SKUS else "Tokens"
    return {
        "BillingAccountId": account,
        "BillingPeriodStart": iso(bill_start),
        "BillingPeriodEnd": iso(next_month_start(bill_start)),
        "ChargePeriodStart": iso(g["start"]),
        "ChargePeriodEnd": iso(g["end"]),
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "ChargeDescription": f"{g['model']} {(g['tier'] + ' ') if tier else ''}{METERS[sku].lower()} for {what}",
        "BilledCost": g["billed"],
        "EffectiveCost": g["billed"],
        "ListCost": g["list"],
        "ContractedCost": g["billed"],
        "BillingCurrency": "USD",
        "ServiceCategory": SERVICE_CATEGORY,
        "ServiceName": g["provider"],
        "ProviderName": g["provider"],
        "PublisherName": g["provider"],
        "InvoiceIssuerName": g["provider"],
        "SkuId": f"{g['model']}/{sku}",
        "SkuPriceId": f"{g['provider']}/{g['model']}/{sku}{tier}",
        "SkuMeter": METERS[sku],
        "ConsumedQuantity": quantity,
        "ConsumedUnit": unit,
        "PricingQuantity": quantity,
        "PricingUnit": unit,
        "ListUnitPrice": _unit_price(g["list"], quantity, unpriced),
        "ContractedUnitPrice": _unit_price(g["billed"], quantity, unpriced),
        "Tags": g["tags"],
        "x_Calls": g["calls"],
        "x_UnpricedCalls": g["calls"] if unpriced else 0,
        "x_PriceSource": ";".join(sorted(g["sources"])),
        "x_ServiceTier": g["tier"],
        "x_PriceCaveat": g["caveat"],
    }


def _unit_price(cost: Decimal, quantity: int, unpriced: bool) -> Decimal | None:
    if unpriced or not quantity:
        return None
    return (cost / quantity).quantize(_UNIT_PRICE).normalize()
