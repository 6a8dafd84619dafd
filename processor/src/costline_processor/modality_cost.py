"""The cost of a call with audio or image tokens: each at the card's rates for it, the rest as text.

Audio and image counts are subsets (records.Usage): a modality's input of input, its cache
reads of both cache reads and its input, its output of output. genai-prices' unit tree prices
the leaves, and so does this, for each modality:

    its cache reads            at cache_<m>_read   (no such rate: stay text cache reads)
    its other input            at input_<m>        (no such rate: stays text input)
    its output                 at output_<m>       (no such rate: stays text output)
    what is left               through the card's text path (uncached, cache, reasoning...)

Components stay where finance looks for them: a modality's input in input_usd, its cache
reads in cache_read_usd, its output in output_usd. A tiered card picks its tier by the call's
whole input. Tokens a card cannot price at their modality's rate are billed at the text rate
and the Cost says so (`audio_at_text_rate`, `image_at_text_rate`: price_caveats.py): an image
from gemini-2.5-flash-image costs $30 per million output tokens, its text $2.50. Image input
without an image rate is the exception: OpenAI, Anthropic and Google bill the images in a chat
model's prompt as its input tokens (Google's one input price is for "text / image / video"), and
the models that price them apart (gpt-image-*) have the rate in the data, so saying so would mark
every multimodal call.

Every such call is split by SKU (sku_cost.py: each modality's input, cache reads and output
are SKUs of their own), which also gives its list price.

Only calls with audio or image tokens come here (RateCard.cost checks four counts), so the
text path pays nothing for them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING

from costline_processor import sku_cost
from costline_processor.price_caveats import AUDIO_AT_TEXT_RATE, CONTEXT_TIER_UNPRICED, IMAGE_AT_TEXT_RATE, joined
from costline_processor.records import INVALID_USAGE, Cost, Unpriced, Usage

if TYPE_CHECKING:  # rate_card imports this module: its cards call `cost` for audio and images
    from costline_processor.rate_card import RateCard

_MTOK = Decimal(1_000_000)
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Modality:
    """A kind of token priced apart: its Usage fields and its places in RateCard.rates."""

    name: str
    input: str  # Usage field of its input (a subset of input_tokens)
    output: str
    cache_read: str  # a subset of both cache_read_tokens and `input`
    rates: tuple[int, int, int]  # indexes of (input, output, cache read) in RateCard.rates
    caveat: str  # said when its tokens are billed at the text rate
    input_caveat: bool = True  # ... its input tokens too (False: the text input rate is the providers' rule)


MODALITIES = (
    Modality(
        "audio", "audio_input_tokens", "audio_output_tokens", "audio_cache_read_tokens", (6, 7, 8), AUDIO_AT_TEXT_RATE
    ),
    Modality(
        "image",
        "image_input_tokens",
        "image_output_tokens",
        "image_cache_read_tokens",
        (9, 10, 11),
        IMAGE_AT_TEXT_RATE,
        input_caveat=False,
    ),
)


def cost(card: RateCard, u: Usage, duration_ns: int) -> Cost | Unpriced:
    """`card.cost(u, duration_ns)` for a usage with audio or image counts."""
    problem = _exceeds(u)
    if problem:
        return Unpriced(INVALID_USAGE, f"{problem} counts exceed their totals: {u}")
    rates = card.rates_at(u.input_tokens)
    text = {"input_tokens": u.input_tokens, "output_tokens": u.output_tokens, "cache_read_tokens": u.cache_read_tokens}
    f = card.factor if card.factor is not None else 1
    add = {"input": _ZERO, "cache_read": _ZERO, "output": _ZERO}  # each modality's leaves at its rates, discounted
    caveats = []
    for m in MODALITIES:
        m_in, m_out, m_read = getattr(u, m.input), getattr(u, m.output), getattr(u, m.cache_read)
        r_in, r_out, r_read = (rates[i] for i in m.rates)
        read = m_read if r_read is not None else 0  # cache reads at their own rate
        uncached = m_in - m_read if r_in is not None else 0  # other input at the modality's rate
        out = m_out if r_out is not None else 0
        text["input_tokens"] -= read + uncached
        text["output_tokens"] -= out
        text["cache_read_tokens"] -= read
        for component, n, rate in (("input", uncached, r_in), ("cache_read", read, r_read), ("output", out, r_out)):
            usd = rate * n / _MTOK if n and rate is not None else _ZERO
            if usd:  # a zero stays Decimal(0): zero times a discount would add digits to the Cost's text (0.50)
                add[component] += usd * f
        as_text_input = (m_in - m_read > 0 and r_in is None) or (m_read > 0 and r_read is None)
        if (as_text_input and m.input_caveat) or (m_out > 0 and r_out is None):
            caveats.append(m.caveat)
    if card.untiered_above is not None and u.input_tokens > card.untiered_above:  # the whole input, not the text's
        caveats.append(CONTEXT_TIER_UNPRICED)
    plain = replace(u, **text, **{f: 0 for m in MODALITIES for f in (m.input, m.output, m.cache_read)})
    flat = replace(card, rates=rates, caveat=joined(card.caveat, *caveats), untiered_above=None)
    base = flat.cost(plain, duration_ns)
    if isinstance(base, Unpriced):
        return base
    skus = sku_cost.breakdown(card, u, duration_ns)
    return Cost(
        base.total_usd + add["input"] + add["cache_read"] + add["output"],
        base.input_usd + add["input"],
        base.output_usd + add["output"],
        base.cache_read_usd + add["cache_read"],
        base.cache_write_usd,
        base.model,
        base.provider,
        base.source,
        base.caveat,
        sum((s[3] for s in skus), _ZERO),
        skus,
    )


def _exceeds(u: Usage) -> str | None:
    """The modality whose counts do not fit inside the call's (or each other's), or None."""
    ins = outs = reads = 0
    for m in MODALITIES:
        m_in, m_out, m_read = getattr(u, m.input), getattr(u, m.output), getattr(u, m.cache_read)
        ins, outs, reads = ins + m_in, outs + m_out, reads + m_read
        if m_read > m_in or ins > u.input_tokens or outs > u.output_tokens or reads > u.cache_read_tokens:
            return m.name
    return None
