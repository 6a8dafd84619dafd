"""Anthropic instrumentor, in process: real SDK, fake provider, in-memory exporter."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import anthropic
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from tests.instrumentation import expected_usage as expect
from tests.instrumentation.sdk_calls import MODES, anthropic_client, call, model_spans, only_model_span

SCOPE = "costline.instrumentation.anthropic"
SYSTEM = "you are terse"  # 3 words
PROMPT = "name three colours please"  # 4 words
W = expect.words(SYSTEM, PROMPT)
ONE_HOUR = [
    {"role": "user", "content": [{"type": "text", "text": PROMPT, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}
]
PLAIN = [{"role": "user", "content": PROMPT}]


def check(span, fake, stream: bool, expected_usage: dict) -> None:
    a = span.attributes
    assert span.name == "chat claude-fake-1"
    assert span.kind is SpanKind.CLIENT
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.request.model"] == "claude-fake-1"
    assert a["gen_ai.response.model"] == "claude-fake-1-20260101"
    assert a["gen_ai.response.id"].startswith("msg_fake-")
    assert a["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert a["gen_ai.request.max_tokens"] == 100
    assert a["gen_ai.request.stream"] is stream
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == fake.port
    assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a
    assert expect.usage_of(a) == expected_usage
    for key, value in expected_usage.items():
        assert type(a[key]) is type(value), key


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stream", [False, True])
def test_messages_create(fake, exporter, instrument_anthropic, mode, stream):
    result = call(
        anthropic_client(fake, mode),
        mode,
        "messages.create",
        model="claude-fake-1",
        max_tokens=100,
        system=SYSTEM,
        messages=ONE_HOUR,
        stream=stream,
    )
    if stream:
        assert [e.type for e in result][0] == "message_start"
    check(only_model_span(exporter, SCOPE), fake, stream, expect.anthropic_messages(W, one_hour=True))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stream", [False, True])
def test_web_searches_the_server_ran_are_counted(fake, exporter, instrument_anthropic, mode, stream):
    search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
    result = call(
        anthropic_client(fake, mode),
        mode,
        "messages.create",
        model="claude-fake-1",
        max_tokens=100,
        system=SYSTEM,
        messages=PLAIN,
        tools=[search],
        stream=stream,
    )
    if not stream:
        assert [b.type for b in result.content][:2] == ["server_tool_use", "web_search_tool_result"]
    check(only_model_span(exporter, SCOPE), fake, stream, expect.anthropic_messages(W, searches=3))


@pytest.mark.parametrize("mode", MODES)
def test_thinking_tokens_are_reasoning(fake, exporter, instrument_anthropic, mode):
    call(
        anthropic_client(fake, mode),
        mode,
        "messages.create",
        model="claude-fake-1",
        max_tokens=100,
        system=SYSTEM,
        messages=PLAIN,
        thinking={"type": "enabled", "budget_tokens": 1024},
        stream=True,
    )
    check(only_model_span(exporter, SCOPE), fake, True, expect.anthropic_messages(W, thinking=True))


def test_stream_helper_sync(fake, exporter, instrument_anthropic):
    client = anthropic_client(fake, "sync")
    with client.messages.stream(model="claude-fake-1", max_tokens=100, system=SYSTEM, messages=ONE_HOUR) as s:
        assert "".join(s.text_stream).strip() == "Hello from the fake provider."
        assert s.get_final_message().usage.input_tokens == 10 + W
    check(only_model_span(exporter, SCOPE), fake, True, expect.anthropic_messages(W, one_hour=True))


def test_stream_helper_async(fake, exporter, instrument_anthropic):
    async def main() -> None:
        client = anthropic_client(fake, "async")
        async with client.messages.stream(model="claude-fake-1", max_tokens=100, system=SYSTEM, messages=PLAIN) as s:
            events = [e.type async for e in s]
            assert "message_stop" in events
            assert (await s.get_final_message()).usage.cache_read_input_tokens == W

    asyncio.run(main())
    check(only_model_span(exporter, SCOPE), fake, True, expect.anthropic_messages(W))


def test_stream_helper_left_unread_still_ends_the_span(fake, exporter, instrument_anthropic):
    client = anthropic_client(fake, "sync")
    with client.messages.stream(model="claude-fake-1", max_tokens=100, messages=PLAIN):
        pass
    span = only_model_span(exporter, SCOPE)
    assert span.attributes["costline.usage.missing"] is True


@pytest.mark.parametrize("mode", MODES)
def test_error_is_recorded_and_reraised(fake, exporter, instrument_anthropic, mode):
    with pytest.raises(anthropic.RateLimitError):
        call(anthropic_client(fake, mode), mode, "messages.create", model="error-429", max_tokens=100, messages=PLAIN)
    span = only_model_span(exporter, SCOPE)
    assert span.attributes["error.type"] == "RateLimitError"
    assert span.status.status_code is StatusCode.ERROR


@pytest.mark.parametrize("mode", MODES)
def test_error_mid_stream_keeps_the_usage_seen(fake, exporter, instrument_anthropic, mode):
    with pytest.raises(anthropic.APIStatusError):
        call(
            anthropic_client(fake, mode),
            mode,
            "messages.create",
            model="error-stream",
            max_tokens=100,
            messages=PLAIN,
            stream=True,
        )
    span = only_model_span(exporter, SCOPE)
    assert span.attributes["error.type"] == "APIStatusError"  # how the SDK raises an in-stream error
    # message_start arrived before the error: its input and cache counts (and output 1) are kept
    w = expect.words(PROMPT)
    assert span.attributes["gen_ai.usage.input_tokens"] == (10 + w) + w + 2 * w
    assert span.attributes["gen_ai.usage.output_tokens"] == 1


# anthropic.com/pricing, Claude Sonnet 4.5, USD per million tokens: input 3, 5-minute cache write 3.75,
# 1-hour cache write 6, cache read 0.30, output 15.
SONNET_45 = {"input": 3, "write_5m": Decimal("3.75"), "write_1h": 6, "read": Decimal("0.30"), "output": 15}


def billed(span):
    """What costline's processor bills for the span (its genai-prices list price)."""
    from costline_processor.config import PricingConfig
    from costline_processor.normalize import normalize_span
    from costline_processor.pricing import Pricer

    call = normalize_span(dict(span.attributes), scope_name=span.instrumentation_scope.name, span_name=span.name)
    return Pricer(PricingConfig()).price(call, span.start_time, 0)


