"""The fake provider's OpenAI wire format: usage and the chat, completion, embedding, image and
Responses API bodies (JSON and stream chunks/events). See `fake_provider` for the rules.
"""

from __future__ import annotations

import base64
import struct
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from costline_processor.demo.common_wire import CREATED, ERROR_TYPES, REPLY, prompt_words


def _cost(model: str, total: int) -> dict:
    return {"cost": total / 1_000_000} if model.startswith("openrouter/") else {}


def openai_usage(body: dict, api: str) -> dict:
    w = prompt_words(body)
    prompt = 10 + w
    keyed = "prompt_cache_key" in body
    if api == "embeddings":
        return {"prompt_tokens": prompt, "total_tokens": prompt, **_cost(body.get("model", ""), prompt)}
    reasoning = 3 if ("reasoning_effort" in body or "reasoning" in body) else 0
    output = 6 + reasoning
    cost = _cost(body.get("model", ""), prompt + output)
    if api == "responses":
        return {
            "input_tokens": prompt,
            "output_tokens": output,
            "total_tokens": prompt + output,
            "input_tokens_details": {"cached_tokens": 0 if keyed else w, "cache_write_tokens": w if keyed else 0},
            "output_tokens_details": {"reasoning_tokens": reasoning},
            **cost,
        }
    details = {"cached_tokens": 0, "cache_write_tokens": w} if keyed else {"cached_tokens": w}
    audio_in, audio_out = (5, 4) if "audio" in body.get("model", "") else (0, 0)  # of the 10 fixed input, 6 output
    return {
        "prompt_tokens": prompt,
        "completion_tokens": output,
        "total_tokens": prompt + output,
        "prompt_tokens_details": {**details, "audio_tokens": audio_in},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": audio_out,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
        **cost,
    }


def _tier(body: dict) -> str:
    tier = body.get("service_tier")
    return tier if isinstance(tier, str) and tier != "auto" else "default"


def chat_chunks(body: dict, rid: str, model: str, api: str, cut: bool) -> list[dict]:
    base: dict[str, Any] = {"id": rid, "created": CREATED, "model": model, "system_fingerprint": "fp_fake"}
    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    extra = {"usage": None} if with_usage else {}
    if api == "chat":
        base.update(object="chat.completion.chunk", service_tier=_tier(body))
        first = [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None, "logprobs": None}]
        parts: list[list[dict[str, Any]]] = [
            [{"index": 0, "delta": {"content": w + " "}, "finish_reason": None, "logprobs": None}] for w in REPLY
        ]
        last = [{"index": 0, "delta": {}, "finish_reason": "stop", "logprobs": None}]
        choices = [first, *parts, last]
    else:
        base.update(object="text_completion")
        parts = [[{"index": 0, "text": w + " ", "finish_reason": None, "logprobs": None}] for w in REPLY]
        choices = [*parts, [{"index": 0, "text": "", "finish_reason": "stop", "logprobs": None}]]
    chunks = [{**base, "choices": c, **extra} for c in choices]
    if cut:
        return chunks[:3]
    if with_usage:
        chunks.append({**base, "choices": [], "usage": openai_usage(body, api)})
    return chunks


def chat_json(body: dict, rid: str, model: str) -> dict:
    message = {"role": "assistant", "content": " ".join(REPLY), "refusal": None}
    return {
        "id": rid,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "service_tier": _tier(body),
        "system_fingerprint": "fp_fake",
        "usage": openai_usage(body, "chat"),
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
    }


def completion_json(body: dict, rid: str, model: str) -> dict:
    return {
        "id": rid,
        "object": "text_completion",
        "created": CREATED,
        "model": model,
        "usage": openai_usage(body, "completions"),
        "choices": [{"index": 0, "text": " ".join(REPLY), "finish_reason": "stop", "logprobs": None}],
    }


