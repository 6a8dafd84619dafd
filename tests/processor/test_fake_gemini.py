"""The fake provider's Gemini endpoints answer by the rules its docstring states, over real HTTP
(the google-genai SDK itself drives them in tests/integrations/test_gemini.py)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from costline_processor.demo.fake_provider import FakeProvider

PROMPT = {"contents": [{"role": "user", "parts": [{"text": "one two three"}]}]}  # W = 3


def post(fake: FakeProvider, path: str, body: dict) -> tuple[int, bytes]:
    req = urllib.request.Request(fake.base_url + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_generate_content_usage_follows_the_documented_rules():
    with FakeProvider() as fake:
        _, plain = post(fake, "/v1beta/models/gemini-2.5-flash:generateContent", PROMPT)
        body = {
            **PROMPT,
            "systemInstruction": {"parts": [{"text": "be brief"}]},  # W = 5
            "cachedContent": "cachedContents/c1",
            "tools": [{"googleSearch": {}}],
            "generationConfig": {"thinkingConfig": {"thinking_budget": 64}},
        }
        _, full = post(fake, "/v1/models/gemini-2.5-flash:generateContent", body)
        _, off = post(
            fake,
            "/v1beta/models/m:generateContent",
            {**PROMPT, "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}},
        )
    plain_j, full_j = json.loads(plain), json.loads(full)
    u = plain_j["usageMetadata"]
    assert (u["promptTokenCount"], u["candidatesTokenCount"], u["totalTokenCount"]) == (13, 6, 19)
    assert "thoughtsTokenCount" not in u and "cachedContentTokenCount" not in u and "toolUsePromptTokenCount" not in u
    assert plain_j["modelVersion"] == "gemini-2.5-flash" and plain_j["candidates"][0]["finishReason"] == "STOP"
    u = full_j["usageMetadata"]
    assert (u["promptTokenCount"], u["cachedContentTokenCount"], u["thoughtsTokenCount"]) == (15, 5, 3)
    assert (u["toolUsePromptTokenCount"], u["totalTokenCount"]) == (5, 15 + 6 + 3 + 5)
    assert full_j["candidates"][0]["groundingMetadata"]["webSearchQueries"] == ["q0"]
    assert "thoughtsTokenCount" not in json.loads(off)["usageMetadata"]
    assert plain_j["responseId"] != full_j["responseId"]


def test_stream_chunks_carry_a_running_count_and_the_last_is_the_call():
    with FakeProvider() as fake:
        _, raw = post(fake, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", PROMPT)
    chunks = [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")]
    assert [c["usageMetadata"]["candidatesTokenCount"] for c in chunks] == [1, 2, 3, 4, 6]
    assert all(c["usageMetadata"]["promptTokenCount"] == 13 for c in chunks)
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP" and "finishReason" not in chunks[0]["candidates"][0]
    assert len({c["responseId"] for c in chunks}) == 1


def test_error_models_answer_googles_error_body():
    with FakeProvider() as fake:
        status, raw = post(fake, "/v1beta/models/error-429:generateContent", PROMPT)
    assert status == 429 and json.loads(raw)["error"] == {
        "code": 429,
        "message": "fake provider error 429",
        "status": "RESOURCE_EXHAUSTED",
    }


def test_a_stream_that_shows_its_thoughts_starts_with_them_and_no_candidate_count():
    thinking = {"generationConfig": {"thinkingConfig": {"include_thoughts": True, "thinking_budget": 64}}}
    with FakeProvider() as fake:
        _, raw = post(fake, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", {**PROMPT, **thinking})
    chunks = [json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")]
    first = chunks[0]
    assert first["candidates"][0]["content"]["parts"] == [{"text": "Thinking.", "thought": True}]
    assert first["usageMetadata"]["thoughtsTokenCount"] == 3 and "candidatesTokenCount" not in first["usageMetadata"]
    assert [c["usageMetadata"].get("candidatesTokenCount") for c in chunks] == [None, 1, 2, 3, 4, 6]
    assert chunks[-1]["usageMetadata"]["totalTokenCount"] == 13 + 6 + 3


def test_audio_parts_add_audio_prompt_tokens():
    audio = {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}}
    as_sent = {"inlineData": {"mime_type": "audio/wav", "data": "UklGRg=="}}  # google-genai 2.34's spelling
    body = {"contents": [{"role": "user", "parts": [{"text": "one two three"}, audio, as_sent]}]}
    with FakeProvider() as fake:
        _, raw = post(fake, "/v1beta/models/gemini-2.5-flash:generateContent", body)
    u = json.loads(raw)["usageMetadata"]
    assert u["promptTokenCount"] == 13 + 50
    assert u["promptTokensDetails"] == [{"modality": "TEXT", "tokenCount": 13}, {"modality": "AUDIO", "tokenCount": 50}]
