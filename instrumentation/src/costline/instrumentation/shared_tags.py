"""A tag with several owners, written as one baggage value: `customer_id=["a", "b"]` or `{"a": 3, "b": 1}`.

Some requests serve several customers (a batch, a shared cache warm-up, a meeting summary
for two teams). `attribution` takes a list (equal shares) or a mapping of owner to weight
for any tag and stores it as JSON text, the form costline's server splits a call's cost by:

    ["acme", "globex"]          each pays half
    {"acme": 3, "globex": 1}    acme pays 3/4, globex 1/4

JSON because the value must survive W3C baggage and stay legible: the propagator
percent-encodes every byte that baggage cannot carry and decodes it on the other side, so
an owner name with `,`, `;`, `"`, `|`, `=` or non-ASCII letters comes back as it left, and a
trace UI shows the list as written. One owner (`["acme"]`, `{"acme": 5}`) is written as the
plain value `acme`: a single-owner tag is never anything but its own text.

Refused with a ValueError naming the tag (as a bad tag name is): no owner, an empty or
repeated owner name, a weight that is not a positive finite number, weights needing more
than MAX_TOTAL in integer form (integers or short decimals: 1, 2, 0.5; not 1/3 as a float),
and a value longer than a baggage entry may be. The server's reader is
costline_processor.shares, which accepts exactly what this module writes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from urllib.parse import quote_plus

MAX_TOTAL = 10**6  # the sum of the weights in their smallest integer form (the server's limit too)
_MAX_ENTRY = 4096  # bytes of one encoded `key=value` baggage entry (OpenTelemetry's W3C propagator drops longer)


def is_several(value: object) -> bool:
    """Whether `value` is a list/tuple/set of owners or a mapping of owner to weight (not text)."""
    return isinstance(value, (list, tuple, set, frozenset, Mapping))


def encode(key: str, value: object) -> str:
    """The baggage value of a tag given as several owners (`key` is its baggage name, for the errors)."""
    if isinstance(value, Mapping):
        weights = {_owner(key, name): _weight(key, name, w) for name, w in value.items()}
        if len(weights) != len(value):
            raise ValueError(f"costline tag {key!r}: two owners have the same name once written as text")
    else:
        given = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value  # a set: in name order
        names = [_owner(key, name) for name in given]  # type: ignore[attr-defined]
        if len(set(names)) != len(names):
            raise ValueError(f"costline tag {key!r}: an owner is named twice: {names}")
        weights = dict.fromkeys(names, Decimal(1))
    if not weights:
        raise ValueError(f"costline tag {key!r} names no owner; leave it out (or None) for no tag")
    if len(weights) == 1:
        return next(iter(weights))
    _check_total(key, weights)
    if all(w == 1 for w in weights.values()) and not isinstance(value, Mapping):
        text = json.dumps(list(weights), ensure_ascii=False, separators=(",", ":"))
    else:
        text = "{" + ",".join(f"{json.dumps(n, ensure_ascii=False)}:{_number(w)}" for n, w in weights.items()) + "}"
    if len(quote_plus(key)) + 1 + len(quote_plus(text)) > _MAX_ENTRY:
        raise ValueError(f"costline tag {key!r}: {len(weights)} owners make a baggage entry over {_MAX_ENTRY} bytes")
    return text


def _owner(key: str, name: object) -> str:
    if name is None or isinstance(name, bool):
        raise ValueError(f"costline tag {key!r}: an owner must be a name, not {name!r}")
    text = name if isinstance(name, str) else str(name)
    if not text:
        raise ValueError(f"costline tag {key!r}: an owner name is empty")
    return text


def _weight(key: str, name: object, weight: object) -> Decimal:
    if isinstance(weight, bool) or not isinstance(weight, (int, float, Decimal)):
        raise ValueError(f"costline tag {key!r}: the weight of {name!r} must be a number, not {weight!r}")
    try:
        w = Decimal(repr(weight)) if isinstance(weight, float) else Decimal(weight)
    except InvalidOperation:
        w = Decimal("NaN")
    if not w.is_finite() or w <= 0:
        raise ValueError(f"costline tag {key!r}: the weight of {name!r} must be a positive number, not {weight!r}")
    return w


def _check_total(key: str, weights: dict[str, Decimal]) -> None:
    places = max(0, -min(int(w.as_tuple().exponent) for w in weights.values()))
    ints = [int(w.scaleb(places)) for w in weights.values()] if places <= 30 else [MAX_TOTAL + 1]
    g = math.gcd(*ints)
    if sum(n // g for n in ints) > MAX_TOTAL:
        raise ValueError(
            f"costline tag {key!r}: the weights need integers over {MAX_TOTAL:,} in all to keep their proportions; "
            "use integers or short decimals (3 and 1, 0.75 and 0.25)"
        )


def _number(w: Decimal) -> str:
    """A weight as a JSON number: integers plain, decimals in positional notation."""
    return str(int(w)) if w == w.to_integral_value() else format(w.normalize(), "f")
