"""anthropic 2.x's own spans beside OpenInference's anthropic instrumentor, over OTLP/HTTP:
`messages.create` (OpenInference's LLM span is the parent of the SDK's span, both with
usage) and `messages.stream()` (OpenInference's span and the SDK's are siblings). Each call
billed once, at list price; the other span says why it is not billed."""

from __future__ import annotations

import pytest

from tests.integrations import checks
from tests.integrations.runner import record_shapes, scenario

CALLS = 3  # create, create(stream=True), messages.stream()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    with scenario("anthropic_openinference.py", tmp_path_factory.mktemp("oi-anthropic"), "http", expect_spans=7) as run:
        yield record_shapes("anthropic SDK spans + OpenInference anthropic (HTTP)", run)


def test_each_call_billed_once_at_list_price(run):
    checks.assert_billed_once_at_list_price(run, CALLS)


def test_trace_total_is_the_calls_list_price(run):
    checks.assert_trace_total(run)


def test_the_twin_span_names_the_billed_one(run):
    checks.assert_twins_point_to_the_bill(run, CALLS)


def test_ledger_rows_carry_the_attribution_tags(run):
    checks.assert_tagged(run)
