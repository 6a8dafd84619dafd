"""End to end under the standard launcher: `opentelemetry-instrument python app.py`, real SDKs,
the fake provider, real OTLP export to a loopback sink. Every span attribute is checked
against values worked out from the fake provider's documented usage rules."""

from __future__ import annotations

import json

import pytest

from tests.fakes.otlp_sink import OtlpSink
from tests.instrumentation import expected_usage as expect
from tests.instrumentation.launcher import app_env, run_app

CLIENT, INTERNAL = 3, 1  # OTLP span kinds
PROMPT = "tell me a short story please"  # the app's prompt (6 words)
SYSTEM = "be brief"  # the app's Anthropic system prompt (2 words)
W_OPENAI = expect.words(PROMPT)
W_ANTHROPIC = expect.words(SYSTEM, PROMPT)


def openai_span(name, response_model, stream, usage, **extra):
    return {
        "name": name,
        "provider": "openai",
        "response_model": response_model,
        "stream": stream,
        "usage": usage,
        **extra,
    }


def anthropic_span(stream, usage, model="claude-fake-1", **extra):
    return {
        "name": f"chat {model}",
        "provider": "anthropic",
        "response_model": f"{model}-20260101",
        "stream": stream,
        "usage": usage,
        **extra,
    }


CHAT = openai_chat = expect.openai_chat(W_OPENAI)
RESPONSES_REASONING = expect.openai_responses(W_OPENAI, reasoning=True)
RESPONSES_CACHE_KEY = expect.openai_responses(W_OPENAI, cache_key=True)
ANTHROPIC_1H = expect.anthropic_messages(W_ANTHROPIC, one_hour=True)
ANTHROPIC_THINKING = expect.anthropic_messages(W_ANTHROPIC, thinking=True)
EMBEDDINGS = expect.openai_embeddings(W_OPENAI)
MISSING = {"costline.usage.missing": True}

EXPECTED = {
    "chat-sync": openai_span("chat gpt-4o", "gpt-4o-20260101", False, CHAT, max_tokens=64),
    "chat-stream-sync": openai_span("chat gpt-4o", "gpt-4o-20260101", True, CHAT),
    "chat-stream-cut": openai_span("chat cut-stream", "cut-stream-20260101", True, MISSING),
    "chat-helper": openai_span("chat gpt-4o", "gpt-4o-20260101", True, CHAT),
    "responses-sync": openai_span("chat gpt-5", "gpt-5-20260101", False, RESPONSES_REASONING),
    "responses-stream-sync": openai_span("chat gpt-5", "gpt-5-20260101", True, RESPONSES_CACHE_KEY),
    "embeddings-sync": openai_span("embeddings text-embedding-3-small", "text-embedding-3-small", False, EMBEDDINGS),
    "completions-sync": openai_span(
        "text_completion gpt-3.5-turbo-instruct", "gpt-3.5-turbo-instruct-20260101", False, CHAT
    ),
    "completions-stream-sync": openai_span(
        "text_completion gpt-3.5-turbo-instruct", "gpt-3.5-turbo-instruct-20260101", True, CHAT
    ),
    "openrouter-sync": openai_span(
        "chat openrouter/auto",
        "openrouter/auto-20260101",
        False,
        expect.openai_chat(W_OPENAI, reasoning=True, cache_key=True, cost=True),
    ),
    "chat-error-sync": openai_span("chat error-429", None, False, {}, error="RateLimitError"),
    "anthropic-sync": anthropic_span(False, ANTHROPIC_1H),
    "anthropic-stream-sync": anthropic_span(True, ANTHROPIC_THINKING),
    "anthropic-helper-sync": anthropic_span(True, ANTHROPIC_1H),
    "anthropic-error-sync": anthropic_span(False, {}, model="error-529", error="OverloadedError"),
    "step": openai_span("chat gpt-4o", "gpt-4o-20260101", False, CHAT, max_tokens=64),
    "thread": openai_span("embeddings text-embedding-3-small", "text-embedding-3-small", False, EMBEDDINGS),
    "chat-async": openai_span("chat gpt-4o", "gpt-4o-20260101", False, CHAT, max_tokens=64),
    "chat-stream-async": openai_span("chat gpt-4o", "gpt-4o-20260101", True, CHAT),
    "responses-async": openai_span("chat gpt-5", "gpt-5-20260101", False, RESPONSES_REASONING),
    "responses-stream-async": openai_span("chat gpt-5", "gpt-5-20260101", True, RESPONSES_CACHE_KEY),
    "embeddings-async": openai_span("embeddings text-embedding-3-small", "text-embedding-3-small", False, EMBEDDINGS),
    "completions-async": openai_span(
        "text_completion gpt-3.5-turbo-instruct", "gpt-3.5-turbo-instruct-20260101", False, CHAT
    ),
    "chat-error-async": openai_span("chat error-429", None, False, {}, error="RateLimitError"),
    "anthropic-async": anthropic_span(False, ANTHROPIC_1H),
    "anthropic-stream-async": anthropic_span(True, ANTHROPIC_THINKING),
    "anthropic-helper-async": anthropic_span(True, ANTHROPIC_1H),
    "task-1": anthropic_span(False, ANTHROPIC_1H),
    "task-2": anthropic_span(False, ANTHROPIC_1H),
}


