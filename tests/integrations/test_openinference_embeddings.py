"""OpenInference's openai instrumentor, `client.embeddings.create` (a string and a list):
EMBEDDING spans that name the model in `embedding.model_name`. Each call billed at list
price, over OTLP/gRPC."""

from __future__ import annotations

import pytest

from tests.integrations import checks
from tests.integrations.runner import record_shapes, scenario

CALLS = 2


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    with scenario("openinference_embeddings.py", tmp_path_factory.mktemp("embeddings"), "grpc", expect_spans=3) as run:
        yield record_shapes("OpenInference openai embeddings (gRPC)", run)


def test_each_call_billed_once_at_list_price(run):
    checks.assert_billed_once_at_list_price(run, CALLS)


def test_trace_total_is_the_calls_list_price(run):
    checks.assert_trace_total(run)


def test_ledger_rows_carry_the_attribution_tags(run):
    checks.assert_tagged(run)
