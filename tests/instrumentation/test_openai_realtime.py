"""OpenAI Realtime sessions, in process: the real SDK's `realtime.connect()` against the fake provider.

Each `response.done` is one `chat gpt-realtime` span whose usage costline's processor prices at
gpt-realtime's published rates (per million tokens: text input $4, cached $0.40, output $16; audio
input $32, cached $0.40, output $64). The fake's usage (`realtime_wire`): input text 10 + the
input_text words so far, 40 audio tokens per audio message so far, the previous response's input
cached; output text 6, or audio 60 + transcript text 12.
"""

from __future__ import annotations

import asyncio
import base64
import time
from decimal import Decimal

import openai
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind

import costline
from tests.instrumentation.test_openai_spans import list_price

SCOPE = "costline.instrumentation.openai"
MODEL = "gpt-realtime"
MODES = ("sync", "async")
READS = ("iterate", "recv")
RATES = {  # gpt-realtime, USD per million tokens (OpenAI's pricing page)
    "text_in": Decimal(4),
    "text_cached": Decimal("0.40"),
    "text_out": Decimal(16),
    "audio_in": Decimal(32),
    "audio_cached": Decimal("0.40"),
    "audio_out": Decimal(64),
}
AUDIO = [{"type": "input_audio", "audio": base64.b64encode(b"\x00\x01" * 800).decode()}]


def usd(**tokens: int) -> Decimal:
    """The cost of these token counts (keys of RATES) at the published rates."""
    return sum((RATES[kind] * n for kind, n in tokens.items()), Decimal(0)) / 1_000_000


def item(content: list[dict] | str) -> dict:
    parts = [{"type": "input_text", "text": content}] if isinstance(content, str) else content
    return {"type": "message", "role": "user", "content": parts}


# A turn: (conversation items to add, the response's output modalities).
Turn = tuple[list[dict], list[str]]


def _session_sync(fake, turns: list[Turn], read: str, cut: bool, marks: list) -> None:
    client = openai.OpenAI(base_url=fake.openai_base_url, api_key="test-key", max_retries=0)
    with client.realtime.connect(model=MODEL) as conn:
        events = iter(conn) if read == "iterate" else iter(conn.recv, None)
        for n, (items, modalities) in enumerate(turns, 1):
            for one in items:
                conn.conversation.item.create(item=one)
            before = time.time_ns()
            conn.response.create(response={"output_modalities": modalities})
            marks.append((before, time.time_ns()))
            seen = []
            for event in events:
                seen.append(event.type)
                if event.type == "response.done" or (
                    cut and n == len(turns) and len(seen) > 2 and "delta" in event.type
                ):
                    break
            assert "response.created" in seen


async def _session_async(fake, turns: list[Turn], read: str, cut: bool, marks: list) -> None:
    client = openai.AsyncOpenAI(base_url=fake.openai_base_url, api_key="test-key", max_retries=0)
    async with client.realtime.connect(model=MODEL) as conn:
        events = conn.__aiter__()
        for n, (items, modalities) in enumerate(turns, 1):
            for one in items:
                await conn.conversation.item.create(item=one)
            before = time.time_ns()
            await conn.response.create(response={"output_modalities": modalities})
            marks.append((before, time.time_ns()))
            seen = []
            while True:
                event = await (events.__anext__() if read == "iterate" else conn.recv())
                seen.append(event.type)
                if event.type == "response.done" or (
                    cut and n == len(turns) and len(seen) > 2 and "delta" in event.type
                ):
                    break
            assert "response.created" in seen


def session(fake, mode: str, turns: list[Turn], read: str = "iterate", cut: bool = False) -> list[tuple[int, int]]:
    """Run a session: per turn, add its items, ask for a response and read to its `response.done`
    (`cut`: the last one only to its first delta, then close). Returns each `response.create`'s time bracket."""
    marks: list[tuple[int, int]] = []
    if mode == "sync":
        _session_sync(fake, turns, read, cut, marks)
    else:
        asyncio.run(_session_async(fake, turns, read, cut, marks))
    return marks


def realtime_spans(exporter) -> list:
    spans = [s for s in exporter.get_finished_spans() if s.instrumentation_scope.name == SCOPE]
    return sorted(spans, key=lambda s: s.start_time)


