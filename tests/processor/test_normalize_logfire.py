"""Logfire's OpenAI and Anthropic integrations: one billed call per provider request, streamed or not.

The spans are the ones logfire 5.4.0 (openai 3.60.0, anthropic 2.16.0) emitted against the fake
provider (tests/testdata/spans/logfire-5.4.0.json, made by capture.py there). A streamed call makes a
request span without usage and a companion "streaming response from ..." log span, its sibling, with
the usage: the companion is the call, the request span is none (normalize/logfire.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from costline_processor.normalize import INTERESTING_KEYS, INTERESTING_PREFIXES, logfire, normalize_span
from costline_processor.records import NO_USAGE, Usage

CAPTURED = json.loads((Path(__file__).parents[1] / "testdata" / "spans" / "logfire-5.4.0.json").read_text())
SCENARIOS = CAPTURED["scenarios"]
COMPANION = "streaming response from {request_data[model]!r} took {duration:.2f}s"

# scenario -> (span name of the one model call, status, usage, model, provider, operation)
EXPECTED = {
    "openai_chat": (
        "Chat Completion with {request_data[model]!r}",
        None,
        Usage(12, 6, 2),
        "gpt-4o-mini-20260101",
        "openai",
        "chat",
    ),
    "openai_chat_stream": (COMPANION, None, Usage(12, 6, 2), "gpt-4o-mini-20260101", "openai", "chat"),
    # OpenAI sends no usage without stream_options.include_usage: the companion is flagged, once
    "openai_chat_stream_without_usage": (COMPANION, NO_USAGE, None, "gpt-4o-mini-20260101", "openai", "chat"),
    "openai_chat_stream_cut_short": (COMPANION, NO_USAGE, None, "cut-stream-20260101", "openai", "chat"),
    # the request failed: no companion ever comes, the request span stays the (flagged) call
    "openai_chat_stream_request_failed": (
        "Chat Completion with {request_data[model]!r}",
        NO_USAGE,
        None,
        "error-500",
        "openai",
        "chat",
    ),
    "openai_chat_request_failed": (
        "Chat Completion with {request_data[model]!r}",
        NO_USAGE,
        None,
        "error-500",
        "openai",
        "chat",
    ),
    "openai_responses_stream": (COMPANION, None, Usage(12, 6, 2), "gpt-4o-mini-20260101", "openai", "chat"),
    # no response id on an embeddings span, and no stream: still the call
    "openai_embeddings": (
        "Embedding Creation with {request_data[model]!r}",
        None,
        Usage(12, 0),
        "text-embedding-3-small",
        "openai",
        "embeddings",
    ),
    # Logfire reports Anthropic input with the cache counts (12 uncached + 2 read + 4 written)
    "anthropic_messages": (
        "Message with {request_data[model]!r}",
        None,
        Usage(18, 6, 2, 4),
        "claude-sonnet-4-5-20260101",
        "anthropic",
        "chat",
    ),
    "anthropic_messages_stream": (
        COMPANION,
        None,
        Usage(18, 6, 2, 4),
        "claude-sonnet-4-5-20260101",
        "anthropic",
        "chat",
    ),
}


def picked(attrs: dict) -> dict:
    """The attributes intake hands to normalize (the rest are never decoded)."""
    return {k: v for k, v in attrs.items() if k in INTERESTING_KEYS or k.startswith(INTERESTING_PREFIXES)}


def calls(scenario: str, pick=dict) -> list[tuple[str, object]]:
    out = []
    for span in SCENARIOS[scenario]:
        call = normalize_span(
            pick(span["attributes"]),
            scope_name=span["scope"],
            scope_version=span["scope_version"],
            span_name=span["name"],
        )
        if call is not None:
            out.append((span["name"], call))
    return out


def test_the_fixture_is_what_the_tests_expect():
    assert CAPTURED["versions"]["logfire"] == "5.4.0"
    assert set(SCENARIOS) == set(EXPECTED)
    for spans in SCENARIOS.values():
        assert {s["scope"] for s in spans} <= {"logfire.openai", "logfire.anthropic"}
        assert all(s["parent"] == "outer" for s in spans)  # the companion is the request span's sibling


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_each_request_is_one_model_call(scenario):
    name, status, usage, model, provider, operation = EXPECTED[scenario]
    [(span_name, call)] = calls(scenario)
    assert span_name == name
    assert (call.dialect, call.status, call.usage) == ("logfire", status, usage)
    assert (call.model, call.provider, call.operation) == (model, provider, operation)


@pytest.mark.parametrize("scenario", sorted(s for s in EXPECTED if "failed" not in s))
def test_the_same_from_the_attributes_intake_picks(scenario):
    [(span_name, call)] = calls(scenario, picked)
    assert (span_name, call.status, call.usage) == EXPECTED[scenario][:3]


@pytest.mark.parametrize("scenario", sorted(s for s in EXPECTED if "failed" in s))
def test_a_failed_request_stays_flagged_from_the_attributes_intake_picks(scenario):
    assert logfire.KEYS <= INTERESTING_KEYS  # intake picks the level, so normalize sees it
    [(span_name, call)] = calls(scenario, picked)
    assert (span_name, call.status) == EXPECTED[scenario][:2]


def test_the_streamed_request_span_alone_is_no_call():
    request, companion = SCENARIOS["openai_chat_stream"]
    assert normalize_span(request["attributes"], scope_name=request["scope"], span_name=request["name"]) is None
    # what tells it apart: no usage, no response id, no error level
    assert not any(k.startswith("gen_ai.usage.") for k in request["attributes"])
    assert "gen_ai.response.id" not in request["attributes"]
    assert "logfire.level_num" not in request["attributes"]
    assert "gen_ai.response.id" in companion["attributes"]


def test_a_response_without_usage_is_still_flagged():
    """A non-streamed response that arrived without usage has its response id: not taken for a stream."""
    [request] = SCENARIOS["openai_chat"]
    attrs = {k: v for k, v in request["attributes"].items() if not k.startswith("gen_ai.usage.")}
    call = normalize_span(attrs, scope_name=request["scope"], span_name=request["name"])
    assert (call.status, call.model) == (NO_USAGE, "gpt-4o-mini-20260101")


def test_other_scopes_are_not_read_as_streams():
    """Only Logfire's openai/anthropic integrations make companions (pydantic-ai records usage on its span)."""
    request = SCENARIOS["openai_chat_stream"][0]
    for scope in ("pydantic-ai", "logfire.openai_agents", "logfire"):
        call = normalize_span(request["attributes"], scope_name=scope, span_name=request["name"])
        assert call is not None and call.status == NO_USAGE, scope
