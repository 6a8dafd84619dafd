"""A fake LLM provider on loopback: OpenAI and Anthropic wire formats, JSON and SSE.

    with FakeProvider() as fake:
        openai.OpenAI(base_url=fake.openai_base_url, api_key="x")
        anthropic.Anthropic(base_url=fake.base_url, api_key="x")

    python -m costline.processor.demo.fake_provider --port 8099

Endpoints: `POST /v1/chat/completions`, `/v1/responses`, `/v1/embeddings`,
`/v1/completions` (OpenAI) and `/v1/messages` (Anthropic), each with `"stream": true`
as SSE the way the real APIs send it. Any other path answers `{"ok": true}`, handy as
an "internal service" in baggage tests. Every request's method, path, headers and
JSON body is recorded (`.requests`).

Usage is derived from the request so tests can compute it. With W = the number of
whitespace-separated words in all prompt text (messages, system, instructions, input,
prompt), the response model = request model + "-20260101" (embeddings echo the request
model, as OpenAI does), and:

    OpenAI chat / completions / responses
        input (prompt_tokens, input_tokens)   10 + W           (inclusive, as OpenAI reports)
        cached_tokens                         W, or 0 when the request has `prompt_cache_key`
        cache_write_tokens                    W when the request has `prompt_cache_key` (chat: else absent;
                                              responses: else 0)
        reasoning_tokens                      3 if the request sets `reasoning_effort` / `reasoning`, else 0
        output (completion_tokens, output_tokens)  6 + reasoning
        chat streams send the usage chunk only with `stream_options.include_usage`
    OpenAI embeddings                         prompt_tokens = total_tokens = 10 + W
    Anthropic messages
        input_tokens (uncached, as Anthropic reports)  10 + W
        cache_read_input_tokens               W
        cache_creation_input_tokens           2W, split: ephemeral_1h = W if any `"ttl": "1h"` cache_control
                                              is in the request, else 0; ephemeral_5m = the rest
        output_tokens                         6 + thinking; thinking = 3 if the request sets `thinking`
    Models starting "openrouter/" add `usage.cost` = (input + output) / 1_000_000 USD.
    service_tier: the request's (OpenAI: "default" when absent or "auto"); Anthropic: "standard".

Special models: `error-NNN` answers HTTP NNN with the provider's error body (and
`x-should-retry: false`, so SDKs do not retry); `cut-stream` ends a stream cleanly but
early, with no usage; `error-stream` sends an error event mid-stream (the SDKs raise it).
"""

from __future__ import annotations

import argparse
import sys
import base64
import json
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CREATED = 1767225600  # 2026-01-01T00:00:00Z
REPLY = ["Hello", "from", "the", "fake", "provider."]
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any = None


