"""The cost of a call with audio tokens: audio at the card's audio rates, the rest as text.

Audio counts are subsets (records.Usage): audio input of input, audio cache reads of both
cache reads and audio input, audio output of output. genai-prices' unit tree prices the
leaves, and so does this:

    audio cache reads            at cache_audio_read   (no such rate: stay text cache reads)
    other audio input            at input_audio        (no such rate: stays text input)
    audio output                 at output_audio       (no such rate: stays text output)
    what is left                 through the card's text path (uncached, cache, reasoning...)

Components stay where finance looks for them: audio input in input_usd, audio cache
reads in cache_read_usd, audio output in output_usd. A tiered card picks its tier by the
call's whole input, audio included. Audio a card cannot price at an audio rate is billed
at the text rate and the Cost says so (`audio_at_text_rate`, price_caveats.py).

Every call with audio is split by SKU (sku_cost.py: audio input, audio cache reads and audio
output are SKUs of their own), which also gives its list price.

Only calls with audio tokens come here (RateCard.cost checks two counts), so the text
path pays nothing for audio.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from costline_processor import sku_cost
from costline_processor.price_caveats import AUDIO_AT_TEXT_RATE, joined
from costline_processor.records import INVALID_USAGE, Cost, Unpriced, Usage

if TYPE_CHECKING:  # rate_card imports this module: its cards call `cost` for audio
    from costline_processor.rate_card import RateCard

_MTOK = Decimal(1_000_000)
_ZERO = Decimal(0)


def cost(card: RateCard, u: Usage, duration_ns: int) -> Cost | Unpriced:
    """`card.cost(u, duration_ns)` for a usage with audio counts."""
    a_in, a_out, a_read = u.audio_input_tokens, u.audio_output_tokens, u.audio_cache_read_tokens
    if a_in > u.input_tokens or a_out > u.output_tokens or a_read > a_in or a_read > u.cache_read_tokens:
        return Unpriced(INVALID_USAGE, f"audio counts exceed their totals: {u}")
    rates = card.rates_at(u.input_tokens)
    r_ain, r_aout, r_aread = rates[6], rates[7], rates[8]
    read = a_read if r_aread is not None else 0  # audio cache reads at their own rate
    uncached = a_in - a_read if r_ain is not None else 0  # other audio input at the audio rate
    out = a_out if r_aout is not None else 0
    text = replace(
        u,
        input_tokens=u.input_tokens - read - uncached,
        output_tokens=u.output_tokens - out,
        cache_read_tokens=u.cache_read_tokens - read,
        audio_input_tokens=0,
        audio_output_tokens=0,
        audio_cache_read_tokens=0,
    )
    at_text_rate = (a_in - a_read > 0 and r_ain is None) or (a_out > 0 and r_aout is None)
    flat = replace(card, rates=rates, caveat=joined(card.caveat, AUDIO_AT_TEXT_RATE if at_text_rate else None))
    base = flat.cost(text, duration_ns)
    if isinstance(base, Unpriced):
        return base
    f = card.factor if card.factor is not None else 1
    in_usd = r_ain * uncached / _MTOK * f if uncached and r_ain is not None else _ZERO
    read_usd = r_aread * read / _MTOK * f if read and r_aread is not None else _ZERO
    out_usd = r_aout * out / _MTOK * f if out and r_aout is not None else _ZERO
    skus = sku_cost.breakdown(card, u, duration_ns)
    return Cost(
        base.total_usd + in_usd + read_usd + out_usd,
        base.input_usd + in_usd,
        base.output_usd + out_usd,
        base.cache_read_usd + read_usd,
        base.cache_write_usd,
        base.model,
        base.provider,
        base.source,
        base.caveat,
        sum((s[3] for s in skus), _ZERO),
        skus,
    )
