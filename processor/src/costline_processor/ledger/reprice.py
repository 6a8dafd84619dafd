"""Re-pricing stored calls after a price change or a negotiated discount. Pure.

Each stored call is rebuilt as a ModelCall from its ledger columns and priced again by
the caller's `price` function (a `Pricer.price`). Calls that cannot be repriced keep
their stored cost: provider-reported costs (price_source "reported"), and unpriced
calls whose reason is missing data (no usage, invalid usage, no model, aggregate).
Limits: the ledger keeps no 1-hour cache-write count, service tier or batch flag, so
those calls are repriced at the standard rates (a row whose caveat named its tier,
`tier_by_rule:batch`, loses it with the tier). Audio counts are kept (schema version 2)
and repriced at the audio rates; rows from version 1 ledgers have none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from costline_processor.records import UNKNOWN_MODEL, Cost, LedgerRow, ModelCall, Unpriced, Usage

ZERO = Decimal(0)
PriceFn = Callable[[ModelCall, int, int], "Cost | Unpriced"]


@dataclass(frozen=True)
class Repriced:
    old: LedgerRow
    new: LedgerRow

    @property
    def delta(self) -> Decimal:
        return (self.new.cost_usd or ZERO) - (self.old.cost_usd or ZERO)

    @property
    def changed(self) -> bool:
        return (self.old.cost_usd, self.old.status, self.old.price_source) != (
            self.new.cost_usd,
            self.new.status,
            self.new.price_source,
        )


def can_reprice(row: LedgerRow) -> bool:
    if row.price_source and row.price_source.startswith("reported"):
        return False
    return row.status is None or row.status == UNKNOWN_MODEL


def as_call(row: LedgerRow) -> ModelCall:
    usage = Usage(
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cache_read_tokens=row.cache_read_tokens,
        cache_write_tokens=row.cache_write_tokens,
        reasoning_tokens=row.reasoning_tokens,
        audio_input_tokens=row.audio_input_tokens,
        audio_output_tokens=row.audio_output_tokens,
        audio_cache_read_tokens=row.audio_cache_read_tokens,
    )
    return ModelCall(
        dialect="ledger",
        model=row.model,
        request_model=row.request_model,
        provider=row.provider,
        usage=usage,
        operation=row.operation,
    )


def reprice_row(row: LedgerRow, price: PriceFn) -> LedgerRow:
    if not can_reprice(row):
        return row
    result = price(as_call(row), row.start_unix_nano, max(row.end_unix_nano - row.start_unix_nano, 0))
    if isinstance(result, Unpriced):
        return replace(
            row,
            cost_usd=None,
            input_usd=None,
            output_usd=None,
            cache_read_usd=None,
            cache_write_usd=None,
            price_source=None,
            status=result.reason,
            price_caveat=None,
            list_usd=None,
            skus=None,
        )
    return replace(
        row,
        cost_usd=result.total_usd,
        input_usd=result.input_usd,
        output_usd=result.output_usd,
        cache_read_usd=result.cache_read_usd,
        cache_write_usd=result.cache_write_usd,
        price_source=result.source,
        status=None,
        price_caveat=result.caveat,
        list_usd=result.list_usd,
        skus=result.skus,
    )


def reprice(rows: Iterable[LedgerRow], price: PriceFn) -> list[Repriced]:
    return [Repriced(r, reprice_row(r, price)) for r in rows]
