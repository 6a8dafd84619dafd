"""anthropic 2.x's own spans (scope com.anthropic.sdk.python) beside OpenLLMetry's anthropic
instrumentor: two sibling spans per call, both with usage. Each call billed once, at list
price, whichever span costline bills; the other twin says `duplicate_call` and names it.
Non-streamed and streamed (`stream=True`), over OTLP/gRPC."""

from __future__ import annotations

import pytest

from tests.integrations import checks
from tests.integrations.runner import record_shapes, scenario

CALLS = 2


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    with scenario("anthropic_openllmetry.py", tmp_path_factory.mktemp("openllmetry"), "grpc", expect_spans=5) as run:
        yield record_shapes("anthropic SDK spans + OpenLLMetry anthropic (gRPC)", run)


def test_each_call_billed_once_at_list_price(run):
    checks.assert_billed_once_at_list_price(run, CALLS)


def test_trace_total_is_the_calls_list_price(run):
    checks.assert_trace_total(run)


def test_the_twin_span_names_the_billed_one(run):
    checks.assert_twins_point_to_the_bill(run, CALLS)


def test_ledger_rows_carry_the_attribution_tags(run):
    checks.assert_tagged(run)
