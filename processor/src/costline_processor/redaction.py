"""Secrets hidden in what costline prints: passwords in URLs, export headers' values.

`costline config check` prints the effective config and `costline serve` logs its ledger's
location; both go through here. Files that hold secrets (the bearer token, the hash key, the
TLS key) are settings by path: their contents are never read into output at all.

Every export header's value is masked, not only `authorization`: backends name their key
headers freely (x-honeycomb-team, dd-api-key, signoz-ingestion-key...), so a list of names
would leak the next one. The names stay, which is what a reader checks.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

# scheme://user:password@host: from the first ':' after the user to the authority's last '@' (a raw '@' in a
# password is taken whole); and libpq's ?password=... parameter.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/:@\s]*:)[^/\s]*(?=@[^@/\s]*(?:[/?#\s]|$))")
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)[^&#\s]*", re.IGNORECASE)


def url(text: str) -> str:
    """`text` with the password of any URL in it masked: postgresql://u:***@h/db."""
    text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    return _QUERY_PASSWORD.sub(lambda m: m["head"] + MASK, text)


def headers(values: dict[str, str]) -> dict[str, str]:
    """The header names, each value masked."""
    return dict.fromkeys(values, MASK)


def settings(value: Any, key: str = "") -> Any:
    """A plain mapping of settings (dataclasses.asdict of a Config) with every URL password and
    header value masked, for printing."""
    if isinstance(value, dict):
        if key == "headers":
            return headers(value)
        return {k: settings(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [settings(v) for v in value]
    if isinstance(value, str):
        return url(value)
    return value
