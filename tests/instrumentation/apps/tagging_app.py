"""A small app for the tagging checks (the pytest plugin, COSTLINE_UNTAGGED, costline lint).

`run(app)` makes every kind of call once: sync, async, streamed (both SDKs, the stream
helpers too), through nested helpers, a helper tagged by its caller, a step, a client from a
module factory. Markers at the end of a line say what the checks must report there:
`untagged` (the call is made without `feature` and `customer_id` at run time: the plugin and
COSTLINE_UNTAGGED report it) and `CL001` (`costline lint --require-tags feature,customer_id`
reports it). A line without a marker must never be reported.
"""

from __future__ import annotations

import asyncio

import anthropic
import openai

import costline

MESSAGES = [{"role": "user", "content": "hello there"}]
TAGS = {"feature": "search", "customer_id": "acme"}


def claude_client(base_url: str) -> anthropic.Anthropic:  # a factory: the lint follows it
    return anthropic.Anthropic(base_url=base_url, api_key="k", max_retries=0)


class App:
    def __init__(self, openai_url: str, anthropic_url: str) -> None:
        self.client = openai.OpenAI(base_url=openai_url, api_key="k", max_retries=0)
        self.aclient = openai.AsyncOpenAI(base_url=openai_url, api_key="k", max_retries=0)
        self.claude = claude_client(anthropic_url)
        self.aclaude = anthropic.AsyncAnthropic(base_url=anthropic_url, api_key="k", max_retries=0)
        self.anthropic_url = anthropic_url

    def chat_untagged(self) -> None:
        self.client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # untagged CL001

    def chat_tagged(self) -> None:
        with costline.attribution(**TAGS):
            self.client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    def embed_partly_tagged(self) -> None:
        with costline.attribution(feature="index"):
            self.client.embeddings.create(model="text-embedding-3-small", input="x")  # untagged CL001

    async def async_calls(self) -> None:
        await self.aclient.responses.create(model="gpt-5", input="hi")  # untagged CL001
        with costline.attribution(**TAGS):
            await self.aclient.responses.create(model="gpt-5", input="hi")
        async with self.aclaude.messages.stream(  # untagged CL001
            model="claude-fake-1", max_tokens=8, messages=MESSAGES
        ) as s:
            await s.get_final_message()

    @costline.attribution(feature="chat", customer_id="acme")
    async def async_tagged(self) -> None:
        await self.aclaude.messages.create(model="claude-fake-1", max_tokens=8, messages=MESSAGES)

    def streams(self) -> None:
        for _ in self.client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):  # untagged CL001
            pass
        with self.claude.messages.stream(model="claude-fake-1", max_tokens=8, messages=MESSAGES) as s:  # untagged CL001
            s.until_done()
        with costline.attribution(**TAGS):
            list(self.claude.messages.create(model="claude-fake-1", max_tokens=8, messages=MESSAGES, stream=True))

    # nested helpers: `_ask` is reached from tagged and untagged code, `_embed` only from tagged code
    def _ask(self, text: str) -> None:
        self.client.chat.completions.create(  # untagged CL001
            model="gpt-4o", messages=[{"role": "user", "content": text}]
        )

    def _summarise(self, text: str) -> None:
        self._ask(text)

    def _embed(self, text: str) -> None:
        self.client.embeddings.create(model="text-embedding-3-small", input=text)

    def helpers(self) -> None:
        with costline.attribution(**TAGS):
            self._summarise("tagged")
            self._embed("tagged")
        self._summarise("untagged")

    def classify(self, text: str) -> None:  # costline: tagged-by-caller
        self.claude.messages.create(model="claude-fake-1", max_tokens=8, messages=MESSAGES)

    @costline.step("plan")
    def plan(self) -> None:
        self.client.responses.create(model="gpt-5", input="plan")

    def route(self) -> None:
        with costline.attribution(**TAGS):
            self.classify("x")
            self.plan()

    def one_off(self) -> None:
        claude_client(self.anthropic_url).messages.create(  # untagged CL001
            model="claude-fake-1", max_tokens=8, messages=MESSAGES
        )

    def legacy(self) -> None:
        self.client.completions.create(  # untagged  # costline: ignore[CL001]
            model="gpt-3.5-turbo-instruct", prompt="hi"
        )


def run(app: App, times: int = 1) -> None:
    """Every path of the app, `times` times (a call site is reported once however often it runs)."""
    for _ in range(times):
        app.chat_untagged()
        app.chat_tagged()
        app.embed_partly_tagged()
        app.streams()
        app.helpers()
        app.route()
        app.one_off()
        app.legacy()
    asyncio.run(_async_paths(app, times))  # one loop: the async clients keep their connections in it


async def _async_paths(app: App, times: int) -> None:
    for _ in range(times):
        await app.async_calls()
        await app.async_tagged()
