"""A tag with several owners: how its value reads, and how a call's amounts split among them exactly.

The app side (costline.instrumentation.shared_tags) writes `customer_id=["acme", "globex"]`
as the tag value `["acme","globex"]` (equal shares) and `customer_id={"acme": 3, "globex": 1}`
as `{"acme":3,"globex":1}` (weights): JSON text, so any owner name round-trips (quotes,
commas, `|`, non-ASCII) through W3C baggage's percent-encoding and reads plainly in a trace
UI. A value is several owners only in exactly that shape: a JSON array of at least two
distinct non-empty strings, or an object of at least two non-empty names to positive
numbers whose integer form (`weights`) totals at most MAX_TOTAL. Anything else, every
existing value included, is one owner, byte for byte.

The split. Owners are put in name order with integer weights w (reduced by their gcd),
total W, cumulative C (C_0 = 0, C_i = w_1 + ... + w_i). Owner i gets, of an integer
amount n (tokens, or a cost in femto-dollars):

    part(n) = trunc(n * C_i / W) - trunc(n * C_(i-1) / W)          (trunc: towards zero)

The parts telescope to trunc(n * W / W) - 0 = n: the owners' parts of a call always add up
to the call's amount exactly. Each part is within one unit (one token, 1e-15 USD) of its
exact share; the units rounding leaves over go to the owners whose cumulative boundary
crosses a unit, later names first in a tie: of 1 femto-dollar split two ways, the second
owner gets it. A cost with digits beyond the femto-dollar splits its whole femto-dollars so,
and the rest below them goes to the last owner (`part_money`). SQL computes the same
integers (ledger/dialect.py), so a report and this module agree to the last digit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import replace
from decimal import ROUND_DOWN, Context, Decimal, InvalidOperation
from typing import Any

from costline_processor.records import LedgerRow

MAX_TOTAL = 10**6  # W: keeps the SQL's products inside 64-bit integers (n % W * C < W**2) and the bounds packable
PACK = 2**20  # the ledger keeps an owner's bounds as one integer: (W * PACK + C_i) * PACK + C_(i-1)
FEMTO = Decimal("1e-15")
_WIDE = Context(prec=80)  # every cost's digits and its femto-dollar count, without rounding
_COUNTS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
    "audio_cache_read_tokens",
    "image_input_tokens",
    "image_output_tokens",
    "image_cache_read_tokens",
)
_MONEY = ("cost_usd", "input_usd", "output_usd", "cache_read_usd", "cache_write_usd", "list_usd")

Owner = tuple[str, int, int, int]  # (name, C_(i-1), C_i, W)


def owners(value: object) -> tuple[Owner, ...] | None:
    """The owners a tag value names, in name order with their bounds; None: one owner (the value itself)."""
    if type(value) is not str or value[:1] not in ("[", "{"):
        return None
    try:
        parsed = json.loads(value, parse_float=Decimal, parse_int=Decimal, object_pairs_hook=_unique)
    except (ValueError, RecursionError):
        return None
    if isinstance(parsed, list):
        if not all(isinstance(name, str) for name in parsed):
            return None
        weights: dict[str, Decimal] = dict.fromkeys(parsed, Decimal(1))
        if len(weights) != len(parsed):
            return None
    elif isinstance(parsed, dict):
        weights = parsed
    else:
        return None
    integers = integer_weights(weights)
    return None if integers is None else bounds(integers)


def _unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("an owner named twice")
    return out


def renamed(value: str, rename: Callable[[str], str]) -> str | None:
    """`value` with each owner renamed (the tag policy's hash, owner by owner, so a hashed tag still splits),
    in the same proportions; None when `value` is one owner."""
    split = owners(value)
    if split is None:
        return None
    if value[:1] == "[":
        return json.dumps(sorted(rename(name) for name, *_ in split), ensure_ascii=False, separators=(",", ":"))
    weights = {rename(name): high - low for name, low, high, _ in split}
    return json.dumps(weights, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def integer_weights(weights: dict[str, Decimal]) -> dict[str, int] | None:
    """Weights as the smallest integers in the same proportions, or None when they are no owners' weights."""
    if len(weights) < 2 or not all(weights):
        return None
    try:
        if not all(isinstance(w, Decimal) and w.is_finite() and w > 0 for w in weights.values()):
            return None
        places = max(0, -min(int(w.as_tuple().exponent) for w in weights.values()))
        if places > 30:
            return None
        ints = {name: int(w.scaleb(places)) for name, w in weights.items()}
    except (InvalidOperation, TypeError, ValueError):
        return None
    g = math.gcd(*ints.values())
    ints = {name: n // g for name, n in ints.items()}
    return ints if sum(ints.values()) <= MAX_TOTAL else None


def bounds(weights: dict[str, int]) -> tuple[Owner, ...]:
    total = sum(weights.values())
    out = []
    low = 0
    for name in sorted(weights):
        out.append((name, low, low + weights[name], total))
        low += weights[name]
    return tuple(out)


def cut(n: int, c: int, total: int) -> int:
    """trunc(n * c / total), exactly (the integer the SQL writes as (n / W) * c + (n % W) * c / W)."""
    q = abs(n) * c // total
    return q if n >= 0 else -q


def part(n: int, low: int, high: int, total: int) -> int:
    """An owner's part of the integer amount n (see the module docstring)."""
    return cut(n, high, total) - cut(n, low, total)


def part_money(amount: Decimal, low: int, high: int, total: int) -> Decimal:
    """An owner's part of a cost: its whole femto-dollars split by `part`; what lies below them, to the last owner."""
    whole = amount.quantize(FEMTO, rounding=ROUND_DOWN, context=_WIDE)
    share = Decimal(part(int(whole.scaleb(15, _WIDE)), low, high, total)).scaleb(-15, _WIDE)
    return _WIDE.add(share, _WIDE.subtract(amount, whole)) if high == total else share


def column(tags: dict[str, str]) -> str | None:
    """The ledger's `shares` value of a call: {tag: {owner: its bounds packed in one integer}} as JSON (SQL reads
    an integer member without parsing anything: ledger/dialect.py), None when no tag of it has several owners
    (the usual call: one look at each value's first character)."""
    found = None
    for name, value in tags.items():
        if value[:1] in ("[", "{") and (split := owners(value)) is not None:
            found = found or {}
            found[name] = {owner: (total * PACK + high) * PACK + low for owner, low, high, total in split}
    return None if found is None else json.dumps(found, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def split_row(row: LedgerRow, names: Iterable[str]) -> list[LedgerRow]:
    """`row` as one row per combination of owners of the tags `names` that have several (in that order):
    each with its owners as plain tags and its part of every token count and cost. One row when none has."""
    rows = [row]
    for name in names:
        split = owners(row.tags.get(name))
        if split is not None:
            rows = [_part_row(r, name, owner) for r in rows for owner in split]
    return rows


def _part_row(row: LedgerRow, name: str, owner: Owner) -> LedgerRow:
    who, low, high, total = owner
    # one mapping of the fields replaced: LedgerRow takes them by name, whatever their type (as schema.from_record)
    counts: dict[str, Any] = {f: part(getattr(row, f), low, high, total) for f in _COUNTS}
    money: dict[str, Any] = {
        f: None if (v := getattr(row, f)) is None else part_money(v, low, high, total) for f in _MONEY
    }
    skus = row.skus
    if skus is not None:
        skus = tuple(
            (sku, part(q, low, high, total), part_money(billed, low, high, total), part_money(listed, low, high, total))
            for sku, q, billed, listed in skus
        )
    return replace(row, tags={**row.tags, name: who}, skus=skus, **counts, **money)
