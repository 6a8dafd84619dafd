"""What a report can group by, and each row's value for it.

A dimension is a costline tag name (`feature`, `customer_id`, ...), a call field
(`model`, `provider`, `agent`, `service`, `operation`, `status`, `trace`, `caveat`: the
price caveat) or a calendar bucket (`day`, `week`, `month`). A call without the tag falls into the untagged bucket;
a call without the field shows the field's stand-in (`unknown`, `(no agent)`, `priced`).
`value` says it for one LedgerRow; query.py says the same in SQL from `FIELDS`.
"""

from __future__ import annotations

from costline_processor.config import DEFAULT_UNTAGGED, ConfigError
from costline_processor.ledger.periods import TIME_DIMENSIONS, bucket
from costline_processor.records import LedgerRow

# field dimension -> (its ledger column, what a call with an empty one shows)
FIELDS = {
    "model": ("model", "unknown"),
    "provider": ("provider", "unknown"),
    "agent": ("agent_path", "(no agent)"),
    "service": ("service", "unknown"),
    "operation": ("operation", "unknown"),
    "status": ("status", "priced"),
    "trace": ("trace_id", ""),
    "caveat": ("price_caveat", "(none)"),
}


def parse_dimensions(text: str, flag: str = "--by") -> list[str]:
    dims = [d.strip() for d in text.split(",") if d.strip()]
    if not dims:
        raise ConfigError(f"{flag} needs at least one dimension, e.g. {flag} feature or {flag} customer_id,model")
    for d in dims:
        check_name(d, flag)
    if len(set(dims)) != len(dims):
        raise ConfigError(f"{flag} names a dimension twice")
    return dims


def check_name(dim: str, flag: str) -> None:
    if not dim.replace("_", "").replace(".", "").replace("-", "").isalnum():
        raise ConfigError(f"{flag}: {dim!r} is not a dimension name")


def is_tag(dim: str) -> bool:
    return dim not in FIELDS and dim not in TIME_DIMENSIONS


def tag_name(dim: str) -> str:
    """The tag a dimension reads (`costline.feature` and `feature` are the same tag)."""
    return dim.removeprefix("costline.")


def value(row: LedgerRow, dim: str, untagged: str = DEFAULT_UNTAGGED) -> str:
    if dim in TIME_DIMENSIONS:
        return bucket(row.start_unix_nano, dim)
    if dim in FIELDS:
        column, empty = FIELDS[dim]
        return getattr(row, column) or empty
    tag = row.tags.get(tag_name(dim))
    return tag if tag else untagged


def key(row: LedgerRow, dims: list[str], untagged: str = DEFAULT_UNTAGGED) -> tuple[str, ...]:
    return tuple(value(row, d, untagged) for d in dims)
