"""What the fake provider's two wire formats share: the fixed reply and what a prompt is worth.

See `fake_provider` for the usage each format derives from the request.
"""

from __future__ import annotations

from typing import Any

CREATED = 1767225600  # 2026-01-01T00:00:00Z
REPLY = ["Hello", "from", "the", "fake", "provider."]
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


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
