"""A fake LLM provider on loopback: OpenAI, Anthropic and Gemini wire formats, JSON and SSE.

    with FakeProvider() as fake:
        openai.OpenAI(base_url=fake.openai_base_url, api_key="x")
        anthropic.Anthropic(base_url=fake.base_url, api_key="x")
        genai.Client(api_key="x", http_options={"base_url": fake.base_url})

    python -m costline_processor.demo.fake_provider --port 8099

Endpoints: `POST /v1/chat/completions`, `/v1/responses` (and `/compact`), `/v1/embeddings`,
`/v1/completions`, `/v1/images/generations` and `/edits`, `/v1/audio/transcriptions` (multipart) (OpenAI) and
`GET /v1/realtime` (OpenAI Realtime: a WebSocket session, `realtime_wire`),
`/v1/messages` and `/count_tokens` (Anthropic: `input_tokens` 10 + W), each but
images with `"stream": true` as SSE the way the real APIs send it; Gemini's `/v1*/.../models/MODEL:generateContent` and
`:streamGenerateContent` (SSE, `?alt=sse`), the model named by the path. Response ids are
`<kind>fake-<random per server>-<n>` (`chatcmpl-`, `cmpl-`, `resp_`, `msg_`, none for Gemini's
`responseId`): unique across servers and processes, as real providers' are. Any other path
answers `{"ok": true}`, handy as an "internal service" in baggage tests. Every request's
method, path, headers and JSON body is recorded (`.requests`).

Usage is derived from the request so tests can compute it. With W = the number of
whitespace-separated words in all prompt text (messages, system, instructions, input,
prompt), the response model = request model + "-20260101", or the one `response_models`
maps it to (embeddings echo the request model, as OpenAI does), and:

    OpenAI chat / completions / responses
        input (prompt_tokens, input_tokens)   10 + W           (inclusive, as OpenAI reports)
        cached_tokens                         W, or 0 when the request has `prompt_cache_key`
        cache_write_tokens                    W when the request has `prompt_cache_key` (chat: else absent;
                                              responses: else 0)
        reasoning_tokens                      3 if the request sets `reasoning_effort` / `reasoning`, else 0
        output (completion_tokens, output_tokens)  6 + reasoning
        audio_tokens (chat/completions only)  input 5 and output 4 when the model name contains "audio", else 0
        chat streams send the usage chunk only with `stream_options.include_usage`
    OpenAI embeddings                         prompt_tokens = total_tokens = 10 + W
    OpenAI images (generations, edits)        input_tokens 10 + W text + 100 per image uploaded (edits: each
                                              `image` file part, input_tokens_details splits them); output_tokens
                                              1056 per image (`n`, default 1); output_tokens_details.image_tokens
                                              the same, except for gpt-image-1 (no output details). An edit's
                                              recorded body is its form's text fields plus `images`: the file count
    Anthropic messages
        input_tokens (uncached, as Anthropic reports)  10 + W
        cache_read_input_tokens               W
        cache_creation_input_tokens           2W, split: ephemeral_1h = W if any `"ttl": "1h"` cache_control
                                              is in the request, else 0; ephemeral_5m = the rest
        output_tokens                         6 + thinking; thinking = 3 if the request sets `thinking`
        server_tool_use.web_search_requests   with a web search tool (`"type": "web_search_..."`) in `tools`:
                                              its `max_uses`, else 1 (then the reply starts with the
                                              server_tool_use and web_search_tool_result blocks); else absent
        usage.iterations                      with a compaction edit (`context_management.edits` with a
                                              `compact_...` type; every such request compacts): a
                                              `compaction` entry (input 40 + 2W, output 20, no cache; not in
                                              the top-level counts, as Anthropic reports it) then a `message`
                                              entry (the top-level counts); the reply starts with a
                                              compaction block (streamed as one compaction_delta)
    OpenAI transcriptions                     whisper-1: usage {type: duration, seconds: 3}; other models:
                                              {type: tokens}, input 50 audio + W prompt text, output 6 (streamed:
                                              on the final transcript.text.done event)
    OpenAI responses with a web search tool (`"type": "web_search..."`) in `tools`: two `web_search_call`
        items before the message (in the final response of a stream); every response echoes the request's
        `tools`, as OpenAI's do (which says whether the searches were web_search_preview's)
    Gemini generateContent (usageMetadata; W = the words of the text parts of `contents` and
    `systemInstruction`; modelVersion = the path's model, as Google answers, or its `response_models` entry)
        promptTokenCount (inclusive of cached, as Google reports)  10 + W + 25 per audio part (an `inlineData`
                                              part with an audio/* mimeType); promptTokensDetails splits
                                              it: TEXT 10 + W, AUDIO 25 per audio part
        cachedContentTokenCount               W when the request names `cachedContent`, else absent
        candidatesTokenCount                  6, + 1290 when generationConfig.responseModalities asks for IMAGE
                                              (one image: an inlineData image/png part; candidatesTokensDetails
                                              splits it: TEXT 6, IMAGE 1290, as Google bills one 1024x1024 image)
        thoughtsTokenCount                    3 when generationConfig.thinkingConfig has a budget other
                                              than 0 (or none), else absent; with its `includeThoughts`, a
                                              thought part comes first (a stream's first chunk: its usage
                                              has no candidatesTokenCount, as Google omits a zero count)
        toolUsePromptTokenCount               5 with a `googleSearch` tool (and groundingMetadata with one
                                              query on the candidate), else absent
        totalTokenCount                       prompt + candidates + thoughts + toolUse
        streams: a chunk per reply word, each with usageMetadata whose candidatesTokenCount is the running
        count (1, 2, 3, 4, then 6 on the last, finishReason STOP), as Gemini 2.5 sends it; no [DONE]
    Models starting "openrouter/" add `usage.cost` = (input + output) / 1_000_000 USD.
    service_tier: the request's (OpenAI: "default" when absent or "auto"); Anthropic: "standard", or
    "priority" for `"service_tier": "auto"` (as for an organisation with Priority Tier capacity); a
    request's `speed` (fast mode) and `inference_geo` are echoed in its usage.

Special models: `error-NNN` answers HTTP NNN with the provider's error body (and
`x-should-retry: false`, so SDKs do not retry); `cut-stream` ends a stream cleanly but
early, with no usage (Gemini: two chunks with promptTokenCount alone); `error-stream` sends
an error event mid-stream (the SDKs raise it; OpenAI and Anthropic only).

This module is the server; the bodies are built beside it, by `openai_wire`, `anthropic_wire`
and `gemini_wire` (and `common_wire`, what they share), and stay importable from here.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from costline_processor.demo import anthropic_wire, gemini_wire, openai_wire, realtime_wire
from costline_processor.demo.anthropic_wire import anthropic_usage, message_events, message_json
from costline_processor.demo.common_wire import CREATED, REPLY, prompt_words
from costline_processor.demo.openai_wire import (
    chat_chunks,
    chat_json,
    completion_json,
    embeddings_json,
    openai_usage,
    response_events,
    response_json,
)

__all__ = [  # the wire-format helpers stay importable from here (tests and benchmarks use them)
    "CREATED",
    "REPLY",
    "FakeProvider",
    "RecordedRequest",
    "anthropic_usage",
    "chat_chunks",
    "chat_json",
    "completion_json",
    "embeddings_json",
    "error_body",
    "main",
    "message_events",
    "message_json",
    "openai_usage",
    "prompt_words",
    "response_events",
    "response_json",
]


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any = None


def error_body(path: str, status: int) -> dict:
    """The error body in the wire format of the endpoint at `path`."""
    if gemini_wire.route(path):
        return gemini_wire.error_json(status)
    wire = anthropic_wire if path.startswith("/v1/messages") else openai_wire
    return wire.error_json(status)


# -- the server ------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._record(None)
        if realtime_wire.is_realtime_upgrade(self.path, self.headers):  # a Realtime session (WebSocket)
            self.close_connection = True
            answer = self.server.response_models.get
            return realtime_wire.serve(self, lambda model: answer(model, model + "-20260101"), self.server.next_id)
        self._json(200, {"ok": True, "path": self.path})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            kind = self.headers.get("Content-Type") or ""
            body = openai_wire.form_fields(kind, raw) if kind.startswith("multipart/") else json.loads(raw or b"{}")
        except ValueError:
            body = None
        self._record(body)
        if not isinstance(body, dict):
            return self._json(200, {"ok": True, "path": self.path})
        path = self.path.split("?")[0]
        if gemini_wire.route(path):
            return self._gemini(path, body)
        model = str(body.get("model", ""))
        if model.startswith("error-") and model[6:].isdigit():
            return self._json(int(model[6:]), error_body(path, int(model[6:])), {"x-should-retry": "false"})
        rid = self.server.next_id()
        answer_model = self.server.response_models.get(model, model + "-20260101")
        stream, cut = body.get("stream") is True, model in ("cut-stream", "error-stream")
        fail = error_body(path, 500) if model == "error-stream" else None
        if path == "/v1/chat/completions":
            if stream:
                return self._sse(
                    [(None, c) for c in chat_chunks(body, "chatcmpl-" + rid, answer_model, "chat", cut)],
                    done=not cut,
                    fail=fail,
                )
            return self._json(200, chat_json(body, "chatcmpl-" + rid, answer_model))
        if path == "/v1/completions":
            if stream:
                chunks = chat_chunks(body, "cmpl-" + rid, answer_model, "completions", cut)
                return self._sse([(None, c) for c in chunks], done=not cut, fail=fail)
            return self._json(200, completion_json(body, "cmpl-" + rid, answer_model))
        if path == "/v1/embeddings":
            return self._json(200, embeddings_json(body, model))
        if path == "/v1/audio/transcriptions":
            if body.get("stream") in (True, "true"):
                return self._sse([(None, e) for e in openai_wire.transcription_events(body)])
            return self._json(200, {"text": " ".join(REPLY), "usage": openai_wire.transcription_usage(body)})
        if path in ("/v1/images/generations", "/v1/images/edits"):
            return self._json(200, openai_wire.images_json(body))
        if path == "/v1/responses/compact":
            return self._json(200, openai_wire.compacted_json(body, rid))
        if path == "/v1/responses":
            if stream:
                events = response_events(body, "resp_" + rid, answer_model, cut)
                return self._sse([(e["type"], e) for e in events], fail=fail)
            return self._json(200, response_json(body, "resp_" + rid, answer_model))
        if path == "/v1/messages/count_tokens":
            return self._json(200, {"input_tokens": 10 + prompt_words(body)})
        if path == "/v1/messages":
            if stream:
                events = message_events(body, "msg_" + rid, answer_model, cut)
                return self._sse([(e["type"], e) for e in events], fail=fail)
            return self._json(200, message_json(body, "msg_" + rid, answer_model))
        return self._json(200, {"ok": True, "path": self.path})

    def _gemini(self, path: str, body: dict) -> None:
        model, stream = gemini_wire.route(path) or ("", False)
        if model.startswith("error-") and model[6:].isdigit():
            return self._json(int(model[6:]), gemini_wire.error_json(int(model[6:])))
        rid, answer_model = self.server.next_id(), self.server.response_models.get(model, model)
        if stream:
            chunks = gemini_wire.generate_chunks(body, rid, answer_model, model == "cut-stream")
            return self._sse([(None, c) for c in chunks])
        return self._json(200, gemini_wire.generate_json(body, rid, answer_model))

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

    def __init__(self, address: tuple[str, int], chunk_delay: float, response_models: dict[str, str]) -> None:
        super().__init__(address, _Handler)
        self.chunk_delay = chunk_delay
        self.response_models = response_models
        self.recorded: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._ids = 0
        self.id_prefix = secrets.token_hex(6)  # a random prefix per server: ids never repeat across instances

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the client stopped reading a stream: normal for cancelled or closed streams
        super().handle_error(request, client_address)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.recorded.append(request)

    def next_id(self) -> str:
        """`fake-<server prefix>-<n>`: unique across servers and processes, as real providers' ids are."""
        with self._lock:
            self._ids += 1
            return f"fake-{self.id_prefix}-{self._ids}"


@dataclass
class FakeProvider:
    """The fake provider as a context manager (or `start()`/`stop()`), on 127.0.0.1."""

    host: str = "127.0.0.1"
    port: int = 0
    chunk_delay: float = 0.0  # seconds between SSE frames
    # request model -> the model the answers name, e.g. {"gpt-4o-mini": "gpt-4o-mini-2024-07-18"}:
    # a real dated snapshot, which price tables know (for instrumentations that report only the
    # response model); other models answer as `<model>-20260101`
    response_models: dict[str, str] = field(default_factory=dict)
    _server: _Server | None = field(default=None, repr=False)

    def start(self) -> FakeProvider:
        self._server = _Server((self.host, self.port), self.chunk_delay, dict(self.response_models))
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
