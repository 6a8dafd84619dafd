"""A row's change in words: its biggest driver, the way a person would say it.

    Change (decomposition.py) --headline--> "search +$412.00 (+38%): model mix, gpt-4o-mini -> gpt-4o on 61% of calls"

The driver is the effect with the largest size, told with the numbers behind it: calls then and
now (volume); the model that lost the most calls and the one that gained the most, with the share
of calls it gained (model mix); tokens per call then and now, and the cache hit rate when cached
input moved (tokens per call); the model and token type whose price moved most, per million
tokens (price). Pure; money as render.money writes it.
"""

from __future__ import annotations

from decimal import Decimal

from costline_processor.ledger.decomposition import Change
from costline_processor.ledger.render import money

NAMES = {
    "volume": "volume",
    "model_mix": "model mix",
    "tokens_input": "input tokens per call",
    "tokens_cached_input": "cached input tokens per call",
    "tokens_cache_write": "cache write tokens per call",
    "tokens_output": "output tokens per call",
    "tokens_reasoning": "reasoning tokens per call",
    "price": "price",
    "new": "new",
    "gone": "gone",
}
KINDS = {
    "input": "input",
    "cached_input": "cached input",
    "cache_write": "cache write",
    "output": "output",
    "reasoning": "reasoning",
}
_INPUTS = ("input", "cached_input", "cache_write")


def headline(label: str, c: Change) -> str:
    """`label` (the row), its change in dollars and percent, and its biggest driver."""
    pct = "new" if c.change_pct is None else f"{c.change_pct:+.0f}%"
    return f"{label} {signed(c.change)} ({pct}): {driver(c)}"


def signed(v: Decimal) -> str:
    """Dollars with their sign, to the cent (more decimals when that would read as zero)."""
    places = min(max(2, 1 - v.adjusted()), 18) if v else 2
    return money(v, places, sign=True)


def driver(c: Change) -> str:
    """The biggest effect of `c`, in words with its numbers."""
    effect = c.biggest()
    if not c.effects[effect]:
        return "no change"
    if effect == "new":
        return "new (no call in the earlier period)"
    if effect == "gone":
        return "gone (no call in this period)"
    if effect == "volume":
        n0, n1 = c.calls
        return f"volume, {n0:,} -> {n1:,} calls"
    if effect == "model_mix":
        return _mix(c)
    if effect == "price":
        return _price(c)
    return _tokens(c, effect.removeprefix("tokens_"))


def _mix(c: Change) -> str:
    moves = {m: now - then for m, (then, now) in c.shares.items()}
    lost = min(moves, key=lambda m: (moves[m], m))
    gained = max(moves, key=lambda m: (moves[m], m))
    return f"model mix, {lost} -> {gained} on {moves[gained] * 100:.0f}% of calls"


def _tokens(c: Change, kind: str) -> str:
    (t0, t1), (n0, n1) = c.tokens, c.calls
    words = f"{NAMES['tokens_' + kind]} {t0[kind] / n0:,.0f} -> {t1[kind] / n1:,.0f}"
    hits = [_hit_rate(t) for t in c.tokens]
    if kind in _INPUTS and None not in hits and round(hits[0] or 0) != round(hits[1] or 0):
        words += f", cache hit rate {hits[0]:.0f}% -> {hits[1]:.0f}%"
    return words


def _hit_rate(tokens: dict[str, int]) -> float | None:
    """Cached input as a percentage of all input tokens (None without input)."""
    total = sum(tokens[k] for k in _INPUTS)
    return tokens["cached_input"] / total * 100 if total else None


def _price(c: Change) -> str:
    cell = c.price_cell
    if cell is None:
        return "price"
    words = f"price, {cell.model} {KINDS[cell.kind]}"
    if cell.before is None or cell.after is None:
        return words
    return f"{words} {_per_million(cell.before)} -> {_per_million(cell.after)} per 1M tokens"


def _per_million(price: Decimal) -> str:
    return f"${float(price * 1_000_000):,.4g}"
