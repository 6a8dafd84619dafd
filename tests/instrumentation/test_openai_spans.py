"""OpenAI instrumentor, in process: real SDK, fake provider, in-memory exporter."""

from __future__ import annotations

import asyncio
import io
from decimal import Decimal

import openai
import pytest
import wrapt
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind, StatusCode

from tests.instrumentation import expected_usage as expect
from tests.instrumentation.sdk_calls import MODES, call, only_model_span, openai_client

SCOPE = "costline.instrumentation.openai"
PROMPT = "what does the fox say"  # 5 words
W = expect.words(PROMPT)
MESSAGES = [{"role": "user", "content": PROMPT}]
CONTENT_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages")


def common(span, fake, operation: str, model: str, response_model: str, stream: bool) -> None:
    a = span.attributes
    assert span.name == f"{operation} {model}"
    assert span.kind is SpanKind.CLIENT
    assert a["gen_ai.operation.name"] == operation
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == model
    assert a["gen_ai.response.model"] == response_model
    assert a["server.address"] == "127.0.0.1"
    assert a["server.port"] == fake.port and type(a["server.port"]) is int
    assert a["gen_ai.request.stream"] is stream
    assert not any(k in a for k in CONTENT_KEYS)
    assert "error.type" not in a


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stream", [False, True])
def test_chat_completions(fake, exporter, instrument_openai, mode, stream):
    extra = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
    result = call(
        openai_client(fake, mode),
        mode,
        "chat.completions.create",
        model="gpt-4o",
        messages=MESSAGES,
        max_tokens=50,
        temperature=0.5,
        **extra,
    )
    span = only_model_span(exporter, SCOPE)
    common(span, fake, "chat", "gpt-4o", "gpt-4o-20260101", stream)
    a = span.attributes
    assert expect.usage_of(a) == expect.openai_chat(W)
    assert type(a["gen_ai.usage.input_tokens"]) is int
    assert a["openai.response.service_tier"] == "default"
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["gen_ai.request.max_tokens"] == 50 and a["gen_ai.request.temperature"] == 0.5
    assert a["gen_ai.response.id"].startswith("chatcmpl-fake-")
    if stream:  # the app asked for usage itself, so it sees the usage chunk
        assert result[-1].choices == [] and result[-1].usage.prompt_tokens == 10 + W


@pytest.mark.parametrize("mode", MODES)
def test_chat_stream_without_usage_says_missing(fake, exporter, instrument_openai, mode):
    chunks = call(
        openai_client(fake, mode), mode, "chat.completions.create", model="gpt-4o", messages=MESSAGES, stream=True
    )
    span = only_model_span(exporter, SCOPE)
    assert span.attributes["costline.usage.missing"] is True
    assert expect.usage_of(span.attributes) == {"costline.usage.missing": True}
    assert span.attributes["gen_ai.response.model"] == "gpt-4o-20260101"
    assert all(c.choices for c in chunks)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["kwarg", "env"])
def test_opt_in_stream_usage_is_requested_and_hidden(fake, exporter, instrument_openai, monkeypatch, mode, how):
    if how == "env":
        monkeypatch.setenv("COSTLINE_OPENAI_INCLUDE_STREAM_USAGE", "true")
        instrument_openai()
    else:
        instrument_openai(include_stream_usage=True)
    fake.clear()
    chunks = call(
        openai_client(fake, mode), mode, "chat.completions.create", model="gpt-4o", messages=MESSAGES, stream=True
    )
    assert fake.requests[-1].body["stream_options"] == {"include_usage": True}
    assert all(c.choices for c in chunks), "the usage chunk costline asked for must not reach the app"
    span = only_model_span(exporter, SCOPE)
    assert expect.usage_of(span.attributes) == expect.openai_chat(W)


