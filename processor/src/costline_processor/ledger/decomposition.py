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

Per cell (model m, token type k; C cost, T tokens, n calls), the steps reduce to terms with an
exact numerator over an integer, so an effect that is zero (the same price, the same tokens per
call, the same shares) is exactly zero:

    tokens_k = C0 * (T1 * n0 - n1 * T0) / (T0 * n0)        price_k = (C1 * T0 - C0 * T1) / T0
    model mix_m = V0_m * (n1_m * N0 - N1 * n0_m) / (n0_m * N0)

Arithmetic is Decimal to 60 significant digits (a sum of exact costs times token counts fits),
then each effect is rounded once to 10**-18 USD (finer when the change itself has more digits)
by the largest remainder, so the effects add up to the row's exact change. (Fractions would be
exact all the way but cost a millisecond a row: their denominators grow with every model.)
Pure: no database, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Context, Decimal, localcontext

TYPES = ("input", "cached_input", "cache_write", "output", "reasoning")
EFFECTS = ("volume", "model_mix", *(f"tokens_{k}" for k in TYPES), "price", "new", "gone")
SPLIT_COLUMNS = ("input_usd", "cache_read_usd", "cache_write_usd")  # with output_usd, the ledger's cost split
_FINEST = -18  # effects are rounded to 10**-18 USD, or to the change's own last digit if finer
FINE = Context(prec=60)  # every digit of a sum of exact costs, times a token count
ZERO = Decimal(0)


@dataclass(frozen=True)
class Cell:
    """The priced calls of one (row, model) in one period: tokens and cost per token type (TYPES)."""

    calls: int
    cost: Decimal
    tokens: Mapping[str, int]
    parts: Mapping[str, Decimal]  # adds up to `cost`

    def price(self, k: str) -> Decimal | None:
        """The cost of one token of type k (None when the cell has none of them)."""
        return FINE.divide(self.parts[k], self.tokens[k]) if self.tokens[k] else None


def cell(calls: int, cost: Decimal, counts: Mapping[str, int], split: Mapping[str, Decimal]) -> Cell:
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
    with localcontext(FINE):
        inputs = [+(split.get(c) or ZERO) for c in SPLIT_COLUMNS]
        output = cost - sum(inputs, ZERO)
        if output < 0:
            inputs, output = [p * cost / (cost - output) for p in inputs], ZERO
        spoken = tokens["output"] + reasoning
        thought = output * reasoning / spoken if spoken else ZERO
        parts = (*inputs, output - thought, thought)
    return Cell(calls, cost, tokens, dict(zip(TYPES, parts)))


@dataclass(frozen=True)
class PriceCell:
    """The (model, token type) whose price moved the row's cost most, and its price per token then and now."""

    model: str
    kind: str
    effect: Decimal
    before: Decimal | None
    after: Decimal | None


@dataclass(frozen=True)
class Change:
    """One row's cost then and now, and the effects (EFFECTS order) that add up to the difference."""

    key: tuple[str, ...]
    before: Decimal
    after: Decimal
    calls: tuple[int, int]
    tokens: tuple[dict[str, int], dict[str, int]]  # the row's tokens per type, then and now
    shares: dict[str, tuple[float, float]]  # model -> its share of the row's calls, then and now (for words)
    effects: dict[str, Decimal]
    price_cell: PriceCell | None = None

    @property
    def change(self) -> Decimal:
        return FINE.subtract(self.after, self.before)

    @property
    def change_pct(self) -> Decimal | None:
        return None if not self.before else self.change / self.before * 100

    def biggest(self) -> str:
        """The effect that moved the cost most (the first in EFFECTS order on a tie)."""
        return max(EFFECTS, key=lambda e: (abs(self.effects[e]), -EFFECTS.index(e)))


