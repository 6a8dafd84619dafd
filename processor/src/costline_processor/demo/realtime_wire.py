"""The fake provider's OpenAI Realtime API: a WebSocket session on `GET /v1/realtime?model=M`.

The OpenAI SDK (`client.realtime.connect(model=...)`) derives `ws://host:port/v1/realtime` from
the client's `base_url`, so the fake answers on its HTTP port: the handshake and the frames
(RFC 6455, text frames, close, ping) are done here over the handler's socket, with no library.

    on connect            session.created (session.model = the answer model, as the HTTP endpoints name it)
    session.update        session.updated (its `output_modalities` become the session's default; ["audio"] at first)
    conversation.item.create   conversation.item.added + .done; its input_text words count into W, each
                          input_audio part is one audio message
    input_audio_buffer.append   with server VAD (on, as OpenAI's sessions start; `session.update` with
                          `audio.input.turn_detection: null` turns it off): the append is one utterance,
                          answered with speech_started, speech_stopped, committed (one audio message) and a
                          response, as `response.create` below; without VAD, `.append` + `.commit` give
                          input_audio_buffer.committed (one audio message)
    response.create       response.created, the output (text: response.output_text.delta per reply word,
                          then .done; audio: two response.output_audio.delta chunks and the transcript's
                          deltas), then response.done with the usage; `response.output_modalities` overrides
                          the session's

Usage of the k-th response of a session (W = input_text words so far, a = audio messages so far):

    input_token_details.text_tokens       10 + W
    input_token_details.audio_tokens      40 a
    input_tokens                          text + audio (inclusive, as OpenAI reports)
    cached_tokens                         the previous response's input_tokens (0 for the first), its
                                          cached_tokens_details split as that input was (text, audio)
    output_token_details                  text output: text_tokens 6; audio output: audio_tokens 60 and
                                          text_tokens 12 (the transcript)
    output_tokens, total_tokens           their sums

Ids are `<kind>_fake-<server prefix>-<n>` (sess_, resp_, item_, event_), unique across servers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from costline_processor.demo.common_wire import REPLY

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA
_AUDIO_TOKENS_PER_MESSAGE = 40


def is_realtime_upgrade(path: str, headers: Any) -> bool:
    """Whether a GET is the Realtime API's WebSocket upgrade."""
    return (
        urlsplit(path).path.rstrip("/").endswith("/realtime") and "websocket" in (headers.get("Upgrade") or "").lower()
    )


def requested_model(path: str) -> str:
    return (parse_qs(urlsplit(path).query).get("model") or [""])[0]


# -- the WebSocket layer -----------------------------------------------------------------
def accept(handler: Any) -> None:
    """Answer the handshake (101 Switching Protocols) on a BaseHTTPRequestHandler."""
    key = (handler.headers.get("Sec-WebSocket-Key") or "").encode()
    digest = base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()  # the handshake's hash (RFC 6455)
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", digest)
    handler.end_headers()
    handler.wfile.flush()


def _read_exact(rfile: Any, n: int) -> bytes:
    data = rfile.read(n) if n else b""
    if len(data) < n:
        raise EOFError
    return data