def test_opt_in_respects_an_explicit_no(fake, exporter, instrument_openai):
    instrument_openai(include_stream_usage=True)
    fake.clear()
    call(
        openai_client(fake, "sync"),
        "sync",
        "chat.completions.create",
        model="gpt-4o",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": False},
    )
    assert fake.requests[-1].body["stream_options"] == {"include_usage": False}
    assert only_model_span(exporter, SCOPE).attributes["costline.usage.missing"] is True


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stream", [False, True])
def test_responses_api(fake, exporter, instrument_openai, mode, stream):
    call(
        openai_client(fake, mode),
        mode,
        "responses.create",
        model="gpt-5",
        input=PROMPT,
        reasoning={"effort": "low"},
        max_output_tokens=64,
        stream=stream,
    )
    span = only_model_span(exporter, SCOPE)
    common(span, fake, "chat", "gpt-5", "gpt-5-20260101", stream)
    assert expect.usage_of(span.attributes) == expect.openai_responses(W, reasoning=True)
    assert span.attributes["gen_ai.request.max_tokens"] == 64
    assert span.attributes["openai.response.service_tier"] == "default"
    assert span.attributes["gen_ai.response.id"].startswith("resp_fake-")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stream", [False, True])
def test_responses_web_search_calls_are_counted(fake, exporter, instrument_openai, mode, stream):
    call(
        openai_client(fake, mode),
        mode,
        "responses.create",
        model="gpt-4.1",
        input=PROMPT,
        tools=[{"type": "web_search"}],
        stream=stream,
    )
    span = only_model_span(exporter, SCOPE)
    assert span.attributes["costline.usage.web_searches"] == 2  # the fake's two web_search_call items
    assert expect.usage_of(span.attributes) == {**expect.openai_responses(W), "costline.usage.web_searches": 2}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stream", [False, True])
def test_responses_file_search_calls_are_counted_and_billed(fake, exporter, instrument_openai, mode, stream):
    """OpenAI's pricing page: file search tool calls $2.50 per 1,000, web search $10 per 1,000, on top of the
    tokens; gpt-4.1 input $2, cached input $0.50, output $8 per million. Before, a file search cost nothing."""
    tools = [{"type": "file_search", "vector_store_ids": ["vs_fake"]}, {"type": "web_search"}]
    call(openai_client(fake, mode), mode, "responses.create", model="gpt-4.1", input=PROMPT, tools=tools, stream=stream)
    a = only_model_span(exporter, SCOPE).attributes
    assert (a["costline.usage.file_searches"], a["costline.usage.web_searches"]) == (1, 2)  # the fake's items
    priced = list_price(a, 1_790_000_000 * 10**9)
    tokens = (10 * Decimal(2) + W * Decimal("0.50") + 6 * Decimal(8)) / 1_000_000  # the fake caches the prompt
    assert priced.total_usd == tokens + Decimal("0.0025") + 2 * Decimal("0.01") and priced.caveat is None
    assert [(s[0], s[1], s[2]) for s in priced.skus if "search" in s[0]] == [
        ("web_search", 2, Decimal("0.02")),
        ("file_search", 1, Decimal("0.0025")),
    ]


