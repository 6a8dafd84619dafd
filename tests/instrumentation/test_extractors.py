"""The pure extractors and stream collectors, on real SDK model objects."""

from __future__ import annotations

import pytest
from anthropic.types import MessageDeltaUsage, RawMessageDeltaEvent, RawMessageStartEvent
from anthropic.types import Usage as AnthropicUsage
from openai import omit
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseUsage

from costline.instrumentation.anthropic.extract import UsageFields, message_usage
from costline.instrumentation.anthropic.streams import MessageEvents
from costline.instrumentation.genai_attributes import Usage
from costline.instrumentation.openai.extract import (
    chat_usage,
    chat_usage_into,
    provider_for_host,
    request_attributes,
    responses_usage,
    responses_usage_into,
    with_stream_usage,
)
from costline.instrumentation.openai.streams import ChatChunks


def test_chat_usage_reads_details_and_cost():
    usage = CompletionUsage.model_validate(
        {
            "prompt_tokens": 100,
            "completion_tokens": 40,
            "total_tokens": 140,
            "cost": 0.0021,
            "prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 20},
            "completion_tokens_details": {"reasoning_tokens": 25},
        }
    )
    assert chat_usage(usage) == Usage(100, 40, 60, 20, None, 25, 0.0021)


def test_chat_usage_without_details_leaves_them_out():
    usage = CompletionUsage(prompt_tokens=7, completion_tokens=3, total_tokens=10)
    assert chat_usage(usage).attributes() == {"gen_ai.usage.input_tokens": 7, "gen_ai.usage.output_tokens": 3}
    assert chat_usage(None) is None


def test_responses_usage():
    usage = ResponseUsage.model_validate(
        {
            "input_tokens": 50,
            "output_tokens": 9,
            "total_tokens": 59,
            "input_tokens_details": {"cached_tokens": 30, "cache_write_tokens": 5},
            "output_tokens_details": {"reasoning_tokens": 4},
        }
    )
    assert responses_usage(usage) == Usage(50, 9, 30, 5, None, 4, None)


_CHAT_USAGES = [
    None,
    CompletionUsage(prompt_tokens=7, completion_tokens=3, total_tokens=10),
    CompletionUsage.model_validate(
        {
            "prompt_tokens": 100,
            "completion_tokens": 40,
            "total_tokens": 140,
            "cost": 0.0021,
            "prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 20},
            "completion_tokens_details": {"reasoning_tokens": 25},
        }
    ),
    CompletionUsage.model_validate(
        {
            "prompt_tokens": 5,
            "completion_tokens": 0,
            "total_tokens": 5,
            "cost": 1,
            "prompt_tokens_details": {"cached_tokens": None},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }
    ),
    CompletionUsage.model_construct(prompt_tokens=None, completion_tokens=3),  # no usable input count
    CompletionUsage.model_construct(prompt_tokens=True, completion_tokens=3),  # bool is not a count
    CompletionUsage.model_construct(prompt_tokens=4, completion_tokens=2.0),  # nor a float
]
_RESPONSES_USAGES = [
    None,
    ResponseUsage.model_validate(
        {
            "input_tokens": 50,
            "output_tokens": 9,
            "total_tokens": 59,
            "input_tokens_details": {"cached_tokens": 30, "cache_write_tokens": 5},
            "output_tokens_details": {"reasoning_tokens": 4},
        }
    ),
    ResponseUsage.model_construct(input_tokens=3),
]


@pytest.mark.parametrize(
    ("read", "into", "usage"),
    [(chat_usage, chat_usage_into, u) for u in _CHAT_USAGES]
    + [(responses_usage, responses_usage_into, u) for u in _RESPONSES_USAGES],
)
def test_usage_into_writes_what_usage_attributes_gives(read, into, usage):
    """The non-streamed path's shortcut: the same attributes, in the same order, as `Usage.attributes()`."""
    out = {"before": 1}
    found = into(usage, out)
    expected = read(usage)
    assert found is (expected is not None)
    assert list(out.items()) == [("before", 1), *(expected.attributes().items() if expected else ())]


