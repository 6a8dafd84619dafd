"""An ordinary app using the OpenAI and Anthropic SDKs, run by test_launcher.py as
`opentelemetry-instrument python llm_app.py` (no OpenTelemetry code of its own).

Every call is tagged with `costline.attribution(call=<label>, customer_id="acme")` so
the test can find its span; the prompts are the constants below. What the app itself
can observe (e.g. that no usage-only chunk reached it) goes to stdout as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
from concurrent.futures import ThreadPoolExecutor

import anthropic
import openai

import costline
from costline.instrumentation.attribution import with_current_context

PROMPT = "tell me a short story please"  # 6 words
SYSTEM = "be brief"  # 2 words
MESSAGES = [{"role": "user", "content": PROMPT}]
ONE_HOUR = [
    {"role": "user", "content": [{"type": "text", "text": PROMPT, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}
]
THINKING = {"type": "enabled", "budget_tokens": 1024}
BASE = os.environ["FAKE_PROVIDER_URL"]


def tagged(label: str) -> costline.attribution:
    return costline.attribution(call=label, customer_id="acme")


def sync_calls(checks: dict) -> None:
    o = openai.OpenAI(base_url=BASE + "/v1", api_key="k", max_retries=0)
    a = anthropic.Anthropic(base_url=BASE, api_key="k", max_retries=0)
    with tagged("chat-sync"):
        o.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=64)
    with tagged("chat-stream-sync"):  # COSTLINE_OPENAI_INCLUDE_STREAM_USAGE=true asks for usage
        chunks = list(o.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
        checks["chat-stream-sync: app saw no usage chunk"] = all(c.choices and c.usage is None for c in chunks)
    with tagged("chat-stream-cut"):
        list(o.chat.completions.create(model="cut-stream", messages=MESSAGES, stream=True))
    with tagged("chat-helper"):
        with o.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
            stream.until_done()
    with tagged("responses-sync"):
        o.responses.create(model="gpt-5", input=PROMPT, reasoning={"effort": "low"})
    with tagged("responses-stream-sync"):
        list(o.responses.create(model="gpt-5", input=PROMPT, stream=True, prompt_cache_key="k"))
    with tagged("embeddings-sync"):
        o.embeddings.create(model="text-embedding-3-small", input=PROMPT)
    with tagged("completions-sync"):
        o.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT)
    with tagged("completions-stream-sync"):
        list(o.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT, stream=True))
    with tagged("openrouter-sync"):
        o.chat.completions.create(
            model="openrouter/auto", messages=MESSAGES, reasoning_effort="low", prompt_cache_key="k"
        )
    with tagged("chat-error-sync"):
        try:
            o.chat.completions.create(model="error-429", messages=MESSAGES)
        except openai.RateLimitError:
            checks["chat-error-sync: RateLimitError reached the app"] = True
    with tagged("anthropic-sync"):
        a.messages.create(model="claude-fake-1", max_tokens=64, system=SYSTEM, messages=ONE_HOUR)
    with tagged("anthropic-stream-sync"):
        list(
            a.messages.create(
                model="claude-fake-1", max_tokens=64, system=SYSTEM, messages=MESSAGES, thinking=THINKING, stream=True
            )
        )
    with tagged("anthropic-helper-sync"):
        with a.messages.stream(model="claude-fake-1", max_tokens=64, system=SYSTEM, messages=ONE_HOUR) as stream:
            checks["anthropic-helper-sync: text"] = "".join(stream.text_stream).strip()
    with tagged("anthropic-error-sync"):
        try:
            a.messages.create(model="error-529", max_tokens=64, messages=MESSAGES)
        except anthropic.APIStatusError as error:
            checks["anthropic-error-sync: status"] = error.status_code
    with tagged("step"), costline.step("summarise"):
        o.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=64)
    with tagged("thread"), ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(with_current_context(o.embeddings.create), model="text-embedding-3-small", input=PROMPT).result()


async def async_calls(checks: dict) -> None:
    o = openai.AsyncOpenAI(base_url=BASE + "/v1", api_key="k", max_retries=0)
    a = anthropic.AsyncAnthropic(base_url=BASE, api_key="k", max_retries=0)
    with tagged("chat-async"):
        await o.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=64)
    with tagged("chat-stream-async"):
        stream = await o.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = [c async for c in stream]
        checks["chat-stream-async: app asked for usage and saw it"] = chunks[-1].usage is not None
    with tagged("responses-async"):
        await o.responses.create(model="gpt-5", input=PROMPT, reasoning={"effort": "low"})
    with tagged("responses-stream-async"):
        stream = await o.responses.create(model="gpt-5", input=PROMPT, stream=True, prompt_cache_key="k")
        [e async for e in stream]
    with tagged("embeddings-async"):
        await o.embeddings.create(model="text-embedding-3-small", input=PROMPT)
    with tagged("completions-async"):
        await o.completions.create(model="gpt-3.5-turbo-instruct", prompt=PROMPT)
    with tagged("chat-error-async"):
        try:
            await o.chat.completions.create(model="error-429", messages=MESSAGES)
        except openai.RateLimitError:
            checks["chat-error-async: RateLimitError reached the app"] = True
    with tagged("anthropic-async"):
        await a.messages.create(model="claude-fake-1", max_tokens=64, system=SYSTEM, messages=ONE_HOUR)
    with tagged("anthropic-stream-async"):
        stream = await a.messages.create(
            model="claude-fake-1", max_tokens=64, system=SYSTEM, messages=MESSAGES, thinking=THINKING, stream=True
        )
        [e async for e in stream]
    with tagged("anthropic-helper-async"):
        async with a.messages.stream(model="claude-fake-1", max_tokens=64, system=SYSTEM, messages=ONE_HOUR) as stream:
            await stream.get_final_message()

    async def in_task(label: str) -> None:
        with tagged(label):
            await asyncio.sleep(0)
            await a.messages.create(model="claude-fake-1", max_tokens=64, system=SYSTEM, messages=ONE_HOUR)

    await asyncio.gather(in_task("task-1"), in_task("task-2"))


def main() -> None:
    checks: dict = {}
    sync_calls(checks)
    asyncio.run(async_calls(checks))
    print(json.dumps(checks), flush=True)


if __name__ == "__main__":
    main()
