"""OpenInference's LangChain tracer with langchain-openai's ChatOpenAI, beside OpenInference's
openai instrumentor, over OTLP/gRPC: LangChain's `ChatOpenAI` LLM span and the openai
instrumentor's `ChatCompletion` span for each call (`invoke`, and `stream` with
`stream_usage=True`), both with usage. Each call billed once, at list price."""

from __future__ import annotations

import pytest

from tests.integrations import checks
from tests.integrations.runner import record_shapes, scenario

CALLS = 2


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    with scenario("langchain_openinference.py", tmp_path_factory.mktemp("langchain"), "grpc", expect_spans=5) as run:
        yield record_shapes("OpenInference LangChain (ChatOpenAI) + OpenInference openai (gRPC)", run)


def test_each_call_billed_once_at_list_price(run):
    checks.assert_billed_once_at_list_price(run, CALLS)


def test_trace_total_is_the_calls_list_price(run):
    checks.assert_trace_total(run)


def test_the_twin_span_names_the_billed_one(run):
    checks.assert_twins_point_to_the_bill(run, CALLS)


def test_ledger_rows_carry_the_attribution_tags(run):
    checks.assert_tagged(run)
