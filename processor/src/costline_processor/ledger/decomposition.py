"""Why one row's cost changed between two periods: its change split into effects that add up exactly.

    before, after: {model: Cell} of one row (calls, cost, tokens and cost per token type)
      --decompose--> Change: volume, model mix, tokens per call (per token type), price, new, gone

The method is a chained shift-share (sequential substitution). A row's cost is

    V = sum over models m and token types k of  N * s_m * t_mk * p_mk

(N calls, s_m the share of them on model m, t_mk tokens of type k per call, p_mk the price of one).
The factors move from their old values to their new ones one at a time, in this order, each step
valued with the factors moved before it at their new values and the others at their old ones:

    volume            (N1 - N0) * V0 / N0                  more or fewer calls at the old cost per call
    model mix         sum_m (n1_m - N1 * s0_m) * c0_m      calls moved between models, at each one's old cost per call
    tokens per call   sum_m n1_m * (t1_mk - t0_mk) * p0_mk  one effect per token type k
    price             sum_m n1_m * t1_mk * (p1_mk - p0_mk)  the new tokens priced anew

Each step starts where the one before it ended, so they telescope from V0 to V1: the effects add
up to the change with no residual. A row without a call in the earlier period is all `new`, one
without a call now is all `gone`. Corner cells keep the sum: a model new in the row brings its
calls (at its new cost per call) as model mix and has no tokens or price effect; a token type a
model did not use before is valued at its new price (the type appearing is tokens per call); a
cost that has no tokens of its type (a per-call fee) changes as price.

Why not the log-mean Divisia index (LMDI), the other standard choice: it needs logarithms, so
its effects add up only to rounding, and it has no value for a factor that is zero in one period
(a model new in the row, a token type appearing), which is exactly the change this command is
asked to explain. The shift-share's price is order-dependent (a Paasche price on the new
tokens; tokens valued at the old prices, like a Laspeyres quantity): the order above is stated
in `costline explain --help` and the README.

Arithmetic is rational (Fraction) throughout, then rounded once to 10**-18 USD (finer when the
change itself has more digits) by the largest remainder, so the Decimal effects add up to the
row's Decimal change exactly. Pure: no database, no clock.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Context, Decimal
from fractions import Fraction

TYPES = ("input", "cached_input", "cache_write", "output", "reasoning")
EFFECTS = ("volume", "model_mix", *(f"tokens_{k}" for k in TYPES), "price", "new", "gone")
SPLIT_COLUMNS = ("input_usd", "cache_read_usd", "cache_write_usd")  # with output_usd, the ledger's cost split
_FINEST = -18  # effects are rounded to 10**-18 USD, or to the change's own last digit if finer
WIDE = Context(prec=80)  # room for every digit of a sum of exact costs
ZERO = Fraction(0)


@dataclass(frozen=True)
class Cell:
    """The priced calls of one (row, model) in one period: tokens and cost per token type (TYPES)."""

    calls: int
    cost: Decimal
    tokens: Mapping[str, int]
    parts: Mapping[str, Fraction]  # adds up to `cost` exactly

    def cost_per_call(self) -> Fraction:
        return Fraction(self.cost) / self.calls

    def tokens_per_call(self, k: str) -> Fraction:
        return Fraction(self.tokens[k], self.calls)

    def part_per_call(self, k: str) -> Fraction:
        return self.parts[k] / self.calls

    def price(self, k: str) -> Fraction | None:
        """The cost of one token of type k (None when the cell has none of them)."""
        return self.parts[k] / self.tokens[k] if self.tokens[k] else None


def cell(calls: int, cost: Decimal, counts: Mapping[str, int], split: Mapping[str, Fraction]) -> Cell:
    """A Cell from the ledger's sums. Token columns are inclusive (input_tokens holds the cache reads and
    writes, output_tokens the reasoning); the types are their leaves. `split` holds the sums of
    SPLIT_COLUMNS; output is the rest of the cost, as the ledger's four cost columns add up to
    cost_usd (were they more than the cost, the three would be scaled down to it). Reasoning is billed
    in output_usd at the output rate, so it takes its tokens' share of the output cost."""
    read, write, reasoning = counts["cache_read_tokens"], counts["cache_write_tokens"], counts["reasoning_tokens"]
    tokens = {
        "input": max(counts["input_tokens"] - read - write, 0),
        "cached_input": read,
        "cache_write": write,
        "output": max(counts["output_tokens"] - reasoning, 0),
        "reasoning": reasoning,
    }
    exact = Fraction(cost)
    inputs = [Fraction(split.get(c) or 0) for c in SPLIT_COLUMNS]
    output = exact - sum(inputs, ZERO)
    if output < 0:
        inputs, output = [p * exact / (exact - output) for p in inputs], ZERO
    spoken = tokens["output"] + reasoning
    thought = output * reasoning / spoken if spoken else ZERO
    parts = (*inputs, output - thought, thought)
    return Cell(calls, cost, tokens, dict(zip(TYPES, parts)))