def check_common(span, fake) -> None:
    a = span.attributes
    assert span.name == f"chat {MODEL}" and span.kind is SpanKind.CLIENT
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == MODEL
    assert a["gen_ai.response.model"] == MODEL + "-20260101"  # the fake's session.model
    assert a["gen_ai.response.id"].startswith("resp_fake-")
    assert (a["server.address"], a["server.port"]) == ("127.0.0.1", fake.port)


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("mode", MODES)
def test_a_text_response_is_a_span_billed_at_text_rates(fake, exporter, instrument_openai, mode, read):
    (asked,) = session(fake, mode, [([item("what does the fox say")], ["text"])], read)
    (span,) = realtime_spans(exporter)
    check_common(span, fake)
    a = span.attributes
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (15, 6)  # 10 + 5 words; 6
    assert a["gen_ai.usage.cache_read.input_tokens"] == 0
    assert not any(k.startswith(("gen_ai.usage.audio", "gen_ai.usage.image")) for k in a)
    assert "costline.usage.missing" not in a
    assert asked[0] <= span.start_time <= asked[1] < span.end_time  # from the response.create sent
    assert list_price(a, span.start_time).total_usd == usd(text_in=15, text_out=6)  # $0.000156


@pytest.mark.parametrize("mode", MODES)
def test_an_audio_response_is_billed_at_audio_rates(fake, exporter, instrument_openai, mode):
    """Was $0 (no span): 40 audio tokens in, 60 audio + 12 transcript tokens out are $0.005352."""
    session(fake, mode, [([item(AUDIO)], ["audio"])])
    (span,) = realtime_spans(exporter)
    check_common(span, fake)
    a = span.attributes
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (50, 72)  # inclusive counts
    assert (a["gen_ai.usage.audio.input_tokens"], a["gen_ai.usage.audio.output_tokens"]) == (40, 60)
    assert a["gen_ai.usage.cache_read.input_tokens"] == 0 and "gen_ai.usage.audio.cache_read.input_tokens" not in a
    expected = usd(text_in=10, audio_in=40, text_out=12, audio_out=60)
    assert expected == Decimal("0.005352")
    assert list_price(a, span.start_time).total_usd == expected


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("mode", MODES)
def test_two_responses_in_one_session_are_two_spans_the_second_reading_the_cache(
    fake, exporter, instrument_openai, mode, read
):
    turns = [([item(AUDIO)], ["text"]), ([item("and then what")], ["audio"])]
    marks = session(fake, mode, turns, read)
    first, second = realtime_spans(exporter)
    for span, (before, after) in zip((first, second), marks, strict=True):
        check_common(span, fake)
        assert before <= span.start_time <= after
    assert first.attributes["gen_ai.response.id"] != second.attributes["gen_ai.response.id"]
    assert first.end_time <= second.start_time
    a, b = first.attributes, second.attributes
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.audio.input_tokens"], a["gen_ai.usage.output_tokens"]) == (
        50,
        40,
        6,
    )
    assert list_price(a, first.start_time).total_usd == usd(text_in=10, audio_in=40, text_out=6)  # $0.001416
    # 13 text (10 + 3 words) + 40 audio in, the first response's 10 text + 40 audio cached
    assert (b["gen_ai.usage.input_tokens"], b["gen_ai.usage.cache_read.input_tokens"]) == (53, 50)
    assert (b["gen_ai.usage.audio.input_tokens"], b["gen_ai.usage.audio.cache_read.input_tokens"]) == (40, 40)
    assert (b["gen_ai.usage.output_tokens"], b["gen_ai.usage.audio.output_tokens"]) == (72, 60)
    expected = usd(text_in=3, text_cached=10, audio_cached=40, text_out=12, audio_out=60)
    assert expected == Decimal("0.004064")
    assert list_price(b, second.start_time).total_usd == expected


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("mode", MODES)
def test_a_session_closed_mid_response_says_its_usage_is_missing(fake, exporter, instrument_openai, mode, read):
    turns = [([item("what does the fox say")], ["text"]), ([], ["audio"])]
    session(fake, mode, turns, read, cut=True)
    done, cut = realtime_spans(exporter)
    assert list_price(done.attributes, done.start_time).total_usd == usd(text_in=15, text_out=6)
    check_common(cut, fake)
    assert cut.attributes["costline.usage.missing"] is True
    assert not any(k.startswith("gen_ai.usage.") for k in cut.attributes)
    assert list_price(cut.attributes, cut.start_time).reason  # unpriced, and says why: never $0


