"""price: turn a ModelCall into a Cost, or an Unpriced reason (never a silent $0).

Prices come from genai-prices' bundled snapshot (no network unless
`allow_network_updates`, which starts its `UpdatePrices` explicitly), from the
shipped corrections (prices/corrections.yaml: dated fixes of stale bundled data) and
from the user price file, whose entries win over both (price_rules.py). Span model
names are resolved by model_names.py (routes, vendor prefixes, Bedrock ids, Google
resource names, `pricing.deployments`). genai-prices' `calc_price` costs ~80 µs, so a
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

Audio counts are priced at the card's audio rates (audio_cost.py; only calls with audio
tokens take that path). A call in a service tier or batch that genai-prices does not list
for the model at the call's date is priced by the provider's documented rule for the tier,
or at the standard rate when there is none, and its card carries a caveat that every Cost
it makes repeats (price_caveats.py): never silently at the standard rate.

A cost the provider reported on the span wins; the card's components are scaled
to it (source "reported", no caveat: it is the bill).

List price beside the bill (Cost.list_usd): a call with no discount and no price-file
override costs its list price, so the card copies the total (one slot more per span).
A discounted card keeps its sum before the factor. A price-file entry's card carries the
card it overrides (`list_card`: corrections or genai-prices below it, as `_chosen` finds
it) and prices the call on both through sku_cost.py, like every call whose components
are not each one token type at one rate (fees, separately priced reasoning, 1-hour
writes, cache counts without a cache rate, audio); the span's attributes never change.
A reported cost keeps the computed ratio of list to billed.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from pathlib import Path
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import genai_prices
from genai_prices import data_snapshot
from genai_prices import types as gp

from costline_processor import audio_cost, model_names, price_caveats, price_rules, sku_cost
from costline_processor.config import ConfigError, PricingConfig
from costline_processor.price_file import PriceFile, load_price_file
from costline_processor.records import INVALID_USAGE, NO_MODEL, NO_USAGE, UNKNOWN_MODEL, Cost, ModelCall, Unpriced, Usage

_ZERO = Decimal(0)
_MTOK = Decimal(1_000_000)
_NS_PER_DAY = 86_400 * 10**9
_US_PER_DAY = 86_400 * 10**6
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_CACHED = 10_000  # distinct (provider, server, model) names; spans can carry any name
CORRECTIONS = str(Path(__file__).parent / "prices" / "corrections.yaml")


_new = object.__new__
_COST_SLOTS = tuple(getattr(Cost, name).__set__ for name in
                    ("total_usd", "input_usd", "output_usd", "cache_read_usd", "cache_write_usd", "model", "provider",
                     "source", "caveat", "list_usd", "skus"))


def _cost(total, input_usd, output_usd, read_usd, write_usd, model, provider, source, caveat, list_usd, skus) -> Cost:
    """Cost(...), the same object: a frozen dataclass' __init__ sets each field through object.__setattr__
    (1.1 us per Cost here); setting its slots directly takes a third of that."""
    c = _new(Cost)
    s_total, s_in, s_out, s_read, s_write, s_model, s_provider, s_source, s_caveat, s_list, s_skus = _COST_SLOTS
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

    def scaled(self, factor: Decimal) -> "Tiered":
        return Tiered(self.base * factor, tuple((start, price * factor) for start, price in self.tiers))


Rate = Decimal | Tiered | None


@dataclass(slots=True, frozen=True)
class RateCard:
    """One model's prices at one moment, USD per million tokens, ready to multiply.

    `cost` runs once per priced span. Most cards have flat rates only; whether a card
    has a tiered one is decided once, when it is made (`tiered`), not per span. Calls
    with audio tokens take `_audio_cost` (audio_cost.py); the rest never look at the
    audio rates. `caveat` (price_caveats.py) is copied onto every Cost the card makes.
    """

    provider: str
    model: str
    source: str
    # input, output, cache_read, cache_write, cache_write_1h, reasoning, input_audio, output_audio,
    # cache_audio_read (six are padded with three None: no audio rates)
    rates: tuple[Rate, ...]
    per_call: Decimal = _ZERO
    per_second: Decimal = _ZERO
    factor: Decimal | None = None  # 1 - discount
    caveat: str | None = None
    list_card: "RateCard | None" = None  # the card a price-file entry overrides: the list price
    tiered: bool = field(init=False, default=False, repr=False, compare=False)  # any rate a `Tiered`?
    mixed: bool = field(init=False, default=False, repr=False, compare=False)  # every call by SKU (sku_cost)?

    def __post_init__(self) -> None:
        if len(self.rates) < 9:
            object.__setattr__(self, "rates", (*self.rates, *(None,) * (9 - len(self.rates))))
        object.__setattr__(self, "tiered", any(isinstance(r, Tiered) for r in self.rates))
        mixed = self.list_card is not None or bool(self.per_call) or bool(self.per_second)
        object.__setattr__(self, "mixed", mixed)

    def cost(self, u: Usage, duration_ns: int) -> Cost | Unpriced:
        if u.audio_input_tokens or u.audio_output_tokens:
            return audio_cost.cost(self, u, duration_ns)
        if self.tiered:
            r_in, r_out, r_read, r_write, r_1h, r_reason, _, _, _ = (
                r.at(u.input_tokens) if isinstance(r, Tiered) else r for r in self.rates
            )
        else:
            r_in, r_out, r_read, r_write, r_1h, r_reason, _, _, _ = self.rates
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
            listed = input_usd + read_usd + write_usd + output_usd
            input_usd, read_usd, write_usd, output_usd = input_usd * f, read_usd * f, write_usd * f, output_usd * f
            total = input_usd + read_usd + write_usd + output_usd
        else:
            total = listed = input_usd + read_usd + write_usd + output_usd
        skus = None
        if self.mixed or reasoning or write_1h or read + write != u.cache_read_tokens + u.cache_write_tokens:
            skus = sku_cost.breakdown(self, u, duration_ns)
            listed = sum((s[3] for s in skus), _ZERO)
        return _cost(total, input_usd, output_usd, read_usd, write_usd, self.model, self.provider, self.source,
                     self.caveat, listed, skus)


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


@dataclass(slots=True)
class _Chain:
    """Price-file and corrections rules for one call name, then genai-prices (or why not)."""

    rules: tuple[price_rules.Rule, ...]
    library: _Library | None
    unpriced: Unpriced | None
    ref: str


class Pricer:
    """Prices model calls; build once per process and share."""

    def __init__(self, config: PricingConfig, *, clock=time.time_ns, corrections: str | None = CORRECTIONS) -> None:
        self._file: PriceFile | None = load_price_file(config.prices_file) if config.prices_file else None
        self._corrections = load_price_file(corrections, "corrections file") if corrections else None
        self._deployments = {k.strip().lower(): v for k, v in (getattr(config, "deployments", None) or {}).items()}
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
        for f in (self._file, self._corrections):
            for item in (*f.models, *f.discounts) if f else ():
                for name in (item.provider, *getattr(item, "via", ())):
                    if name:
                        self._file_providers[name] = self._canonical(name)
        self._check_file()

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
        if isinstance(found, _Chain):
            found = self._chosen(found, call, start_unix_nano)
        if isinstance(found, _Library):
            found = self._library_card(found, call, start_unix_nano)
        if isinstance(found, Unpriced):
            return found
        return found.cost(call.usage, duration_ns)

    def explain(self, call: ModelCall, start_unix_nano: int) -> tuple[RateCard | Unpriced, object | None]:
        """The card `price` would use for `call` at that moment, and the price-file or corrections entry behind
        it (None: genai-prices alone). For `costline prices show`; not cached."""
        if not (call.model or call.request_model):
            return Unpriced(NO_MODEL, "no model name"), None
        found, entry = self._resolve(call), None
        if isinstance(found, _Chain):
            entry = next((e for r in found.rules if (e := r.active(start_unix_nano)) is not None), None)
            found = self._chosen(found, call, start_unix_nano)
        if isinstance(found, _Library):
            found = self._library_card(found, call, start_unix_nano)
        return found, entry

    # --- resolution: which price sheet names this call ------------------------------------

    def _resolve(self, call: ModelCall) -> _Library | _Chain | Unpriced:
        refs = [r for r in dict.fromkeys((call.model, call.request_model)) if r]
        looks = model_names.lookups(refs, call.provider, call.server_address, self._deployments)
        lib = self._find(looks, refs)
        own = model_names.names_of(looks)
        family = [lib.model.id] if lib else []
        rules = []
        if self._file:
            have = self._providers(call, looks, lib)
            entries = price_rules.matching(self._file, own, family, have, self._file_providers)
            if entries:
                rules.append(price_rules.Rule(entries, self._file.name, None, overrides=True))
        if self._corrections:
            have = {lib.provider.id} if lib else self._providers(call, looks, None)
            entries = price_rules.matching(self._corrections, own, family, have, self._file_providers)
            if entries:
                factor = lib.factor if lib else None
                rules.append(price_rules.Rule(entries, self._corrections.name, factor))
        unpriced = None if lib else self._unknown(refs, call, looks)
        if not rules:
            return lib or unpriced
        return _Chain(tuple(rules), lib, unpriced, own[0])

    def _find(self, looks: list[model_names.Lookup], refs: list[str]) -> _Library | None:
        for lk in looks:
            try:
                provider, model = self._snapshot.find_provider_model(lk.ref, None, lk.provider, lk.url)
            except LookupError:
                continue
            return self._library(provider, model, [*refs, lk.ref])
        return None

    def _unknown(self, refs: list[str], call: ModelCall, looks: list[model_names.Lookup]) -> Unpriced:
        routes = sorted({lk.provider for lk in looks if lk.route})
        where = f"on {', '.join(routes)} (named by the model name)" if routes else f"provider {call.provider or 'unknown'}"
        server = f", server {call.server_address}" if call.server_address else ""
        return Unpriced(UNKNOWN_MODEL, f"no price for model {refs[0]!r} ({where}{server}) in {self.source}")

    def _providers(self, call: ModelCall, looks: list[model_names.Lookup], lib: _Library | None) -> set[str]:
        """Provider ids a price-file entry's `provider` may name for this call."""
        have = {lk.provider for lk in looks if lk.provider and (lk.route or lk.provider == call.provider)}
        if call.provider:
            have |= {call.provider, self._canonical(call.provider)}
        if call.server_address:
            have.add(self._canonical_by_address(call.server_address))
        if lib:
            have.add(lib.provider.id)
        have.discard(None)
        return have

    def _chosen(self, chain: _Chain, call: ModelCall, start_unix_nano: int, first: int = 0
                ) -> RateCard | _Library | Unpriced:
        """The card of the first rule (from `first`) with an entry active at the span's start, else the library."""
        t = start_unix_nano if start_unix_nano > 0 else self._clock()
        for i in range(first, len(chain.rules)):
            rule = chain.rules[i]
            entry = rule.active(t)
            if entry is None:
                continue
            listed = None
            if price_rules.prices_tokens(entry):  # what the entry leaves out comes from the price below it
                listed = self._chosen(chain, call, t, i + 1)
                if isinstance(listed, _Library):
                    listed = self._library_card(listed, call, t)
                listed = listed if isinstance(listed, RateCard) else None
            key = (entry.where, id(listed))
            card = rule.cards.get(key)
            if card is None:
                if len(rule.cards) >= _MAX_CACHED:
                    rule.cards.clear()
                provider = chain.library.provider.id if chain.library else (call.provider or "")
                card = rule.cards[key] = price_rules.entry_card(entry, rule, provider, chain.ref, listed)
            return card
        return chain.library or chain.unpriced

    def _library(self, provider: gp.Provider, model: gp.ModelInfo, refs: list[str]) -> _Library:
        own_model = any(model is m for m in provider.models)
        discount = self._discount(provider.id, [*refs, model.id], self._vendor(provider, model, own_model))
        source = self._library_source if discount is None else f"{self._library_source} + {self._file.name}"
        return _Library(
            provider=provider,
            model=model,
            own_model=own_model,
            boundaries=_time_of_day_boundaries(model),
            factor=None if discount is None else 1 - discount,
            source=source,
            cards={},
        )

    def _vendor(self, provider: gp.Provider, model: gp.ModelInfo, own_model: bool) -> str | None:
        """Whose model this is (for discounts `via` a reseller): the owner of a fallback model, else by name."""
        if not own_model:
            for p in self._snapshot.providers:
                if any(model is m for m in p.models):
                    return p.id
        return model_names.vendor_of(model.id)

    def _discount(self, provider_id: str, names: list[str], vendor: str | None = None) -> Decimal | None:
        if not self._file:
            return None
        general = None
        for d in self._file.discounts:
            billed = d.provider == provider_id or self._file_providers.get(d.provider) == provider_id
            resold = vendor is not None and (d.provider == vendor or self._file_providers.get(d.provider) == vendor) \
                and any(v == provider_id or self._file_providers.get(v) == provider_id for v in d.via)
            if not (billed or resold):
                continue
            if d.match is None:
                general = d.fraction if general is None else general
            elif any(d.match.matches(n) for n in names):
                return d.fraction
        return general

    def _check_file(self) -> None:
        """Refuse at load what would misbill silently: unknown providers, partial entries without a list price."""
        f = self._file
        if not f:
            return
        for d in f.discounts:
            for name in (d.provider, *d.via):
                if self._file_providers.get(name) is None:
                    raise ConfigError(f"{d.where}: provider {name!r} is not one "
                                      f"genai-prices knows (e.g. openai, anthropic, aws, google, azure)")
        for e in f.models:
            problem = price_rules.partial_problem(e)
            if problem is None or (e.model and self._listed(e)):
                continue
            why = "genai-prices has no list price for it" if e.model else "a `match:` entry has no one list price"
            raise ConfigError(f"{e.where}: {problem} ({why} to fill it from)")

    def _listed(self, e) -> bool:
        looks = model_names.lookups([e.model], e.provider, None, self._deployments)
        return self._find(looks, [e.model]) is not None

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
        scale, caveat = None, None
        tier = price_caveats.tier_of(call.service_tier, call.batch)
        if tier is not None and not (lib.own_model and _lists_tier(lib.model, when, tier)):
            prices, scale, caveat = self._tier_by_rule(lib, when, tier)
        rates = tuple(_rate(getattr(prices, key)) for key in _PRICE_KEYS)
        if scale is not None:
            rates = tuple(r.scaled(scale) if isinstance(r, Tiered) else r * scale if r is not None else None
                          for r in rates)
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
            caveat=caveat,
        )

    def _tier_by_rule(self, lib: _Library, when: datetime, tier: str) -> tuple[gp.ModelPrice, Decimal | None, str]:
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


_PRICE_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "cache_write_1h_mtok",
               "output_reasoning_mtok", "input_audio_mtok", "output_audio_mtok", "cache_audio_read_mtok")


def _lists_tier(model: gp.ModelInfo, when: datetime, tier: str) -> bool:
    """Whether the price data has a price for `tier` active at `when` (a variant that prices something)."""
    key, value = price_caveats.context_of(tier)
    for v in model.price_variants or ():
        if v.when == {key: value} and (v.constraint is None or v.constraint.active(when)) \
                and any(p is not None for p in v.prices.__dict__.values()):
            return True
    return False


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
        return Cost(total, parts[0], parts[1], parts[2], parts[3], computed.model, computed.provider, "reported",
                    list_usd=computed.list_usd * ratio)
    model = computed.model if isinstance(computed, Cost) else (call.model or call.request_model or "")
    provider = computed.provider if isinstance(computed, Cost) else (call.provider or "")
    return Cost(total, _ZERO, _ZERO, _ZERO, _ZERO, model, provider, "reported")