@dataclass(frozen=True)
class PriceCell:
    """The (model, token type) whose price moved the row's cost most, and its price per token then and now."""

    model: str
    kind: str
    effect: Fraction
    before: Fraction | None
    after: Fraction | None


@dataclass(frozen=True)
class Change:
    """One row's cost then and now, and the effects (EFFECTS order) that add up to the difference."""

    key: tuple[str, ...]
    before: Decimal
    after: Decimal
    calls: tuple[int, int]
    tokens: tuple[dict[str, int], dict[str, int]]  # the row's tokens per type, then and now
    shares: dict[str, tuple[Fraction, Fraction]]  # model -> its share of the row's calls, then and now
    effects: dict[str, Decimal]
    price_cell: PriceCell | None = None

    @property
    def change(self) -> Decimal:
        return WIDE.subtract(self.after, self.before)

    @property
    def change_pct(self) -> Decimal | None:
        return None if not self.before else self.change / self.before * 100

    def biggest(self) -> str:
        """The effect that moved the cost most (the first in EFFECTS order on a tie)."""
        return max(EFFECTS, key=lambda e: (abs(self.effects[e]), -EFFECTS.index(e)))


def decompose(key: tuple[str, ...], before: Mapping[str, Cell], after: Mapping[str, Cell]) -> Change:
    """The change of one row from `before` to `after` (cells by model), split into EFFECTS."""
    v0, v1 = _cost(before), _cost(after)
    n0, n1 = sum(c.calls for c in before.values()), sum(c.calls for c in after.values())
    exact = dict.fromkeys(EFFECTS, ZERO)
    price_cell = None
    if not n0:
        exact["new"] = Fraction(v1)
    elif not n1:
        exact["gone"] = -Fraction(v0)
    else:
        price_cell = _shift_share(before, after, exact)
    shares = {
        m: (
            Fraction(before[m].calls, n0) if m in before else ZERO,
            Fraction(after[m].calls, n1) if m in after else ZERO,
        )
        for m in (*before, *(m for m in after if m not in before))
    }
    tokens = (_row_tokens(before), _row_tokens(after))
    return Change(key, v0, v1, (n0, n1), tokens, shares, apportion(exact, WIDE.subtract(v1, v0)), price_cell)


def _shift_share(before: Mapping[str, Cell], after: Mapping[str, Cell], exact: dict[str, Fraction]) -> PriceCell | None:
    """Fill volume, model mix, tokens per call and price of a row with calls in both periods (see the
    module docstring); returns the cell with the largest price effect."""
    n0, n1 = sum(c.calls for c in before.values()), sum(c.calls for c in after.values())
    exact["volume"] = (n1 - n0) * sum((Fraction(c.cost) for c in before.values()), ZERO) / n0
    biggest: PriceCell | None = None
    for m in (*before, *(m for m in after if m not in before)):
        b, a = before.get(m), after.get(m)
        old = b or a
        assert old is not None
        moved = (a.calls if a else 0) - (Fraction(n1 * b.calls, n0) if b else ZERO)
        exact["model_mix"] += moved * old.cost_per_call()
        if a is None or b is None:
            continue
        for k in TYPES:
            p = b.price(k)
            p = (a.price(k) or ZERO) if p is None else p  # a type new to the model: at its new price
            tokens = a.calls * (a.tokens_per_call(k) - b.tokens_per_call(k)) * p
            price = a.calls * (a.part_per_call(k) - b.part_per_call(k)) - tokens
            exact[f"tokens_{k}"] += tokens
            exact["price"] += price
            if price and (biggest is None or abs(price) > abs(biggest.effect)):
                biggest = PriceCell(m, k, price, b.price(k), a.price(k))
    return biggest


def _cost(cells: Mapping[str, Cell]) -> Decimal:
    return functools.reduce(WIDE.add, (c.cost for c in cells.values()), Decimal(0))


def _row_tokens(cells: Mapping[str, Cell]) -> dict[str, int]:
    return {k: sum(c.tokens[k] for c in cells.values()) for k in TYPES}


def apportion(exact: Mapping[str, Fraction], total: Decimal) -> dict[str, Decimal]:
    """`exact` (rationals adding up to `total`) as Decimals adding up to `total` exactly: each rounded
    down to the quantum (10**-18, or the last digit of `total` if finer), then one quantum more to
    those with the largest remainders, as many as the rounding left short. An exact zero stays zero."""
    exponent = min(_FINEST, int(total.as_tuple().exponent))
    quantum = Fraction(10) ** exponent
    units = {k: math.floor(v / quantum) for k, v in exact.items()}
    short = int(Fraction(total) / quantum) - sum(units.values())
    by_remainder = sorted(exact, key=lambda k: exact[k] / quantum - units[k], reverse=True)
    for k in by_remainder[:short]:
        units[k] += 1
    return {k: Decimal(u).scaleb(exponent, WIDE).normalize(WIDE) if u else Decimal(0) for k, u in units.items()}