def beta_call(client, mode: str, how: str) -> None:
    """`client.beta.messages` used as the `betas=[...]` features use it: create, stream=True, or the helper."""
    request = {"model": "claude-sonnet-4-5", "max_tokens": 100, "system": SYSTEM, "messages": ONE_HOUR}
    request["betas"] = ["context-management-2025-06-27"]
    if how != "helper":
        call(client, mode, "beta.messages.create", stream=how == "stream", **request)
    elif mode == "sync":
        with client.beta.messages.stream(**request) as s:
            assert s.get_final_message().usage.input_tokens == 10 + W
    else:

        async def main() -> None:
            async with client.beta.messages.stream(**request) as s:
                assert (await s.get_final_message()).usage.input_tokens == 10 + W

        asyncio.run(main())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["create", "stream", "helper"])
def test_beta_messages_are_traced_and_their_1h_cache_writes_billed(fake, exporter, instrument_anthropic, mode, how):
    """`client.beta.messages` were untraced: no span before anthropic 2.x (the call unbilled), the SDK's own span
    from 2.x (1-hour cache writes billed at the 5-minute rate, web searches dropped)."""
    beta_call(anthropic_client(fake, mode), mode, how)
    span = only_model_span(exporter)
    assert span.instrumentation_scope.name == SCOPE
    assert expect.usage_of(span.attributes) == expect.anthropic_messages(W, one_hour=True)
    # 10+W uncached input, W cache reads, W 5-minute and W 1-hour writes, 6 output
    p = SONNET_45
    mtok = (10 + W) * p["input"] + W * p["read"] + W * p["write_5m"] + W * p["write_1h"] + 6 * p["output"]
    assert billed(span).total_usd == mtok / 1_000_000  # $0.00021135 (the SDK's span: $0.0001956)


