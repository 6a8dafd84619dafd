"""Beside another GenAI library, the one model span of a call carries every usage detail.

The real openai SDK against the fake provider and the real official openai-v2
instrumentation, in both wrapping orders, sync and async, plain and streamed: openai-v2
2.4b0 writes only input and output tokens on chat spans; costline, deferring to it,
adds the cache and reasoning counts the provider returned (`span_completion`).
"""

from __future__ import annotations

import inspect

import openai
import pytest
import wrapt

try:
    import opentelemetry.instrumentation.openai_v2  # noqa: F401  (the `both` fixture instruments it)
except ImportError as error:
    pytest.fail(
        f"the official openai-v2 instrumentation does not import ({error}); "
        "install `opentelemetry-util-genai<1.2` beside it",
        pytrace=False,
    )
from opentelemetry.trace import SpanKind

from tests.instrumentation import expected_usage as expect
from tests.instrumentation.sdk_calls import MODES, call, only_model_span, openai_client

OFFICIAL_CHAT = "opentelemetry.util.genai.handler"
ORDERS = [("official", "costline"), ("costline", "official")]  # first instrumented = innermost wrapper
MESSAGES = [{"role": "user", "content": "one two three"}]  # W = 3
STREAM = {"stream": True, "stream_options": {"include_usage": True}}


def chat(fake, mode: str, **kwargs: object) -> object:
    return call(openai_client(fake, mode), mode, "chat.completions.create", model="gpt-4o", messages=MESSAGES, **kwargs)


def parse_is_hooked() -> bool:
    return isinstance(inspect.getattr_static(openai._response.BaseAPIResponse, "_parse"), wrapt.FunctionWrapper)


def test_premise_openai_v2_alone_drops_cache_and_reasoning(fake, exporter, both):
    both(("official",))
    chat(fake, "sync", reasoning_effort="low")
    attributes = only_model_span(exporter).attributes
    assert attributes["gen_ai.usage.input_tokens"] == 13
    assert "gen_ai.usage.cache_read.input_tokens" not in attributes
    assert "gen_ai.usage.reasoning.output_tokens" not in attributes


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("order", ORDERS, ids=["official-below", "official-above"])
def test_the_official_span_gets_cache_and_reasoning(fake, exporter, both, order, mode, streamed):
    both(order)
    result = chat(fake, mode, reasoning_effort="low", **(STREAM if streamed else {}))
    span = only_model_span(exporter)
    assert span.instrumentation_scope.name == OFFICIAL_CHAT  # still openai-v2's span, and the only one
    assert expect.usage_of(span.attributes) == expect.openai_chat(3, reasoning=True)
    if streamed:  # the app read every chunk, the usage chunk included
        assert result[-1].usage.prompt_tokens_details.cached_tokens == 3


@pytest.mark.parametrize("order", ORDERS, ids=["official-below", "official-above"])
def test_cache_write_is_added_too(fake, exporter, both, order):
    both(order)
    chat(fake, "sync", prompt_cache_key="tenant-1")
    span = only_model_span(exporter)
    assert expect.usage_of(span.attributes) == expect.openai_chat(3, cache_key=True)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("order", ORDERS, ids=["official-below", "official-above"])
def test_with_raw_response(fake, exporter, both, order, mode):
    both(order)
    call(
        openai_client(fake, mode), mode, "chat.completions.with_raw_response.create", model="gpt-4o", messages=MESSAGES
    )
    assert expect.usage_of(only_model_span(exporter).attributes) == expect.openai_chat(3)


def test_a_stream_read_with_a_context_manager(fake, exporter, both):
    both(("official", "costline"))
    client = openai_client(fake, "sync")
    with client.chat.completions.create(model="gpt-4o", messages=MESSAGES, **STREAM) as stream:
        chunks = list(stream)
    assert chunks[-1].usage is not None
    assert expect.usage_of(only_model_span(exporter).attributes) == expect.openai_chat(3)


def test_a_value_the_other_library_set_is_kept(fake, exporter, tracer_provider, instrument_openai):
    """A span above costline's wrapper that already has a detail keeps it; the missing ones are added."""
    tracer = tracer_provider.get_tracer("some.framework")
    with tracer.start_as_current_span(
        "chat gpt-4o",
        kind=SpanKind.CLIENT,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.usage.cache_read.input_tokens": 99,
            "gen_ai.usage.reasoning_tokens": 7,
        },
    ):  # OpenLLMetry's name
        chat(fake, "sync", reasoning_effort="low")
    attributes = only_model_span(exporter).attributes
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 99
    assert attributes["gen_ai.usage.reasoning_tokens"] == 7
    assert "gen_ai.usage.reasoning.output_tokens" not in attributes  # the detail was there, under its name
    assert attributes["gen_ai.usage.input_tokens"] == 13


def test_an_openinference_style_span_gets_its_own_names(fake, exporter, tracer_provider, instrument_openai):
    """A span made around the client's `request` (below costline) is filled under `llm.token_count.*`."""
    tracer = tracer_provider.get_tracer("openinference.instrumentation.openai")

    def foreign(wrapped, instance, args, kwargs):
        with tracer.start_as_current_span(
            "ChatCompletion", kind=SpanKind.INTERNAL, attributes={"openinference.span.kind": "LLM"}
        ) as span:
            result = wrapped(*args, **kwargs)
            span.set_attribute("llm.token_count.prompt", result.usage.prompt_tokens)
            return result

    wrapt.wrap_function_wrapper(openai.OpenAI, "request", foreign)
    try:
        chat(fake, "sync", reasoning_effort="low")
    finally:
        openai.OpenAI.request = openai.OpenAI.request.__wrapped__
        del openai.OpenAI.request
    (span,) = exporter.get_finished_spans()
    assert {k: v for k, v in span.attributes.items() if "token" in k} == {
        "llm.token_count.prompt": 13,
        "llm.token_count.completion": 9,
        "llm.token_count.prompt_details.cache_read": 3,
        "llm.token_count.completion_details.reasoning": 3,
    }


def test_the_parse_hook_is_only_there_while_needed(fake, exporter, both, instrument_openai):
    from costline.instrumentation.openai import OpenAIInstrumentor

    chat(fake, "sync")
    assert not parse_is_hooked()  # costline alone: no hook on the SDK's parsing
    OpenAIInstrumentor().uninstrument()
    both(("official", "costline"))  # openai-v2 below costline's wrapper: its span lives inside the call
    chat(fake, "sync")
    assert parse_is_hooked()
    OpenAIInstrumentor().uninstrument()
    assert not parse_is_hooked()
