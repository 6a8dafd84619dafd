"""Logfire configured by its own `logfire.configure(send_to_logfire=False)` with an OTLP/HTTP
exporter to costline, `logfire.instrument_openai()`: a chat call, and a streamed one (with
the usage chunk). Logfire puts a streamed call's usage on a separate log-type span beside
the request span. Each call billed once, at list price."""

from __future__ import annotations

import pytest

from tests.integrations import checks
from tests.integrations.runner import record_shapes, scenario

CALLS = 2


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    with scenario("logfire_openai.py", tmp_path_factory.mktemp("logfire"), "http", expect_spans=4) as run:
        yield record_shapes("Logfire instrument_openai (HTTP)", run)


def test_each_call_billed_once_at_list_price(run):
    checks.assert_billed_once_at_list_price(run, CALLS)


def test_trace_total_is_the_calls_list_price(run):
    checks.assert_trace_total(run)


def test_no_span_with_usage_left_unexplained(run):
    checks.assert_twins_point_to_the_bill(run, CALLS)


def test_ledger_rows_carry_the_attribution_tags(run):
    checks.assert_tagged(run)


def test_the_streamed_request_span_is_not_a_second_unpriced_call(run):
    """The streamed call's request span has a model but no usage (Logfire puts the usage on
    the 'streaming response' span): it must not show up as an unpriced call in the ledger."""
    assert [r["status"] for r in run.rows if r["cost_usd"] is None] == [], run.shapes
