"""price: turn a ModelCall into a Cost, or an Unpriced reason (never a silent $0).

Prices come from genai-prices' bundled snapshot (no network unless
`allow_network_updates`, which starts its `UpdatePrices` explicitly), from the
shipped corrections (prices/corrections.yaml: dated fixes of stale bundled data) and
from the user price file, whose entries win over both (price_rules.py). Span model
names are resolved by model_names.py (routes, vendor prefixes, Bedrock ids, Google
resource names, `pricing.deployments`). genai-prices' `calc_price` costs ~80 µs, so a
model's prices are resolved once per (provider, model, UTC day, tier, batch) into
a RateCard (rate_card.py; from genai-prices in price_library.py) and spans are priced
with plain Decimal arithmetic. Dated prices change only at UTC midnight; the few models
with time-of-day prices (DeepSeek off-peak) add the index of the time-of-day segment to
the cache key, so every span still gets the price active at its own start time.

This module holds the Pricer: which sheet names a call (`_resolve`, cached per call
name), which rule's entry is active at the span's start (`_chosen`), and the card cache
per day. How a card bills a Usage (inclusive counts, cache and 1-hour writes, fees under
input_usd, audio, SKUs) is rate_card.py's docstring. A call in a service tier or batch
that genai-prices does not list for the model at the call's date is priced by the
provider's documented rule for the tier, or at the standard rate when there is none, and
its card carries a caveat that every Cost it makes repeats (price_caveats.py): never
silently at the standard rate. A price-file entry is a standard rate too: a call in another
tier priced by one keeps the entry's price (a negotiated batch rate is not costline's to guess)
and its card says so (tier_unpriced:TIER). A correction is a list price: the tier's documented
rule applies to it as to genai-prices' (`_in_tier`).

A cost the provider reported on the span wins; the card's components are scaled
to it (source "reported", no caveat: it is the bill).

List price beside the bill (Cost.list_usd): a call with no discount and no price-file
override costs its list price, so the card copies the total (one slot more per span).
A discounted card keeps its sum before the factor. A price-file entry's card carries the
card it overrides (`list_card`: corrections or genai-prices below it, as `_chosen` finds
it) and prices the call on both through sku_cost.py, like every call whose components
are not each one token type at one rate (fees, separately priced reasoning, 1-hour
writes, cache counts without a cache rate, audio); the span's attributes never change.
A reported cost keeps the computed ratio of list to billed, and its SKUs scaled to it.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import genai_prices
from genai_prices import data_snapshot
from genai_prices import types as gp

from costline_processor import model_names, price_caveats, price_rules
from costline_processor.config import ConfigError, PricingConfig
from costline_processor.price_file import Discount, PriceEntry, PriceFile, load_price_file
from costline_processor.price_library import LibraryModel, compile_card, time_of_day_boundaries
from costline_processor.rate_card import RateCard, Tiered
from costline_processor.records import (
    DIALECTS_WITHOUT_IMAGE_COUNTS,
    NO_MODEL,
    NO_USAGE,
    UNKNOWN_MODEL,
    Cost,
    ModelCall,
    Sku,
    Unpriced,
    Usage,
)

_ZERO = Decimal(0)
_NS_PER_DAY = 86_400 * 10**9
_US_PER_DAY = 86_400 * 10**6
_MAX_CACHED = 10_000  # distinct (provider, server, model) names; spans can carry any name
CORRECTIONS = str(Path(__file__).parent / "prices" / "corrections.yaml")


@dataclass(slots=True)
class _Chain:
    """Price-file and corrections rules for one call name, then genai-prices (or why not)."""

    rules: tuple[price_rules.Rule, ...]
    fallback: LibraryModel | Unpriced  # genai-prices' model, or why it has none
    ref: str


class Pricer:
    """Prices model calls; build once per process and share."""

    def __init__(
        self, config: PricingConfig, *, clock: Callable[[], int] = time.time_ns, corrections: str | None = CORRECTIONS
    ) -> None:
        self._file: PriceFile | None = load_price_file(config.prices_file) if config.prices_file else None
        self._corrections = load_price_file(corrections, "corrections file") if corrections else None
        self._deployments = {k.strip().lower(): v for k, v in (getattr(config, "deployments", None) or {}).items()}
        self._library_source = f"genai-prices {genai_prices.__version__}"
        self.source = self._library_source + (f" + {self._file.name}" if self._file else "")
        self._clock = clock
        self._updater: genai_prices.UpdatePrices | None = None
        if config.allow_network_updates:
            self._updater = genai_prices.UpdatePrices()
            self._updater.start()
        self._snapshot = data_snapshot.get_snapshot()
        # by (provider, server address, model, request model): what `_resolve` found for that name
        self._resolved: dict[tuple[str | None, ...], LibraryModel | _Chain | Unpriced] = {}
        self._file_providers: dict[str, str | None] = {}  # a price-file provider name -> genai-prices' id
        for f in (self._file, self._corrections):
            items: tuple[PriceEntry | Discount, ...] = (*f.models, *f.discounts) if f else ()
            for item in items:
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
            return _reported(call.reported_cost_usd, call, self._compute(call, start_unix_nano, duration_ns))
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
        found: LibraryModel | _Chain | RateCard | Unpriced | None = self._resolved.get(key)
        if found is None:
            if len(self._resolved) >= _MAX_CACHED:
                self._resolved.clear()
            found = self._resolved[key] = self._resolve(call)
        if isinstance(found, _Chain):
            found = self._chosen(found, call, start_unix_nano)
        if isinstance(found, LibraryModel):
            found = self._library_card(found, call, start_unix_nano)
        if isinstance(found, Unpriced):
            return found
        if found.image_output and call.dialect in DIALECTS_WITHOUT_IMAGE_COUNTS:  # (rare: an image model's card)
            return _images_unknown(found.cost(call.usage, duration_ns), call.usage)
        return found.cost(call.usage, duration_ns)

    def explain(self, call: ModelCall, start_unix_nano: int) -> tuple[RateCard | Unpriced, PriceEntry | None]:
        """The card `price` would use for `call` at that moment, and the price-file or corrections entry behind
        it (None: genai-prices alone). For `costline prices show`; not cached."""
        if not (call.model or call.request_model):
            return Unpriced(NO_MODEL, "no model name"), None
        found: LibraryModel | _Chain | RateCard | Unpriced = self._resolve(call)
        entry = None
        if isinstance(found, _Chain):
            entry = next((e for r in found.rules if (e := r.active(start_unix_nano)) is not None), None)
            found = self._chosen(found, call, start_unix_nano)
        if isinstance(found, LibraryModel):
            found = self._library_card(found, call, start_unix_nano)
        return found, entry

    # --- resolution: which price sheet names this call ------------------------------------

    def _resolve(self, call: ModelCall) -> LibraryModel | _Chain | Unpriced:
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
        fallback = lib if lib else self._unknown(refs, call, looks)
        if not rules:
            return fallback
        return _Chain(tuple(rules), fallback, own[0])

    def _find(self, looks: list[model_names.Lookup], refs: list[str]) -> LibraryModel | None:
        for lk in looks:
            try:
                provider, model = self._snapshot.find_provider_model(lk.ref, None, lk.provider, lk.url)
            except LookupError:
                continue
            return self._library(provider, model, [*refs, lk.ref])
        return None

    def _unknown(self, refs: list[str], call: ModelCall, looks: list[model_names.Lookup]) -> Unpriced:
        routes = sorted({lk.provider for lk in looks if lk.route and lk.provider})
        where = (
            f"on {', '.join(routes)} (named by the model name)" if routes else f"provider {call.provider or 'unknown'}"
        )
        server = f", server {call.server_address}" if call.server_address else ""
        return Unpriced(UNKNOWN_MODEL, f"no price for model {refs[0]!r} ({where}{server}) in {self.source}")

    def _providers(self, call: ModelCall, looks: list[model_names.Lookup], lib: LibraryModel | None) -> set[str]:
        """Provider ids a price-file entry's `provider` may name for this call."""
        have: set[str | None] = {
            lk.provider for lk in looks if lk.provider and (lk.route or lk.provider == call.provider)
        }
        if call.provider:
            have |= {call.provider, self._canonical(call.provider)}
        if call.server_address:
            have.add(self._canonical_by_address(call.server_address))
        if lib:
            have.add(lib.provider.id)
        return {p for p in have if p is not None}

    def _chosen(
        self, chain: _Chain, call: ModelCall, start_unix_nano: int, first: int = 0
    ) -> RateCard | LibraryModel | Unpriced:
        """The card of the first rule (from `first`) with an entry active at the span's start, else the library."""
        t = start_unix_nano if start_unix_nano > 0 else self._clock()
        for i in range(first, len(chain.rules)):
            rule = chain.rules[i]
            entry = rule.active(t)
            if entry is None:
                continue
            listed: RateCard | None = None
            if price_rules.prices_tokens(entry):  # what the entry leaves out comes from the price below it
                below = self._chosen(chain, call, t, i + 1)
                if isinstance(below, LibraryModel):
                    below = self._library_card(below, call, t)
                listed = below if isinstance(below, RateCard) else None
            tier = price_caveats.tier_of(call.service_tier, call.batch)
            key = (entry.where, id(listed), tier)
            card = rule.cards.get(key)
            if card is None:
                if len(rule.cards) >= _MAX_CACHED:
                    rule.cards.clear()
                lib = chain.fallback
                provider = lib.provider.id if isinstance(lib, LibraryModel) else (call.provider or "")
                card = price_rules.entry_card(entry, rule, provider, chain.ref, listed)
                if tier is not None:
                    card = _in_tier(card, entry, rule, tier)
                rule.cards[key] = card
            return card
        return chain.fallback

    def _library(self, provider: gp.Provider, model: gp.ModelInfo, refs: list[str]) -> LibraryModel:
        own_model = any(model is m for m in provider.models)
        discount = self._discount(provider.id, [*refs, model.id], self._vendor(provider, model, own_model))
        source = (
            self._library_source
            if discount is None or not self._file
            else f"{self._library_source} + {self._file.name}"
        )
        return LibraryModel(
            provider=provider,
            model=model,
            own_model=own_model,
            boundaries=time_of_day_boundaries(model),
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
            resold = (
                vendor is not None
                and (d.provider == vendor or self._file_providers.get(d.provider) == vendor)
                and any(v == provider_id or self._file_providers.get(v) == provider_id for v in d.via)
            )
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
                    raise ConfigError(
                        f"{d.where}: provider {name!r} is not one "
                        f"genai-prices knows (e.g. openai, anthropic, aws, google, azure)"
                    )
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

    def _library_card(self, lib: LibraryModel, call: ModelCall, start_unix_nano: int) -> RateCard | Unpriced:
        if start_unix_nano <= 0:
            start_unix_nano = self._clock()
        day = start_unix_nano // _NS_PER_DAY
        segment = bisect_right(lib.boundaries, (start_unix_nano // 1000) % _US_PER_DAY) if lib.boundaries else 0
        key = (day, segment, call.service_tier, call.batch)
        card = lib.cards.get(key)
        if card is None:
            if len(lib.cards) >= _MAX_CACHED:
                lib.cards.clear()
            card = lib.cards[key] = compile_card(lib, call, start_unix_nano, self._library_source)
        return card


def _in_tier(card: RateCard, entry: PriceEntry, rule: price_rules.Rule, tier: str) -> RateCard:
    """An entry's card for a call in a non-standard `tier`. A correction is a list price: the provider's
    documented rule for the tier applies to the rates it gives (those it borrows come from the library's card
    for the same tier already). A user's entry is its own rate, which the tier's bill is not: marked, unscaled."""
    found = None if rule.overrides else price_caveats.TIER_RULES.get((card.provider, tier))
    if found is None:
        return replace(card, caveat=price_caveats.joined(card.caveat, price_caveats.UNPRICED + tier))
    own = price_rules.entry_rates(entry)
    rates = tuple(
        (r.scaled(found.factor) if isinstance(r, Tiered) else r * found.factor)
        if i < len(own) and own[i] is not None and r is not None
        else r
        for i, r in enumerate(card.rates)
    )
    return replace(card, rates=rates, caveat=price_caveats.joined(card.caveat, price_caveats.BY_RULE + tier))


def _images_unknown(cost: Cost | Unpriced, usage: Usage) -> Cost | Unpriced:
    """`cost` of an image model's call from a span that counts no image tokens, marked when it has output: which of
    its output tokens were an image (at the image rate) the span does not say, so all were billed as text."""
    if isinstance(cost, Unpriced) or not usage.output_tokens or usage.image_output_tokens:
        return cost
    return replace(cost, caveat=price_caveats.joined(cost.caveat, price_caveats.IMAGE_SPLIT_UNKNOWN))


def _reported(total: Decimal, call: ModelCall, computed: Cost | Unpriced) -> Cost:
    """The provider's own figure `total`, split like the computed cost when there is one."""
    if isinstance(computed, Cost) and computed.total_usd > 0:
        ratio = total / computed.total_usd
        c = computed
        parts = _scaled([c.input_usd, c.output_usd, c.cache_read_usd, c.cache_write_usd], ratio, total)
        listed = (computed.list_usd if computed.list_usd is not None else computed.total_usd) * ratio
        return Cost(
            total,
            parts[0],
            parts[1],
            parts[2],
            parts[3],
            computed.model,
            computed.provider,
            "reported",
            list_usd=listed,
            skus=None if computed.skus is None else _scaled_skus(computed.skus, ratio, total, listed),
        )
    model = computed.model if isinstance(computed, Cost) else (call.model or call.request_model or "")
    provider = computed.provider if isinstance(computed, Cost) else (call.provider or "")
    return Cost(total, _ZERO, _ZERO, _ZERO, _ZERO, model, provider, "reported")


def _scaled_skus(skus: tuple[Sku, ...], ratio: Decimal, total: Decimal, listed: Decimal) -> tuple[Sku, ...]:
    """A computed cost's SKUs (web searches, images, fees... apart) scaled to a reported `total`, so they add up to
    the total and the list price exactly."""
    billed = _scaled([s[2] for s in skus], ratio, total)
    lists = _scaled([s[3] for s in skus], ratio, listed)
    return tuple((s[0], s[1], b, lp) for s, b, lp in zip(skus, billed, lists))


def _scaled(values: list[Decimal], ratio: Decimal, goal: Decimal) -> list[Decimal]:
    """`values` times `ratio`, the rounding remainder on the largest, so they add up to `goal` exactly."""
    out = [v * ratio for v in values]
    largest = max(range(len(out)), key=lambda i: out[i])
    out[largest] += goal - sum(out, _ZERO)
    return out