def embeddings_json(body: dict, model: str) -> dict:
    inputs = body.get("input")
    count = len(inputs) if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else 1
    vector = [0.125 * (i + 1) for i in range(8)]
    packed = base64.b64encode(struct.pack("<8f", *vector)).decode()
    as_b64 = body.get("encoding_format") == "base64"
    data = [{"object": "embedding", "index": i, "embedding": packed if as_b64 else vector} for i in range(count)]
    return {"object": "list", "data": data, "model": model, "usage": openai_usage(body, "embeddings")}


def web_search_calls(body: dict, rid: str) -> list[dict]:
    """The searches the fake server "runs" for a Responses request with a web search tool: two."""
    tools = [t for t in body.get("tools") or () if isinstance(t, dict)]
    if not any(str(t.get("type", "")).startswith("web_search") for t in tools):
        return []
    return [
        {
            "type": "web_search_call",
            "id": f"ws_{rid}_{i}",
            "status": "completed",
            "action": {"type": "search", "query": f"q{i}"},
        }
        for i in range(2)
    ]


def file_search_calls(body: dict, rid: str) -> list[dict]:
    """The search the fake server "runs" for a Responses request with a file_search tool: one, with its queries
    (OpenAI bills each file_search_call item, $2.50 per 1,000)."""
    tools = [t for t in body.get("tools") or () if isinstance(t, dict)]
    if not any(t.get("type") == "file_search" for t in tools):
        return []
    return [{"type": "file_search_call", "id": f"fs_{rid}", "status": "completed", "queries": ["q0"], "results": None}]


IMAGE_TOKENS = 1056  # gpt-image-1's output tokens for one 1024x1024 image at medium quality (OpenAI's table)
_PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABpfZFQAAAAABJRU5ErkJggg=="


IMAGE_INPUT_TOKENS = 100  # the fake's count for each image an edit uploads


def form_fields(content_type: str, raw: bytes) -> dict:
    """A multipart/form-data body (`images.edit`) as its text fields, numbers as ints, and `images`: the
    count of its `image` file parts."""
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    fields: dict[str, Any] = {"images": 0}
    for part in message.iter_parts():
        name, filename = part.get_param("name", header="content-disposition"), part.get_filename()
        if filename is not None:
            fields["images"] += str(name).startswith("image")
        elif name:
            text = part.get_content() if part.get_content_maintype() == "text" else part.get_payload(decode=True)
            text = text.decode() if isinstance(text, bytes) else str(text)
            fields[str(name)] = int(text) if text.isdigit() else text
    return fields


def images_json(body: dict) -> dict:
    """`POST /v1/images/generations` or `/edits`: n images (default 1), usage as gpt-image models report it."""
    asked = body.get("n")
    n = asked if isinstance(asked, int) and asked > 0 else 1
    prompt, uploaded = 10 + prompt_words(body), IMAGE_INPUT_TOKENS * int(body.get("images") or 0)
    usage: dict[str, Any] = {
        "input_tokens": prompt + uploaded,
        "input_tokens_details": {"text_tokens": prompt, "image_tokens": uploaded},
        "output_tokens": IMAGE_TOKENS * n,
        "total_tokens": prompt + uploaded + IMAGE_TOKENS * n,
    }
    if body.get("model") != "gpt-image-1":  # the later models split their output (gpt-image-1.5: image $32, text $10)
        usage["output_tokens_details"] = {"image_tokens": IMAGE_TOKENS * n, "text_tokens": 0}
    data = [{"b64_json": _PIXEL} for _ in range(n)]
    return {"created": CREATED, "data": data, "usage": usage, "size": body.get("size", "1024x1024")}


