"""The cost the provider bills for the calls the fake provider really answered, worked out
without costline: its documented usage rules (processor/demo/fake_provider.py) applied to
each recorded request, times published list prices.

Prices, USD per million tokens, as published on the providers' pricing pages
(anthropic.com/pricing, "Claude Sonnet 4.5", prompts up to 200K tokens: input $3, 5-minute
cache write $3.75, cache hit $0.30, output $15; web search, platform.claude.com's web search
tool page: $10 per 1,000 searches on top of the tokens; openai.com/api/pricing, "gpt-4o-mini":
input $0.15, cached input $0.075, output $0.60; "text-embedding-3-small": $0.02; Gemini 2.5
Flash, ai.google.dev/gemini-api/docs/pricing, paid tier: input $0.30 (text), $1.00 (audio),
output $2.50 "including thinking tokens", context caching $0.03 (storage by the hour, not per
call); the same on Vertex AI, cloud.google.com/vertex-ai/generative-ai/pricing; Gemini 2.5 Flash
Image, the same page: input $0.30, "output $0.039 per image", "$30 per 1,000,000 tokens", "1290
tokens" for a 1024x1024 image, its text output at 2.5 Flash's $2.50).
"""

from __future__ import annotations

import re
from decimal import Decimal

M = Decimal(1_000_000)
SONNET_45 = {"in": Decimal("3"), "read": Decimal("0.30"), "write5m": Decimal("3.75"), "out": Decimal("15")}
GPT_4O_MINI = {"in": Decimal("0.15"), "cached": Decimal("0.075"), "out": Decimal("0.60")}
EMBED_3_SMALL = Decimal("0.02")
ANTHROPIC_SEARCH = Decimal(10) / 1000
GEMINI_25_FLASH = {
    "in": Decimal("0.30"),
    "audio_in": Decimal("1.00"),
    "cached": Decimal("0.03"),
    "out": Decimal("2.50"),
}
IMAGE_OUT = Decimal("30")  # gemini-2.5-flash-image's image output, per million tokens
PRICED_MODELS = {"claude-sonnet-4-5", "gpt-4o-mini", "text-embedding-3-small"}
# Gemini names the model in the path: /v1beta/models/MODEL:generateContent (or :streamGenerateContent)
GEMINI_PATH = re.compile(r"^/v1[^/]*/(?:.*/)?models/([^/:]+):(?:stream)?[gG]enerateContent$")


def _text_words(value) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_text_words(v) for v in value)
    if isinstance(value, dict):  # a content part ({"text": ...}) or a Responses input message ({"content": ...})
        return _text_words(value["text"]) if "text" in value else _text_words(value.get("content"))
    return 0


def prompt_words(body: dict) -> int:
    """W: the words of the prompt text of a request (system, messages, input)."""
    words = _text_words(body.get("system")) + _text_words(body.get("input")) + _text_words(body.get("instructions"))
    for message in body.get("messages") or []:
        words += _text_words(message.get("content"))
    return words


def call_cost(path: str, body: dict) -> Decimal:
    """What one answered request costs at list price."""
    if GEMINI_PATH.match(path):
        return gemini_cost(path, body)
    model, w = body["model"], prompt_words(body)
    assert model in PRICED_MODELS, f"no published price written out for {model}"
    if path == "/v1/messages":  # Anthropic: uncached 10+W, cache read W, cache write 2W (5-minute), output 6
        p = SONNET_45
        tokens = ((10 + w) * p["in"] + w * p["read"] + 2 * w * p["write5m"] + 6 * p["out"]) / M
        return tokens + _searches(body) * ANTHROPIC_SEARCH
    if path in ("/v1/chat/completions", "/v1/responses"):  # OpenAI: prompt 10+W of which W cached, completion 6
        assert "prompt_cache_key" not in body, "the fake then reports W as written, not read"
        p = GPT_4O_MINI
        return (10 * p["in"] + w * p["cached"] + 6 * p["out"]) / M
    if path == "/v1/embeddings":  # prompt 10+W
        return (10 + w) * EMBED_3_SMALL / M
    raise AssertionError(f"no rule for {path}")


def _searches(body: dict) -> int:
    """The fake's rule: a web search tool in `tools` runs its max_uses searches (else 1)."""
    for tool in body.get("tools") or ():
        if str(tool.get("type", "")).startswith("web_search_"):
            return tool.get("max_uses") or 1
    return 0


def gemini_cost(path: str, body: dict) -> Decimal:
    """The fake's Gemini rule: prompt 10+W (W cached when the request names cachedContent) and 25
    audio tokens per audio part, 6 candidates, 3 thoughts with a thinking budget (not 0), 5 tool-use
    prompt tokens with Google Search. Google bills thoughts as output, tool-use prompt tokens as input."""
    model = GEMINI_PATH.match(path).group(1)  # type: ignore[union-attr]
    assert model in ("gemini-2.5-flash", "gemini-2.5-flash-image"), f"no published price written out for {model}"
    w = sum(len(part["text"].split()) for c in body["contents"] for part in c["parts"] if "text" in part)
    w += sum(len(p["text"].split()) for p in (body.get("systemInstruction") or {}).get("parts", []))
    cached = w if body.get("cachedContent") else 0
    thinking = (body.get("generationConfig") or {}).get("thinkingConfig")
    thoughts = 3 if thinking and thinking.get("thinking_budget", thinking.get("thinkingBudget")) != 0 else 0
    tool_use = 5 if any("googleSearch" in t for t in body.get("tools") or ()) else 0
    parts = [p for c in body["contents"] for p in c["parts"]]
    blobs = [part["inlineData"] for part in parts if "inlineData" in part]  # google-genai sends mime_type
    audio = 25 * sum(1 for b in blobs if b.get("mimeType", b.get("mime_type", "")).startswith("audio/"))
    p = GEMINI_25_FLASH
    text_in = (10 + w - cached + tool_use) * p["in"] + audio * p["audio_in"]
    modalities = (body.get("generationConfig") or {}).get("responseModalities") or ()
    image = 1290 * IMAGE_OUT if "IMAGE" in modalities else 0  # one image, as the fake draws it
    return (text_in + cached * p["cached"] + (6 + thoughts) * p["out"] + image) / M


def calls(requests) -> list[tuple[str, dict]]:
    """The model calls among the fake provider's recorded requests: (path, body)."""
    return [
        (r.path.split("?")[0], r.body)
        for r in requests
        if r.method == "POST"
        and isinstance(r.body, dict)
        and ("model" in r.body or GEMINI_PATH.match(r.path.split("?")[0]))
    ]
