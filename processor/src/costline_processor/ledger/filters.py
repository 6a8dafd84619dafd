"""Which calls a report counts: `--where DIM=VALUE` and `--where DIM!=VALUE`, parsed and checked.

A filter compares what `--by DIM` would print for a call with VALUE: the untagged label
for a call without the tag (so `--where feature=untagged` keeps the untagged bucket),
`unknown` for a call without a model. DIM is a tag or a call field (model, provider,
agent, service, operation, status); calendar buckets are periods, not filters (--since,
--month). Several values of one dimension: `=` keeps a call with any of them, `!=` a call
with none of them; filters on different dimensions must all hold. Pure: query.py turns a
Filter into SQL, with every value a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

from costline_processor.config import ConfigError
from costline_processor.ledger.dimensions import check_name
from costline_processor.ledger.periods import TIME_DIMENSIONS


@dataclass(frozen=True)
class Filter:
    dim: str
    values: tuple[str, ...]
    exclude: bool = False  # True: `!=`, the call's value is none of `values`


def parse_where(texts: list[str] | None) -> tuple[Filter, ...]:
    """`--where` arguments (each DIM=VALUE or DIM!=VALUE) as one Filter per dimension and operator."""
    merged: dict[tuple[str, bool], list[str]] = {}
    for text in texts or ():
        dim, exclude, value = _split(text)
        merged.setdefault((dim, exclude), []).append(value)
    return tuple(Filter(dim, tuple(dict.fromkeys(values)), exclude) for (dim, exclude), values in merged.items())


def _split(text: str) -> tuple[str, bool, str]:
    eq = text.find("=")
    if eq <= 0:
        raise ConfigError(f"--where looks like feature=search or model!=gpt-4o, not {text!r}")
    exclude = text[eq - 1] == "!"
    dim = text[: eq - 1 if exclude else eq].strip().removeprefix("costline.")
    value = text[eq + 1 :].replace("\x00", "\ufffd")  # as the ledger stores a NUL (schema.to_params)
    check_name(dim, "--where")
    if dim in TIME_DIMENSIONS:
        raise ConfigError(f"--where {dim}: a calendar bucket is a period: use --since/--until, --month or --mtd")
    if not value:
        raise ConfigError(f"--where {text!r} needs a value (calls without the tag: {dim}=untagged)")
    return dim, exclude, value


def describe(filters: tuple[Filter, ...]) -> str:
    """The filters as one line for a report's footer, as typed (values joined with |)."""
    return ", ".join(f"{f.dim}{'!=' if f.exclude else '='}{'|'.join(f.values)}" for f in filters)
