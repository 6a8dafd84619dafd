"""The fake provider's Gemini wire format (Google's Gemini API, as google-genai calls it): usage
and the generateContent bodies (JSON, and the chunks of streamGenerateContent). See
`fake_provider` for the rules.
"""

from __future__ import annotations

import re
from typing import Any

from costline_processor.demo.common_wire import REPLY

# `/v1beta/models/gemini-2.5-flash:generateContent`, `/v1/...`, or a Vertex resource path
# (`/v1beta1/projects/p/locations/l/publishers/google/models/m:streamGenerateContent`)
PATH = re.compile(r"^/v1[^/]*/(?:[^?]*/)?models/([^/:?]+):(generateContent|streamGenerateContent)$")
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def route(path: str) -> tuple[str, bool] | None:
    """(model, streamed) for a Gemini generate path, else None."""
    m = PATH.match(path)
    return (m.group(1), m.group(2) == "streamGenerateContent") if m else None


def _words(value: Any) -> int:
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            return len(value["text"].split())
        return _words(value.get("parts"))
    if isinstance(value, list):
        return sum(_words(v) for v in value)
    return 0


def prompt_words(body: dict) -> int:
    """W: the words of every text part of `contents` and `systemInstruction`."""
    return _words(body.get("contents")) + _words(body.get("systemInstruction"))


def audio_parts(body: dict) -> int:
    """The `inlineData` parts of `contents` with an audio/* mimeType (google-genai sends `mime_type`)."""
    parts = [p for c in body.get("contents") or () if isinstance(c, dict) for p in c.get("parts") or ()]
    blobs = [p.get("inlineData") or {} for p in parts if isinstance(p, dict)]
    return sum(1 for b in blobs if str(b.get("mimeType", b.get("mime_type", ""))).startswith("audio/"))


def thinks(body: dict) -> bool:
    """A thinkingConfig whose budget is not 0 (google-genai sends `thinking_budget`; the API takes both)."""
    config = (body.get("generationConfig") or {}).get("thinkingConfig")
    if not isinstance(config, dict):
        return False
    return config.get("thinkingBudget", config.get("thinking_budget")) != 0


def shows_thoughts(body: dict) -> bool:
    """thinkingConfig.includeThoughts (google-genai sends `include_thoughts`)."""
    config = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
    return thinks(body) and bool(config.get("includeThoughts", config.get("include_thoughts")))


IMAGE_TOKENS = 1290  # what Google bills for one 1024x1024 image from gemini-2.5-flash-image
_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABpfZFQAAAAABJRU5ErkJggg=="


def draws(body: dict) -> bool:
    """generationConfig.responseModalities asks for IMAGE (google-genai sends `response_modalities`)."""
    config = body.get("generationConfig") or {}
    modalities = config.get("responseModalities", config.get("response_modalities")) or ()
    return "IMAGE" in [str(m).upper() for m in modalities]


def searches(body: dict) -> bool:
    return any(isinstance(t, dict) and "googleSearch" in t for t in body.get("tools") or ())


def gemini_usage(body: dict, candidates: int = 6) -> dict:
    """usageMetadata: promptTokenCount is inclusive of the cached tokens, as Google reports."""
    w, audio = prompt_words(body), 25 * audio_parts(body)
    usage: dict[str, Any] = {"promptTokenCount": 10 + w + audio}
    image = IMAGE_TOKENS if candidates and draws(body) else 0
    if candidates:
        usage["candidatesTokenCount"] = candidates + image
    if body.get("cachedContent"):
        usage["cachedContentTokenCount"] = w
    if searches(body):
        usage["toolUsePromptTokenCount"] = 5
    if thinks(body):
        usage["thoughtsTokenCount"] = 3
    counts = ("promptTokenCount", "candidatesTokenCount", "toolUsePromptTokenCount", "thoughtsTokenCount")
    usage["totalTokenCount"] = sum(usage.get(k, 0) for k in counts)
    usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": 10 + w}]
    if audio:
        usage["promptTokensDetails"].append({"modality": "AUDIO", "tokenCount": audio})
    if image:
        usage["candidatesTokensDetails"] = [
            {"modality": "TEXT", "tokenCount": candidates},
            {"modality": "IMAGE", "tokenCount": image},
        ]
    return usage


def _grounding() -> dict:
    return {
        "webSearchQueries": ["q0"],
        "groundingChunks": [{"web": {"uri": "https://example.com/0", "title": "Result 0"}}],
    }


def _candidate(text: str, done: bool, body: dict) -> dict:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if done:
        candidate["finishReason"] = "STOP"
        if searches(body):
            candidate["groundingMetadata"] = _grounding()
    return candidate


def generate_json(body: dict, rid: str, model: str) -> dict:
    candidate = _candidate(" ".join(REPLY), True, body)
    if draws(body):
        candidate["content"]["parts"].append({"inlineData": {"mimeType": "image/png", "data": _PNG}})
    if shows_thoughts(body):
        candidate["content"]["parts"].insert(0, {"text": "Thinking.", "thought": True})
    return {
        "candidates": [candidate],
        "usageMetadata": gemini_usage(body),
        "modelVersion": model,
        "responseId": rid,
    }


def generate_chunks(body: dict, rid: str, model: str, cut: bool) -> list[dict]:
    """One chunk per reply word. Each carries usageMetadata, its candidatesTokenCount the running
    total (as Gemini 2.5 sends it): a reader must take the last chunk's, not add them up."""
    chunks: list[dict[str, Any]] = [
        {
            "candidates": [_candidate(word + " ", i == len(REPLY) - 1, body)],
            "usageMetadata": gemini_usage(body, 6 if i == len(REPLY) - 1 else i + 1),
            "modelVersion": model,
            "responseId": rid,
        }
        for i, word in enumerate(REPLY)
    ]
    if shows_thoughts(body):  # the thought summary first: no candidate tokens yet, so no count (zero is omitted)
        thought = {"content": {"role": "model", "parts": [{"text": "Thinking.", "thought": True}]}, "index": 0}
        chunks.insert(0, {**chunks[0], "candidates": [thought], "usageMetadata": gemini_usage(body, 0)})
    if cut:  # ends early: no final chunk, its usage no more than a running count
        prompt = {"promptTokenCount": 10 + prompt_words(body)}
        return [{**c, "usageMetadata": prompt} for c in chunks[:2]]
    return chunks


def error_json(status: int) -> dict:
    return {
        "error": {
            "code": status,
            "message": f"fake provider error {status}",
            "status": STATUS_NAMES.get(status, "UNKNOWN"),
        }
    }
