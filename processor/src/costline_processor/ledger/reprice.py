"""Re-pricing stored calls after a price change or a negotiated discount. Pure.

Each stored call is rebuilt as a ModelCall from its ledger columns and priced again by
the caller's `price` function (a `Pricer.price`). Calls that cannot be repriced keep
their stored cost: provider-reported costs (price_source "reported"), and unpriced
calls whose reason is missing data (no usage, invalid usage, no model, aggregate).
A call is priced in the service tier it ran in (a batch call at batch rates) with its 1-hour
cache writes at their rate: the ledger keeps both since schema version 7. A call written before
has no recorded tier (`tier` None) unless its caveat named one: it keeps its stored cost
(`untiered`), because the standard rates could bill a batch call twice over, unless the caller
assumes the standard tier for it (`assume_standard`). Audio counts are kept (schema version 2)
and repriced at the audio rates; rows from version 1 ledgers have none, nor 1-hour writes before 3.
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


def untiered(row: LedgerRow) -> bool:
    """A call that could be repriced but whose tier the ledger does not know (written before schema 7)."""
    return row.tier is None and can_reprice(row)


def as_call(row: LedgerRow) -> ModelCall:
    usage = Usage(
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cache_read_tokens=row.cache_read_tokens,
        cache_write_tokens=row.cache_write_tokens,
        cache_write_1h_tokens=row.cache_write_1h_tokens,
        reasoning_tokens=row.reasoning_tokens,
        audio_input_tokens=row.audio_input_tokens,
        audio_output_tokens=row.audio_output_tokens,
        audio_cache_read_tokens=row.audio_cache_read_tokens,
        image_input_tokens=row.image_input_tokens,
        image_output_tokens=row.image_output_tokens,
        image_cache_read_tokens=row.image_cache_read_tokens,
        web_searches=row.web_searches,
        file_searches=row.file_searches,
        preview_web_searches=row.preview_web_searches,
    )
    return ModelCall(
        dialect="ledger",
        model=row.model,
        request_model=row.request_model,
        provider=row.provider,
        usage=usage,
        operation=row.operation,
        service_tier=row.tier if row.tier not in (None, "", "batch") else None,
        batch=row.tier == "batch",
    )


def reprice_row(row: LedgerRow, price: PriceFn, assume_standard: bool = False) -> LedgerRow:
    if not can_reprice(row) or (row.tier is None and not assume_standard):
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


def reprice(rows: Iterable[LedgerRow], price: PriceFn, assume_standard: bool = False) -> list[Repriced]:
    """Each row priced again; with `assume_standard`, a row without a recorded tier at the standard rates."""
    return [Repriced(r, reprice_row(r, price, assume_standard)) for r in rows]
