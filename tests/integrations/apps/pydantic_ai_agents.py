"""Pydantic AI agents instrumented by Pydantic AI itself (`Agent.instrument_all()`), on the global
OpenTelemetry SDK provider exporting to costline: one agent run each on OpenAI Chat Completions,
the OpenAI Responses API and Anthropic (whose SDK also traces the call itself), and one more on
Anthropic with its server-side web search (two searches, billed apiece), in one request."""

from __future__ import annotations

import otel_setup
from opentelemetry import trace
from pydantic_ai import Agent, WebSearchTool
from pydantic_ai.capabilities import NativeTool
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider

import costline

provider = otel_setup.start("pydantic-ai-app")
Agent.instrument_all()
openai = OpenAIProvider(base_url=otel_setup.BASE + "/v1", api_key="k")
models = [
    OpenAIChatModel("gpt-4o-mini", provider=openai),
    OpenAIResponsesModel("gpt-4o-mini", provider=openai),
    AnthropicModel("claude-sonnet-4-5", provider=AnthropicProvider(base_url=otel_setup.BASE, api_key="k")),
]
with costline.attribution(**otel_setup.TAGS), trace.get_tracer("app").start_as_current_span("POST /chat"):
    for model in models:
        Agent(model).run_sync("one two three four")
    Agent(models[2], capabilities=[NativeTool(WebSearchTool(max_uses=2))]).run_sync("one two three four")
provider.shutdown()
