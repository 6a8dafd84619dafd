"""costline beside another GenAI instrumentation: one model span per call, in either order.

Uses the real official `opentelemetry-instrumentation-openai-v2` (it wraps chat and
embeddings, not the Responses API) and an OpenInference-style wrapper on the client's
`request` method.
"""

from __future__ import annotations

import pytest
import wrapt

try:
    import opentelemetry.instrumentation.openai_v2  # noqa: F401  (the `both` fixture instruments it)
except ImportError as error:  # openai-v2 2.4b0 imports a module util-genai dropped in 1.2b0
    pytest.fail(
        f"the official openai-v2 instrumentation does not import ({error}); "
        "install `opentelemetry-util-genai<1.2` beside `opentelemetry-instrumentation-openai-v2`",
        pytrace=False,
    )
from opentelemetry.trace import SpanKind

from tests.instrumentation import expected_usage as expect
from tests.instrumentation.sdk_calls import MODES, call, model_spans, openai_client

# openai-v2 makes its chat spans through opentelemetry-util-genai's handler
OFFICIAL_CHAT, OFFICIAL = "opentelemetry.util.genai.handler", "opentelemetry.instrumentation.openai_v2"
COSTLINE = "costline.instrumentation.openai"
MESSAGES = [{"role": "user", "content": "one two three"}]


def run_calls(fake, mode: str) -> None:
    # a fresh client per call: each async call runs in its own event loop
    call(openai_client(fake, mode), mode, "chat.completions.create", model="gpt-4o", messages=MESSAGES)
    call(openai_client(fake, mode), mode, "embeddings.create", model="emb", input="one two")
    call(openai_client(fake, mode), mode, "responses.create", model="gpt-5", input="one two three")


def scopes(exporter) -> list[tuple[str, str]]:
    return [(s.name, s.instrumentation_scope.name) for s in model_spans(exporter)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("order", [("official", "costline"), ("costline", "official")])
def test_one_span_per_call_in_either_order(fake, exporter, both, order, mode):
    both(order)
    run_calls(fake, mode)
    assert scopes(exporter) == [
        ("chat gpt-4o", OFFICIAL_CHAT),  # the official library traces chat and embeddings ...
        ("embeddings emb", OFFICIAL),
        ("chat gpt-5", COSTLINE),  # ... and costline what it leaves untraced
    ]
    chat = model_spans(exporter)[0]
    assert chat.attributes["gen_ai.usage.input_tokens"] == 13  # the official span has the usage


def test_opting_out_of_deferring_gives_both_spans(fake, exporter, both):
    both(("official", "costline"), defer_to_other_instrumentation=False)
    call(openai_client(fake, "sync"), "sync", "chat.completions.create", model="gpt-4o", messages=MESSAGES)
    assert sorted(scope for _, scope in scopes(exporter)) == [COSTLINE, OFFICIAL_CHAT]


def test_env_var_turns_deferring_off(fake, exporter, both, monkeypatch):
    monkeypatch.setenv("COSTLINE_DEFER_TO_OTHER_INSTRUMENTATION", "false")
    both(("costline", "official"))
    call(openai_client(fake, "sync"), "sync", "chat.completions.create", model="gpt-4o", messages=MESSAGES)
    assert len(model_spans(exporter)) == 2


def test_a_wrapper_on_the_client_request_method_is_noticed(fake, exporter, tracer_provider, instrument_openai):
    """OpenInference wraps `OpenAI.request`; its span starts inside costline's wrapper."""
    import openai

    tracer = tracer_provider.get_tracer("openinference.instrumentation.openai")

    def foreign(wrapped, instance, args, kwargs):
        with tracer.start_as_current_span(
            "ChatCompletion", kind=SpanKind.INTERNAL, attributes={"openinference.span.kind": "LLM"}
        ):
            return wrapped(*args, **kwargs)

    wrapt.wrap_function_wrapper(openai.OpenAI, "request", foreign)
    try:
        call(openai_client(fake, "sync"), "sync", "chat.completions.create", model="gpt-4o", messages=MESSAGES)
    finally:
        openai.OpenAI.request = openai.OpenAI.request.__wrapped__
        del openai.OpenAI.request  # back to the inherited SyncAPIClient.request
    assert [s.name for s in exporter.get_finished_spans()] == ["ChatCompletion"]
    call(openai_client(fake, "sync"), "sync", "chat.completions.create", model="gpt-4o", messages=MESSAGES)
    assert expect.usage_of(model_spans(exporter, COSTLINE)[0].attributes) == expect.openai_chat(3)


def test_an_outer_framework_model_span_is_respected(fake, exporter, tracer_provider, instrument_openai):
    """A framework that already made the model-call span (e.g. an agent library) gets no duplicate."""
    tracer = tracer_provider.get_tracer("some.framework")
    with tracer.start_as_current_span(
        "chat gpt-4o", kind=SpanKind.CLIENT, attributes={"gen_ai.operation.name": "chat"}
    ):
        call(openai_client(fake, "sync"), "sync", "chat.completions.create", model="gpt-4o", messages=MESSAGES)
    with tracer.start_as_current_span(
        "invoke_agent planner", kind=SpanKind.CLIENT, attributes={"gen_ai.operation.name": "invoke_agent"}
    ):
        call(openai_client(fake, "sync"), "sync", "chat.completions.create", model="gpt-4o", messages=MESSAGES)
    assert [s.name for s in model_spans(exporter, COSTLINE)] == ["chat gpt-4o"]  # only under the agent span
    (costline_span,) = model_spans(exporter, COSTLINE)
    assert costline_span.parent is not None
