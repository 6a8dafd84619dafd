"""Two instrumentations tracing the same calls; each call billed once, at list price, and
the span not billed says why (`aggregate_usage` on a parent, or `duplicate_call` naming the
billed span on a sibling). One scenario per pair of libraries, each app in its own process:

- anthropic 2.x's own spans (scope com.anthropic.sdk.python) beside OpenLLMetry's anthropic
  instrumentor, over OTLP/gRPC: two sibling spans per call, both with usage; non-streamed and
  `stream=True`.
- the same SDK spans beside OpenInference's anthropic instrumentor, over OTLP/HTTP:
  `messages.create` (OpenInference's LLM span is the parent of the SDK's span, both with
  usage), `stream=True`, and `messages.stream()` (the two spans are siblings).
- OpenInference's LangChain tracer with langchain-openai's ChatOpenAI beside OpenInference's
  openai instrumentor, over OTLP/gRPC: LangChain's `ChatOpenAI` LLM span and the openai
  instrumentor's `ChatCompletion` span for each call (`invoke`, and `stream` with
  `stream_usage=True`), both with usage.
"""

from __future__ import annotations

import pytest

from tests.integrations import checks
from tests.integrations.runner import record_shapes, scenario

# (app, protocol, spans the app exports, calls it makes, what record_shapes calls it)
SCENARIOS = {
    "openllmetry-anthropic": (
        "anthropic_openllmetry.py",
        "grpc",
        5,
        2,
        "anthropic SDK spans + OpenLLMetry anthropic (gRPC)",
    ),
    "openinference-anthropic": (
        "anthropic_openinference.py",
        "http",
        7,
        3,
        "anthropic SDK spans + OpenInference anthropic (HTTP)",
    ),
    "openinference-langchain": (
        "langchain_openinference.py",
        "grpc",
        5,
        2,
        "OpenInference LangChain (ChatOpenAI) + OpenInference openai (gRPC)",
    ),
}


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def case(request, tmp_path_factory):
    app, protocol, spans, calls, title = SCENARIOS[request.param]
    with scenario(app, tmp_path_factory.mktemp(request.param), protocol, expect_spans=spans) as run:
        yield record_shapes(title, run), calls


def test_each_call_billed_once_at_list_price(case):
    run, calls = case
    checks.assert_billed_once_at_list_price(run, calls)


def test_trace_total_is_the_calls_list_price(case):
    checks.assert_trace_total(case[0])


def test_the_twin_span_names_the_billed_one(case):
    run, calls = case
    checks.assert_twins_point_to_the_bill(run, calls)


def test_ledger_rows_carry_the_attribution_tags(case):
    checks.assert_tagged(case[0])