# anthropic.com/pricing, USD per million tokens (input, 5-minute cache write, cache read, output): the standard rates.
STANDARD = {
    "claude-sonnet-4-5": (3, Decimal("3.75"), Decimal("0.30"), 15),
    "claude-opus-4-6": (5, Decimal("6.25"), Decimal("0.50"), 25),
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    "model, asked, tier, caveat",
    [
        ("claude-sonnet-4-5", {"service_tier": "auto"}, "priority", "tier_unpriced:priority"),
        ("claude-opus-4-6", {"speed": "fast", "betas": ["fast-mode-2026-02-01"]}, "standard", "tier_unpriced:fast"),
        ("claude-opus-4-6", {"inference_geo": "us"}, "standard", "tier_by_rule:geo_us"),
        (
            "claude-opus-4-6",
            {"inference_geo": "us", "service_tier": "auto"},
            "priority",
            "tier_unpriced:priority+geo_us",
        ),
        ("claude-opus-4-6", {"inference_geo": "global"}, "standard", None),
        ("claude-sonnet-4-5", {}, "standard", None),
    ],
)
def test_a_priority_tier_or_fast_mode_call_is_marked(
    fake, exporter, instrument_anthropic, stream, model, asked, tier, caveat
):
    """Priority Tier (commitment-priced), fast mode (a premium per model: 6x on Opus 4.6, 2x on Opus 4.8) and US-only
    inference (1.1x: "A 1.1x pricing multiplier applies", Claude Platform on AWS's data residency page) were billed at
    the standard rate with no caveat: costline did not record `usage.service_tier`, `.speed` nor `.inference_geo`.
    US-only inference alone is billed by that documented rule; with priority, whose price has no rule, it is marked."""
    messages = "beta.messages" if "betas" in asked else "messages"
    request = {"model": model, "max_tokens": 100, "messages": PLAIN, "stream": stream, **asked}
    call(anthropic_client(fake, "sync"), "sync", messages + ".create", **request)
    span = only_model_span(exporter, SCOPE)
    assert span.attributes["anthropic.response.service_tier"] == tier
    assert span.attributes.get("anthropic.response.speed") == asked.get("speed")
    assert span.attributes.get("anthropic.response.inference_geo") == asked.get("inference_geo")
    w = expect.words(PROMPT)  # 10+W uncached input, W cache reads, 2W 5-minute writes, 6 output
    uncached, write, read, output = STANDARD[model]
    cost = billed(span)
    by_rule = Decimal("1.1") if caveat == "tier_by_rule:geo_us" else 1
    assert cost.total_usd == by_rule * ((10 + w) * uncached + w * read + 2 * w * write + 6 * output) / 1_000_000
    assert cost.caveat == caveat


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["create", "stream", "helper"])
def test_a_compaction_is_billed_with_the_reply(fake, exporter, instrument_anthropic, mode, how):
    """Compaction's summarization is an `iterations` entry the top-level usage leaves out (Anthropic: "sum across
    all entries in usage.iterations" for the total): it was not billed at all."""
    compact = {"betas": ["compact-2026-01-12"], "context_management": {"edits": [{"type": "compact_20260112"}]}}
    request = {"model": "claude-sonnet-4-5", "max_tokens": 100, "system": SYSTEM, "messages": PLAIN, **compact}
    client = anthropic_client(fake, mode)
    if how != "helper":
        call(client, mode, "beta.messages.create", stream=how == "stream", **request)
    elif mode == "sync":
        with client.beta.messages.stream(**request) as s:
            assert s.get_final_message().content[0].type == "compaction"
    else:

        async def main() -> None:
            async with client.beta.messages.stream(**request) as s:
                assert (await s.get_final_message()).content[0].type == "compaction"

        asyncio.run(main())
    a = only_model_span(exporter, SCOPE).attributes
    # the reply: 10+W uncached, W cache reads, 2W cache writes, 6 output; the summary: 40+2W uncached, 20 output
    assert a["gen_ai.usage.input_tokens"] == (10 + W) + W + 2 * W + (40 + 2 * W)
    assert a["gen_ai.usage.output_tokens"] == 6 + 20
    assert (a["gen_ai.usage.cache_read.input_tokens"], a["gen_ai.usage.cache_write.input_tokens"]) == (W, 2 * W)
    uncached, write, read, output = STANDARD["claude-sonnet-4-5"]
    mtok = ((10 + W) + (40 + 2 * W)) * uncached + W * read + 2 * W * write + (6 + 20) * output
    assert billed(only_model_span(exporter, SCOPE)).total_usd == mtok / 1_000_000  # $0.0006576, not $0.0001956


