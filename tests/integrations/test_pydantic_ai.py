"""Pydantic AI as installed, its own instrumentation on (`Agent.instrument_all()`): four agent runs
(OpenAI chat, OpenAI Responses, Anthropic, Anthropic with two web searches) under one request span. Each run is an `invoke_agent`
span carrying its steps' usage summed (`gen_ai.aggregated_usage.*`) above a `chat MODEL` span with
the call's usage; on Anthropic the SDK's own span sits below that one with the same usage again.
Each call billed once, at list price (the searches at $10 per 1,000 on top), tagged."""

from __future__ import annotations

import pytest

from tests.integrations import checks
from tests.integrations.runner import record_shapes, scenario

CALLS = 4


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    with scenario("pydantic_ai_agents.py", tmp_path_factory.mktemp("pydantic_ai"), "grpc", expect_spans=11) as run:
        yield record_shapes("Pydantic AI agents, instrument_all (gRPC)", run)


def test_each_call_billed_once_at_list_price(run):
    checks.assert_billed_once_at_list_price(run, CALLS)


def test_trace_total_is_the_calls_list_price(run):
    checks.assert_trace_total(run)


def test_no_span_with_usage_left_unexplained(run):
    checks.assert_twins_point_to_the_bill(run, CALLS)


def test_ledger_rows_carry_the_attribution_tags(run):
    checks.assert_tagged(run)


def test_agent_runs_are_not_bills(run):
    agents = [s for s in run.spans if s.attributes.get("gen_ai.operation.name") == "invoke_agent"]
    assert len(agents) == CALLS and not any("costline.cost.usd" in s.attributes for s in agents), run.shapes