# OpenAI's pricing page, built-in tools: web search (the GA tool) $10 per 1,000 calls on any model; web search
# preview $10 on reasoning models (gpt-5, o-series), $25 on the others (gpt-4o, gpt-4.1), their search content
# tokens free (not in the usage). Token prices per million: gpt-4o $2.50 in, $1.25 cached, $10 out; gpt-5 $1.25,
# $0.125, $10. Before, every search cost $0.01: a gpt-4o call's two preview searches $0.03 short.
WEB_SEARCH_BILLS = [  # (model, tool, the span's count, USD per search, rates in / cached / out per million)
    ("gpt-4o", "web_search_preview", "preview_web_searches", "0.025", ("2.50", "1.25", "10")),
    ("gpt-4o", "web_search_preview_2025_03_11", "preview_web_searches", "0.025", ("2.50", "1.25", "10")),
    ("gpt-4o", "web_search", "web_searches", "0.01", ("2.50", "1.25", "10")),
    ("gpt-5", "web_search_preview", "preview_web_searches", "0.01", ("1.25", "0.125", "10")),
    ("gpt-5", "web_search", "web_searches", "0.01", ("1.25", "0.125", "10")),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model, tool, count, per_search, rates", WEB_SEARCH_BILLS)
def test_web_searches_are_billed_by_the_tool_that_ran_them(
    fake, exporter, instrument_openai, mode, stream, model, tool, count, per_search, rates
):
    call(
        openai_client(fake, mode),
        mode,
        "responses.create",
        model=model,
        input=PROMPT,
        tools=[{"type": tool}],
        stream=stream,
    )
    a = only_model_span(exporter, SCOPE).attributes
    other = ({"web_searches", "preview_web_searches"} - {count}).pop()
    assert a[f"costline.usage.{count}"] == 2 and f"costline.usage.{other}" not in a  # the fake's two items
    priced = list_price(a, 1_790_000_000 * 10**9)
    r_in, r_read, r_out = (Decimal(r) for r in rates)
    inp, read, out = (a[f"gen_ai.usage.{k}"] for k in ("input_tokens", "cache_read.input_tokens", "output_tokens"))
    tokens = ((inp - read) * r_in + read * r_read + out * r_out) / 1_000_000
    assert priced.total_usd == tokens + 2 * Decimal(per_search)
    sku = "web_search_preview" if count == "preview_web_searches" else "web_search"
    assert [s[:3] for s in priced.skus if "search" in s[0]] == [(sku, 2, 2 * Decimal(per_search))]
    assert priced.caveat == ("preview_web_searches_by_rule" if sku == "web_search_preview" else None)


# OpenAI's pricing page, image generation: gpt-image-1 text input $5, image output $40 per million tokens;
# gpt-image-1.5 text input $5, image output $32 (its text output $10).
GPT_IMAGE = {"gpt-image-1": (Decimal(5), Decimal(40)), "gpt-image-1.5": (Decimal(5), Decimal(32))}


def list_price(attributes, at_ns: int):
    """What costline's processor bills for a span with these attributes (its genai-prices list price)."""
    from costline_processor.config import PricingConfig
    from costline_processor.normalize import normalize_span
    from costline_processor.pricing import Pricer

    return Pricer(PricingConfig()).price(normalize_span(dict(attributes), scope_name=SCOPE), at_ns, 0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model, n", [("gpt-image-1", 1), ("gpt-image-1.5", 2)])
def test_images_generate_is_a_call_billed_at_image_rates(fake, exporter, instrument_openai, mode, model, n):
    result = call(openai_client(fake, mode), mode, "images.generate", model=model, prompt="a cat in a hat", n=n)
    assert len(result.data) == n
    span = only_model_span(exporter, SCOPE)
    a = span.attributes
    assert span.name == f"generate_content {model}" and a["gen_ai.operation.name"] == "generate_content"
    images = 1056 * n  # the fake's medium 1024x1024 images
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (15, images)  # 10 + 5 words
    assert a.get("gen_ai.usage.image.output_tokens") == (None if model == "gpt-image-1" else images)
    priced = list_price(a, span.start_time)
    text_in, image_out = GPT_IMAGE[model]
    assert priced.total_usd == (15 * text_in + images * image_out) / 1_000_000 and priced.caveat is None


@pytest.mark.parametrize("mode", MODES)
def test_images_edit_bills_the_uploaded_image_at_the_image_input_rate(fake, exporter, instrument_openai, mode):
    """gpt-image-1: image input $10 per million (text $5), output $40; the fake counts 100 tokens an upload."""
    png = ("a.png", io.BytesIO(b"\x89PNG fake"), "image/png")
    call(openai_client(fake, mode), mode, "images.edit", model="gpt-image-1", image=png, prompt="make it blue")
    a = only_model_span(exporter, SCOPE).attributes
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.image.input_tokens"]) == (113, 100)  # 10 + 3 words
    priced = list_price(a, 1_790_000_000 * 10**9)
    assert priced.total_usd == (13 * Decimal(5) + 100 * Decimal(10) + 1056 * Decimal(40)) / 1_000_000  # $0.043305


def test_responses_cache_write_and_service_tier(fake, exporter, instrument_openai):
    call(
        openai_client(fake, "sync"),
        "sync",
        "responses.create",
        model="gpt-5",
        input=PROMPT,
        prompt_cache_key="k1",
        service_tier="flex",
    )
    span = only_model_span(exporter, SCOPE)
    assert expect.usage_of(span.attributes) == expect.openai_responses(W, cache_key=True)
    assert span.attributes["openai.response.service_tier"] == "flex"


@pytest.mark.parametrize("mode", MODES)
def test_responses_compact_is_a_billed_call(fake, exporter, instrument_openai, mode):
    """`responses.compact` runs a compaction pass, billed by the tokens its usage reports; it had no span ($0)."""
    result = call(openai_client(fake, mode), mode, "responses.compact", model="gpt-5", input=MESSAGES)
    assert [item.type for item in result.output] == ["message", "compaction"]
    span = only_model_span(exporter, SCOPE)
    assert expect.usage_of(span.attributes) == expect.openai_responses(W)
    # OpenAI's pricing page, gpt-5 per million tokens: input $1.25, cached input $0.125, output $10
    priced = list_price(span.attributes, span.start_time)
    assert priced.total_usd == (10 * Decimal("1.25") + W * Decimal("0.125") + 6 * 10) / 1_000_000  # $0.000073125


# OpenAI's pricing page, transcription, USD per million tokens (audio input, text input, output).
TRANSCRIBE = {
    "gpt-4o-transcribe": (Decimal(6), Decimal("2.50"), Decimal(10)),
    "gpt-4o-mini-transcribe": (Decimal(3), Decimal("1.25"), Decimal(5)),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", sorted(TRANSCRIBE))
def test_a_transcription_is_a_billed_call(fake, exporter, instrument_openai, mode, stream, model):
    """`audio.transcriptions.create` had no span: a voice app's transcriptions cost $0, silently."""
    audio = ("a.wav", io.BytesIO(b"RIFF fake"), "audio/wav")
    kwargs = {"model": model, "file": audio, "prompt": "fox names", "stream": stream}
    call(openai_client(fake, mode), mode, "audio.transcriptions.create", **kwargs)
    span = only_model_span(exporter, SCOPE)
    a = span.attributes
    assert a["gen_ai.request.model"] == model and a["gen_ai.request.stream"] is stream
    usage = (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.audio.input_tokens"], a["gen_ai.usage.output_tokens"])
    assert usage == (50 + 2, 50, 6)  # the fake: 50 audio tokens a file, the prompt's 2 words, 6 out
    audio_rate, text_rate, output_rate = TRANSCRIBE[model]
    expected = (50 * audio_rate + 2 * text_rate + 6 * output_rate) / 1_000_000  # gpt-4o-transcribe: $0.000365
    assert list_price(a, span.start_time).total_usd == expected


def test_a_whisper_transcription_says_its_usage_is_missing(fake, exporter, instrument_openai):
    """whisper-1 is billed by the minute ($0.006; its usage: seconds), which costline does not price: marked."""
    audio = ("a.wav", io.BytesIO(b"RIFF fake"), "audio/wav")
    assert openai_client(fake, "sync").audio.transcriptions.create(model="whisper-1", file=audio).usage.seconds == 3
    a = only_model_span(exporter, SCOPE).attributes
    assert a["costline.usage.missing"] is True and "gen_ai.usage.input_tokens" not in a


@pytest.mark.parametrize("mode", MODES)
def test_embeddings(fake, exporter, instrument_openai, mode):
    inputs = ["first text here", "and second"]
    result = call(openai_client(fake, mode), mode, "embeddings.create", model="text-embedding-3-small", input=inputs)
    assert len(result.data) == 2
    span = only_model_span(exporter, SCOPE)
    common(span, fake, "embeddings", "text-embedding-3-small", "text-embedding-3-small", False)
    assert expect.usage_of(span.attributes) == expect.openai_embeddings(expect.words(*inputs))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stream", [False, True])
def test_legacy_completions(fake, exporter, instrument_openai, mode, stream):
    extra = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
    call(openai_client(fake, mode), mode, "completions.create", model="gpt-3.5-turbo-instruct", prompt=PROMPT, **extra)
    span = only_model_span(exporter, SCOPE)
    common(span, fake, "text_completion", "gpt-3.5-turbo-instruct", "gpt-3.5-turbo-instruct-20260101", stream)
    assert expect.usage_of(span.attributes) == expect.openai_chat(W)


@pytest.mark.parametrize("mode", MODES)
def test_reasoning_cache_write_and_reported_cost(fake, exporter, instrument_openai, mode):
    call(
        openai_client(fake, mode),
        mode,
        "chat.completions.create",
        model="openrouter/some-model",
        messages=MESSAGES,
        reasoning_effort="high",
        prompt_cache_key="k",
    )
    span = only_model_span(exporter, SCOPE)
    expected = expect.openai_chat(W, reasoning=True, cache_key=True, cost=True)
    assert expect.usage_of(span.attributes) == expected
    assert type(span.attributes["costline.reported_cost.usd"]) is float


@pytest.mark.parametrize("mode", MODES)
def test_error_is_recorded_and_reraised_unchanged(fake, exporter, instrument_openai, mode):
    with pytest.raises(openai.RateLimitError) as caught:
        call(openai_client(fake, mode), mode, "chat.completions.create", model="error-429", messages=MESSAGES)
    assert caught.value.status_code == 429
    span = only_model_span(exporter, SCOPE)
    assert span.attributes["error.type"] == "RateLimitError"
    assert span.status.status_code is StatusCode.ERROR
    assert "costline.usage.missing" not in span.attributes  # nothing was billed


@pytest.mark.parametrize("mode", MODES)
def test_error_mid_stream(fake, exporter, instrument_openai, mode):
    with pytest.raises(openai.APIError):
        call(
            openai_client(fake, mode),
            mode,
            "chat.completions.create",
            model="error-stream",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    span = only_model_span(exporter, SCOPE)
    assert span.attributes["error.type"] == "APIError"
    assert span.attributes["costline.usage.missing"] is True
    assert span.attributes["gen_ai.response.model"] == "error-stream-20260101"


def test_interrupted_stream_has_no_usage(fake, exporter, instrument_openai):
    call(
        openai_client(fake, "sync"),
        "sync",
        "chat.completions.create",
        model="cut-stream",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert only_model_span(exporter, SCOPE).attributes["costline.usage.missing"] is True


def test_stream_closed_early_ends_the_span(fake, exporter, instrument_openai):
    client = openai_client(fake, "sync")
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.Stream)  # the proxy keeps the SDK type
    next(iter(stream))
    assert not exporter.get_finished_spans()
    stream.close()
    assert only_model_span(exporter, SCOPE).attributes["costline.usage.missing"] is True


def test_async_stream_cancelled_while_waiting_ends_the_span(exporter, instrument_openai):
    from costline_processor.demo.fake_provider import FakeProvider

    async def main(slow: FakeProvider) -> None:
        client = openai_client(slow, "async")
        stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)

        async def read() -> None:
            async for _ in stream:
                pass

        task = asyncio.create_task(read())
        await asyncio.sleep(0.3)  # the reader now waits inside the proxy's __anext__
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with FakeProvider(chunk_delay=0.2) as slow:
        asyncio.run(main(slow))
    span = only_model_span(exporter, SCOPE)
    assert span.attributes["error.type"] == "CancelledError"
    assert span.attributes["costline.usage.missing"] is True


def test_stream_helpers(fake, exporter, instrument_openai):
    client = openai_client(fake, "sync")
    with client.chat.completions.stream(
        model="gpt-4o", messages=MESSAGES, stream_options={"include_usage": True}
    ) as stream:
        assert stream.get_final_completion().usage.prompt_tokens == 10 + W
    with client.responses.stream(model="gpt-5", input=PROMPT) as stream:
        assert stream.get_final_response().usage.input_tokens == 10 + W
    chat, responses = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert expect.usage_of(chat.attributes) == expect.openai_chat(W)
    assert expect.usage_of(responses.attributes) == expect.openai_responses(W)


def test_with_raw_response(fake, exporter, instrument_openai):
    raw = openai_client(fake, "sync").chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    assert raw.parse().usage.prompt_tokens == 10 + W
    assert expect.usage_of(only_model_span(exporter, SCOPE).attributes) == expect.openai_chat(W)


def test_parse(fake, exporter, instrument_openai):
    openai_client(fake, "sync").chat.completions.parse(model="gpt-4o", messages=MESSAGES)
    assert expect.usage_of(only_model_span(exporter, SCOPE).attributes) == expect.openai_chat(W)


def test_span_is_child_of_the_current_span(fake, exporter, instrument_openai, tracer_provider):
    with tracer_provider.get_tracer("app").start_as_current_span("handler") as parent:
        call(openai_client(fake, "sync"), "sync", "chat.completions.create", model="gpt-4o", messages=MESSAGES)
    span = only_model_span(exporter, SCOPE)
    assert span.parent.span_id == parent.get_span_context().span_id
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_content_is_recorded_only_on_opt_in(fake, exporter, instrument_openai):
    instrument_openai(capture_content=True)
    call(openai_client(fake, "sync"), "sync", "chat.completions.create", model="gpt-4o", messages=MESSAGES)
    a = only_model_span(exporter, SCOPE).attributes
    assert PROMPT in a["gen_ai.input.messages"]
    assert "Hello from the fake provider." in a["gen_ai.output.messages"]


def test_suppressed_instrumentation_makes_no_span(fake, exporter, instrument_openai):
    with suppress_instrumentation():
        call(openai_client(fake, "sync"), "sync", "chat.completions.create", model="gpt-4o", messages=MESSAGES)
    assert not exporter.get_finished_spans()


def test_uninstrument_restores_the_sdk(fake, exporter, instrument_openai):
    from costline.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().uninstrument()
    call(openai_client(fake, "sync"), "sync", "chat.completions.create", model="gpt-4o", messages=MESSAGES)
    assert not exporter.get_finished_spans()
    assert not isinstance(openai.resources.chat.completions.Completions.__dict__["create"], wrapt.BaseObjectProxy)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stream", [False, True])
def test_audio_tokens_are_recorded_as_semconv_subsets(fake, exporter, instrument_openai, mode, stream):
    """gpt-4o-audio-preview: the provider's `prompt_tokens_details.audio_tokens` / `completion_tokens_details.
    audio_tokens` (the fake sends 5 and 4) become gen_ai.usage.audio.{input,output}_tokens, subsets of the totals."""
    extra = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
    call(
        openai_client(fake, mode),
        mode,
        "chat.completions.create",
        model="gpt-4o-audio-preview",
        messages=MESSAGES,
        **extra,
    )
    a = only_model_span(exporter, SCOPE).attributes
    assert a["gen_ai.usage.audio.input_tokens"] == 5 and type(a["gen_ai.usage.audio.input_tokens"]) is int
    assert a["gen_ai.usage.audio.output_tokens"] == 4
    assert a["gen_ai.usage.input_tokens"] == 10 + W and a["gen_ai.usage.output_tokens"] == 6


def test_no_audio_attributes_without_audio(fake, exporter, instrument_openai):
    """OpenAI sends `audio_tokens: 0` on every chat call: zero is not written (it is what absence means)."""
    call(openai_client(fake, "sync"), "sync", "chat.completions.create", model="gpt-4o", messages=MESSAGES)
    a = only_model_span(exporter, SCOPE).attributes
    assert not any(k.startswith("gen_ai.usage.audio.") for k in a)