@pytest.mark.parametrize("how", ["closed", "cut", "helper"])
def test_a_stream_ended_before_its_final_usage_is_marked(fake, exporter, instrument_anthropic, how):
    """A chat app's stop button: the stream is closed after message_start, whose output count is a placeholder (1).
    The call was billed as if its answer were 1 token ($0.0000882 for Sonnet 4.5 here), unmarked."""
    client = anthropic_client(fake, "sync")
    request = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": PLAIN}
    if how == "closed":
        stream = client.messages.create(stream=True, **request)
        assert [next(stream).type, next(stream).type] == ["message_start", "content_block_start"]
        stream.close()
    elif how == "cut":  # the fake ends this one cleanly after its first text delta
        assert "message_delta" not in [
            e.type for e in client.messages.create(stream=True, **{**request, "model": "cut-stream"})
        ]
    else:
        with client.messages.stream(**request) as s:
            next(iter(s.text_stream))
    span = only_model_span(exporter, SCOPE)
    assert span.attributes["costline.usage.missing"] is True
    w = expect.words(PROMPT)
    assert span.attributes["gen_ai.usage.input_tokens"] == (10 + w) + w + 2 * w  # what is known is kept
    cost = billed(span)
    assert (cost.reason, cost.detail) == ("no_usage", "the stream ended before its final token counts (output unknown)")


@pytest.mark.parametrize("mode", MODES)
def test_with_raw_response_is_billed(fake, exporter, instrument_anthropic, mode):
    """anthropic 2.x answers `with_raw_response` with an APIResponse (before: a LegacyAPIResponse, which costline
    parsed); costline read no usage from it, so such a call (an app reading rate-limit headers) was unpriced."""
    client = anthropic_client(fake, mode)
    request = {"model": "claude-fake-1", "max_tokens": 100, "system": SYSTEM, "messages": ONE_HOUR}
    if mode == "sync":
        raw = client.messages.with_raw_response.create(**request)
        assert raw.headers["request-id"] == "req_fake" and raw.parse().usage.input_tokens == 10 + W
    else:

        async def main() -> None:
            raw = await client.messages.with_raw_response.create(**request)
            assert raw.headers["request-id"] == "req_fake" and (await raw.parse()).usage.input_tokens == 10 + W

        asyncio.run(main())
    check(only_model_span(exporter, SCOPE), fake, False, expect.anthropic_messages(W, one_hour=True))


def test_with_streaming_response_is_left_to_the_app_and_says_so(fake, exporter, instrument_anthropic):
    """Its body is not read when the call returns: costline does not read it for the app, and says usage missing."""
    client = anthropic_client(fake, "sync")
    with client.messages.with_streaming_response.create(model="claude-fake-1", max_tokens=100, messages=PLAIN) as raw:
        assert raw.parse().usage.input_tokens == 10 + expect.words(PROMPT)
    assert only_model_span(exporter, SCOPE).attributes["costline.usage.missing"] is True


