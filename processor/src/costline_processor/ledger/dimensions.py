"""What a report can group by, and each row's value for it.

A dimension is a costline tag name (`feature`, `customer_id`, ...), a call field
(`model`, `provider`, `agent`, `service`, `operation`, `status`) or a calendar bucket
(`day`, `week`, `month`). A call without the tag falls into the untagged bucket.
"""

from __future__ import annotations

from costline_processor.config import DEFAULT_UNTAGGED, ConfigError
from costline_processor.ledger.periods import TIME_DIMENSIONS, bucket
from costline_processor.records import LedgerRow

FIELD_DIMENSIONS = {
    "model": lambda r: r.model or "unknown",
    "provider": lambda r: r.provider or "unknown",
    "agent": lambda r: r.agent_path or "(no agent)",
    "service": lambda r: r.service or "unknown",
    "operation": lambda r: r.operation or "unknown",
    "status": lambda r: r.status or "priced",
}


def parse_dimensions(text: str) -> list[str]:
    dims = [d.strip() for d in text.split(",") if d.strip()]
    if not dims:
        raise ConfigError("--by needs at least one dimension, e.g. --by feature or --by customer_id,model")
    for d in dims:
        if not d.replace("_", "").replace(".", "").replace("-", "").isalnum():
            raise ConfigError(f"--by: {d!r} is not a dimension name")
    if len(set(dims)) != len(dims):
        raise ConfigError("--by names a dimension twice")
    return dims


def value(row: LedgerRow, dim: str, untagged: str = DEFAULT_UNTAGGED) -> str:
    if dim in TIME_DIMENSIONS:
        return bucket(row.start_unix_nano, dim)
    if dim in FIELD_DIMENSIONS:
        return FIELD_DIMENSIONS[dim](row)
    tag = row.tags.get(dim.removeprefix("costline."))
    return tag if tag else untagged


def key(row: LedgerRow, dims: list[str], untagged: str = DEFAULT_UNTAGGED) -> tuple[str, ...]:
    return tuple(value(row, d, untagged) for d in dims)
