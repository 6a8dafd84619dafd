"""OpenInference's openai instrumentor alone: `client.embeddings.create`, a string and a list."""

from __future__ import annotations

import openai
import otel_setup
from openinference.instrumentation.openai import OpenAIInstrumentor

import costline

provider = otel_setup.start("embeddings-app")
OpenAIInstrumentor().instrument(tracer_provider=provider)
client = openai.OpenAI(base_url=otel_setup.BASE + "/v1", api_key="k", max_retries=0)
tracer = provider.get_tracer("app")

with costline.attribution(**otel_setup.TAGS), tracer.start_as_current_span("POST /search"):
    client.embeddings.create(model="text-embedding-3-small", input="one two three")
    client.embeddings.create(model="text-embedding-3-small", input=["four five", "six"])
provider.shutdown()