def read_frame(rfile: Any) -> tuple[int, bytes]:
    """(opcode, payload) of the next frame from the client (whose frames are masked)."""
    first, second = _read_exact(rfile, 2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", _read_exact(rfile, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", _read_exact(rfile, 8))
    mask = _read_exact(rfile, 4) if second & 0x80 else b"\0\0\0\0"
    payload = _read_exact(rfile, length)
    return first & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def write_frame(wfile: Any, opcode: int, payload: bytes) -> None:
    """One unmasked, final frame (the server's)."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    wfile.write(header + payload)
    wfile.flush()


# -- the Realtime session ----------------------------------------------------------------
class Session:
    """One connection's conversation: what it has been told and the events it answers with."""

    def __init__(self, model: str, answer_model: str, next_id: Callable[[], str]) -> None:
        self.model = model
        self.answer_model = answer_model
        self._next_id = next_id
        self.modalities: list[str] = ["audio"]
        self.words = 0  # W: input_text words so far
        self.audio_messages = 0  # a
        self._appended = False
        self.vad = True  # server VAD: the server commits each utterance and answers it
        self._previous_input: tuple[int, int] | None = None  # (text, audio) of the last response's input

    def _id(self, kind: str) -> str:
        return f"{kind}_{self._next_id()}"

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "event_id": self._id("event"), **fields}

    def opening(self) -> list[dict[str, Any]]:
        session = {"type": "realtime", "object": "realtime.session", "id": self._id("sess"), "model": self.answer_model}
        return [self._event("session.created", session={**session, "output_modalities": self.modalities})]

    def answer(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        if kind == "session.update":
            session = event.get("session") or {}
            if isinstance(session.get("output_modalities"), list):
                self.modalities = list(session["output_modalities"])
            audio_input = (session.get("audio") or {}).get("input") or {}
            if "turn_detection" in audio_input:
                self.vad = audio_input["turn_detection"] is not None
            return [self._event("session.updated", session={**session, "model": self.answer_model})]
        if kind == "conversation.item.create":
            item = {**(event.get("item") or {}), "id": self._id("item"), "status": "completed"}
            for part in item.get("content") or ():
                if isinstance(part, dict) and part.get("type") == "input_text":
                    self.words += len(str(part.get("text", "")).split())
                elif isinstance(part, dict) and part.get("type") == "input_audio":
                    self.audio_messages += 1
            return [self._event("conversation.item.added", item=item), self._event("conversation.item.done", item=item)]
        if kind == "input_audio_buffer.append":
            if not self.vad:
                self._appended = True
                return []
            self.audio_messages += 1
            item_id = self._id("item")
            heard = [
                self._event(f"input_audio_buffer.{step}", item_id=item_id, audio_start_ms=0, audio_end_ms=900)
                for step in ("speech_started", "speech_stopped")
            ]
            return [*heard, self._event("input_audio_buffer.committed", item_id=item_id), *self._response({})]
        if kind == "input_audio_buffer.commit" and self._appended:
            self._appended = False
            self.audio_messages += 1
            return [self._event("input_audio_buffer.committed", item_id=self._id("item"))]
        if kind == "response.create":
            return self._response(event.get("response") or {})
        return []

    def _usage(self, audio_out: bool) -> dict[str, Any]:
        text_in, audio_in = 10 + self.words, _AUDIO_TOKENS_PER_MESSAGE * self.audio_messages
        cached_text, cached_audio = self._previous_input or (0, 0)
        self._previous_input = (text_in, audio_in)
        text_out, audio_tokens_out = (12, 60) if audio_out else (6, 0)
        return {
            "total_tokens": text_in + audio_in + text_out + audio_tokens_out,
            "input_tokens": text_in + audio_in,
            "output_tokens": text_out + audio_tokens_out,
            "input_token_details": {
                "text_tokens": text_in,
                "audio_tokens": audio_in,
                "image_tokens": 0,
                "cached_tokens": cached_text + cached_audio,
                "cached_tokens_details": {"text_tokens": cached_text, "audio_tokens": cached_audio, "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_tokens_out},
        }

    def _response(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        modalities = request.get("output_modalities") or self.modalities
        audio = "audio" in modalities
        rid, item_id = self._id("resp"), self._id("item")
        response = {
            "id": rid,
            "object": "realtime.response",
            "status": "in_progress",
            "conversation_id": "conv_" + self._next_id(),
            "output_modalities": modalities,
            "metadata": request.get("metadata"),
            "output": [],
            "usage": None,
        }
        at = {"response_id": rid, "item_id": item_id, "output_index": 0, "content_index": 0}
        text = " ".join(REPLY)
        events = [self._event("response.created", response=dict(response))]
        if audio:
            for chunk in (b"\x00\x01" * 240, b"\x02\x03" * 240):
                events.append(self._event("response.output_audio.delta", **at, delta=base64.b64encode(chunk).decode()))
            events += [self._event("response.output_audio_transcript.delta", **at, delta=w + " ") for w in REPLY]
            events.append(self._event("response.output_audio.done", **at))
            events.append(self._event("response.output_audio_transcript.done", **at, transcript=text))
            part = {"type": "output_audio", "transcript": text}
        else:
            events += [self._event("response.output_text.delta", **at, delta=w + " ") for w in REPLY]
            events.append(self._event("response.output_text.done", **at, text=text))
            part = {"type": "output_text", "text": text}
        item = {"id": item_id, "type": "message", "role": "assistant", "status": "completed", "content": [part]}
        done = {**response, "status": "completed", "output": [item], "usage": self._usage(audio)}
        events.append(self._event("response.done", response=done))
        return events


def serve(handler: Any, answer_model: Callable[[str], str], next_id: Callable[[], str]) -> None:
    """Run one Realtime session on the handler's connection until the client closes it."""
    accept(handler)
    model = requested_model(handler.path)
    session = Session(model, answer_model(model), next_id)
    rfile, wfile = handler.rfile, handler.wfile

    def send(events: list[dict[str, Any]]) -> None:
        for event in events:
            write_frame(wfile, _TEXT, json.dumps(event).encode())

    try:
        send(session.opening())
        while True:
            opcode, payload = read_frame(rfile)
            if opcode == _CLOSE:
                write_frame(wfile, _CLOSE, payload[:2])
                return
            if opcode == _PING:
                write_frame(wfile, _PONG, payload)
            elif opcode == _TEXT:
                try:
                    event = json.loads(payload)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    send(session.answer(event))
    except (EOFError, OSError, ValueError):
        return  # the client went away without a close frame