def response_json(body: dict, rid: str, model: str, status: str = "completed") -> dict:
    text = " ".join(REPLY)
    output = [
        *web_search_calls(body, rid),
        *file_search_calls(body, rid),
        {
            "type": "message",
            "id": "msg_" + rid,
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
        },
    ]
    done = status == "completed"
    return {
        "id": rid,
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "model": model,
        "output": output if done else [],
        "usage": openai_usage(body, "responses") if done else None,
        "service_tier": _tier(body),
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [t for t in body.get("tools") or () if isinstance(t, dict)],  # the request's, as OpenAI echoes them
        "temperature": 1.0,
        "top_p": 1.0,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "text": {"format": {"type": "text"}},
        "reasoning": {"effort": None, "summary": None},
    }


def response_events(body: dict, rid: str, model: str, cut: bool) -> list[dict]:
    item_id = "msg_" + rid
    text = " ".join(REPLY)
    item = {"type": "message", "id": item_id, "status": "in_progress", "role": "assistant", "content": []}
    part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    done_part = {**part, "text": text}
    pos = {"item_id": item_id, "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response_json(body, rid, model, "in_progress")},
        {"type": "response.in_progress", "response": response_json(body, rid, model, "in_progress")},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.content_part.added", **pos, "part": part},
    ]
    events += [{"type": "response.output_text.delta", **pos, "delta": w + " ", "logprobs": []} for w in REPLY]
    if cut:
        events = events[:6]
    else:
        events += [
            {"type": "response.output_text.done", **pos, "text": text, "logprobs": []},
            {"type": "response.content_part.done", **pos, "part": done_part},
            {
                "type": "response.output_item.done",
                "output_index": 0,
                "item": {**item, "status": "completed", "content": [done_part]},
            },
            {"type": "response.completed", "response": response_json(body, rid, model)},
        ]
    return [{**e, "sequence_number": i} for i, e in enumerate(events)]


def compacted_json(body: dict, rid: str) -> dict:
    """`POST /v1/responses/compact`: the input's user messages then one compaction item, and the pass's usage as
    a response's (OpenAI bills the compaction pass by its tokens)."""
    given = body.get("input")
    messages = [{"role": "user", "content": given}] if isinstance(given, str) else given or []
    users = [
        {"type": "message", "id": f"msg_{rid}_{i}", "status": "completed", "role": "user", "content": m["content"]}
        for i, m in enumerate(messages)
        if isinstance(m, dict) and m.get("role") == "user"
    ]
    compaction = {"type": "compaction", "id": "cmp_" + rid, "encrypted_content": "ZmFrZQ=="}
    return {
        "id": "resp_" + rid,
        "object": "response.compaction",
        "created_at": CREATED,
        "output": [*users, compaction],
        "usage": openai_usage(body, "responses"),
        "service_tier": _tier(body),
    }


AUDIO_TOKENS = 50  # the fake's count for the one audio file a transcription uploads


def transcription_usage(body: dict) -> dict:
    """`POST /v1/audio/transcriptions` (multipart): whisper-1 is billed by the minute (`type: duration`, 3 seconds
    here); the token-billed models (gpt-4o-transcribe...) report input = audio 50 + prompt text W, output 6."""
    if body.get("model") == "whisper-1":
        return {"type": "duration", "seconds": 3}
    w = prompt_words(body)
    details = {"text_tokens": w, "audio_tokens": AUDIO_TOKENS}
    total = AUDIO_TOKENS + w + 6
    return {
        "type": "tokens",
        "input_tokens": AUDIO_TOKENS + w,
        "input_token_details": details,
        "output_tokens": 6,
        "total_tokens": total,
    }


def transcription_events(body: dict) -> list[dict]:
    """A streamed transcription: a `transcript.text.delta` per word, then `transcript.text.done` with the usage."""
    deltas = [{"type": "transcript.text.delta", "delta": w + " "} for w in REPLY]
    done = {"type": "transcript.text.done", "text": " ".join(REPLY), "usage": transcription_usage(body)}
    return [*deltas, done]


def error_json(status: int) -> dict:
    kind = ERROR_TYPES.get(status, "api_error")
    return {"error": {"message": f"fake provider error {status}", "type": kind, "param": None, "code": kind}}
