"""The assertions every scenario makes: one bill per call, at list price, tagged."""

from __future__ import annotations

import math
from decimal import Decimal

from tests.integrations import published
from tests.integrations.runner import Run

TAGS = {"customer_id": "acme", "feature": "support"}  # what the apps set (apps/otel_setup.py)
# Statuses of a span that carries a call's usage but is not its bill.
NOT_BILLED = {"duplicate_call", "aggregate_usage", "billed_in_parent", "duplicate_span"}
USAGE_PREFIXES = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "llm.token_count.completion",
)


def has_usage(attributes: dict) -> bool:
    return any(k.startswith(USAGE_PREFIXES) for k in attributes)


def expected_costs(run: Run, n_calls: int) -> list[Decimal]:
    calls = published.calls(run.requests)
    assert len(calls) == n_calls, f"the app made {len(calls)} model calls, expected {n_calls}: {calls}"
    return sorted(published.call_cost(path, body) for path, body in calls)


def assert_billed_once_at_list_price(run: Run, n_calls: int) -> None:
    """The ledger has one billed row per call the provider answered, at its list price."""
    expected = expected_costs(run, n_calls)
    got = sorted(Decimal(r["cost_usd"]) for r in run.billed())
    assert got == expected, f"billed {got}, the calls really made cost {expected}\n\n{run.shapes}"
    assert run.total() == sum(expected)
    unbilled = [(r["span_name"], r["status"]) for r in run.rows if r["cost_usd"] is None]
    assert all(status in NOT_BILLED for _, status in unbilled), f"{unbilled}\n\n{run.shapes}"


def assert_trace_total(run: Run) -> None:
    """One trace; its root's rolled-up cost is the ledger total."""
    traces = {s.trace_id for s in run.spans}
    assert len(traces) == 1, traces
    roots = [s for s in run.spans if not s.parent_span_id]
    assert len(roots) == 1, [s.name for s in roots]
    rollup = roots[0].attributes.get("costline.rollup.cost_usd")
    assert rollup is not None and math.isclose(rollup, float(run.total()), rel_tol=0, abs_tol=1e-12), (
        f"root rollup {rollup}, ledger total {run.total()}\n\n{run.shapes}"
    )


def assert_twins_point_to_the_bill(run: Run, n_calls: int, sibling_status: str = "duplicate_call") -> None:
    """Every other span with a call's usage says why it is not billed; a twin that is not an
    ancestor of the billed span (a sibling) says `duplicate_call` and names the billed span."""
    by_id = {s.span_id: s for s in run.spans}
    billed = {s.span_id for s in run.spans if "costline.cost.usd" in s.attributes}
    assert len(billed) == n_calls, f"{len(billed)} spans billed for {n_calls} calls\n\n{run.shapes}"

    def ancestors(span):
        seen = set()
        while span.parent_span_id in by_id and span.parent_span_id not in seen:
            seen.add(span.parent_span_id)
            span = by_id[span.parent_span_id]
        return seen

    below = {a for sid in billed for a in ancestors(by_id[sid])}  # spans above a billed call
    for s in run.spans:
        if s.span_id in billed or not has_usage(s.attributes):
            continue
        a = s.attributes
        status = a.get("costline.cost.status")
        assert status in NOT_BILLED, f"{s.name} ({s.scope}) has usage, no cost and status {status!r}\n\n{run.shapes}"
        if s.span_id not in below:
            assert status == sibling_status, (
                f"{s.name} ({s.scope}): {status!r}, expected {sibling_status}\n\n{run.shapes}"
            )
            assert a.get("costline.billed_span_id") in billed, (
                f"{s.name} ({s.scope}) names {a.get('costline.billed_span_id')!r}, billed: {billed}\n\n{run.shapes}"
            )


def assert_tagged(run: Run) -> None:
    """Every ledger row carries the tags the app set."""
    assert run.rows, run.shapes
    for r in run.rows:
        assert {k: r["tags"].get(k) for k in TAGS} == TAGS, f"{r['span_name']}: {r['tags']}\n\n{run.shapes}"
