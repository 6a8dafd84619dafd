"""The fake provider's Anthropic wire format: usage and the Messages API bodies (JSON and
stream events). See `fake_provider` for the rules.
"""

from __future__ import annotations

from typing import Any

from costline_processor.demo.common_wire import ERROR_TYPES, REPLY, prompt_words


def _wants_1h_cache(value: Any) -> bool:
    if isinstance(value, dict):
        cc = value.get("cache_control")
        if isinstance(cc, dict) and cc.get("ttl") == "1h":
            return True
        return any(_wants_1h_cache(v) for v in value.values())
    if isinstance(value, list):
        return any(_wants_1h_cache(v) for v in value)
    return False


def web_searches(body: dict) -> int:
    """The searches the fake server "runs": a web search tool's `max_uses`, else 1; 0 without the tool."""
    for tool in body.get("tools") or ():
        if isinstance(tool, dict) and str(tool.get("type", "")).startswith("web_search_"):
            uses = tool.get("max_uses")
            return uses if isinstance(uses, int) and uses > 0 else 1
    return 0


def _search_blocks(rid: str, n: int) -> list[dict]:
    """What the real API puts before the answer for `n` searches: each query and its results."""
    blocks: list[dict] = []
    for i in range(n):
        tool_id = f"srvtoolu_{rid[-12:]}{i}"
        blocks.append({"type": "server_tool_use", "id": tool_id, "name": "web_search", "input": {"query": f"q{i}"}})
        result = {"type": "web_search_result", "url": f"https://example.com/{i}", "title": f"Result {i}"}
        blocks.append(
            {
                "type": "web_search_tool_result",
                "tool_use_id": tool_id,
                "content": [{**result, "encrypted_content": "ZmFrZQ==", "page_age": None}],
            }
        )
    return blocks


SUMMARY = "Summary of the conversation so far."


def compacts(body: dict) -> bool:
    """Whether the request asks for compaction (`context_management.edits` with a `compact_...` edit).
    The fake compacts on every such request, whatever its trigger."""
    edits = (body.get("context_management") or {}).get("edits") or ()
    return any(isinstance(e, dict) and str(e.get("type", "")).startswith("compact_") for e in edits)


def _iterations(body: dict, usage: dict) -> list[dict]:
    """`usage.iterations` of a compacting request: the summarization (40 + 2W input, 20 output, no cache),
    which the top-level counts leave out, then the reply's sampling (the top-level counts)."""
    w = prompt_words(body)
    cache = {"cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
    reply = {k: usage[k] for k in ("input_tokens", "output_tokens", "cache_read_input_tokens")}
    reply["cache_creation_input_tokens"] = usage["cache_creation_input_tokens"]
    return [
        {"type": "compaction", "input_tokens": 40 + 2 * w, "output_tokens": 20, **cache},
        {"type": "message", **reply},
    ]


def anthropic_usage(body: dict) -> dict:
    w = prompt_words(body)
    one_hour = w if _wants_1h_cache(body) else 0
    thinking = 3 if body.get("thinking") else 0
    usage = {
        "input_tokens": 10 + w,
        "cache_read_input_tokens": w,
        "cache_creation_input_tokens": 2 * w,
        "cache_creation": {"ephemeral_5m_input_tokens": 2 * w - one_hour, "ephemeral_1h_input_tokens": one_hour},
        "output_tokens": 6 + thinking,
        "service_tier": "priority" if body.get("service_tier") == "auto" else "standard",
    }
    for asked in ("speed", "inference_geo"):  # echoed where the request sets them
        if isinstance(body.get(asked), str):
            usage[asked] = body[asked]
    if thinking:
        usage["output_tokens_details"] = {"thinking_tokens": thinking}
    searches = web_searches(body)
    if searches:
        usage["server_tool_use"] = {"web_search_requests": searches}
    if compacts(body):
        usage["iterations"] = _iterations(body, usage)
    return usage


def message_json(body: dict, rid: str, model: str) -> dict:
    return {
        "id": rid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [
            *([{"type": "compaction", "content": SUMMARY}] if compacts(body) else []),
            *_search_blocks(rid, web_searches(body)),
            {"type": "text", "text": " ".join(REPLY)},
        ],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": anthropic_usage(body),
    }


def message_events(body: dict, rid: str, model: str, cut: bool) -> list[dict]:
    usage = anthropic_usage(body)
    start_usage = {**{k: v for k, v in usage.items() if k != "output_tokens_details"}, "output_tokens": 1}
    for late in ("server_tool_use", "iterations"):  # counted by the end of the stream, as the real API counts them
        start_usage.pop(late, None)
    message = {**message_json(body, rid, model), "content": [], "stop_reason": None, "usage": start_usage}
    delta_usage = {
        k: usage[k]
        for k in (
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "output_tokens",
            "output_tokens_details",
            "server_tool_use",
            "iterations",
        )
        if k in usage
    }
    events: list[dict[str, Any]] = [{"type": "message_start", "message": message}]
    compacted = compacts(body) and not cut
    if compacted:  # the summary first, in one delta, as the API streams it
        events += [
            {"type": "content_block_start", "index": 0, "content_block": {"type": "compaction", "content": None}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "compaction_delta", "content": SUMMARY}},
            {"type": "content_block_stop", "index": 0},
        ]
    text = 1 if compacted else 0  # the text block's index
    events += [
        {"type": "content_block_start", "index": text, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
    ]
    events += [
        {"type": "content_block_delta", "index": text, "delta": {"type": "text_delta", "text": w + " "}} for w in REPLY
    ]
    if cut:
        return events[:4]
    return [
        *events,
        {"type": "content_block_stop", "index": text},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": delta_usage},
        {"type": "message_stop"},
    ]


def error_json(status: int) -> dict:
    kind = ERROR_TYPES.get(status, "api_error")
    return {
        "type": "error",
        "error": {"type": kind, "message": f"fake provider error {status}"},
        "request_id": "req_fake",
    }
