"""Scrape and parse a Prometheus text endpoint (test helper)."""

from __future__ import annotations

import urllib.request
from decimal import Decimal

from prometheus_client.parser import text_string_to_metric_families


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        return resp.read().decode()


def samples(text: str) -> dict[str, list[tuple[dict, Decimal]]]:
    """Sample name (as exposed, e.g. costline_cost_usd_total) -> [(labels, value)]."""
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, Decimal(repr(s.value))))
    return out


def total(rows, **match) -> Decimal:
    return sum((v for labels, v in rows if all(labels.get(k) == want for k, want in match.items())), Decimal(0))
