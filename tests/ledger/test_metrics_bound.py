"""Metrics under many tag combinations: costline's bound acts, not the OTel SDK's (issue 14, item 8).

60 000 calls over tens of thousands of label combinations, scraped from the /metrics
endpoint: every call is counted, the busiest combinations keep their labels, the rest
land in the `other` series (every dimension `other`), and no sample carries the SDK's
`otel_metric_overflow` label or empty labels.
"""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

from costline_processor.metrics import DEFAULT_DIMENSIONS, DEFAULT_MAX_SERIES, OTHER, MetricsSink
from tests.ledger.factory import make_row
from tests.ledger.metrics_scrape import samples, scrape

CALLS = 60_000
TOP = 200  # busiest combinations, 150 calls each: half the traffic
DIMS = ("feature", "customer_id", "team", "environment")


def _traffic() -> tuple[list, Counter]:
    rng = random.Random(14)
    top = [(f"f{i % 10}", f"c{i % 40}", f"t{i % 7}", "prod", f"m{i % 3}") for i in range(TOP)]
    combos = [c for c in top for _ in range(150)]
    while len(combos) < CALLS:  # the long tail: values within each dimension's bound, combinations past any
        combos.append(
            (
                f"f{rng.randrange(50)}",
                f"c{rng.randrange(50)}",
                f"t{rng.randrange(10)}",
                rng.choice(["prod", "staging", "dev"]),
                f"m{rng.randrange(5)}",
            )
        )
    rng.shuffle(combos)
    rows = [make_row("0.001", tags=dict(zip(DIMS, c[:4])), model=c[4], tokens=(100, 10, 0, 0, 0)) for c in combos]
    return rows, Counter(combos)


def test_sixty_thousand_calls_over_many_combinations_are_all_counted(figures):
    rows, counts = _traffic()
    sink = MetricsSink()
    try:
        sink.write(rows)
        _, port = sink.serve("127.0.0.1", 0)
        got = samples(scrape(port))
    finally:
        sink.close()
    calls = got["costline_llm_calls_total"]
    tokens = got["costline_tokens_total"]
    overflow = [labels for name in got for labels, _ in got[name] if "otel_metric_overflow" in labels]
    assert not overflow, f"{len(overflow)} samples in the SDK's overflow series"
    assert all(set(DEFAULT_DIMENSIONS) <= set(labels) for labels, _ in calls)
    assert sum(v for _, v in calls) == CALLS
    assert sum(v for labels, v in tokens if labels["type"] == "input") == 100 * CALLS
    assert abs(sum(v for _, v in got["costline_cost_usd_total"]) - Decimal("0.001") * CALLS) < Decimal("1e-6")

    def key(labels: dict) -> tuple:
        return (*(labels[d] for d in DIMS), labels["model"])

    by_combo = {key(labels): v for labels, v in calls}
    other = by_combo.pop((OTHER,) * 5, Decimal(0))
    assert len(by_combo) <= DEFAULT_MAX_SERIES  # costline's bound
    top = [c for c, _ in counts.most_common(TOP)]
    kept = [c for c in top if by_combo.get(c) == counts[c]]
    assert len(kept) == TOP, f"{TOP - len(kept)} of the {TOP} busiest combinations lost their labels"
    assert other > 0 and other + sum(by_combo.values()) == CALLS
    figures(
        f"metrics bound: {CALLS:,} calls over {len(counts):,} combinations -> {len(by_combo):,} labelled series "
        f"(bound {DEFAULT_MAX_SERIES:,}) + other with {int(other):,} calls; the {TOP} busiest kept their labels; "
        f"{len(overflow)} SDK overflow samples"
    )