@pytest.mark.parametrize("mode", MODES)
def test_a_response_asked_for_and_never_answered_before_close_says_its_usage_is_missing(
    fake, exporter, instrument_openai, mode
):
    async def ask_and_close_async() -> None:
        client = openai.AsyncOpenAI(base_url=fake.openai_base_url, api_key="test-key", max_retries=0)
        async with client.realtime.connect(model=MODEL) as conn:
            await conn.response.create()

    if mode == "sync":
        client = openai.OpenAI(base_url=fake.openai_base_url, api_key="test-key", max_retries=0)
        with client.realtime.connect(model=MODEL) as conn:
            conn.response.create()
    else:
        asyncio.run(ask_and_close_async())
    (span,) = realtime_spans(exporter)
    assert span.name == f"chat {MODEL}" and span.attributes["costline.usage.missing"] is True


@pytest.mark.parametrize("mode", MODES)
def test_responses_carry_the_tags_and_parent_where_the_app_reads_the_events(fake, exporter, instrument_openai, mode):
    """The response.create is sent untagged; the events are read under request-entry tags and a span."""
    tracer = trace.get_tracer("app")

    async def read_async(conn) -> None:
        with costline.attribution(customer_id="acme", feature="voice"), tracer.start_as_current_span("turn"):
            async for event in conn:
                if event.type == "response.done":
                    return

    if mode == "sync":
        client = openai.OpenAI(base_url=fake.openai_base_url, api_key="test-key", max_retries=0)
        with client.realtime.connect(model=MODEL) as conn:
            conn.response.create(response={"output_modalities": ["text"]})
            with costline.attribution(customer_id="acme", feature="voice"), tracer.start_as_current_span("turn"):
                for event in conn:
                    if event.type == "response.done":
                        break
    else:

        async def run() -> None:
            client = openai.AsyncOpenAI(base_url=fake.openai_base_url, api_key="test-key", max_retries=0)
            async with client.realtime.connect(model=MODEL) as conn:
                await conn.response.create(response={"output_modalities": ["text"]})
                await read_async(conn)

        asyncio.run(run())
    (span,) = realtime_spans(exporter)
    (turn,) = [s for s in exporter.get_finished_spans() if s.name == "turn"]
    assert span.parent is not None and span.parent.span_id == turn.context.span_id
    assert span.context.trace_id == turn.context.trace_id
    assert (span.attributes["costline.customer_id"], span.attributes["costline.feature"]) == ("acme", "voice")
    assert span.attributes["gen_ai.usage.input_tokens"] == 10


def test_uninstrumented_sessions_have_no_spans(fake, exporter, instrument_openai):
    from costline.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().uninstrument()
    session(fake, "sync", [([item("hello")], ["text"])])
    assert realtime_spans(exporter) == []


@pytest.mark.parametrize("mode", MODES)
def test_responses_read_by_dispatch_events_handlers_are_billed(fake, exporter, instrument_openai, mode):
    """`conn.on(...)` + `dispatch_events()`, the SDK's push-based reading: closed by the handler at response.done."""
    if mode == "sync":
        client = openai.OpenAI(base_url=fake.openai_base_url, api_key="test-key", max_retries=0)
        with client.realtime.connect(model=MODEL) as conn:
            conn.on("response.done", lambda _event: conn.close())
            conn.conversation.item.create(item=item(AUDIO))
            conn.response.create(response={"output_modalities": ["audio"]})
            conn.dispatch_events()
    else:

        async def run() -> None:
            client = openai.AsyncOpenAI(base_url=fake.openai_base_url, api_key="test-key", max_retries=0)
            async with client.realtime.connect(model=MODEL) as conn:

                async def done(_event) -> None:
                    await conn.close()

                conn.on("response.done", done)
                await conn.conversation.item.create(item=item(AUDIO))
                await conn.response.create(response={"output_modalities": ["audio"]})
                await conn.dispatch_events()

        asyncio.run(run())
    (span,) = realtime_spans(exporter)
    assert "costline.usage.missing" not in span.attributes
    expected = usd(text_in=10, audio_in=40, text_out=12, audio_out=60)
    assert list_price(span.attributes, span.start_time).total_usd == expected  # $0.005352


def _usage(**fields):
    from openai.types.realtime.realtime_response_usage import RealtimeResponseUsage

    return RealtimeResponseUsage.model_validate(fields)


