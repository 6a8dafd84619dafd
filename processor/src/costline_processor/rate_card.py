"""RateCard: one model's prices at one moment, and the per-span arithmetic that bills a Usage with them.

pricing.Pricer resolves each call's prices once per (provider, model, UTC day, tier, batch) into a
card (from genai-prices in price_library.py, or a price-file / corrections entry in price_rules.py);
`RateCard.cost` then runs once per priced span with plain Decimal arithmetic. It bills the leaves of
genai-prices' unit tree (records.Usage is inclusive): uncached input = input - cache reads - cache
writes, each cache count at its own rate when the card has one (else at the input rate, as
genai-prices does), 1-hour cache writes at the 1-hour rate when it has one. Fees that are not
tokens (per call, per second, per web search) are booked under input_usd so the components add up
to the total. Web searches (`Usage.web_searches`) cost the card's `per_web_search` each, SKU
`web_search`, file searches (`Usage.file_searches`) its `per_file_search`, SKU `file_search`, and
OpenAI's web_search_preview searches (`Usage.preview_web_searches`) its `per_preview_web_search`, SKU
`web_search_preview` (search_rules.py: $25 per 1,000 on gpt-4o and gpt-4.1); a card without such a
price bills the tokens and marks the Cost (`web_searches_unpriced`, `file_searches_unpriced`,
`preview_web_searches_unpriced`): the searches are never silently free.

Calls with audio or image tokens go through modality_cost.py; a card with a discount keeps the list price
beside the bill; calls whose components are not each one token type at one rate are also priced
SKU by SKU (sku_cost.py). `new_cost` builds the Cost without the frozen dataclass' __init__: this
is the per-span path (tests/processor/test_fastpath.py checks it equals `Cost(...)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from costline_processor import modality_cost, sku_cost
from costline_processor.price_caveats import CONTEXT_TIER_UNPRICED, SEARCHES_UNPRICED, joined
from costline_processor.records import INVALID_USAGE, Cost, Unpriced, Usage

_ZERO = Decimal(0)
_MTOK = Decimal(1_000_000)

_new = object.__new__
COST_SLOTS = tuple(
    getattr(Cost, name).__set__
    for name in (
        "total_usd",
        "input_usd",
        "output_usd",
        "cache_read_usd",
        "cache_write_usd",
        "model",
        "provider",
        "source",
        "caveat",
        "list_usd",
        "skus",
    )
)


def new_cost(
    total, input_usd, output_usd, read_usd, write_usd, model, provider, source, caveat, list_usd, skus
) -> Cost:
    """Cost(...), the same object: a frozen dataclass' __init__ sets each field through object.__setattr__
    (1.1 us per Cost here); setting its slots directly takes a third of that."""
    c = _new(Cost)
    s_total, s_in, s_out, s_read, s_write, s_model, s_provider, s_source, s_caveat, s_list, s_skus = COST_SLOTS
    s_total(c, total)
    s_in(c, input_usd)
    s_out(c, output_usd)
    s_read(c, read_usd)
    s_write(c, write_usd)
    s_model(c, model)
    s_provider(c, provider)
    s_source(c, source)
    s_caveat(c, caveat)
    s_list(c, list_usd)
    s_skus(c, skus)
    return c


@dataclass(slots=True, frozen=True)
class Tiered:
    """A rate that changes for the whole call once total input passes a threshold."""

    base: Decimal
    tiers: tuple[tuple[int, Decimal], ...]  # (start, price), highest start first

    def at(self, input_tokens: int) -> Decimal:
        for start, price in self.tiers:
            if input_tokens > start:
                return price
        return self.base

    def scaled(self, factor: Decimal) -> Tiered:
        return Tiered(self.base * factor, tuple((start, price * factor) for start, price in self.tiers))


Rate = Decimal | Tiered | None
RATES = 12  # the rates of a card (RateCard.rates)


@dataclass(slots=True, frozen=True)
class RateCard:
    """One model's prices at one moment, USD per million tokens, ready to multiply.

    `cost` runs once per priced span. Most cards have flat rates only; whether a card
    has a tiered one is decided once, when it is made (`tiered`), not per span. Calls
    with audio or image tokens take modality_cost.py's path; the rest never look at
    those rates. `caveat` (price_caveats.py) is copied onto every Cost the card makes.
    """

    provider: str
    model: str
    source: str
    # input, output, cache_read, cache_write, cache_write_1h, reasoning, input_audio, output_audio,
    # cache_audio_read, input_image, output_image, cache_image_read (fewer are padded with None: no such rates)
    rates: tuple[Rate, ...]
    per_call: Decimal = _ZERO
    per_second: Decimal = _ZERO
    per_web_search: Decimal | None = None  # USD per web search; None: no price for them
    per_file_search: Decimal | None = None  # USD per file search; None: no price for them
    per_preview_web_search: Decimal | None = None  # USD per web_search_preview search; None: no price for them
    # (SKU, caveat): said on a call that ran such searches (search_rules.marks: the preview rule's price, a fixed
    # block of tokens the usage may not count)
    search_marks: tuple[tuple[str, str], ...] = ()
    factor: Decimal | None = None  # 1 - discount
    caveat: str | None = None
    # the input above which the model's maker bills long-context rates that this card's data lacks (a route's:
    # Bedrock, Vertex): a call above it is marked CONTEXT_TIER_UNPRICED; None: no such threshold
    untiered_above: int | None = None
    list_card: RateCard | None = None  # the card a price-file entry overrides: the list price
    tiered: bool = field(init=False, default=False, repr=False, compare=False)  # any rate a `Tiered`?
    mixed: bool = field(init=False, default=False, repr=False, compare=False)  # every call by SKU (sku_cost)?
    # an image output rate of its own (an image model's): pricing marks its calls from spans that count no images
    image_output: bool = field(init=False, default=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.rates) < RATES:
            object.__setattr__(self, "rates", (*self.rates, *(None,) * (RATES - len(self.rates))))
        tiered = self.untiered_above is not None or any(isinstance(r, Tiered) for r in self.rates)
        object.__setattr__(self, "tiered", tiered)
        mixed = self.list_card is not None or bool(self.per_call) or bool(self.per_second)
        object.__setattr__(self, "mixed", mixed)
        object.__setattr__(self, "image_output", self.rates[10] is not None)

    def rates_at(self, input_tokens: int) -> tuple[Decimal | None, ...]:
        """The rates of a call with this much input (each `Tiered` one at its tier)."""
        return tuple(r.at(input_tokens) if isinstance(r, Tiered) else r for r in self.rates)

    def cost(self, u: Usage, duration_ns: int) -> Cost | Unpriced:
        if u.audio_input_tokens or u.audio_output_tokens or u.image_input_tokens or u.image_output_tokens:
            return modality_cost.cost(self, u, duration_ns)
        caveat = self.caveat
        if self.tiered:  # `rates_at`, inline: this runs once per priced span
            r_in, r_out, r_read, r_write, r_1h, r_reason = (
                r.at(u.input_tokens) if isinstance(r, Tiered) else r for r in self.rates[:6]
            )
            if self.untiered_above is not None and u.input_tokens > self.untiered_above:
                caveat = joined(caveat, CONTEXT_TIER_UNPRICED)
        else:  # `tiered` False: every rate is a Decimal or None, so no `Tiered` reaches the sums below
            r_in, r_out, r_read, r_write, r_1h, r_reason, _, _, _, _, _, _ = self.rates  # type: ignore[assignment]
        read = u.cache_read_tokens if r_read is not None else 0
        write_1h = u.cache_write_1h_tokens if r_1h is not None else 0
        write = u.cache_write_tokens - write_1h if r_write is not None else 0
        uncached = u.input_tokens - read - write - write_1h
        reasoning = u.reasoning_tokens if r_reason is not None else 0
        output = u.output_tokens - reasoning
        if uncached < 0 or write < 0 or output < 0:
            return Unpriced(INVALID_USAGE, f"cache or reasoning counts exceed their totals: {u}")
        input_usd = (r_in * uncached / _MTOK if r_in is not None and uncached else _ZERO) + self.per_call
        if self.per_second and duration_ns > 0:
            input_usd += self.per_second * int(duration_ns) / 1_000_000_000
        searches = u.web_searches or u.file_searches or u.preview_web_searches
        if searches:  # (rare) a fee per search; none priced: said, never free
            fees, caveat = self._search_fees(u, caveat)
            input_usd += fees
        # a count is non-zero only when its rate is set (above); the `is not None` tests say so to the type checker
        read_usd = r_read * read / _MTOK if read and r_read is not None else _ZERO
        write_usd = (r_write * write / _MTOK if write and r_write is not None else _ZERO) + (
            r_1h * write_1h / _MTOK if write_1h and r_1h is not None else _ZERO
        )
        output_usd = (r_out * output / _MTOK if r_out is not None and output else _ZERO) + (
            r_reason * reasoning / _MTOK if reasoning and r_reason is not None else _ZERO
        )
        if self.factor is not None:
            f = self.factor
            listed = input_usd + read_usd + write_usd + output_usd
            input_usd, read_usd, write_usd, output_usd = input_usd * f, read_usd * f, write_usd * f, output_usd * f
            total = input_usd + read_usd + write_usd + output_usd
        else:
            total = listed = input_usd + read_usd + write_usd + output_usd
        skus = None
        if (
            self.mixed
            or reasoning
            or write_1h
            or searches
            or read + write != u.cache_read_tokens + u.cache_write_tokens
        ):
            skus = sku_cost.breakdown(self, u, duration_ns)
            listed = sum((s[3] for s in skus), _ZERO)
        return new_cost(
            total,
            input_usd,
            output_usd,
            read_usd,
            write_usd,
            self.model,
            self.provider,
            self.source,
            caveat,
            listed,
            skus,
        )

    def _search_fees(self, u: Usage, caveat: str | None) -> tuple[Decimal, str | None]:
        """The fees of the searches the provider ran for the call, and `caveat` with those it has no price for
        named."""
        usd = _ZERO
        ran = sku_cost.searches(self, u)
        for sku, n, rate in ran:
            if rate is not None:
                usd += rate * n
            else:
                caveat = joined(caveat, SEARCHES_UNPRICED[sku])
        for sku, mark in self.search_marks:
            if any(kind[0] == sku for kind in ran):
                caveat = joined(caveat, mark)
        return usd, caveat
