"""A call's cost by SKU: each token type at its own rate, billed and at list price.

FOCUS bills usage per SKU with a quantity and a unit price. A call's SKUs are the leaves
of genai-prices' unit tree, as pricing bills them (records.Usage: counts are subsets):

    input               uncached text input          cached_input       text cache reads
    cache_write         cache writes (5-minute)      cache_write_1h     1-hour cache writes
    output              text output                  reasoning          reasoning (own rate only)
    audio_input         uncached audio input         audio_cached_input audio cache reads
    audio_output        audio output                 requests           per-call and per-second fees
    image_input         uncached image input         image_cached_input image cache reads
    image_output        image output
    web_search          web searches the provider ran for the call, at the card's price per search
    file_search         file (vector store) searches, likewise
    web_search_preview  searches by OpenAI's web_search_preview tool, at the card's price for them

A count the card has no rate for is billed where pricing bills it (cache reads without a
cache rate are input, reasoning without a reasoning rate is output), so each SKU has one
rate and billed amounts add up to the call's total exactly (the same Decimal products).

Most calls never come here: when a call's four components (input, output, cache read, cache
write) are each one SKU at one rate and the list price differs by the card's discount alone,
`Cost.skus` stays None and the ledger's components are the SKUs (ledger/focus.py).
RateCard.cost calls `breakdown` for the rest: price-file overrides (list from the card of
genai-prices or corrections below them, `RateCard.list_card`), fees, separately priced
reasoning, 1-hour writes, cache counts without a cache rate, audio.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from costline_processor.records import Sku, Usage

if TYPE_CHECKING:  # rate_card imports this module: its cards call `breakdown`
    from costline_processor.rate_card import RateCard

SKUS = (
    "input",
    "cached_input",
    "cache_write",
    "cache_write_1h",
    "output",
    "reasoning",
    "audio_input",
    "audio_cached_input",
    "audio_output",
    "image_input",
    "image_cached_input",
    "image_output",
    "requests",
    "web_search",
    "file_search",
    "web_search_preview",
)
# The ledger component each SKU's money is part of (input_usd, output_usd, cache_read_usd, cache_write_usd).
COMPONENT = {
    "input": "input",
    "cached_input": "cache_read",
    "cache_write": "cache_write",
    "cache_write_1h": "cache_write",
    "output": "output",
    "reasoning": "output",
    "audio_input": "input",
    "audio_cached_input": "cache_read",
    "audio_output": "output",
    "image_input": "input",
    "image_cached_input": "cache_read",
    "image_output": "output",
    "requests": "input",
    "web_search": "input",
    "file_search": "input",
    "web_search_preview": "input",
}
_MTOK = Decimal(1_000_000)
_ZERO = Decimal(0)


def priced(card: RateCard, u: Usage, duration_ns: int) -> dict[str, tuple[int, Decimal]]:
    """SKU -> (quantity, USD at the card's rates before its discount) for usage `u`."""
    rates = card.rates_at(u.input_tokens)
    r_in, r_out, r_read, r_write, r_1h, r_reason, r_ain, r_aout, r_aread, r_iin, r_iout, r_iread = rates
    a_read = u.audio_cache_read_tokens if r_aread is not None else 0
    a_in = u.audio_input_tokens - u.audio_cache_read_tokens if r_ain is not None else 0
    a_out = u.audio_output_tokens if r_aout is not None else 0
    i_read = u.image_cache_read_tokens if r_iread is not None else 0
    i_in = u.image_input_tokens - u.image_cache_read_tokens if r_iin is not None else 0
    i_out = u.image_output_tokens if r_iout is not None else 0
    read = u.cache_read_tokens - a_read - i_read if r_read is not None else 0
    write_1h = u.cache_write_1h_tokens if r_1h is not None else 0
    write = u.cache_write_tokens - write_1h if r_write is not None else 0
    reasoning = u.reasoning_tokens if r_reason is not None else 0
    counts = {
        "input": (u.input_tokens - a_read - a_in - i_read - i_in - read - write - write_1h, r_in),
        "cached_input": (read, r_read),
        "cache_write": (write, r_write),
        "cache_write_1h": (write_1h, r_1h),
        "output": (u.output_tokens - a_out - i_out - reasoning, r_out),
        "reasoning": (reasoning, r_reason),
        "audio_input": (a_in, r_ain),
        "audio_cached_input": (a_read, r_aread),
        "audio_output": (a_out, r_aout),
        "image_input": (i_in, r_iin),
        "image_cached_input": (i_read, r_iread),
        "image_output": (i_out, r_iout),
    }
    out = {sku: (n, rate * n / _MTOK if rate is not None and n else _ZERO) for sku, (n, rate) in counts.items() if n}
    fees = card.per_call + (
        card.per_second * int(duration_ns) / 1_000_000_000 if card.per_second and duration_ns > 0 else _ZERO
    )
    if fees:
        out["requests"] = (1, fees)
    for sku, n, rate in searches(card, u):  # a SKU also when unpriced: the count the Cost's caveat speaks of
        out[sku] = (n, rate * n if rate is not None else _ZERO)
    return out


# The searches billed apiece on top of the tokens: (SKU, its Usage count, the RateCard's price for one)
SEARCH_KINDS = (
    ("web_search", "web_searches", "per_web_search"),
    ("file_search", "file_searches", "per_file_search"),
    ("web_search_preview", "preview_web_searches", "per_preview_web_search"),
)


def searches(card: RateCard, u: Usage) -> list[tuple[str, int, Decimal | None]]:
    """(SKU, count, the card's price for one) of each kind of search the call ran (calls with searches only:
    RateCard.cost and `priced` look for them first)."""
    found = ((sku, getattr(u, count), getattr(card, price)) for sku, count, price in SEARCH_KINDS)
    return [kind for kind in found if kind[1]]


def breakdown(card: RateCard, u: Usage, duration_ns: int) -> tuple[Sku, ...]:
    """The call's SKUs: (sku, quantity, billed USD, list USD), in SKUS order, those with a quantity or money.

    Billed is the card's price times its discount factor; list is the card's price before the
    discount, or the price of `card.list_card` (the card a price-file entry overrides) for the
    same usage. Where the two cards split a count differently (an override without a reasoning
    rate over a list price with one), each side keeps its own split: every row's quantity is the
    billed side's, and both columns still add up to the call."""
    own = priced(card, u, duration_ns)
    below = card.list_card
    listed = own if below is None else priced(below, u, duration_ns)
    if below is not None:  # no list price for a kind of search: the entry's stands in
        unlisted = [sku for sku, _, rate in searches(below, u) if rate is None and sku in own]
        listed = {**listed, **{sku: own[sku] for sku in unlisted}}
    f = card.factor
    rows = []
    for sku in SKUS:
        n, usd = own.get(sku, (0, _ZERO))
        ln, lusd = listed.get(sku, (0, _ZERO))
        if n or ln or usd or lusd:
            rows.append((sku, n, usd * f if f is not None else usd, lusd))
    return tuple(rows)
