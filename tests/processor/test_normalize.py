"""normalize_span: one realistic attribute set per dialect and era, from the attribute map.

Expected Usage values are written out by hand in the semconv meaning (input includes
cache reads and writes, output includes reasoning).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costline_processor.normalize import INTERESTING_KEYS, INTERESTING_PREFIXES, normalize_span
from costline_processor.normalize.providers import normalize_provider
from costline_processor.records import INVALID_USAGE, NO_USAGE, ModelCall, Usage

ANTHROPIC_META = json.dumps(
    {
        "anthropic": {
            "cacheCreationInputTokens": 1500,
            "usage": {
                "input_tokens": 500,
                "cache_read_input_tokens": 10000,
                "cache_creation_input_tokens": 1500,
                "cache_creation": {"ephemeral_5m_input_tokens": 500, "ephemeral_1h_input_tokens": 1000},
                "output_tokens": 400,
            },
        }
    }
)

# (id, attrs, scope_name, scope_version, span_name, dialect, usage, model, provider, operation)
CASES = [
    (
        "semconv v1.30 contrib openai-v2 default",
        {
            "gen_ai.system": "openai",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.usage.input_tokens": 1200,
            "gen_ai.usage.output_tokens": 300,
            "server.address": "api.openai.com",
        },
        "opentelemetry.instrumentation.openai_v2",
        "2.4b0",
        "chat gpt-4o-mini",
        "semconv",
        Usage(1200, 300),
        "gpt-4o-mini-2024-07-18",
        "openai",
        "chat",
    ),
    (
        "semconv v1.26 deprecated prompt/completion names",
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-3.5-turbo",
            "gen_ai.usage.prompt_tokens": 50,
            "gen_ai.usage.completion_tokens": 20,
        },
        "",
        "",
        "chat gpt-3.5-turbo",
        "semconv",
        Usage(50, 20),
        "gpt-3.5-turbo",
        "openai",
        None,
    ),
    (
        "semconv v1.41 openai responses with cache read and reasoning",
        {
            "gen_ai.provider.name": "openai",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "o3-mini",
            "gen_ai.response.model": "o3-mini-2025-01-31",
            "gen_ai.usage.input_tokens": 5000,
            "gen_ai.usage.cache_read.input_tokens": 4096,
            "gen_ai.usage.output_tokens": 800,
            "gen_ai.usage.reasoning.output_tokens": 512,
            "openai.response.service_tier": "default",
        },
        "opentelemetry.instrumentation.openai_v2",
        "2.4b0",
        "chat o3-mini",
        "semconv",
        Usage(5000, 800, 4096, 0, 0, 512),
        "o3-mini-2025-01-31",
        "openai",
        "chat",
    ),
    (
        "util-genai 1.3b0 anthropic (summed input, cache_write name)",
        {
            "gen_ai.provider.name": "anthropic",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.response.model": "claude-sonnet-4-5-20250929",
            "gen_ai.usage.input_tokens": 12000,
            "gen_ai.usage.cache_read.input_tokens": 10000,
            "gen_ai.usage.cache_write.input_tokens": 1500,
            "gen_ai.usage.output_tokens": 400,
            "gen_ai.usage.reasoning.output_tokens": 100,
        },
        "opentelemetry.instrumentation.genai.anthropic",
        "1.3b0",
        "chat claude-sonnet-4-5",
        "semconv",
        Usage(12000, 400, 10000, 1500, 0, 100),
        "claude-sonnet-4-5-20250929",
        "anthropic",
        "chat",
    ),
    (
        "semconv v1.40 cache_creation name",
        {
            "gen_ai.provider.name": "anthropic",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-3-5-haiku-20241022",
            "gen_ai.usage.input_tokens": 3000,
            "gen_ai.usage.cache_read.input_tokens": 1000,
            "gen_ai.usage.cache_creation.input_tokens": 500,
            "gen_ai.usage.output_tokens": 90,
        },
        "",
        "",
        "",
        "semconv",
        Usage(3000, 90, 1000, 500),
        "claude-3-5-haiku-20241022",
        "anthropic",
        "chat",
    ),
    (
        "semconv both cache-write names on one span are not summed",
        {
            "gen_ai.provider.name": "anthropic",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-opus-4-1",
            "gen_ai.usage.input_tokens": 3000,
            "gen_ai.usage.cache_write.input_tokens": 700,
            "gen_ai.usage.cache_creation.input_tokens": 700,
            "gen_ai.usage.output_tokens": 10,
        },
        "",
        "",
        "",
        "semconv",
        Usage(3000, 10, 0, 700),
        "claude-opus-4-1",
        "anthropic",
        "chat",
    ),
    (
        "botocore bedrock converse: input excludes cache (guard trips)",
        {
            "gen_ai.system": "aws.bedrock",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "anthropic.claude-3-5-haiku-20241022-v1:0",
            "gen_ai.usage.input_tokens": 300,
            "gen_ai.usage.cache_read.input_tokens": 2000,
            "gen_ai.usage.cache_creation.input_tokens": 500,
            "gen_ai.usage.output_tokens": 100,
            "server.address": "bedrock-runtime.us-east-1.amazonaws.com",
        },
        "opentelemetry.instrumentation.botocore.bedrock-runtime",
        "0.66b2",
        "chat anthropic.claude",
        "semconv",
        Usage(2800, 100, 2000, 500),
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        "aws",
        "chat",
    ),
    (
        "official genai-bedrock: exclusive even when input exceeds the cache",
        {
            "gen_ai.provider.name": "aws.bedrock",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "anthropic.claude-3-5-haiku-20241022-v1:0",
            "gen_ai.usage.input_tokens": 5000,
            "gen_ai.usage.cache_read.input_tokens": 3000,
            "gen_ai.usage.output_tokens": 100,
        },
        "opentelemetry.instrumentation.genai.bedrock",
        "1.3b0",
        "",
        "semconv",
        Usage(8000, 100, 3000),
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        "aws",
        "chat",
    ),
    (
        "google-genai 1.3b0: old enum provider, output already holds thoughts",
        {
            "gen_ai.provider.name": "vertex_ai",
            "gen_ai.operation.name": "generate_content",
            "gen_ai.request.model": "gemini-2.5-flash",
            "gen_ai.usage.input_tokens": 4000,
            "gen_ai.usage.cache_read.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 700,
            "gen_ai.usage.reasoning.output_tokens": 200,
        },
        "opentelemetry.instrumentation.google_genai",
        "1.3b0",
        "generate_content gemini-2.5-flash",
        "semconv",
        Usage(4000, 700, 1000, 0, 0, 200),
        "gemini-2.5-flash",
        "google",
        "generate_content",
    ),
    (
        "raw Gemini candidates (thoughts excluded) caught by the reasoning guard",
        {
            "gen_ai.system": "gemini",
            "gen_ai.request.model": "gemini-2.5-pro",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 50,
            "gen_ai.usage.reasoning.output_tokens": 300,
        },
        "",
        "",
        "",
        "semconv",
        Usage(100, 350, 0, 0, 0, 300),
        "gemini-2.5-pro",
        "google",
        None,
    ),
    (
        "costline instrumentation with the 1-hour cache-write split",
        {
            "gen_ai.provider.name": "anthropic",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.response.model": "claude-sonnet-4-5-20250929",
            "gen_ai.usage.input_tokens": 12000,
            "gen_ai.usage.cache_read.input_tokens": 10000,
            "gen_ai.usage.cache_write.input_tokens": 1500,
            "costline.usage.cache_write_1h_tokens": 1000,
            "gen_ai.usage.output_tokens": 400,
        },
        "costline.instrumentation.anthropic",
        "0.1.0",
        "chat claude-sonnet-4-5",
        "costline",
        Usage(12000, 400, 10000, 1500, 1000),
        "claude-sonnet-4-5-20250929",
        "anthropic",
        "chat",
    ),
    (
        "openllmetry >=0.56 anthropic (dotted cache names, inclusive input)",
        {
            "gen_ai.provider.name": "anthropic",
            "gen_ai.operation.name": "chat",
            "llm.request.type": "chat",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.response.model": "claude-sonnet-4-5-20250929",
            "gen_ai.usage.input_tokens": 12000,
            "gen_ai.usage.cache_read.input_tokens": 10000,
            "gen_ai.usage.cache_creation.input_tokens": 1500,
            "gen_ai.usage.output_tokens": 400,
            "gen_ai.usage.total_tokens": 12400,
        },
        "opentelemetry.instrumentation.anthropic",
        "0.62.4",
        "anthropic.chat",
        "openllmetry",
        Usage(12000, 400, 10000, 1500),
        "claude-sonnet-4-5-20250929",
        "anthropic",
        "chat",
    ),
    (
        "openllmetry 0.48-0.55 anthropic (underscore cache names, 'Anthropic')",
        {
            "gen_ai.system": "Anthropic",
            "llm.request.type": "chat",
            "gen_ai.request.model": "claude-3-5-haiku-latest",
            "gen_ai.response.model": "claude-3-5-haiku-20241022",
            "gen_ai.usage.input_tokens": 12000,
            "gen_ai.usage.cache_read_input_tokens": 10000,
            "gen_ai.usage.cache_creation_input_tokens": 1500,
            "gen_ai.usage.output_tokens": 400,
            "llm.usage.total_tokens": 12400,
        },
        "opentelemetry.instrumentation.anthropic",
        "0.52.0",
        "anthropic.chat",
        "openllmetry",
        Usage(12000, 400, 10000, 1500),
        "claude-3-5-haiku-20241022",
        "anthropic",
        "chat",
    ),
    (
        "openllmetry <=0.47 openai (prompt/completion tokens, 'OpenAI')",
        {
            "gen_ai.system": "OpenAI",
            "llm.request.type": "chat",
            "gen_ai.request.model": "o3-mini",
            "gen_ai.response.model": "o3-mini-2025-01-31",
            "gen_ai.usage.prompt_tokens": 800,
            "gen_ai.usage.completion_tokens": 150,
            "gen_ai.usage.reasoning_tokens": 64,
            "llm.usage.total_tokens": 950,
        },
        "opentelemetry.instrumentation.openai.v1",
        "0.46.0",
        "openai.chat",
        "openllmetry",
        Usage(800, 150, 0, 0, 0, 64),
        "o3-mini-2025-01-31",
        "openai",
        "chat",
    ),
    (
        "openllmetry ~0.53 reasoning under llm.usage",
        {
            "gen_ai.system": "openai",
            "llm.request.type": "chat",
            "gen_ai.request.model": "gpt-5",
            "gen_ai.usage.input_tokens": 900,
            "gen_ai.usage.output_tokens": 700,
            "llm.usage.reasoning_tokens": 600,
        },
        "opentelemetry.instrumentation.openai.v1",
        "0.53.3",
        "openai.chat",
        "openllmetry",
        Usage(900, 700, 0, 0, 0, 600),
        "gpt-5",
        "openai",
        "chat",
    ),
    (
        "openllmetry bedrock converse: exclusive input",
        {
            "gen_ai.provider.name": "aws.bedrock",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "anthropic.claude-3-5-haiku-20241022-v1:0",
            "gen_ai.usage.input_tokens": 5000,
            "gen_ai.usage.cache_read.input_tokens": 3000,
            "gen_ai.usage.output_tokens": 100,
            "llm.request.type": "chat",
        },
        "opentelemetry.instrumentation.bedrock",
        "0.62.4",
        "bedrock.converse",
        "openllmetry",
        Usage(8000, 100, 3000),
        "anthropic.claude-3-5-haiku-20241022-v1:0",
        "aws",
        "chat",
    ),
    (
        "openllmetry embeddings",
        {
            "gen_ai.system": "openai",
            "llm.request.type": "embedding",
            "gen_ai.request.model": "text-embedding-3-small",
            "gen_ai.usage.input_tokens": 12,
        },
        "opentelemetry.instrumentation.openai.v1",
        "0.62.4",
        "openai.embeddings",
        "openllmetry",
        Usage(12, 0),
        "text-embedding-3-small",
        "openai",
        "embeddings",
    ),
    (
        "openinference openai",
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-2024-08-06",
            "llm.provider": "openai",
            "llm.system": "openai",
            "llm.token_count.prompt": 2000,
            "llm.token_count.completion": 300,
            "llm.token_count.total": 2300,
            "llm.token_count.prompt_details.cache_read": 1024,
            "llm.token_count.completion_details.reasoning": 0,
        },
        "openinference.instrumentation.openai",
        "0.1.66",
        "ChatCompletion",
        "openinference",
        Usage(2000, 300, 1024),
        "gpt-4o-2024-08-06",
        "openai",
        "chat",
    ),
    (
        "openinference with genai semconv dual emission is not doubled",
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-2024-08-06",
            "llm.provider": "openai",
            "llm.token_count.prompt": 2000,
            "llm.token_count.completion": 300,
            "llm.token_count.prompt_details.cache_read": 1024,
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 2000,
            "gen_ai.usage.output_tokens": 300,
            "gen_ai.usage.cache_read.input_tokens": 1024,
        },
        "openinference.instrumentation.openai",
        "0.1.66",
        "ChatCompletion",
        "openinference",
        Usage(2000, 300, 1024),
        "gpt-4o-2024-08-06",
        "openai",
        "chat",
    ),
    (
        "openinference anthropic >= 0.1.14 (inclusive)",
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "claude-sonnet-4-5-20250929",
            "llm.provider": "anthropic",
            "llm.system": "anthropic",
            "llm.token_count.prompt": 12000,
            "llm.token_count.prompt_details.cache_read": 10000,
            "llm.token_count.prompt_details.cache_write": 1500,
            "llm.token_count.completion": 400,
        },
        "openinference.instrumentation.anthropic",
        "3.1.0",
        "messages.create",
        "openinference",
        Usage(12000, 400, 10000, 1500),
        "claude-sonnet-4-5-20250929",
        "anthropic",
        "chat",
    ),
    (
        "openinference anthropic 0.1.13 (exclusive, by version)",
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "claude-3-5-haiku-20241022",
            "llm.provider": "anthropic",
            "llm.token_count.prompt": 5000,
            "llm.token_count.prompt_details.cache_read": 3000,
            "llm.token_count.completion": 400,
        },
        "openinference.instrumentation.anthropic",
        "0.1.13",
        "messages.create",
        "openinference",
        Usage(8000, 400, 3000),
        "claude-3-5-haiku-20241022",
        "anthropic",
        "chat",
    ),
    (
        "openinference embedding (the model in embedding.model_name, as 0.1.66 writes it)",
        {
            "openinference.span.kind": "EMBEDDING",
            "embedding.model_name": "text-embedding-3-small",
            "llm.system": "openai",
            "llm.token_count.prompt": 8,
            "llm.token_count.total": 8,
        },
        "openinference.instrumentation.openai",
        "0.1.66",
        "CreateEmbeddings",
        "openinference",
        Usage(8, 0),
        "text-embedding-3-small",
        "openai",
        "embeddings",
    ),
    (
        "openlit openai (cost attribute is OpenLIT's own estimate)",
        {
            "telemetry.sdk.name": "openlit",
            "gen_ai.provider.name": "openai",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 200,
            "gen_ai.usage.cache_read.input_tokens": 0,
            "gen_ai.usage.cache_creation.input_tokens": 0,
            "gen_ai.usage.reasoning_tokens": 0,
            "gen_ai.usage.cost": 0.0045,
        },
        "openlit.otel.tracing",
        "1.45.0",
        "chat gpt-4o",
        "openlit",
        Usage(1000, 200),
        "gpt-4o-2024-08-06",
        "openai",
        "chat",
    ),
    (
        "openlit anthropic: raw input excludes cache",
        {
            "telemetry.sdk.name": "openlit",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens": 5000,
            "gen_ai.usage.cache_read.input_tokens": 3000,
            "gen_ai.usage.cache_creation.input_tokens": 1500,
            "gen_ai.usage.output_tokens": 400,
        },
        "openlit.otel.tracing",
        "1.45.0",
        "chat claude-sonnet-4-5",
        "openlit",
        Usage(9500, 400, 3000, 1500),
        "claude-sonnet-4-5",
        "anthropic",
        "chat",
    ),
    (
        "openlit before the provider rename (gen_ai.system)",
        {
            "telemetry.sdk.name": "openlit",
            "gen_ai.system": "anthropic",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-3-5-haiku-20241022",
            "gen_ai.usage.input_tokens": 200,
            "gen_ai.usage.cache_read.input_tokens": 10000,
            "gen_ai.usage.cache_creation.input_tokens": 0,
            "gen_ai.usage.output_tokens": 50,
        },
        "openlit.otel.tracing",
        "1.30.0",
        "chat claude-3-5-haiku-20241022",
        "openlit",
        Usage(10200, 50, 10000),
        "claude-3-5-haiku-20241022",
        "anthropic",
        "chat",
    ),
    (
        "pydantic-ai 2.x openai (semconv + details copies)",
        {
            "gen_ai.provider.name": "openai",
            "gen_ai.system": "openai",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 3000,
            "gen_ai.usage.output_tokens": 500,
            "gen_ai.usage.cache_read.input_tokens": 2048,
            "gen_ai.usage.details.cache_read_tokens": 2048,
            "gen_ai.usage.details.reasoning_tokens": 128,
        },
        "pydantic-ai",
        "2.68.0",
        "chat gpt-4o",
        "pydantic-ai",
        Usage(3000, 500, 2048, 0, 0, 128),
        "gpt-4o-2024-08-06",
        "openai",
        "chat",
    ),
    (
        "pydantic-ai anthropic with the 1-hour split in details",
        {
            "gen_ai.provider.name": "anthropic",
            "gen_ai.system": "anthropic",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens": 12000,
            "gen_ai.usage.output_tokens": 400,
            "gen_ai.usage.cache_read.input_tokens": 10000,
            "gen_ai.usage.cache_creation.input_tokens": 1500,
            "gen_ai.usage.details.cache_read_tokens": 10000,
            "gen_ai.usage.details.cache_write_tokens": 1500,
            "gen_ai.usage.details.cache_read_input_tokens": 10000,
            "gen_ai.usage.details.cache_creation_input_tokens": 1500,
            "gen_ai.usage.details.ephemeral_1h_input_tokens": 1000,
            "gen_ai.usage.details.thinking_tokens": 0,
        },
        "pydantic-ai",
        "2.68.0",
        "chat claude-sonnet-4-5",
        "pydantic-ai",
        Usage(12000, 400, 10000, 1500, 1000),
        "claude-sonnet-4-5",
        "anthropic",
        "chat",
    ),
    (
        "pydantic-ai 1.x agent run (aggregate under gen_ai.usage)",
        {
            "gen_ai.agent.name": "support",
            "gen_ai.usage.input_tokens": 9000,
            "gen_ai.usage.output_tokens": 900,
        },
        "pydantic-ai",
        "1.40.0",
        "agent run",
        "pydantic-ai",
        Usage(9000, 900),
        None,
        None,
        "invoke_agent",
    ),
    (
        "vercel v4 generateText step",
        {
            "ai.operationId": "ai.generateText.doGenerate",
            "ai.model.id": "gpt-4o-mini",
            "ai.model.provider": "openai.chat",
            "ai.usage.promptTokens": 900,
            "ai.usage.completionTokens": 100,
            "gen_ai.system": "openai.chat",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.usage.input_tokens": 900,
            "gen_ai.usage.output_tokens": 100,
        },
        "ai",
        "",
        "ai.generateText.doGenerate",
        "vercel",
        Usage(900, 100),
        "gpt-4o-mini-2024-07-18",
        "openai",
        "chat",
    ),
    (
        "vercel v5 openai streamText step",
        {
            "ai.operationId": "ai.streamText.doStream",
            "ai.model.id": "o3-mini",
            "ai.model.provider": "openai.responses",
            "ai.response.model": "o3-mini-2025-01-31",
            "ai.usage.inputTokens": 3000,
            "ai.usage.outputTokens": 200,
            "ai.usage.totalTokens": 3200,
            "ai.usage.cachedInputTokens": 2048,
            "ai.usage.reasoningTokens": 64,
            "gen_ai.usage.input_tokens": 3000,
            "gen_ai.usage.output_tokens": 200,
        },
        "ai",
        "",
        "ai.streamText.doStream",
        "vercel",
        Usage(3000, 200, 2048, 0, 0, 64),
        "o3-mini-2025-01-31",
        "openai",
        "chat",
    ),
    (
        "vercel v5 anthropic: raw input, cache write only in provider metadata",
        {
            "ai.operationId": "ai.generateText.doGenerate",
            "ai.model.id": "claude-sonnet-4-5",
            "ai.model.provider": "anthropic.messages",
            "ai.usage.inputTokens": 500,
            "ai.usage.outputTokens": 400,
            "ai.usage.cachedInputTokens": 10000,
            "ai.response.providerMetadata": ANTHROPIC_META,
        },
        "ai",
        "",
        "ai.generateText.doGenerate",
        "vercel",
        Usage(12000, 400, 10000, 1500, 1000),
        "claude-sonnet-4-5",
        "anthropic",
        "chat",
    ),
    (
        "vercel v5 anthropic: exclusive even when input exceeds the cache",
        {
            "ai.operationId": "ai.generateText.doGenerate",
            "ai.model.id": "claude-3-5-haiku-latest",
            "ai.model.provider": "anthropic.messages",
            "ai.usage.inputTokens": 5000,
            "ai.usage.outputTokens": 40,
            "ai.usage.cachedInputTokens": 3000,
        },
        "ai",
        "",
        "ai.generateText.doGenerate",
        "vercel",
        Usage(8000, 40, 3000),
        "claude-3-5-haiku-latest",
        "anthropic",
        "chat",
    ),
    (
        "vercel v6 anthropic: input total with details",
        {
            "ai.operationId": "ai.streamText.doStream",
            "ai.model.id": "claude-sonnet-4-5",
            "ai.model.provider": "anthropic.messages",
            "ai.usage.inputTokens": 12000,
            "ai.usage.inputTokenDetails.noCacheTokens": 500,
            "ai.usage.inputTokenDetails.cacheReadTokens": 10000,
            "ai.usage.inputTokenDetails.cacheWriteTokens": 1500,
            "ai.usage.cachedInputTokens": 10000,
            "ai.usage.outputTokens": 400,
            "ai.usage.outputTokenDetails.reasoningTokens": 50,
            "gen_ai.usage.input_tokens": 12000,
            "gen_ai.usage.output_tokens": 400,
        },
        "ai",
        "",
        "ai.streamText.doStream",
        "vercel",
        Usage(12000, 400, 10000, 1500, 0, 50),
        "claude-sonnet-4-5",
        "anthropic",
        "chat",
    ),
    (
        "vercel v6 anthropic: the 1-hour part of the writes only in the provider metadata",
        {
            "ai.operationId": "ai.generateText.doGenerate",
            "ai.model.id": "claude-sonnet-4-5",
            "ai.model.provider": "anthropic.messages",
            "ai.usage.inputTokens": 12000,
            "ai.usage.inputTokenDetails.noCacheTokens": 500,
            "ai.usage.inputTokenDetails.cacheReadTokens": 10000,
            "ai.usage.inputTokenDetails.cacheWriteTokens": 1500,
            "ai.usage.outputTokens": 400,
            "ai.response.providerMetadata": ANTHROPIC_META,
        },
        "ai",
        "",
        "ai.generateText.doGenerate",
        "vercel",
        Usage(12000, 400, 10000, 1500, 1000),
        "claude-sonnet-4-5",
        "anthropic",
        "chat",
    ),
    (
        "vercel root span carries the steps' sum: marked invoke_agent",
        {
            "ai.operationId": "ai.generateText",
            "ai.model.id": "gpt-4o-mini",
            "ai.model.provider": "openai.chat",
            "ai.usage.promptTokens": 1800,
            "ai.usage.completionTokens": 200,
        },
        "ai",
        "",
        "ai.generateText",
        "vercel",
        Usage(1800, 200),
        "gpt-4o-mini",
        "openai",
        "invoke_agent",
    ),
    (
        "vercel embed step",
        {
            "ai.operationId": "ai.embed.doEmbed",
            "ai.model.id": "text-embedding-3-small",
            "ai.model.provider": "openai.embedding",
            "ai.usage.tokens": 10,
        },
        "ai",
        "",
        "ai.embed.doEmbed",
        "vercel",
        Usage(10, 0),
        "text-embedding-3-small",
        "openai",
        "embeddings",
    ),
    (
        "langsmith: cache counts inside a python-repr dict",
        {
            "langsmith.span.kind": "llm",
            "gen_ai.system": "anthropic",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-3-5-haiku-20241022",
            "gen_ai.usage.input_tokens": 12000,
            "gen_ai.usage.output_tokens": 400,
            "gen_ai.usage.total_tokens": 12400,
            "gen_ai.usage.input_token_details": "{'cache_read': 10000, 'cache_creation': 1500}",
            "gen_ai.usage.output_token_details": "{'reasoning': 0}",
        },
        "langsmith",
        "0.15.0",
        "ChatAnthropic",
        "langsmith",
        Usage(12000, 400, 10000, 1500),
        "claude-3-5-haiku-20241022",
        "anthropic",
        "chat",
    ),
    (
        "langsmith default provider 'langchain' is no provider",
        {
            "langsmith.span.kind": "llm",
            "gen_ai.system": "langchain",
            "gen_ai.request.model": "my-local-model",
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.output_tokens": 5,
        },
        "langsmith",
        "0.15.0",
        "ChatOllama",
        "langsmith",
        Usage(10, 5),
        "my-local-model",
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    "attrs, scope, version, span_name, dialect, usage, model, provider, operation",
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_dialects(attrs, scope, version, span_name, dialect, usage, model, provider, operation):
    call = normalize_span(attrs, scope_name=scope, scope_version=version, span_name=span_name, span_kind=3)
    assert call is not None
    assert call.status is None, call.detail
    assert call.dialect == dialect
    assert call.usage == usage
    assert call.model == model
    assert call.provider == provider
    assert call.operation == operation


def test_request_model_and_server_address():
    call = normalize_span(dict(CASES[0][1]))
    assert call.request_model == "gpt-4o-mini"
    assert call.server_address == "api.openai.com"


OPENINFERENCE_EMBEDDINGS = json.loads(
    (Path(__file__).parents[1] / "testdata" / "spans" / "openinference-openai-0.1.66-embeddings.json").read_text()
)


@pytest.mark.parametrize("scenario, tokens", [("openai_embeddings", 12), ("openai_embeddings_batch", 14)])
def test_openinference_embeddings_as_emitted_are_priced(scenario, tokens):
    """openinference-instrumentation-openai 0.1.66 against the fake provider (tests/testdata/spans)."""
    [span] = OPENINFERENCE_EMBEDDINGS["scenarios"][scenario]
    attrs = {k: v for k, v in span["attributes"].items() if k in INTERESTING_KEYS or k.startswith(INTERESTING_PREFIXES)}
    assert "llm.model_name" not in span["attributes"]
    call = normalize_span(attrs, scope_name=span["scope"], scope_version=span["scope_version"], span_name=span["name"])
    assert (call.dialect, call.status, call.usage) == ("openinference", None, Usage(tokens, 0))
    assert (call.model, call.request_model, call.provider, call.operation) == (
        "text-embedding-3-small",
        "text-embedding-3-small",
        "openai",
        "embeddings",
    )


def test_openinference_embedding_with_only_a_total_bills_it_as_input():
    call = normalize_span(
        {
            "openinference.span.kind": "EMBEDDING",
            "embedding.model_name": "text-embedding-3-small",
            "llm.token_count.total": 9,
        },
        scope_name="openinference.instrumentation.openai",
    )
    assert (call.status, call.usage) == (None, Usage(9, 0))
    # an LLM span's total is never read as input: it would bill output as input
    call = normalize_span({"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o", "llm.token_count.total": 9})
    assert call.status == NO_USAGE


def test_openinference_request_model_prefers_its_own_names():
    call = normalize_span(
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-2024-08-06",
            "llm.request.model_name": "gpt-4o",
            "llm.token_count.prompt": 1,
        }
    )
    assert (call.model, call.request_model) == ("gpt-4o-2024-08-06", "gpt-4o")


# --- streamed calls without usage ---------------------------------------------------------


@pytest.mark.parametrize(
    "attrs, scope, dialect",
    [
        (
            {
                "costline.usage.missing": True,
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.provider.name": "openai",
                "gen_ai.operation.name": "chat",
            },
            "costline.instrumentation.openai",
            "costline",
        ),
        (
            {"gen_ai.system": "openai", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"},
            "opentelemetry.instrumentation.openai_v2",
            "semconv",
        ),
        (
            {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o"},
            "openinference.instrumentation.openai",
            "openinference",
        ),
        (
            {"llm.request.type": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o"},
            "opentelemetry.instrumentation.openai.v1",
            "openllmetry",
        ),
        (
            {"ai.operationId": "ai.streamText.doStream", "ai.model.id": "gpt-4o", "ai.model.provider": "openai.chat"},
            "ai",
            "vercel",
        ),
    ],
    ids=["costline-marker", "semconv-stream", "openinference", "openllmetry", "vercel"],
)
def test_model_call_without_usage_is_no_usage(attrs, scope, dialect):
    call = normalize_span(attrs, scope_name=scope)
    assert call is not None
    assert (call.dialect, call.status, call.usage) == (dialect, NO_USAGE, None)
    assert call.model == "gpt-4o"


# --- not a model call -------------------------------------------------------------------


@pytest.mark.parametrize(
    "attrs, scope, span_name",
    [
        ({}, "", ""),
        ({"server.address": "example.com"}, "opentelemetry.instrumentation.httpx", "GET"),
        ({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}, "", "execute_tool search"),
        (
            {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a", "gen_ai.request.model": "gpt-4o"},
            "",
            "invoke_agent a",
        ),
        (
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.aggregated_usage.input_tokens": 9000,
                "gen_ai.aggregated_usage.output_tokens": 900,
            },
            "pydantic-ai",
            "invoke_agent support",
        ),
        ({"openinference.span.kind": "CHAIN"}, "openinference.instrumentation.langchain", "RunnableSequence"),
        ({"traceloop.span.kind": "workflow"}, "traceloop.sdk", "joke.workflow"),
        ({"ai.operationId": "ai.toolCall"}, "ai", "ai.toolCall"),
        ({"telemetry.sdk.name": "openlit"}, "openlit", "x"),
        ({"openai.response.service_tier": "default", "costline.batch": True}, "", ""),
    ],
    ids=[
        "empty",
        "http",
        "tool",
        "agent",
        "pydantic-agent-v2",
        "oi-chain",
        "workflow",
        "vercel-tool",
        "openlit-bare",
        "tier-only",
    ],
)
def test_not_a_model_call(attrs, scope, span_name):
    assert normalize_span(attrs, scope_name=scope, span_name=span_name) is None


# --- invalid counts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), -5, -0.5, 1.5, "abc", "12.5", True, [1, 2], b"12", 10**13, 1e13, {"a": 1}],
    ids=repr,
)
def test_invalid_counts_mark_the_call(value):
    attrs = {
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": value,
        "gen_ai.usage.output_tokens": 3,
    }
    call = normalize_span(attrs)
    assert call is not None
    assert call.status == INVALID_USAGE
    assert call.usage is None
    assert "gen_ai.usage.input_tokens" in call.detail
    assert call.model == "gpt-4o"


@pytest.mark.parametrize("value, expected", [(100.0, 100), ("100", 100), (" 7 ", 7), (0, 0), (10**12, 10**12)])
def test_whole_number_spellings_are_counts(value, expected):
    call = normalize_span({"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": value})
    assert call.usage == Usage(expected, 0)


def test_one_hour_writes_beyond_all_writes_are_invalid():
    call = normalize_span(
        {
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens": 5000,
            "gen_ai.usage.cache_write.input_tokens": 100,
            "costline.usage.cache_write_1h_tokens": 200,
        }
    )
    assert call.status == INVALID_USAGE and "1-hour" in call.detail


def test_one_hour_writes_alone_count_as_writes():
    call = normalize_span(
        {
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.usage.input_tokens": 5000,
            "costline.usage.cache_write_1h_tokens": 200,
        }
    )
    assert call.usage == Usage(5000, 0, 0, 200, 200)


def test_invalid_metadata_count_in_vercel_json():
    meta = json.dumps({"anthropic": {"cacheCreationInputTokens": -3}})
    call = normalize_span(
        {
            "ai.operationId": "ai.generateText.doGenerate",
            "ai.model.id": "claude-sonnet-4-5",
            "ai.model.provider": "anthropic.messages",
            "ai.usage.inputTokens": 10,
            "ai.response.providerMetadata": meta,
        }
    )
    assert call.status == INVALID_USAGE and "cacheCreationInputTokens" in call.detail


# --- provider, tier, batch, reported cost -------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Anthropic", "anthropic"),
        ("openai.chat", "openai"),
        ("openai.responses", "openai"),
        ("anthropic.messages", "anthropic"),
        ("az.ai.openai", "azure"),
        ("azure.ai.openai", "azure"),
        ("vertex_ai", "google"),
        ("gcp.vertex_ai", "google"),
        ("gemini", "google"),
        ("google.generative-ai", "google"),
        ("aws.bedrock", "aws"),
        ("AWS", "aws"),
        ("amazon-bedrock", "aws"),
        ("xai", "x-ai"),
        ("x_ai", "x-ai"),
        ("mistral_ai", "mistral"),
        ("groq", "groq"),
        ("OpenRouter", "openrouter"),
        ("langchain", None),
        ("gcp.vertex.agent", None),
        ("", None),
        (None, None),
    ],
)
def test_provider_aliases(raw, expected):
    assert normalize_provider(raw) == expected


@pytest.mark.parametrize(
    "extra, tier, batch",
    [
        ({"openai.response.service_tier": "priority"}, "priority", False),
        ({"gen_ai.openai.response.service_tier": "Flex"}, "flex", False),
        ({"openai.request.service_tier": "auto"}, None, False),
        ({"openai.response.service_tier": "default", "openai.request.service_tier": "flex"}, "default", False),
        ({"costline.batch": True}, None, True),
        ({"costline.batch": "true"}, None, True),
        ({"openai.response.service_tier": "batch"}, None, True),
        ({}, None, False),
    ],
)
def test_service_tier_and_batch(extra, tier, batch):
    call = normalize_span({"gen_ai.request.model": "gpt-5", "gen_ai.usage.input_tokens": 1, **extra})
    assert (call.service_tier, call.batch) == (tier, batch)


@pytest.mark.parametrize(
    "extra, expected",
    [
        ({"costline.reported_cost.usd": 0.00042}, Decimal("0.00042")),
        ({"costline.reported_cost.usd": "0.0125"}, Decimal("0.0125")),
        ({"costline.reported_cost.usd": 0}, Decimal(0)),
        ({"costline.reported_cost.usd": float("nan")}, None),
        ({"costline.reported_cost.usd": -1.0}, None),
        ({"costline.reported_cost.usd": "free"}, None),
        ({"gen_ai.usage.cost": 0.0045}, None),
        ({"operation.cost": 0.0045}, None),
    ],
)
def test_reported_cost(extra, expected):
    call = normalize_span({"gen_ai.request.model": "openai/gpt-4o", "gen_ai.usage.input_tokens": 10, **extra})
    assert call.reported_cost_usd == expected


def test_openinference_cost_total_is_reported():
    call = normalize_span(
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o",
            "llm.token_count.prompt": 5,
            "llm.cost.total": 0.0123,
        }
    )
    assert call.reported_cost_usd == Decimal("0.0123")


# --- the key contract with receive --------------------------------------------------------


class RecordingDict(dict):
    """Remembers every key normalize looks up, so the contract can be checked."""

    def __init__(self, *args):
        super().__init__(*args)
        self.looked_up: set[str] = set()

    def get(self, key, default=None):
        self.looked_up.add(key)
        return super().get(key, default)

    def __contains__(self, key):
        self.looked_up.add(key)
        return super().__contains__(key)

    def __getitem__(self, key):
        self.looked_up.add(key)
        return super().__getitem__(key)


def _interesting(key: str) -> bool:
    return key in INTERESTING_KEYS or key.startswith(INTERESTING_PREFIXES)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_reads_only_interesting_keys(case):
    attrs = RecordingDict(case[1])
    normalize_span(attrs, scope_name=case[2], scope_version=case[3], span_name=case[4])
    assert {k for k in attrs.looked_up if not _interesting(k)} == set()


def test_filtered_attrs_give_the_same_answer():
    for case in CASES:
        filtered = {k: v for k, v in case[1].items() if _interesting(k)}
        full = normalize_span(case[1], scope_name=case[2], scope_version=case[3], span_name=case[4])
        assert normalize_span(filtered, scope_name=case[2], scope_version=case[3], span_name=case[4]) == full


# --- never crash --------------------------------------------------------------------------

_KEYS = sorted(INTERESTING_KEYS) + [
    p + s
    for p in INTERESTING_PREFIXES
    for s in (
        "input_tokens",
        "output_tokens",
        "prompt_tokens",
        "completion_tokens",
        "cache_read.input_tokens",
        "cache_write.input_tokens",
        "cache_creation.input_tokens",
        "reasoning.output_tokens",
        "prompt",
        "completion",
        "prompt_details.cache_read",
        "inputTokens",
        "cachedInputTokens",
        "details.ephemeral_1h_input_tokens",
        "input_token_details",
        "reasoning_tokens",
        "x",
    )
]
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "openai",
            "anthropic.messages",
            "aws.bedrock",
            "LLM",
            "chat",
            "ai.generateText.doGenerate",
            "openlit",
            "{'cache_read': 5}",
            '{"anthropic": {"cacheCreationInputTokens": 3}}',
            "12",
        ]
    ),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=400, deadline=None)
@given(
    attrs=st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=12),
    scope=st.sampled_from(
        ["", "ai", "pydantic-ai", "openinference.instrumentation.anthropic", "costline.x", "openlit"]
    ),
    version=st.sampled_from(["", "0.1.13", "3.1.0", "garbage"]),
)
def test_never_crashes(attrs, scope, version):
    recorded = RecordingDict(attrs)
    call = normalize_span(recorded, scope_name=scope, scope_version=version, span_name="x")
    assert {k for k in recorded.looked_up if not _interesting(k)} == set()
    assert call is None or isinstance(call, ModelCall)
    if call is None or call.usage is None:
        return
    u = call.usage
    counts = (
        u.input_tokens,
        u.output_tokens,
        u.cache_read_tokens,
        u.cache_write_tokens,
        u.cache_write_1h_tokens,
        u.reasoning_tokens,
    )
    assert all(isinstance(c, int) and c >= 0 for c in counts)
    assert u.cache_read_tokens + u.cache_write_tokens <= u.input_tokens
    assert u.cache_write_1h_tokens <= u.cache_write_tokens
    assert u.reasoning_tokens <= u.output_tokens
    assert call.reported_cost_usd is None or (call.reported_cost_usd.is_finite() and call.reported_cost_usd >= 0)
    assert call.model is None or isinstance(call.model, str)


# Audio subsets (issue 15, item 2), one case per dialect that carries them: (id, attrs, scope, dialect, usage).
AUDIO = Usage(
    input_tokens=1_000,
    output_tokens=500,
    cache_read_tokens=300,
    audio_input_tokens=600,
    audio_output_tokens=400,
    audio_cache_read_tokens=200,
)
_SEMCONV_AUDIO = {
    "gen_ai.usage.input_tokens": 1_000,
    "gen_ai.usage.output_tokens": 500,
    "gen_ai.usage.cache_read.input_tokens": 300,
    "gen_ai.usage.audio.input_tokens": 600,
    "gen_ai.usage.audio.output_tokens": 400,
    "gen_ai.usage.audio.cache_read.input_tokens": 200,
}
_CHAT = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-realtime"}
AUDIO_CASES = [
    (
        "semconv (util-genai 1.3b0 names)",
        {**_CHAT, **_SEMCONV_AUDIO},
        "opentelemetry.instrumentation.genai.openai",
        "semconv",
        AUDIO,
    ),
    ("costline's own spans", {**_CHAT, **_SEMCONV_AUDIO}, "costline.instrumentation.openai", "costline", AUDIO),
    (
        "openinference prompt_details/completion_details.audio",
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-audio-preview",
            "llm.provider": "openai",
            "llm.token_count.prompt": 1_000,
            "llm.token_count.completion": 500,
            "llm.token_count.prompt_details.cache_read": 300,
            "llm.token_count.prompt_details.audio": 600,
            "llm.token_count.completion_details.audio": 400,
        },
        "openinference.instrumentation.openai",
        "openinference",
        Usage(1_000, 500, 300, audio_input_tokens=600, audio_output_tokens=400),
    ),
    (
        "openlit with the semconv audio names",
        {**_CHAT, "telemetry.sdk.name": "openlit", **_SEMCONV_AUDIO},
        "openlit.otel.tracing",
        "openlit",
        AUDIO,
    ),
    (
        "openllmetry with the semconv audio names",
        {**_CHAT, "llm.request.type": "chat", **_SEMCONV_AUDIO},
        "opentelemetry.instrumentation.openai.v1",
        "openllmetry",
        AUDIO,
    ),
    ("pydantic-ai with the semconv audio names", {**_CHAT, **_SEMCONV_AUDIO}, "pydantic-ai", "pydantic-ai", AUDIO),
    (
        "langsmith token details (LangChain `audio` keys)",
        {
            "langsmith.span.kind": "llm",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o-audio-preview",
            "gen_ai.usage.input_tokens": 1_000,
            "gen_ai.usage.output_tokens": 500,
            "gen_ai.usage.input_token_details": "{'cache_read': 300, 'audio': 600}",
            "gen_ai.usage.output_token_details": "{'audio': 400}",
        },
        "",
        "langsmith",
        Usage(1_000, 500, 300, audio_input_tokens=600, audio_output_tokens=400),
    ),
]


@pytest.mark.parametrize("attrs,scope,dialect,usage", [c[1:] for c in AUDIO_CASES], ids=[c[0] for c in AUDIO_CASES])
def test_audio_counts_per_dialect(attrs, scope, dialect, usage):
    call = normalize_span(attrs, scope_name=scope)
    assert call is not None and call.status is None, call
    assert call.dialect == dialect
    assert call.usage == usage
    again = normalize_span(dict(attrs), scope_name=scope)  # the memoised path gives the same answer
    assert again.usage == usage


def test_no_audio_is_zero_audio():
    call = normalize_span({**_CHAT, "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2})
    u = call.usage
    assert (u.audio_input_tokens, u.audio_output_tokens, u.audio_cache_read_tokens) == (0, 0, 0)


def test_a_bad_audio_count_marks_the_call():
    call = normalize_span({**_CHAT, "gen_ai.usage.input_tokens": 10, "gen_ai.usage.audio.input_tokens": -1})
    assert call.status == INVALID_USAGE and "gen_ai.usage.audio.input_tokens" in call.detail
