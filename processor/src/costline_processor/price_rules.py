"""Price-file and corrections entries that apply to one call, and the rate cards they make.

pricing.Pricer resolves a call once per (provider, server, model, request model) into
a chain: the user's price file, then the shipped corrections, then genai-prices. A
`Rule` is the entries of one file that match the call, own names first, then the
genai-prices model the names resolve to (so `gpt-4o` applies to spans that carry
`gpt-4o-2024-08-06`); per span, the first entry active at the span's start time
(`from`/`until`) wins, else the next file, else genai-prices.

An entry that prices tokens takes the components it leaves out from the list price
of the model the call resolves to (same moment, tier and batch flag): a negotiated
`input`/`output` keeps the list `cache_read`, 1-hour writes, reasoning, per-request
fees and the prices per search (the web_search_preview one search_rules.py's, marked as its rule's).
Entries that price whole calls only (per_call, per_second, gpu_hour) stand alone.

The user's entries override the list price: such a card carries the card below it
(`list_card`, the list price of the same call) so the ledger keeps both. Corrections are
list prices themselves; whole-call entries have no list price below them (list = billed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from costline_processor import price_caveats
from costline_processor.price_file import TOKEN_RATES, PriceEntry, PriceFile
from costline_processor.rate_card import RateCard, Tiered

_ZERO = Decimal(0)


@dataclass(slots=True)
class Rule:
    """The matching entries of one file for one call, in the order they win."""

    entries: tuple[PriceEntry, ...]
    source: str  # the file's name ("prices.yaml", "corrections.yaml")
    factor: Decimal | None  # 1 - discount (corrections only: discounts never touch file prices)
    cards: dict[tuple[str, int, str | None], RateCard] = field(default_factory=dict)  # by (entry, card below, tier)
    overrides: bool = False  # the user's price file: its prices are not list prices

    def active(self, t_ns: int) -> PriceEntry | None:
        for e in self.entries:
            if e.active(t_ns):
                return e
        return None


def matching(
    file: PriceFile, own: list[str], family: list[str], providers: set[str], aliases: dict[str, str | None]
) -> tuple[PriceEntry, ...]:
    """Entries of `file` naming one of `own` names, then one of `family`, for one of `providers`."""

    def fits(e: PriceEntry, names: list[str]) -> bool:
        if e.provider is not None and e.provider not in providers and aliases.get(e.provider) not in providers:
            return False
        return any(e.match.matches(n) for n in names)

    first = [e for e in file.models if fits(e, own)]
    then = [e for e in file.models if e not in first and fits(e, family)]
    return tuple(first + then)


def prices_tokens(e: PriceEntry) -> bool:
    return any(e.has(k) for k in TOKEN_RATES)


def entry_rates(e: PriceEntry) -> tuple[Decimal | Tiered | None, ...]:
    """The entry's five token rates (input, output, cache_read, cache_write, cache_write_1h), tiers applied."""
    rates = []
    for key in TOKEN_RATES:
        base = getattr(e, key)
        steps = tuple((above, prices[key]) for above, prices in e.tiers if key in prices)
        rates.append(Tiered(base, steps) if steps and base is not None else base)
    return tuple(rates)


def entry_card(e: PriceEntry, rule: Rule, provider: str, model: str, listed: RateCard | None = None) -> RateCard:
    """The RateCard of entry `e`; `listed` (a RateCard from genai-prices or None) fills what `e` leaves out."""
    own = entry_rates(e)
    per_second = e.per_second or _ZERO
    if e.gpu_hour is not None:
        per_second = e.gpu_hour * e.gpus / 3600
    if listed is None or not prices_tokens(e):
        return RateCard(
            provider=e.provider or provider,
            model=e.model or model,
            source=rule.source,
            rates=(*own, None),
            per_call=e.per_call or _ZERO,
            per_second=per_second,
            per_web_search=e.web_search,
            per_file_search=e.file_search,
            per_preview_web_search=e.web_search_preview,
            factor=rule.factor,
        )
    merged = [o if o is not None else lr for o, lr in zip(own, listed.rates)]
    reasoning = None if e.has("output") else listed.rates[5]
    rates = (*merged, reasoning, *listed.rates[6:])
    borrowed = any(o is None and lr is not None for o, lr in zip(own, listed.rates)) or reasoning is not None
    per_call = e.per_call if e.per_call is not None else listed.per_call
    preview = e.web_search_preview
    library = listed.source.split(" + ")[0]  # "genai-prices X" (or "corrections.yaml"), without a discount's file
    source = f"{rule.source} + {library}" if borrowed or (e.per_call is None and listed.per_call) else rule.source
    return RateCard(
        provider=listed.provider,
        model=e.model or model,
        source=source,
        rates=rates,
        per_call=per_call,
        per_second=per_second,
        per_web_search=e.web_search if e.web_search is not None else listed.per_web_search,
        per_file_search=e.file_search if e.file_search is not None else listed.per_file_search,
        per_preview_web_search=preview if preview is not None else listed.per_preview_web_search,
        # the preview rule's mark goes with its price; a fixed block of tokens stays whoever prices the search
        search_marks=tuple(m for m in listed.search_marks if preview is None or m[0] != "web_search_preview"),
        # a search model's fee per call the data lacks is still missing unless the entry gives one
        caveat=price_caveats.SEARCH_MODEL_FEE_UNPRICED if e.per_call is None and _fee_missing(listed) else None,
        factor=rule.factor,
        list_card=listed if rule.overrides else None,
    )


def _fee_missing(listed: RateCard) -> bool:
    return price_caveats.SEARCH_MODEL_FEE_UNPRICED in (listed.caveat or "").split(",")


def partial_problem(e: PriceEntry) -> str | None:
    """Why entry `e` would misbill without a list price to fill it from, or None."""
    if not prices_tokens(e):
        return None
    if e.has("input") and not e.has("output"):
        return "key `output` missing: output tokens would cost $0; give output (0 if output is free)"
    if e.has("output") and not e.has("input"):
        return "key `input` missing: input tokens would cost $0; give input (0 if input is free)"
    if e.has("cache_write") and not e.has("cache_write_1h"):
        return (
            "key `cache_write_1h` missing: 1-hour cache writes would cost the 5-minute rate; "
            "give cache_write_1h (the same number if your provider has one rate)"
        )
    return None
