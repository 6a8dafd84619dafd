"""Expected costs from published per-million prices, and one call priced as the processor prices it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from costline_processor.pricing import Pricer
from costline_processor.records import Cost, ModelCall, Usage

NOV = int(datetime(2026, 11, 1, 12, tzinfo=UTC).timestamp()) * 10**9  # a call's start: 2026-11-01 12:00 UTC


def mtok(usd_per_million: str, tokens: int) -> Decimal:
    """`tokens` at a published price of `usd_per_million` USD per million."""
    return Decimal(usd_per_million) * tokens / 1_000_000


def priced(pricer: Pricer, model: str, provider: str | None, usage: Usage, at: int = NOV) -> Cost:
    """What `pricer` bills a semconv span's call of `model` (a Cost: the test fails on an Unpriced)."""
    cost = pricer.price(ModelCall("semconv", model=model, provider=provider, usage=usage), at, 10**9)
    assert isinstance(cost, Cost), cost
    return cost