@pytest.mark.parametrize(
    "fields, attributes",
    [
        ({}, None),  # no input count: no usage (the span says it is missing), never 0
        (
            {"input_tokens": 7, "output_tokens": 3, "input_token_details": {"text_tokens": 7, "audio_tokens": 0}},
            {"gen_ai.usage.input_tokens": 7, "gen_ai.usage.output_tokens": 3},
        ),
        (
            {
                "input_tokens": 300,
                "output_tokens": 20,
                "input_token_details": {
                    "text_tokens": 100,
                    "audio_tokens": 120,
                    "image_tokens": 80,
                    "cached_tokens": 150,
                    "cached_tokens_details": {"text_tokens": 50, "audio_tokens": 60, "image_tokens": 40},
                },
                "output_token_details": {"text_tokens": 20, "audio_tokens": 0},
            },
            {
                "gen_ai.usage.input_tokens": 300,
                "gen_ai.usage.output_tokens": 20,
                "gen_ai.usage.cache_read.input_tokens": 150,
                "gen_ai.usage.audio.input_tokens": 120,
                "gen_ai.usage.image.input_tokens": 80,
                "gen_ai.usage.audio.cache_read.input_tokens": 60,
                "gen_ai.usage.image.cache_read.input_tokens": 40,
            },
        ),
    ],
)
def test_realtime_usage_reads_the_inclusive_counts_and_their_modality_subsets(fields, attributes):
    from costline.instrumentation.openai.realtime_extract import realtime_usage

    assert realtime_usage(_usage(**fields) if fields else _usage()) == attributes
    assert realtime_usage(None) is None


def test_the_server_is_the_websocket_base_url_when_the_client_sets_one(fake, exporter, instrument_openai):
    client = openai.OpenAI(
        base_url="http://api.invalid/v1",
        websocket_base_url=f"ws://127.0.0.1:{fake.port}/v1",
        api_key="k",
        max_retries=0,
    )
    with client.realtime.connect(model=MODEL) as conn:
        conn.response.create(response={"output_modalities": ["text"]})
        for event in conn:
            if event.type == "response.done":
                break
    (span,) = realtime_spans(exporter)
    check_common(span, fake)


@pytest.mark.parametrize("mode", MODES)
def test_responses_the_server_starts_itself_on_speech_are_billed(fake, exporter, instrument_openai, mode):
    """Server VAD (a voice agent's usual session): no response.create, the server answers each utterance.

    Each span starts when its response.created is read (there is no request to start from).
    """
    chunk = base64.b64encode(b"\x00\x01" * 800).decode()
    received: list[int] = []

    def utterances_sync() -> None:
        client = openai.OpenAI(base_url=fake.openai_base_url, api_key="test-key", max_retries=0)
        with client.realtime.connect(model=MODEL) as conn:
            for _ in range(2):
                conn.input_audio_buffer.append(audio=chunk)
                for event in conn:
                    if event.type == "response.created":
                        received.append(time.time_ns())
                    if event.type == "response.done":
                        break

    async def utterances_async() -> None:
        client = openai.AsyncOpenAI(base_url=fake.openai_base_url, api_key="test-key", max_retries=0)
        async with client.realtime.connect(model=MODEL) as conn:
            for _ in range(2):
                sent = time.time_ns()
                await conn.input_audio_buffer.append(audio=chunk)
                async for event in conn:
                    if event.type == "response.created":
                        received.append(time.time_ns())
                        assert sent <= received[-1]
                    if event.type == "response.done":
                        break

    if mode == "sync":
        utterances_sync()
    else:
        asyncio.run(utterances_async())
    first, second = realtime_spans(exporter)
    for span, read_at in zip((first, second), received, strict=True):
        check_common(span, fake)
        assert span.start_time <= read_at  # started as the app read response.created
        assert "costline.usage.missing" not in span.attributes
    # 10 text + 40 audio in, 60 audio + 12 text out (the session's default modality: audio)
    assert list_price(first.attributes, first.start_time).total_usd == Decimal("0.005352")
    # then 10 text + 80 audio in, the first response's 10 text + 40 audio read from cache
    b = second.attributes
    assert (b["gen_ai.usage.input_tokens"], b["gen_ai.usage.audio.input_tokens"]) == (90, 80)
    assert (b["gen_ai.usage.cache_read.input_tokens"], b["gen_ai.usage.audio.cache_read.input_tokens"]) == (50, 40)
    expected = usd(text_cached=10, audio_in=40, audio_cached=40, text_out=12, audio_out=60)
    assert expected == Decimal("0.005332")  # 4 + 1280 + 16 + 192 + 3840 millionths
    assert list_price(b, second.start_time).total_usd == expected