def decompose(key: tuple[str, ...], before: Mapping[str, Cell], after: Mapping[str, Cell]) -> Change:
    """The change of one row from `before` to `after` (cells by model), split into EFFECTS."""
    n0, n1 = sum(c.calls for c in before.values()), sum(c.calls for c in after.values())
    models = (*before, *(m for m in after if m not in before))
    with localcontext(FINE):
        v0, v1 = sum((c.cost for c in before.values()), ZERO), sum((c.cost for c in after.values()), ZERO)
        exact = dict.fromkeys(EFFECTS, ZERO)
        price_cell = None
        if not n0:
            exact["new"] = v1
        elif not n1:
            exact["gone"] = -v0
        else:
            price_cell = _shift_share(before, after, exact)
        effects = apportion(exact, v1 - v0)
    shares = {
        m: (before[m].calls / n0 if m in before else 0.0, after[m].calls / n1 if m in after else 0.0) for m in models
    }
    tokens = (_row_tokens(before), _row_tokens(after))
    return Change(key, v0, v1, (n0, n1), tokens, shares, effects, price_cell)


def _shift_share(before: Mapping[str, Cell], after: Mapping[str, Cell], exact: dict[str, Decimal]) -> PriceCell | None:
    """Fill volume, model mix, tokens per call and price of a row with calls in both periods (the
    module docstring's terms, in the caller's FINE context); returns the cell with the largest price
    effect."""
    n0, n1 = sum(c.calls for c in before.values()), sum(c.calls for c in after.values())
    exact["volume"] = sum((c.cost for c in before.values()), ZERO) * (n1 - n0) / n0
    biggest: PriceCell | None = None
    for m in (*before, *(m for m in after if m not in before)):
        b, a = before.get(m), after.get(m)
        if b is None:  # new to the row: its calls moved in, at their cost
            exact["model_mix"] += a.cost if a else ZERO
            continue
        moved = (a.calls if a else 0) * n0 - n1 * b.calls
        exact["model_mix"] += b.cost * moved / (b.calls * n0) if moved else ZERO
        if a is None:
            continue
        for k in TYPES:
            tokens, price = _cell_effects(b, a, k)
            exact[f"tokens_{k}"] += tokens
            exact["price"] += price
            if price and (biggest is None or abs(price) > abs(biggest.effect)):
                biggest = PriceCell(m, k, price, b.price(k), a.price(k))
    return biggest


def _cell_effects(b: Cell, a: Cell, k: str) -> tuple[Decimal, Decimal]:
    """Tokens per call and price of one model's token type k, from `b` (then) to `a` (now). A type the
    model did not use before is valued at its new price; a cost without tokens (a fee) changes as price."""
    t0, t1, c0, c1 = b.tokens[k], a.tokens[k], b.parts[k], a.parts[k]
    if not (t0 or t1 or c0 or c1):  # a type neither period used (cache writes, reasoning, often)
        return ZERO, ZERO
    if t0:
        moved = t1 * b.calls - a.calls * t0
        tokens = c0 * moved / (t0 * b.calls) if moved else ZERO
        price = c1 * t0 - c0 * t1
        return tokens, price / t0 if price else ZERO
    tokens = c1 if t1 else ZERO
    price = c1 - tokens - (c0 * a.calls / b.calls if c0 else ZERO)
    return tokens, price


def _row_tokens(cells: Mapping[str, Cell]) -> dict[str, int]:
    return {k: sum(c.tokens[k] for c in cells.values()) for k in TYPES}


def apportion(exact: Mapping[str, Decimal], total: Decimal) -> dict[str, Decimal]:
    """`exact` (adding up to `total`, to FINE's precision) as Decimals adding up to `total` exactly: each
    rounded down to the quantum (10**-18, or the last digit of `total` if finer), then one quantum more
    to those with the largest remainders, as many as the rounding left short. A zero stays zero."""
    exponent = min(_FINEST, int(total.as_tuple().exponent))
    with localcontext(FINE):
        scaled = {k: v.scaleb(-exponent) for k, v in exact.items()}
        units = {k: int(v.to_integral_value(ROUND_FLOOR)) for k, v in scaled.items()}
        short = int(total.scaleb(-exponent)) - sum(units.values())
        if not 0 <= short <= len(units):  # the effects are off by a quantum or more: a bug, never rounding
            raise ArithmeticError(f"effects add up to {sum(exact.values())}, not {total}")
        by_remainder = sorted(exact, key=lambda k: scaled[k] - units[k], reverse=True)
        for k in by_remainder[:short]:
            units[k] += 1
        return {k: Decimal(u).scaleb(exponent).normalize() if u else ZERO for k, u in units.items()}
