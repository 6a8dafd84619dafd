"""OpenInference's LangChain tracer with langchain-openai's ChatOpenAI, beside OpenInference's
openai instrumentor (both patch globally): `invoke` and `stream`."""

from __future__ import annotations

import otel_setup
from langchain_openai import ChatOpenAI
from openinference.instrumentation.langchain import LangChainInstrumentor
from openinference.instrumentation.openai import OpenAIInstrumentor

import costline

provider = otel_setup.start("langchain-app")
LangChainInstrumentor().instrument(tracer_provider=provider)
OpenAIInstrumentor().instrument(tracer_provider=provider)
llm = ChatOpenAI(model="gpt-4o-mini", base_url=otel_setup.BASE + "/v1", api_key="k", max_retries=0, stream_usage=True)
tracer = provider.get_tracer("app")

with costline.attribution(**otel_setup.TAGS), tracer.start_as_current_span("POST /chat"):
    llm.invoke("one two three")
    for _ in llm.stream("four five"):
        pass
provider.shutdown()
