"""A model call (the anthropic SDK's own span) whose parent never reaches costline: the step
between it and the request's root span was sampled out. Only the root span carries the tags
(as attributes, no baggage). The call is billed at list price and carries the root's tags,
not `untagged`. Over OTLP/HTTP."""

from __future__ import annotations

import pytest

from tests.integrations import checks
from tests.integrations.runner import record_shapes, scenario


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    with scenario("orphan_call.py", tmp_path_factory.mktemp("orphan"), "http", expect_spans=2) as run:
        yield record_shapes("orphaned call: parent sampled out, tags on the root (HTTP)", run)


def test_the_parent_really_never_arrived(run):
    call = next(s for s in run.spans if s.scope == "com.anthropic.sdk.python")
    assert call.parent_span_id and call.parent_span_id not in {s.span_id for s in run.spans}, run.shapes
    assert [s.name for s in run.spans if not s.parent_span_id] == ["POST /chat"], run.shapes


def test_the_call_is_billed_at_list_price(run):
    checks.assert_billed_once_at_list_price(run, 1)


def test_the_call_carries_the_root_tags(run):
    checks.assert_tagged(run)
    call = next(s for s in run.spans if s.scope == "com.anthropic.sdk.python")
    for name, value in checks.TAGS.items():
        assert call.attributes.get(f"costline.{name}") == value, run.shapes
