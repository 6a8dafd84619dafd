"""Pure functions from OpenAI Realtime API events to span attributes.

No spans, no I/O (`realtime` orchestrates). Events are the SDK's parsed server events
(`RealtimeServerEvent` models) or, for what the app sends, its models or plain dicts; every
field is read with `getattr(..., None)` since the SDK builds the server events unvalidated.

A Realtime session bills each response on its own: `response.done` carries the response's
`usage` (`RealtimeResponseUsage`). Its counts are inclusive, as the other OpenAI APIs':
`input_tokens` holds the text, audio and image input, cached or not; `cached_tokens` is a
subset of it, split by `cached_tokens_details` into text, audio and image; `output_tokens`
holds the text and audio output. The audio and image parts become the per-modality subsets
(`gen_ai.usage.audio.input_tokens`, `.audio.cache_read.input_tokens`, `.audio.output_tokens`,
and the image ones), billed at the model's audio and image rates; like the other spans', a
modality's counts are written only when there are some.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from costline.instrumentation.genai_attributes import (
    AUDIO_CACHE_READ_TOKENS,
    IMAGE_CACHE_READ_TOKENS,
    RESPONSE_ID,
    SERVER_ADDRESS,
    SERVER_PORT,
    Usage,
    as_int,
)

# Server events that matter for billing.
SESSION_EVENTS = frozenset({"session.created", "session.updated"})  # name the model the session runs
RESPONSE_CREATED = "response.created"
RESPONSE_DONE = "response.done"
ERROR = "error"
# The client event that asks for a response.
RESPONSE_CREATE = "response.create"


def websocket_server(url: object) -> dict[str, Any]:
    """`server.address`/`server.port` of a client's `websocket_base_url` (ws:// 80, wss:// 443 unless given)."""
    try:
        parts = urlsplit(str(url))
        host, port = parts.hostname, parts.port
    except ValueError:
        return {}
    if not host:
        return {}
    return {SERVER_ADDRESS: host, SERVER_PORT: port or (80 if parts.scheme in ("ws", "http") else 443)}


def event_type(event: Any) -> str | None:
    """The `type` of a server event the SDK parsed, or of a client event (model or dict) the app sends."""
    kind = event.get("type") if isinstance(event, Mapping) else getattr(event, "type", None)
    return kind if isinstance(kind, str) else None


def client_event_id(event: Any) -> str | None:
    """The `event_id` the app gave a client event, if any (an `error` event names it back)."""
    value = event.get("event_id") if isinstance(event, Mapping) else getattr(event, "event_id", None)
    return value if isinstance(value, str) and value else None


def error_event_id(event: Any) -> str | None:
    """The client `event_id` an `error` event says caused it, if any."""
    value = getattr(getattr(event, "error", None), "event_id", None)
    return value if isinstance(value, str) and value else None


def session_model(event: Any) -> str | None:
    """The model a `session.created` / `session.updated` event says the session runs."""
    model = getattr(getattr(event, "session", None), "model", None)
    return model if isinstance(model, str) and model else None


def response_id(event: Any) -> str | None:
    """The id of the response a `response.created` / `response.done` event is about."""
    value = getattr(getattr(event, "response", None), "id", None)
    return value if isinstance(value, str) and value else None


def realtime_usage(usage: Any) -> dict[str, int | float] | None:
    """The span's usage attributes from a `RealtimeResponseUsage`; None when it has no input count."""
    if usage is None:
        return None
    input_tokens = as_int(getattr(usage, "input_tokens", None))
    if input_tokens is None:
        return None
    input_details = getattr(usage, "input_token_details", None)
    cached_details = getattr(input_details, "cached_tokens_details", None)
    output_details = getattr(usage, "output_token_details", None)
    out = Usage(
        input_tokens=input_tokens,
        output_tokens=as_int(getattr(usage, "output_tokens", None)),
        cache_read_tokens=as_int(getattr(input_details, "cached_tokens", None)),
        audio_input_tokens=as_int(getattr(input_details, "audio_tokens", None)),
        audio_output_tokens=as_int(getattr(output_details, "audio_tokens", None)),
        image_input_tokens=as_int(getattr(input_details, "image_tokens", None)),
    ).attributes()
    for name, key in (("audio_tokens", AUDIO_CACHE_READ_TOKENS), ("image_tokens", IMAGE_CACHE_READ_TOKENS)):
        value = as_int(getattr(cached_details, name, None))
        if value:
            out[key] = value
    return out


def done_attributes(event: Any) -> tuple[dict[str, Any], bool]:
    """A `response.done` event's span attributes (id and usage), and whether it had usage."""
    response = getattr(event, "response", None)
    out: dict[str, Any] = {}
    rid = response_id(event)
    if rid is not None:
        out[RESPONSE_ID] = rid
    usage = realtime_usage(getattr(response, "usage", None))
    if usage is None:
        return out, False
    out.update(usage)
    return out, True
