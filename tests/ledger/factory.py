"""Ledger rows for tests, with costs the test chooses (so expected sums are its own)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

from costline_processor.records import LedgerRow

_ids = itertools.count(1)
NS = 1_000_000_000
DAY_NS = 86_400 * NS


def ts(text: str) -> int:
    """'2026-03-02T10:00' (UTC) as unix nanoseconds."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * NS


def make_row(
    cost: str | Decimal | None = "0.01",
    *,
    at: str = "2026-03-02T10:00",
    trace: int | str | None = None,
    span: int | None = None,
    tags: dict[str, str] | None = None,
    model: str | None = "gpt-4o-mini",
    provider: str | None = "openai",
    agent_path: str = "",
    service: str = "app",
    tokens: tuple[int, int, int, int, int] = (100, 20, 0, 0, 0),
    status: str | None = None,
    split: tuple[str, str, str, str] | None = None,
    list_cost: str | None = None,
) -> LedgerRow:
    """A model call. `cost=None` makes it unpriced (status defaults to unknown_model); its list cost is
    `list_cost`, else its cost."""
    n = next(_ids)
    trace_id = trace if isinstance(trace, str) else f"{(trace if trace is not None else n):032x}"
    span_id = f"{(span if span is not None else n):016x}"
    start = ts(at)
    total = None if cost is None else Decimal(cost)
    if total is not None:
        parts = [Decimal(p) for p in split] if split else [total, Decimal(0), Decimal(0), Decimal(0)]
    else:
        parts = [None] * 4
    return LedgerRow(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id="",
        start_unix_nano=start,
        end_unix_nano=start + 500_000_000,
        service=service,
        span_name=f"chat {model}",
        tags=dict(tags or {}),
        agent_path=agent_path,
        operation="chat",
        provider=provider,
        model=model,
        request_model=model,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cache_read_tokens=tokens[2],
        cache_write_tokens=tokens[3],
        reasoning_tokens=tokens[4],
        cost_usd=total,
        input_usd=parts[0],
        output_usd=parts[1],
        cache_read_usd=parts[2],
        cache_write_usd=parts[3],
        price_source=None if total is None else "test-prices",
        status=(status or "unknown_model") if total is None else None,
        list_usd=None if total is None else Decimal(list_cost) if list_cost is not None else total,
    )
