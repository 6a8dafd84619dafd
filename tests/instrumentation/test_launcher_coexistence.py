"""Under the launcher with the official openai-v2 instrumentation enabled too, and with no
SDK configurator loaded (so costline's pre-instrument hook sets the SDK up itself)."""

from __future__ import annotations

import pytest

try:  # the launcher would only log its import failure; say what is missing instead
    import opentelemetry.instrumentation.openai_v2  # noqa: F401
except ImportError as error:
    pytest.fail(
        f"the official openai-v2 instrumentation does not import ({error}); "
        "install `opentelemetry-util-genai<1.2` beside it",
        pytrace=False,
    )

from tests.fakes.otlp_sink import OtlpSink
from tests.instrumentation import expected_usage as expect
from tests.instrumentation.launcher import app_env, run_app

MODEL_SCOPES = {
    "chat gpt-4o": "opentelemetry.util.genai.handler",  # openai-v2 traces chat ...
    "embeddings text-embedding-3-small": "opentelemetry.instrumentation.openai_v2",  # ... and embeddings
    "chat gpt-5": "costline.instrumentation.openai",  # costline the Responses API it leaves alone
}


@pytest.fixture(scope="module")
def launched(fake):
    with OtlpSink() as sink:
        env = app_env(
            sink,
            "coexist-app",
            FAKE_PROVIDER_URL=fake.base_url,
            COSTLINE_BAGGAGE_ALLOWED_HOSTS="127.0.0.1",
            OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="",  # the official `openai` entry point loads too
            OTEL_PYTHON_CONFIGURATOR="not-installed",
        )  # so no configurator runs
        fake.clear()
        result = run_app("coexist_app.py", env)
        spans = sink.wait_for_spans(6)  # 3 model spans + their 3 HTTP spans
        yield spans, fake.requests, result.stderr


def test_one_model_span_per_call(launched):
    spans, _, _ = launched
    assert len(spans) == 6
    model = {s.name: s.scope for s in spans if "gen_ai.operation.name" in s.attributes}
    assert model == MODEL_SCOPES
    for span in spans:  # every span, whoever made it, gets the tags from costline's processor
        assert span.attributes["costline.customer_id"] == "acme", span.name
    costline_span = next(s for s in spans if s.scope == "costline.instrumentation.openai")
    assert costline_span.attributes["gen_ai.usage.input_tokens"] == 13


def test_the_official_chat_span_carries_the_cache_tokens(launched):
    """openai-v2 writes only input and output tokens; costline, deferring, adds what it drops."""
    spans, _, _ = launched
    chat = next(s for s in spans if s.name == "chat gpt-4o")
    assert chat.scope == "opentelemetry.util.genai.handler"
    assert chat.attributes["gen_ai.usage.cache_read.input_tokens"] == 3  # the fake provider's cached_tokens
    assert expect.usage_of(chat.attributes) == expect.openai_chat(3)


def test_provider_gets_no_tags_even_when_costline_defers(launched):
    _, requests, _ = launched
    assert sorted(r.path for r in requests) == ["/v1/chat/completions", "/v1/embeddings", "/v1/responses"]
    for r in requests:
        assert "traceparent" in r.headers
        assert "costline." not in r.headers.get("baggage", ""), r.path


def test_sdk_was_configured_by_costline_hook(launched):
    spans, _, stderr = launched
    assert "not-installed" in stderr  # the launcher said it skipped the distro's configurator
    assert {s.resource["service.name"] for s in spans} == {"coexist-app"}