@pytest.mark.parametrize(
    ("kwargs", "sent", "added"),
    [
        ({"stream": True}, {"include_usage": True}, True),
        ({"stream": True, "stream_options": omit}, {"include_usage": True}, True),
        (
            {"stream": True, "stream_options": {"include_obfuscation": False}},
            {"include_obfuscation": False, "include_usage": True},
            True,
        ),
        ({"stream": True, "stream_options": {"include_usage": False}}, {"include_usage": False}, False),
        ({"stream": True, "stream_options": {"include_usage": True}}, {"include_usage": True}, False),
    ],
)
def test_with_stream_usage(kwargs, sent, added):
    out, did_add = with_stream_usage(dict(kwargs))
    assert out["stream_options"] == sent and did_add is added


def test_request_attributes_ignore_sentinels_and_bools():
    attrs = request_attributes({"max_tokens": omit, "max_completion_tokens": 5, "temperature": True, "top_p": 1}, False)
    assert attrs == {"gen_ai.request.stream": False, "gen_ai.request.max_tokens": 5, "gen_ai.request.top_p": 1.0}


@pytest.mark.parametrize(
    ("host", "provider"),
    [
        ("api.openai.com", "openai"),
        ("myres.openai.azure.com", "azure.ai.openai"),
        ("api.groq.com", "groq"),
        ("openrouter.ai", "openai"),
        (None, "openai"),
    ],
)
def test_provider_for_host(host, provider):
    assert provider_for_host(host) == provider


def test_anthropic_usage_is_summed_into_total_input():
    usage = AnthropicUsage.model_validate(
        {
            "input_tokens": 10,
            "output_tokens": 30,
            "cache_read_input_tokens": 200,
            "cache_creation_input_tokens": 50,
            "cache_creation": {"ephemeral_5m_input_tokens": 20, "ephemeral_1h_input_tokens": 30},
            "output_tokens_details": {"thinking_tokens": 12},
        }
    )
    assert message_usage(usage) == Usage(260, 30, 200, 50, 30, 12, None)


def test_anthropic_stream_usage_is_cumulative_not_added():
    start = RawMessageStartEvent.model_validate(
        {
            "type": "message_start",
            "message": {
                "id": "m1",
                "type": "message",
                "role": "assistant",
                "model": "claude-x",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 10,
                    "output_tokens": 1,
                    "cache_read_input_tokens": 5,
                    "cache_creation_input_tokens": 8,
                    "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 8},
                },
            },
        }
    )
    delta = RawMessageDeltaEvent.model_validate(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 20},
        }
    )
    late = RawMessageDeltaEvent.model_validate(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
            "usage": {"output_tokens": 25, "input_tokens": 11},
        }
    )
    events = MessageEvents()
    for event in (start, delta, late):
        assert events.observe(event) is False
    assert events.usage() == Usage(11 + 5 + 8, 25, 5, 8, 8, None, None)
    assert events.attributes()["gen_ai.response.finish_reasons"] == ["max_tokens"]
    assert events.attributes()["gen_ai.response.model"] == "claude-x"


def test_usage_fields_without_input_is_no_usage():
    fields = UsageFields()
    fields.update(MessageDeltaUsage(output_tokens=3))
    assert fields.normalised() is None


def chunk(choices, usage=None):
    return ChatCompletionChunk.model_validate(
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "gpt-x",
            "choices": choices,
            "usage": usage,
        }
    )


def test_chat_chunks_hide_only_the_usage_chunk_costline_asked_for():
    content = chunk([{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}])
    usage = chunk([], {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6})
    asked = ChatChunks(hide_usage_chunk=True)
    assert asked.observe(content) is False and asked.observe(usage) is True
    not_asked = ChatChunks(hide_usage_chunk=False)
    assert not_asked.observe(content) is False and not_asked.observe(usage) is False
    assert asked.usage() == Usage(4, 2)
    assert asked.attributes() == {
        "gen_ai.response.model": "gpt-x",
        "gen_ai.response.id": "c1",
        "gen_ai.response.finish_reasons": ["stop"],
    }
