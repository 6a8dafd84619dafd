"""The Gemini calls both Gemini apps make through the google-genai SDK, under costline's
attribution tags and one request span: a plain call, a streamed one, one that thinks (a
thinking budget), one that reads a context cache (`cached_content`), on the async client a
streamed one that thinks and shows its thoughts, and one with an audio part. With
GEMINI_SEARCH=1, one more call grounded with Google Search (the fake then reports
toolUsePromptTokenCount); with GEMINI_IMAGE=1, one more call to gemini-2.5-flash-image that
asks for an image (the fake answers one: 1290 image output tokens); with GEMINI_VERTEX=1, the client is Vertex AI's (`vertexai=True`, a
project and location: `/v1beta1/projects/...` paths)."""

from __future__ import annotations

import asyncio
import datetime
import os

import otel_setup
from google import genai
from google.genai import types
from google.oauth2.credentials import Credentials
from opentelemetry import trace

import costline

MODEL = "gemini-2.5-flash"
HOUR = datetime.timedelta(hours=1)  # a token that needs no refresh (google-auth compares naive UTC)


def run() -> None:
    client = _client()
    with costline.attribution(**otel_setup.TAGS), trace.get_tracer("app").start_as_current_span("POST /chat"):
        client.models.generate_content(model=MODEL, contents="one two three four")
        for _ in client.models.generate_content_stream(model=MODEL, contents="one two three four five"):
            pass
        thinking = types.ThinkingConfig(thinking_budget=64)
        client.models.generate_content(
            model=MODEL, contents="one two", config=types.GenerateContentConfig(thinking_config=thinking)
        )
        cached = types.GenerateContentConfig(cached_content="cachedContents/fake-cache")
        client.models.generate_content(model=MODEL, contents="one two three four five six", config=cached)
        asyncio.run(_streamed_thoughts(client))
        audio = types.Part.from_bytes(data=b"RIFF fake wav", mime_type="audio/wav")
        client.models.generate_content(model=MODEL, contents=["one two", audio])
        if os.environ.get("GEMINI_SEARCH"):
            search = types.GenerateContentConfig(tools=[types.Tool(google_search=types.GoogleSearch())])
            client.models.generate_content(model=MODEL, contents="one two three", config=search)
        if os.environ.get("GEMINI_IMAGE"):
            image = types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"])
            client.models.generate_content(model=MODEL + "-image", contents="draw a cat", config=image)


def _client() -> genai.Client:
    if not os.environ.get("GEMINI_VERTEX"):
        return genai.Client(api_key="k", http_options={"base_url": otel_setup.BASE})
    token = Credentials(token="t", expiry=datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + HOUR)
    return genai.Client(
        vertexai=True,
        project="p",
        location="us-central1",
        credentials=token,
        http_options={"base_url": otel_setup.BASE},
    )


async def _streamed_thoughts(client: genai.Client) -> None:
    thinking = types.ThinkingConfig(thinking_budget=64, include_thoughts=True)
    config = types.GenerateContentConfig(thinking_config=thinking)
    async for _ in await client.aio.models.generate_content_stream(
        model=MODEL, contents="one two three", config=config
    ):
        pass