@pytest.fixture(scope="module")
def launched(fake):
    """Run the app once under the launcher; every test below reads its spans."""
    with OtlpSink() as sink:
        env = app_env(sink, "llm-app", FAKE_PROVIDER_URL=fake.base_url, COSTLINE_OPENAI_INCLUDE_STREAM_USAGE="true")
        fake.clear()
        result = run_app("llm_app.py", env)
        # each model span has the httpx instrumentation's HTTP span below it (it instruments httpx2,
        # which the SDKs use), plus one step span
        spans = sink.wait_for_spans(2 * len(EXPECTED) + 1)
        provider_requests = fake.requests
    return json.loads(result.stdout.strip().splitlines()[-1]), spans, provider_requests


def model_span(spans, label):
    found = [s for s in costline_spans(spans) if s.kind == CLIENT and s.attributes.get("costline.call") == label]
    assert len(found) == 1, (label, [s.name for s in found])
    return found[0]


def costline_spans(spans):
    return [s for s in spans if s.scope.startswith("costline.instrumentation.")]


def test_exactly_the_expected_spans(launched):
    _, spans, _ = launched
    assert len(spans) == 2 * len(EXPECTED) + 1
    model_calls = [s for s in costline_spans(spans) if s.kind == CLIENT]
    assert sorted(s.attributes["costline.call"] for s in model_calls) == sorted(EXPECTED)
    assert not [s for s in spans if s.name.startswith("anthropic.")]  # the SDK's own spans were replaced
    assert {s.resource["service.name"] for s in spans} == {"llm-app"}
    by_id = {s.span_id: s for s in spans}
    http = [s for s in spans if s.scope == "opentelemetry.instrumentation.httpx"]
    assert len(http) == len(EXPECTED)
    assert all(by_id[s.parent_span_id] in model_calls for s in http)  # the SDK request runs inside costline's span


def test_provider_requests_carry_trace_context_but_no_tags(launched):
    _, _, requests = launched
    assert len(requests) == len(EXPECTED)
    for request in requests:
        assert "traceparent" in request.headers, request.path  # injected by the httpx instrumentation
        assert "costline." not in request.headers.get("baggage", ""), request.path


@pytest.mark.parametrize("label", sorted(EXPECTED))
def test_model_span_attributes(launched, fake, label):
    _, spans, _ = launched
    span, want = model_span(spans, label), EXPECTED[label]
    a = span.attributes
    model = want["name"].split(" ", 1)[1]
    operation = want["name"].split(" ", 1)[0]
    assert span.name == want["name"]
    assert a["gen_ai.operation.name"] == operation
    assert a["gen_ai.provider.name"] == want["provider"]
    assert a["gen_ai.request.model"] == model
    assert a["gen_ai.request.stream"] is want["stream"]
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == fake.port
    assert a["costline.customer_id"] == "acme"
    assert not [k for k in a if k in ("gen_ai.input.messages", "gen_ai.output.messages")]
    assert expect.usage_of(a) == want["usage"]
    for key, value in want["usage"].items():
        assert type(a[key]) is type(value), key
    if "max_tokens" in want:
        assert a["gen_ai.request.max_tokens"] == want["max_tokens"]
    if want.get("error"):
        assert a["error.type"] == want["error"]
        assert span.raw.status.code == 2  # STATUS_CODE_ERROR
        assert "gen_ai.response.model" not in a
        return
    assert "error.type" not in a
    assert a["gen_ai.response.model"] == want["response_model"]
    if operation == "embeddings":  # embeddings answers have no id
        assert "gen_ai.response.id" not in a
    else:
        assert isinstance(a["gen_ai.response.id"], str) and a["gen_ai.response.id"]
    if want["provider"] == "openai" and operation == "chat":  # chat and Responses answers name the tier
        assert a["openai.response.service_tier"] == "default"
    else:
        assert "openai.response.service_tier" not in a


def test_step_span_is_the_parent(launched):
    _, spans, _ = launched
    (step,) = [s for s in spans if s.kind == INTERNAL]
    assert step.name == "summarise"
    assert step.attributes == {
        "costline.step.name": "summarise",
        "costline.call": "step",
        "costline.customer_id": "acme",
    }
    assert model_span(spans, "step").parent_span_id == step.span_id


def test_what_the_app_saw(launched):
    checks, _, _ = launched
    assert checks == {
        "chat-stream-sync: app saw no usage chunk": True,
        "chat-error-sync: RateLimitError reached the app": True,
        "anthropic-helper-sync: text": "Hello from the fake provider.",
        "anthropic-error-sync: status": 529,
        "chat-stream-async: app asked for usage and saw it": True,
        "chat-error-async: RateLimitError reached the app": True,
    }
