"""Google Gemini through the real google-genai SDK, traced by the two instrumentations users run
as installed: OpenTelemetry's own (opentelemetry-instrumentation-google-genai, semconv spans,
`gen_ai.provider.name` "gemini") over OTLP/gRPC and OpenInference's (`llm.provider` "google")
over OTLP/HTTP. Four calls to gemini-2.5-flash under one request span (apps/gemini_calls.py):
plain, streamed (every chunk carries a running usage count), thinking, and a context-cache read.
Each call billed once at Google's list price, tagged, the trace's total on its root."""

from __future__ import annotations

import pytest

from tests.integrations import checks
from tests.integrations.runner import record_shapes, scenario

CALLS = 4
# (app, protocol, spans the app exports, what record_shapes calls it)
SCENARIOS = {
    "otel-google-genai": (
        "gemini_otel.py",
        "grpc",
        CALLS + 1,
        "google-genai + opentelemetry-instrumentation-google-genai (gRPC)",
    ),
    "openinference-google-genai": (
        "gemini_openinference.py",
        "http",
        CALLS + 1,
        "google-genai + openinference-instrumentation-google-genai (HTTP)",
    ),
}


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def run(request, tmp_path_factory):
    app, protocol, spans, title = SCENARIOS[request.param]
    with scenario(app, tmp_path_factory.mktemp(request.param), protocol, expect_spans=spans) as run:
        yield record_shapes(title, run)


def test_each_call_billed_once_at_list_price(run):
    checks.assert_billed_once_at_list_price(run, CALLS)


def test_trace_total_is_the_calls_list_price(run):
    checks.assert_trace_total(run)


def test_no_span_with_usage_left_unexplained(run):
    checks.assert_twins_point_to_the_bill(run, CALLS)


def test_ledger_rows_carry_the_attribution_tags(run):
    checks.assert_tagged(run)
