"""price: turn a ModelCall into a Cost, or an Unpriced reason (never a silent $0).

Prices come from genai-prices' bundled snapshot (no network unless
`allow_network_updates`, which starts its `UpdatePrices` explicitly) and from the
user price file, whose entries win. genai-prices' `calc_price` costs ~80 µs, so a
model's prices are resolved once per (provider, model, UTC day, tier, batch) into
a RateCard and spans are priced with plain Decimal arithmetic. Dated prices
change only at UTC midnight; the few models with time-of-day prices (DeepSeek
off-peak) add the index of the time-of-day segment to the cache key, so every span
still gets the price active at its own start time.

Usage is inclusive (records.Usage), so the card bills the leaves of genai-prices'
unit tree: uncached input = input - cache reads - cache writes, each cache count at
its own rate when the sheet has one (else at the input rate, as genai-prices does),
1-hour cache writes at the 1-hour rate when the sheet has one. Cost has no field
for charges that are not tokens: per-request fees, per_call and duration prices
are booked under input_usd so the components still add up to the total.

A cost the provider reported on the span wins; the card's components are scaled
to it (source "reported").
"""

from __future__ import annotations

import time
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import genai_prices
from genai_prices import data_snapshot
from genai_prices import types as gp

from .config import PricingConfig
from .price_file import PriceEntry, PriceFile, load_price_file
from .records import INVALID_USAGE, NO_MODEL, NO_USAGE, UNKNOWN_MODEL, Cost, ModelCall, Unpriced, Usage

_ZERO = Decimal(0)
_MTOK = Decimal(1_000_000)
_NS_PER_DAY = 86_400 * 10**9
_US_PER_DAY = 86_400 * 10**6
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_CACHED = 10_000  # distinct (provider, server, model) names; spans can carry any name


_new = object.__new__
_COST_SLOTS = tuple(getattr(Cost, name).__set__ for name in
                    ("total_usd", "input_usd", "output_usd", "cache_read_usd", "cache_write_usd", "model", "provider",
                     "source"))


def _cost(total, input_usd, output_usd, read_usd, write_usd, model, provider, source) -> Cost:
    """Cost(...), the same object: a frozen dataclass' __init__ sets each field through object.__setattr__
    (1.1 us per Cost here); setting its slots directly takes a third of that."""
    c = _new(Cost)
    s_total, s_in, s_out, s_read, s_write, s_model, s_provider, s_source = _COST_SLOTS
    s_total(c, total)
    s_in(c, input_usd)
    s_out(c, output_usd)
    s_read(c, read_usd)
    s_write(c, write_usd)
    s_model(c, model)
    s_provider(c, provider)
    s_source(c, source)
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


Rate = Decimal | Tiered | None


@dataclass(slots=True, frozen=True)
class RateCard:
    """One model's prices at one moment, USD per million tokens, ready to multiply.

    `cost` runs once per priced span. Most cards have flat rates only; whether a card
    has a tiered one is decided once, when it is made (`tiered`), not per span.
    """

    provider: str
    model: str
    source: str
    rates: tuple[Rate, ...]  # input, output, cache_read, cache_write, cache_write_1h, reasoning
    per_call: Decimal = _ZERO
    per_second: Decimal = _ZERO
    factor: Decimal | None = None  # 1 - discount
    tiered: bool = field(init=False, default=False, repr=False, compare=False)  # any rate a `Tiered`?

    def __post_init__(self) -> None:
        object.__setattr__(self, "tiered", any(isinstance(r, Tiered) for r in self.rates))

    def cost(self, u: Usage, duration_ns: int) -> Cost | Unpriced:
        if self.tiered:
            r_in, r_out, r_read, r_write, r_1h, r_reason = (
                r.at(u.input_tokens) if isinstance(r, Tiered) else r for r in self.rates
            )
        else:
            r_in, r_out, r_read, r_write, r_1h, r_reason = self.rates
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
        read_usd = r_read * read / _MTOK if read else _ZERO
        write_usd = (r_write * write / _MTOK if write else _ZERO) + (r_1h * write_1h / _MTOK if write_1h else _ZERO)
        output_usd = (r_out * output / _MTOK if r_out is not None and output else _ZERO) + (
            r_reason * reasoning / _MTOK if reasoning else _ZERO
        )
        if self.factor is not None:
            f = self.factor
            input_usd, read_usd, write_usd, output_usd = input_usd * f, read_usd * f, write_usd * f, output_usd * f
        total = input_usd + read_usd + write_usd + output_usd
        return _cost(total, input_usd, output_usd, read_usd, write_usd, self.model, self.provider, self.source)