def test_parse(fake, exporter, instrument_anthropic):
    anthropic_client(fake, "sync").messages.parse(model="claude-fake-1", max_tokens=100, system=SYSTEM, messages=PLAIN)
    check(only_model_span(exporter, SCOPE), fake, False, expect.anthropic_messages(W))


def test_sdk_builtin_span_is_replaced_not_doubled(fake, exporter, instrument_anthropic):
    """anthropic>=2 traces calls itself; costline's span stands in for it, one span per call."""
    from costline.instrumentation.anthropic import AnthropicInstrumentor

    AnthropicInstrumentor().uninstrument()
    call(
        anthropic_client(fake, "sync"), "sync", "messages.create", model="claude-fake-1", max_tokens=100, messages=PLAIN
    )
    assert [s.name for s in model_spans(exporter)] == ["anthropic.messages.create"]  # the SDK's own
    exporter.clear()
    instrument_anthropic()
    call(
        anthropic_client(fake, "sync"), "sync", "messages.create", model="claude-fake-1", max_tokens=100, messages=PLAIN
    )
    with anthropic_client(fake, "sync").messages.stream(model="claude-fake-1", max_tokens=100, messages=PLAIN) as s:
        s.until_done()
    assert [s.name for s in model_spans(exporter)] == ["chat claude-fake-1"] * 2
    # other SDK methods keep the SDK's spans
    anthropic_client(fake, "sync").messages.count_tokens(model="claude-fake-1", messages=PLAIN)


def test_the_sdks_own_spans_bill_1h_writes_and_count_tokens_is_no_call(fake, exporter, instrument_anthropic):
    """With costline's anthropic instrumentor off (as its docstring offers), anthropic >= 2's own spans are billed:
    their 1-hour cache writes were billed at the 5-minute rate ($0.0001956 instead of $0.00021135), and every
    `count_tokens` was a model call with no usage (an unpriced call where there is no call)."""
    from costline.instrumentation.anthropic import AnthropicInstrumentor
    from costline_processor.normalize import normalize_span

    AnthropicInstrumentor().uninstrument()
    client = anthropic_client(fake, "sync")
    assert client.messages.count_tokens(model="claude-sonnet-4-5", system=SYSTEM, messages=PLAIN).input_tokens == 10 + W
    client.messages.create(model="claude-sonnet-4-5", max_tokens=100, system=SYSTEM, messages=ONE_HOUR)
    counted, created = [s for s in exporter.get_finished_spans() if s.instrumentation_scope.name != SCOPE]
    assert (counted.name, created.name) == ("anthropic.messages.count_tokens", "anthropic.messages.create")
    scope = counted.instrumentation_scope.name
    assert normalize_span(dict(counted.attributes), scope_name=scope, span_name=counted.name) is None
    p = SONNET_45  # 10+W uncached input, W cache reads, W 5-minute and W 1-hour writes, 6 output
    mtok = (10 + W) * p["input"] + W * p["read"] + W * p["write_5m"] + W * p["write_1h"] + 6 * p["output"]
    assert billed(created).total_usd == mtok / 1_000_000


def test_content_is_recorded_only_on_opt_in(fake, exporter, instrument_anthropic):
    instrument_anthropic(capture_content=True)
    call(
        anthropic_client(fake, "sync"),
        "sync",
        "messages.create",
        model="claude-fake-1",
        max_tokens=100,
        system=SYSTEM,
        messages=PLAIN,
    )
    a = only_model_span(exporter, SCOPE).attributes
    assert PROMPT in a["gen_ai.input.messages"] and SYSTEM in a["gen_ai.input.messages"]
    assert "Hello from the fake provider." in a["gen_ai.output.messages"]
