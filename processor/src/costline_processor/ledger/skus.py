"""A ledger row's SKUs: (sku, quantity, billed USD, list USD) per token type. Pure.

A row whose call pricing split by SKU (`skus`, sku_cost.py) has them stored. The others
are calls whose four components are each one token type at one rate, so the components
are the SKUs: uncached input (input_usd), cache reads (cache_read_usd), cache writes
(cache_write_usd), output (output_usd, reasoning included). Their list price differs from
the bill by one uniform discount, so each SKU's list cost is its billed cost times the
row's list_usd / cost_usd; the largest SKU takes the rounding remainder, so the SKUs add
up to list_usd exactly. A provider-reported cost without a computed split (an unknown
model) is one `other` SKU of no quantity. Rows from ledgers before version 3 list what they billed, and
their audio counts (version 2) stay inside input and output.
"""

from __future__ import annotations

from decimal import Decimal

from costline_processor.records import LedgerRow, Sku
from costline_processor.sku_cost import SKUS

ZERO = Decimal(0)
UNPRICED = "unpriced"
OTHER = "other"
ORDER = {sku: i for i, sku in enumerate((*SKUS, OTHER, UNPRICED))}


def row_skus(r: LedgerRow) -> tuple[Sku, ...]:
    """The row's SKUs; an unpriced row is one `unpriced` SKU of its tokens, at no cost."""
    if r.cost_usd is None:
        return ((UNPRICED, r.input_tokens + r.output_tokens, ZERO, ZERO),)
    if r.skus is not None:
        return r.skus
    split = (
        ("input", r.input_tokens - r.cache_read_tokens - r.cache_write_tokens, r.input_usd or ZERO),
        ("cached_input", r.cache_read_tokens, r.cache_read_usd or ZERO),
        ("cache_write", r.cache_write_tokens, r.cache_write_usd or ZERO),
        ("output", r.output_tokens, r.output_usd or ZERO),
    )
    parts = [p for p in split if p[1] or p[2]]
    gap = r.cost_usd - sum((p[2] for p in parts), ZERO)
    if gap:  # a provider-reported cost with no computed split: money no token type holds
        parts.append((OTHER, 0, gap))
    listed = r.list_usd if r.list_usd is not None else r.cost_usd
    if listed == r.cost_usd or not r.cost_usd:
        return tuple((s, n, b, b) for s, n, b in parts)
    shares = [b * listed / r.cost_usd for _, _, b in parts]
    largest = max(range(len(parts)), key=lambda i: parts[i][2])
    shares[largest] += listed - sum(shares, ZERO)
    return tuple((s, n, b, lp) for (s, n, b), lp in zip(parts, shares))