@dataclass(slots=True)
class _Library:
    """A model found in genai-prices, with its cards per (day, segment, tier, batch)."""

    provider: gp.Provider
    model: gp.ModelInfo
    own_model: bool  # False when found through a fallback provider: variants do not apply
    boundaries: tuple[int, ...]  # time-of-day constraint edges, µs after UTC midnight
    factor: Decimal | None
    source: str
    cards: dict


class Pricer:
    """Prices model calls; build once per process and share."""

    def __init__(self, config: PricingConfig, *, clock=time.time_ns) -> None:
        self._file: PriceFile | None = load_price_file(config.prices_file) if config.prices_file else None
        self._library_source = f"genai-prices {genai_prices.__version__}"
        self.source = self._library_source + (f" + {self._file.name}" if self._file else "")
        self._clock = clock
        self._updater = None
        if config.allow_network_updates:
            self._updater = genai_prices.UpdatePrices()
            self._updater.start()
        self._snapshot = data_snapshot.get_snapshot()
        self._resolved: dict[tuple, _Library | RateCard | Unpriced] = {}
        self._file_providers = {}
        if self._file:
            for item in (*self._file.models, *self._file.discounts):
                if item.provider:
                    self._file_providers[item.provider] = self._canonical(item.provider)

    def close(self) -> None:
        if self._updater is not None:
            self._updater.stop()
            self._updater = None

    def price(self, call: ModelCall, start_unix_nano: int, duration_ns: int) -> Cost | Unpriced:
        if call.reported_cost_usd is not None:
            return _reported(call, self._compute(call, start_unix_nano, duration_ns))
        return self._compute(call, start_unix_nano, duration_ns)

    def _compute(self, call: ModelCall, start_unix_nano: int, duration_ns: int) -> Cost | Unpriced:
        if call.status is not None:
            return Unpriced(call.status, call.detail or "")
        if not (call.model or call.request_model):
            return Unpriced(NO_MODEL, "the span names no model")
        if call.usage is None:
            return Unpriced(NO_USAGE, "the span carries no token counts")
        if self._updater is not None and data_snapshot.get_snapshot() is not self._snapshot:
            self._snapshot, self._resolved = data_snapshot.get_snapshot(), {}
        key = (call.provider, call.server_address, call.model, call.request_model)
        found = self._resolved.get(key)
        if found is None:
            if len(self._resolved) >= _MAX_CACHED:
                self._resolved.clear()
            found = self._resolved[key] = self._resolve(call)
        if isinstance(found, _Library):
            found = self._library_card(found, call, start_unix_nano)
        if isinstance(found, Unpriced):
            return found
        return found.cost(call.usage, duration_ns)

    # --- resolution: which price sheet names this call ------------------------------------

    def _resolve(self, call: ModelCall) -> _Library | RateCard | Unpriced:
        refs = [r for r in dict.fromkeys((call.model, call.request_model)) if r]
        if self._file:
            for entry in self._file.models:
                for ref in refs:
                    if entry.match.matches(ref) and self._provider_matches(entry.provider, call):
                        return self._file_card(entry, ref, call)
        attempts = []
        if call.provider:
            attempts.append((call.provider, None))
        if call.server_address:
            address = call.server_address
            attempts.append((None, address if "://" in address else f"https://{address}"))
        attempts.append((None, None))
        for ref in refs:
            for provider_id, url in attempts:
                try:
                    provider, model = self._snapshot.find_provider_model(ref, None, provider_id, url)
                except LookupError:
                    continue
                return self._library(provider, model, refs)
        return Unpriced(
            UNKNOWN_MODEL,
            f"no price for model {refs[0]!r} (provider {call.provider or 'unknown'}"
            f"{', server ' + call.server_address if call.server_address else ''}) in {self.source}",
        )

    def _library(self, provider: gp.Provider, model: gp.ModelInfo, refs: list[str]) -> _Library:
        discount = self._discount(provider.id, [*refs, model.id])
        source = self._library_source if discount is None else f"{self._library_source} + {self._file.name}"
        return _Library(
            provider=provider,
            model=model,
            own_model=any(model is m for m in provider.models),
            boundaries=_time_of_day_boundaries(model),
            factor=None if discount is None else 1 - discount,
            source=source,
            cards={},
        )

    def _discount(self, provider_id: str, names: list[str]) -> Decimal | None:
        if not self._file:
            return None
        general = None
        for d in self._file.discounts:
            if d.provider != provider_id and self._file_providers.get(d.provider) != provider_id:
                continue
            if d.match is None:
                general = d.fraction if general is None else general
            elif any(d.match.matches(n) for n in names):
                return d.fraction
        return general

    def _provider_matches(self, wanted: str | None, call: ModelCall) -> bool:
        if wanted is None:
            return True
        have = {call.provider, self._canonical(call.provider) if call.provider else None}
        if call.server_address:
            have.add(self._canonical_by_address(call.server_address))
        return wanted in have or self._file_providers.get(wanted) in have - {None}

    def _canonical(self, name: str) -> str | None:
        provider = data_snapshot.find_provider_by_id(self._snapshot.providers, name)
        return provider.id if provider else None

    def _canonical_by_address(self, address: str) -> str | None:
        try:
            url = address if "://" in address else f"https://{address}"
            return self._snapshot.find_provider(None, None, url).id
        except LookupError:
            return None

    # --- rate cards ---------------------------------------------------------------------------

    def _file_card(self, entry: PriceEntry, ref: str, call: ModelCall) -> RateCard:
        per_second = entry.per_second or _ZERO
        if entry.gpu_hour is not None:
            per_second = entry.gpu_hour * entry.gpus / 3600
        return RateCard(
            provider=entry.provider or call.provider or "",
            model=entry.model or ref,
            source=self._file.name,
            rates=(entry.input, entry.output, entry.cache_read, entry.cache_write, entry.cache_write_1h, None),
            per_call=entry.per_call or _ZERO,
            per_second=per_second,
        )

    def _library_card(self, lib: _Library, call: ModelCall, start_unix_nano: int) -> RateCard | Unpriced:
        if start_unix_nano <= 0:
            start_unix_nano = self._clock()
        day = start_unix_nano // _NS_PER_DAY
        segment = bisect_right(lib.boundaries, (start_unix_nano // 1000) % _US_PER_DAY) if lib.boundaries else 0
        key = (day, segment, call.service_tier, call.batch)
        card = lib.cards.get(key)
        if card is None:
            if len(lib.cards) >= _MAX_CACHED:
                lib.cards.clear()
            card = lib.cards[key] = self._compile(lib, call, start_unix_nano)
        return card

    def _compile(self, lib: _Library, call: ModelCall, start_unix_nano: int) -> RateCard | Unpriced:
        when = _EPOCH + timedelta(microseconds=start_unix_nano // 1000)
        context = {}
        if call.service_tier:
            context["service_tier"] = call.service_tier
        if call.batch:
            context["processing"] = "batch"
        prices = lib.model.get_prices(when, context if lib.own_model else None)
        rates = tuple(
            _rate(getattr(prices, key))
            for key in ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "cache_write_1h_mtok",
                        "output_reasoning_mtok")
        )
        per_request = _rate(getattr(prices, "requests_kcount"))
        if rates[0] is None and rates[1] is None and per_request is None:
            return Unpriced(UNKNOWN_MODEL, f"{self._library_source} has no token prices for {lib.provider.id} {lib.model.id}")
        return RateCard(
            provider=lib.provider.id,
            model=lib.model.id,
            source=lib.source,
            rates=rates,
            per_call=per_request / 1000 if isinstance(per_request, Decimal) else _ZERO,
            factor=lib.factor,
        )


def _rate(value: object) -> Rate:
    if isinstance(value, gp.TieredPrices):
        tiers = tuple(sorted(((t.start, t.price) for t in value.tiers), reverse=True))
        return Tiered(value.base, tiers)
    return value if isinstance(value, Decimal) else None


def _time_of_day_boundaries(model: gp.ModelInfo) -> tuple[int, ...]:
    constraints = [p.constraint for p in model.prices] if isinstance(model.prices, list) else []
    constraints += [v.constraint for v in model.price_variants or ()]
    edges = set()
    for c in constraints:
        if isinstance(c, gp.TimeOfDateConstraint):
            edges.update((_utc_micros(c.start_time), _utc_micros(c.end_time)))
    return tuple(sorted(edges))


def _utc_micros(t) -> int:
    """Microseconds after UTC midnight of a time of day (naive times are UTC)."""
    if t.tzinfo is not None:
        t = datetime.combine(date(1970, 1, 1), t).astimezone(UTC).time()
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def _reported(call: ModelCall, computed: Cost | Unpriced) -> Cost:
    """The provider's own figure, split like the computed cost when there is one."""
    total = call.reported_cost_usd
    if isinstance(computed, Cost) and computed.total_usd > 0:
        ratio = total / computed.total_usd
        parts = [computed.input_usd * ratio, computed.output_usd * ratio,
                 computed.cache_read_usd * ratio, computed.cache_write_usd * ratio]
        largest = max(range(4), key=lambda i: parts[i])
        parts[largest] += total - sum(parts)
        return Cost(total, parts[0], parts[1], parts[2], parts[3], computed.model, computed.provider, "reported")
    model = computed.model if isinstance(computed, Cost) else (call.model or call.request_model or "")
    provider = computed.provider if isinstance(computed, Cost) else (call.provider or "")
    return Cost(total, _ZERO, _ZERO, _ZERO, _ZERO, model, provider, "reported")
