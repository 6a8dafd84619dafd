"""genai-prices' price sheets as RateCards: a model found there, and its card for one call.

pricing.Pricer finds a call's model in genai-prices' snapshot once per call name (a
LibraryModel, with the discount of the user's price file when one applies) and asks
`compile_card` for a card once per (UTC day, time-of-day segment, service tier, batch):
genai-prices' `get_prices` at that date in that context, its rates as Decimals (tiered
ones as rate_card.Tiered). A tier or batch the data does not list for the model at that
date is priced by the provider's documented rule for it, or at the standard rate when
there is none, and the card carries the caveat (price_caveats.py). Time-of-day prices
(DeepSeek off-peak) are why `time_of_day_boundaries` exists: the segment is part of the
card's cache key, so every span gets the price active at its own start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from genai_prices import data_snapshot
from genai_prices import types as gp

from costline_processor import model_names, price_caveats, search_rules
from costline_processor.rate_card import Rate, RateCard, Tiered
from costline_processor.records import UNKNOWN_MODEL, ModelCall, Unpriced

_ZERO = Decimal(0)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# genai-prices' ModelPrice fields, in RateCard.rates order
_PRICE_KEYS = (
    "input_mtok",
    "output_mtok",
    "cache_read_mtok",
    "cache_write_mtok",
    "cache_write_1h_mtok",
    "output_reasoning_mtok",
    "input_audio_mtok",
    "output_audio_mtok",
    "cache_audio_read_mtok",
    "input_image_mtok",
    "output_image_mtok",
    "cache_image_read_mtok",
)


@dataclass(slots=True)
class LibraryModel:
    """A model found in genai-prices, with its cards per (day, segment, tier, batch)."""

    provider: gp.Provider
    model: gp.ModelInfo
    own_model: bool  # False when found through a fallback provider: variants do not apply
    boundaries: tuple[int, ...]  # time-of-day constraint edges, µs after UTC midnight
    factor: Decimal | None
    source: str
    cards: dict[tuple[Any, ...], RateCard | Unpriced]  # by (day, segment, service tier, batch)


def compile_card(lib: LibraryModel, call: ModelCall, start_unix_nano: int, library_source: str) -> RateCard | Unpriced:
    """The card of `lib` for `call` at that moment (its date, time-of-day segment, tier and batch)."""
    when = _EPOCH + timedelta(microseconds=start_unix_nano // 1000)
    context: dict[str, str] = {}
    if call.service_tier:
        context["service_tier"] = call.service_tier
    if call.batch:
        context["processing"] = "batch"
    prices = lib.model.get_prices(when, context if lib.own_model else None)
    scale, caveat = None, None
    tier = price_caveats.tier_of(call.service_tier, call.batch)
    if tier is not None and not (lib.own_model and _lists_tier(lib.model, when, tier)):
        prices, scale, caveat = _tier_by_rule(lib, when, tier)
    rates = tuple(_rate(getattr(prices, key)) for key in _PRICE_KEYS)
    if scale is not None:
        rates = tuple(r.scaled(scale) if isinstance(r, Tiered) else r * scale if r is not None else None for r in rates)
    per_request = _rate(prices.requests_kcount)
    searches = _rate(prices.web_searches_kcount)
    file_searches = _rate(prices.storage_searches_kcount)
    per_web_search = searches / 1000 if isinstance(searches, Decimal) else None
    preview = search_rules.preview_rate(lib.provider.id, lib.model.id, per_web_search)
    if rates[0] is None and rates[1] is None and per_request is None:
        return Unpriced(UNKNOWN_MODEL, f"{library_source} has no token prices for {lib.provider.id} {lib.model.id}")
    if search_rules.search_model((call.model, call.request_model)):  # a fee per call the data lacks
        caveat = price_caveats.joined(caveat, price_caveats.SEARCH_MODEL_FEE_UNPRICED)
    return RateCard(
        provider=lib.provider.id,
        model=lib.model.id,
        source=lib.source,
        rates=rates,
        per_call=per_request / 1000 if isinstance(per_request, Decimal) else _ZERO,
        per_web_search=per_web_search,
        per_file_search=file_searches / 1000 if isinstance(file_searches, Decimal) else None,
        per_preview_web_search=preview,
        search_marks=search_rules.marks(lib.provider.id, lib.model.id, preview),
        factor=lib.factor,
        caveat=caveat,
        untiered_above=None if isinstance(rates[0], Tiered) else makers_threshold(lib, when),
    )


def makers_threshold(lib: LibraryModel, when: datetime) -> int | None:
    """The input above which the model's maker bills long-context rates at `when` (its first input tier), when
    `lib` is another provider's listing of the model (Bedrock's, Vertex's...); None for the maker's own listing,
    or a maker without one. genai-prices 0.2.3 lists Anthropic's tier at 200k for Claude Sonnet 4.5 (and 4.6 until
    2026-03-13) and none on Bedrock, nor for Sonnet 4.6 on Vertex."""
    maker = model_names.vendor_of(lib.model.id)
    if maker is None or maker == lib.provider.id:
        return None
    try:
        _, model = data_snapshot.get_snapshot().find_provider_model(
            model_names.makers_name(lib.model.id), None, maker, None
        )
    except LookupError:
        return None
    price = model.get_prices(when).input_mtok
    return price.tiers[0].start if isinstance(price, gp.TieredPrices) and price.tiers else None


def _tier_by_rule(lib: LibraryModel, when: datetime, tier: str) -> tuple[gp.ModelPrice, Decimal | None, str]:
    """The prices of a call in `tier` where the data lists none for it at `when` (price_caveats.py):
    (prices, factor on their token rates or None, caveat). Per-request fees (web searches) are left
    at the standard price: no rule here says they are discounted."""
    standard = lib.model.get_prices(when)
    rule = price_caveats.TIER_RULES.get((lib.provider.id, tier))
    if rule is None:
        return standard, None, price_caveats.UNPRICED + tier
    if rule.like is not None and lib.own_model and _lists_tier(lib.model, when, rule.like):
        key, value = price_caveats.context_of(rule.like)
        return lib.model.get_prices(when, {key: value}), None, price_caveats.BY_RULE + tier
    return standard, rule.factor, price_caveats.BY_RULE + tier


def _lists_tier(model: gp.ModelInfo, when: datetime, tier: str) -> bool:
    """Whether the price data has a price for `tier` active at `when` (a variant that prices something)."""
    key, value = price_caveats.context_of(tier)
    for v in model.price_variants or ():
        if (
            v.when == {key: value}
            and (v.constraint is None or v.constraint.active(when))
            and any(p is not None for p in v.prices.__dict__.values())
        ):
            return True
    return False


def _rate(value: object) -> Rate:
    if isinstance(value, gp.TieredPrices):
        tiers = tuple(sorted(((t.start, t.price) for t in value.tiers), reverse=True))
        return Tiered(value.base, tiers)
    return value if isinstance(value, Decimal) else None


def time_of_day_boundaries(model: gp.ModelInfo) -> tuple[int, ...]:
    constraints = [p.constraint for p in model.prices] if isinstance(model.prices, list) else []
    constraints += [v.constraint for v in model.price_variants or ()]
    edges: set[int] = set()
    for c in constraints:
        if isinstance(c, gp.TimeOfDateConstraint):
            edges.update((_utc_micros(c.start_time), _utc_micros(c.end_time)))
    return tuple(sorted(edges))


def _utc_micros(t: time) -> int:
    """Microseconds after UTC midnight of a time of day (naive times are UTC)."""
    if t.tzinfo is not None:
        t = datetime.combine(date(1970, 1, 1), t).astimezone(UTC).time()
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond
