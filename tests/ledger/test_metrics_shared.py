"""MetricsSink and calls shared among owners (shares.py): each owner's labels get its part of the call,
the parts add up to the call, and every other value is one owner as it always was."""

from __future__ import annotations

from decimal import Decimal

import pytest

from costline_processor.metrics import MetricsSink
from tests.ledger.factory import make_row
from tests.ledger.metrics_scrape import samples, scrape, total

FLOAT = Decimal("1e-15")  # a float's rounding of a cost under $1, and the femto-dollar the split rounds to


def exposed(sink: MetricsSink, rows) -> dict:
    sink.write(rows)
    _, port = sink.serve("127.0.0.1", 0)
    return samples(scrape(port))


def by(series, *dims: str) -> dict[tuple, Decimal]:
    out: dict[tuple, Decimal] = {}
    for labels, v in series:
        key = tuple(labels[d] for d in dims)
        out[key] = out.get(key, Decimal(0)) + v
    return out


@pytest.fixture
def sink():
    s = MetricsSink(["feature", "customer_id", "model"])
    yield s
    s.close()


def test_equal_shares_split_cost_tokens_and_one_call(sink):
    got = exposed(sink, [make_row("0.01", tags={"customer_id": '["a","b","c"]'}, tokens=(101, 20, 0, 0, 0))])
    cost = by(got["costline_cost_usd_total"], "customer_id")
    assert set(cost) == {("a",), ("b",), ("c",)}
    for owner in cost.values():
        assert abs(owner - Decimal("0.01") / 3) <= FLOAT
    assert abs(sum(cost.values()) - Decimal("0.01")) <= FLOAT
    tokens = got["costline_tokens_total"]
    # trunc(101 k/3) - trunc(101 (k-1)/3): 33, 67 - 33, 101 - 67
    assert [total(tokens, type="input", customer_id=c) for c in "abc"] == [33, 34, 34]
    assert [total(tokens, type="output", customer_id=c) for c in "abc"] == [6, 7, 7]
    calls = by(got["costline_llm_calls_total"], "customer_id")
    assert abs(sum(calls.values()) - 1) < Decimal("1e-15")  # a float's rounding of one call: documented
    assert all(abs(v - Decimal(1) / 3) < Decimal("1e-15") for v in calls.values())


def test_two_shared_dimensions_split_on_the_product_of_shares(sink):
    row = make_row("0.48", tags={"feature": '{"chat":1,"search":3}', "customer_id": '{"a":1,"b":2}'})
    got = exposed(sink, [row])
    cost = by(got["costline_cost_usd_total"], "feature", "customer_id")
    want = {
        ("chat", "a"): Decimal("0.04"),  # 0.48 * 1/4 * 1/3
        ("chat", "b"): Decimal("0.08"),
        ("search", "a"): Decimal("0.12"),
        ("search", "b"): Decimal("0.24"),
    }
    assert set(cost) == set(want)
    for key, v in want.items():
        assert abs(cost[key] - v) <= FLOAT, key
    calls = by(got["costline_llm_calls_total"], "feature", "customer_id")
    for key, v in want.items():  # the call's share: the cost's, 1/12, 1/6, 1/4, 1/2
        assert abs(calls[key] - v / Decimal("0.48")) < Decimal("1e-15"), key
    assert abs(sum(calls.values()) - 1) < Decimal("1e-15")
    tokens = by([s for s in got["costline_tokens_total"] if s[0]["type"] == "input"], "feature")
    assert tokens == {("chat",): 25, ("search",): 75}


def test_one_owner_rows_are_labelled_and_counted_as_before(sink):
    rows = [make_row("0.5", tags={"feature": "chat", "customer_id": "a"}), make_row(None, tags={"customer_id": "b"})]
    got = exposed(sink, rows)
    assert by(got["costline_cost_usd_total"], "feature", "customer_id") == {("chat", "a"): Decimal("0.5")}
    assert by(got["costline_llm_calls_total"], "customer_id") == {("a",): 1, ("b",): 1}
    assert by(got["costline_unpriced_calls_total"], "customer_id", "reason") == {("b", "unknown_model"): 1}


@pytest.mark.parametrize(
    "value",
    ['["a"]', '["a","a"]', '{"a":0,"b":1}', '{"a":-1,"b":2}', "[1,2]", '["a","b"', '["a",""]', "[]", "{x}"],
)
def test_a_value_that_is_not_several_owners_stays_one_label(sink, value):
    got = exposed(sink, [make_row("0.25", tags={"customer_id": value})])
    assert by(got["costline_cost_usd_total"], "customer_id") == {(value,): Decimal("0.25")}
    assert by(got["costline_llm_calls_total"], "customer_id") == {(value,): 1}


def test_an_unpriced_shared_call_counts_each_owner_share():
    sink = MetricsSink(["customer_id"])
    try:
        got = exposed(sink, [make_row(None, tags={"customer_id": '{"a":1,"b":4}'}, status="no_usage")])
    finally:
        sink.close()
    assert by(got["costline_unpriced_calls_total"], "customer_id", "reason") == {
        ("a", "no_usage"): Decimal("0.2"),
        ("b", "no_usage"): Decimal("0.8"),
    }
    assert "costline_cost_usd_total" not in got or not got["costline_cost_usd_total"]


def test_the_label_budget_applies_per_owner():
    sink = MetricsSink(["customer_id"], max_label_values=2)
    try:
        rows = [make_row("1", tags={"customer_id": c}) for c in ("a", '["b","c","d"]', "b")]
        got = exposed(sink, rows)
    finally:
        sink.close()
    cost = by(got["costline_cost_usd_total"], "customer_id")
    # a, then b take the two values; c and d are `other`, their two thirds in one series
    assert set(cost) == {("a",), ("b",), ("other",)}
    assert abs(cost[("a",)] - 1) <= FLOAT
    assert abs(cost[("b",)] - Decimal(4) / 3) <= FLOAT
    assert abs(cost[("other",)] - Decimal(2) / 3) <= FLOAT
    assert abs(sum(by(got["costline_llm_calls_total"], "customer_id").values()) - 3) < Decimal("1e-15")


def test_a_shared_tag_that_is_no_dimension_does_not_split(sink):
    got = exposed(sink, [make_row("0.3", tags={"team": '["x","y"]', "customer_id": "a"})])
    assert by(got["costline_llm_calls_total"], "customer_id") == {("a",): 1}
    assert by(got["costline_cost_usd_total"], "customer_id") == {("a",): Decimal("0.3")}