# -- what the prompt is worth --------------------------------------------------------
def _texts(value: Any) -> list[str]:
    """Every prompt string inside a request field (strings, content parts, message lists)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for item in value for t in _texts(item)]
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            return [value["text"]]
        return _texts(value.get("content"))
    return []


def prompt_words(body: dict) -> int:
    fields = ("messages", "system", "instructions", "input", "prompt")
    return sum(len(t.split()) for name in fields for t in _texts(body.get(name)))


def _wants_1h_cache(value: Any) -> bool:
    if isinstance(value, dict):
        cc = value.get("cache_control")
        if isinstance(cc, dict) and cc.get("ttl") == "1h":
            return True
        return any(_wants_1h_cache(v) for v in value.values())
    if isinstance(value, list):
        return any(_wants_1h_cache(v) for v in value)
    return False


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
        return {"input_tokens": prompt, "output_tokens": output, "total_tokens": prompt + output,
                "input_tokens_details": {"cached_tokens": 0 if keyed else w, "cache_write_tokens": w if keyed else 0},
                "output_tokens_details": {"reasoning_tokens": reasoning}, **cost}
    details = {"cached_tokens": 0, "cache_write_tokens": w} if keyed else {"cached_tokens": w}
    return {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output,
            "prompt_tokens_details": {**details, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}, **cost}


def anthropic_usage(body: dict) -> dict:
    w = prompt_words(body)
    one_hour = w if _wants_1h_cache(body) else 0
    thinking = 3 if body.get("thinking") else 0
    usage = {"input_tokens": 10 + w, "cache_read_input_tokens": w, "cache_creation_input_tokens": 2 * w,
             "cache_creation": {"ephemeral_5m_input_tokens": 2 * w - one_hour, "ephemeral_1h_input_tokens": one_hour},
             "output_tokens": 6 + thinking, "service_tier": "standard"}
    if thinking:
        usage["output_tokens_details"] = {"thinking_tokens": thinking}
    return usage


# -- response bodies -------------------------------------------------------------------
def _tier(body: dict) -> str:
    tier = body.get("service_tier")
    return tier if isinstance(tier, str) and tier != "auto" else "default"


def chat_chunks(body: dict, rid: str, model: str, api: str, cut: bool) -> list[dict]:
    base = {"id": rid, "created": CREATED, "model": model, "system_fingerprint": "fp_fake"}
    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    extra = {"usage": None} if with_usage else {}
    if api == "chat":
        base.update(object="chat.completion.chunk", service_tier=_tier(body))
        first = [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None, "logprobs": None}]
        parts = [[{"index": 0, "delta": {"content": w + " "}, "finish_reason": None, "logprobs": None}] for w in REPLY]
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
    return {"id": rid, "object": "chat.completion", "created": CREATED, "model": model, "service_tier": _tier(body),
            "system_fingerprint": "fp_fake", "usage": openai_usage(body, "chat"),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}]}


def completion_json(body: dict, rid: str, model: str) -> dict:
    return {"id": rid, "object": "text_completion", "created": CREATED, "model": model,
            "usage": openai_usage(body, "completions"),
            "choices": [{"index": 0, "text": " ".join(REPLY), "finish_reason": "stop", "logprobs": None}]}


def embeddings_json(body: dict, model: str) -> dict:
    inputs = body.get("input")
    count = len(inputs) if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else 1
    vector = [0.125 * (i + 1) for i in range(8)]
    packed = base64.b64encode(struct.pack("<8f", *vector)).decode()
    as_b64 = body.get("encoding_format") == "base64"
    data = [{"object": "embedding", "index": i, "embedding": packed if as_b64 else vector} for i in range(count)]
    return {"object": "list", "data": data, "model": model, "usage": openai_usage(body, "embeddings")}


def response_json(body: dict, rid: str, model: str, status: str = "completed") -> dict:
    text = " ".join(REPLY)
    output = [{"type": "message", "id": "msg_" + rid, "status": "completed", "role": "assistant",
               "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}]
    done = status == "completed"
    return {"id": rid, "object": "response", "created_at": CREATED, "status": status, "model": model,
            "output": output if done else [], "usage": openai_usage(body, "responses") if done else None,
            "service_tier": _tier(body), "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
            "temperature": 1.0, "top_p": 1.0, "error": None, "incomplete_details": None, "instructions": None,
            "metadata": {}, "text": {"format": {"type": "text"}}, "reasoning": {"effort": None, "summary": None}}


def response_events(body: dict, rid: str, model: str, cut: bool) -> list[dict]:
    item_id = "msg_" + rid
    text = " ".join(REPLY)
    item = {"type": "message", "id": item_id, "status": "in_progress", "role": "assistant", "content": []}
    part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    done_part = {**part, "text": text}
    pos = {"item_id": item_id, "output_index": 0, "content_index": 0}
    events = [{"type": "response.created", "response": response_json(body, rid, model, "in_progress")},
              {"type": "response.in_progress", "response": response_json(body, rid, model, "in_progress")},
              {"type": "response.output_item.added", "output_index": 0, "item": item},
              {"type": "response.content_part.added", **pos, "part": part}]
    events += [{"type": "response.output_text.delta", **pos, "delta": w + " ", "logprobs": []} for w in REPLY]
    if cut:
        events = events[:6]
    else:
        events += [{"type": "response.output_text.done", **pos, "text": text, "logprobs": []},
                   {"type": "response.content_part.done", **pos, "part": done_part},
                   {"type": "response.output_item.done", "output_index": 0,
                    "item": {**item, "status": "completed", "content": [done_part]}},
                   {"type": "response.completed", "response": response_json(body, rid, model)}]
    return [{**e, "sequence_number": i} for i, e in enumerate(events)]


def message_json(body: dict, rid: str, model: str) -> dict:
    return {"id": rid, "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": " ".join(REPLY)}], "stop_reason": "end_turn",
            "stop_sequence": None, "usage": anthropic_usage(body)}


def message_events(body: dict, rid: str, model: str, cut: bool) -> list[dict]:
    usage = anthropic_usage(body)
    start_usage = {**{k: v for k, v in usage.items() if k != "output_tokens_details"}, "output_tokens": 1}
    message = {**message_json(body, rid, model), "content": [], "stop_reason": None, "usage": start_usage}
    delta_usage = {k: usage[k] for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
                                         "output_tokens", "output_tokens_details") if k in usage}
    events = [{"type": "message_start", "message": message},
              {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
              {"type": "ping"}]
    events += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w + " "}}
               for w in REPLY]
    if cut:
        return events[:4]
    return events + [{"type": "content_block_stop", "index": 0},
                     {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                      "usage": delta_usage},
                     {"type": "message_stop"}]


def error_body(path: str, status: int) -> dict:
    kind = _ERROR_TYPES.get(status, "api_error")
    message = f"fake provider error {status}"
    if path.startswith("/v1/messages"):
        return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


# -- the server ------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._record(None)
        self._json(200, {"ok": True, "path": self.path})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        self._record(body)
        if not isinstance(body, dict):
            return self._json(200, {"ok": True, "path": self.path})
        path = self.path.split("?")[0]
        model = str(body.get("model", ""))
        if model.startswith("error-") and model[6:].isdigit():
            return self._json(int(model[6:]), error_body(path, int(model[6:])), {"x-should-retry": "false"})
        rid = f"fake-{self.server.next_id()}"
        answer_model = model + "-20260101"
        stream, cut = body.get("stream") is True, model in ("cut-stream", "error-stream")
        fail = error_body(path, 500) if model == "error-stream" else None
        if path == "/v1/chat/completions":
            if stream:
                return self._sse([(None, c) for c in chat_chunks(body, "chatcmpl-" + rid, answer_model, "chat", cut)],
                                 done=not cut, fail=fail)
            return self._json(200, chat_json(body, "chatcmpl-" + rid, answer_model))
        if path == "/v1/completions":
            if stream:
                chunks = chat_chunks(body, "cmpl-" + rid, answer_model, "completions", cut)
                return self._sse([(None, c) for c in chunks], done=not cut, fail=fail)
            return self._json(200, completion_json(body, "cmpl-" + rid, answer_model))
        if path == "/v1/embeddings":
            return self._json(200, embeddings_json(body, model))
        if path == "/v1/responses":
            if stream:
                events = response_events(body, "resp_" + rid, answer_model, cut)
                return self._sse([(e["type"], e) for e in events], fail=fail)
            return self._json(200, response_json(body, "resp_" + rid, answer_model))
        if path == "/v1/messages":
            if stream:
                events = message_events(body, "msg_" + rid, answer_model, cut)
                return self._sse([(e["type"], e) for e in events], fail=fail)
            return self._json(200, message_json(body, "msg_" + rid, answer_model))
        return self._json(200, {"ok": True, "path": self.path})

    def _record(self, body: Any) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.record(RecordedRequest(self.command, self.path, headers, body))

    def _json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", "req_fake")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: list[tuple[str | None, dict]], done: bool = False, fail: dict | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", "req_fake")
        self.end_headers()
        frames = [(f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n" for name, data in events]
        if fail is not None:  # Anthropic names the event; OpenAI puts an `error` key in the data
            frames.append(("event: error\n" if "type" in fail else "") + f"data: {json.dumps(fail)}\n\n")
        if done:
            frames.append("data: [DONE]\n\n")
        for frame in frames:
            payload = frame.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
            self.wfile.flush()
            if self.server.chunk_delay:
                time.sleep(self.server.chunk_delay)
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], chunk_delay: float) -> None:
        super().__init__(address, _Handler)
        self.chunk_delay = chunk_delay
        self.recorded: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._ids = 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the client stopped reading a stream: normal for cancelled or closed streams
        super().handle_error(request, client_address)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.recorded.append(request)

    def next_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids


@dataclass
class FakeProvider:
    """The fake provider as a context manager (or `start()`/`stop()`), on 127.0.0.1."""

    host: str = "127.0.0.1"
    port: int = 0
    chunk_delay: float = 0.0  # seconds between SSE frames
    _server: _Server | None = field(default=None, repr=False)

    def start(self) -> FakeProvider:
        self._server = _Server((self.host, self.port), self.chunk_delay)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="fake-provider", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The root URL: what the Anthropic SDK takes as `base_url`."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """The root URL plus `/v1`: what the OpenAI SDK takes as `base_url`."""
        return self.base_url + "/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        assert self._server is not None, "the fake provider is not running"
        with self._server._lock:
            return list(self._server.recorded)

    def clear(self) -> None:
        assert self._server is not None
        with self._server._lock:
            self._server.recorded.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the fake OpenAI/Anthropic provider on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between SSE frames")
    args = parser.parse_args(argv)
    fake = FakeProvider(args.host, args.port, args.chunk_delay).start()
    print(f"fake provider on {fake.base_url} (OpenAI base URL {fake.openai_base_url})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
