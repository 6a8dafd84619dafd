"""Capture the span shapes in this directory from the real libraries (test fixtures, not run by pytest).

In a scratch venv (never costline's own), with the fake provider on port 8099:

    python3 -m venv /tmp/lf && /tmp/lf/bin/pip install logfire openai anthropic openinference-instrumentation-openai
    .venv/bin/python -m costline_processor.demo.fake_provider --port 8099 &
    /tmp/lf/bin/python tests/testdata/spans/capture.py logfire > tests/testdata/spans/logfire-<version>.json
    /tmp/lf/bin/python tests/testdata/spans/capture.py openinference > tests/testdata/spans/openinference-openai-<version>-embeddings.json
    /tmp/lf/bin/pip install langgraph langchain-openai opentelemetry-instrumentation-langchain
    /tmp/lf/bin/python tests/testdata/spans/capture.py langgraph > tests/testdata/spans/openllmetry-langchain-<version>-langgraph.json

Each call runs inside an "outer" span (left out) so `parent` shows which spans are its children;
`code.*` attributes (the caller's file and line) are left out.
"""

import json
import sys
from importlib.metadata import version

import anthropic
import openai
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

BASE = "http://127.0.0.1:8099"
MSGS = [{"role": "user", "content": "hi there"}]


def spans(exp, outer=None):
    out = []
    for s in exp.get_finished_spans():
        if s.name == "outer":
            continue
        out.append(
            {
                "scope": s.instrumentation_scope.name,
                "scope_version": s.instrumentation_scope.version,
                "name": s.name,
                "kind": s.kind.name,
                "parent": "outer" if outer and s.parent and s.parent.span_id == outer else None,
                "attributes": {
                    k: (list(v) if isinstance(v, tuple) else v)
                    for k, v in s.attributes.items()
                    if not k.startswith("code.")
                },
            }
        )
    exp.clear()
    return out


def logfire_shapes():
    import logfire

    exp = InMemorySpanExporter()
    logfire.configure(send_to_logfire=False, console=False, additional_span_processors=[SimpleSpanProcessor(exp)])
    logfire.instrument_openai()
    logfire.instrument_anthropic()
    oa = openai.OpenAI(base_url=BASE + "/v1", api_key="x")
    an = anthropic.Anthropic(base_url=BASE, api_key="x")
    scenarios = {}

    def run(label, call):
        with logfire.span("outer") as outer:
            try:
                call()
            except Exception as e:
                print(label, "raised", type(e).__name__, file=sys.stderr)
        scenarios[label] = spans(exp, outer._span.get_span_context().span_id)

    def drain(it):
        for _ in it:
            pass

    run("openai_chat", lambda: oa.chat.completions.create(model="gpt-4o-mini", messages=MSGS))
    run(
        "openai_chat_stream",
        lambda: drain(
            oa.chat.completions.create(
                model="gpt-4o-mini", messages=MSGS, stream=True, stream_options={"include_usage": True}
            )
        ),
    )
    run(
        "openai_chat_stream_without_usage",
        lambda: drain(oa.chat.completions.create(model="gpt-4o-mini", messages=MSGS, stream=True)),
    )
    run(
        "openai_chat_stream_cut_short",
        lambda: drain(
            oa.chat.completions.create(
                model="cut-stream", messages=MSGS, stream=True, stream_options={"include_usage": True}
            )
        ),
    )
    run(
        "openai_chat_stream_request_failed",
        lambda: oa.chat.completions.create(model="error-500", messages=MSGS, stream=True),
    )
    run("openai_chat_request_failed", lambda: oa.chat.completions.create(model="error-500", messages=MSGS))
    run(
        "openai_responses_stream",
        lambda: drain(oa.responses.create(model="gpt-4o-mini", input="hi there", stream=True)),
    )
    run("openai_embeddings", lambda: oa.embeddings.create(model="text-embedding-3-small", input="hello world"))
    run("anthropic_messages", lambda: an.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=MSGS))

    def anthropic_stream():
        with an.messages.stream(model="claude-sonnet-4-5", max_tokens=10, messages=MSGS) as st:
            drain(st)

    run("anthropic_messages_stream", anthropic_stream)
    return {
        "library": "logfire",
        "versions": {p: version(p) for p in ("logfire", "openai", "anthropic")},
        "scenarios": scenarios,
    }


def openinference_shapes():
    from openinference.instrumentation.openai import OpenAIInstrumentor
    from opentelemetry.sdk.trace import TracerProvider

    exp = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exp))
    OpenAIInstrumentor().instrument(tracer_provider=tp)
    oa = openai.OpenAI(base_url=BASE + "/v1", api_key="x")
    oa.embeddings.create(model="text-embedding-3-small", input="hello world")
    one = spans(exp)
    oa.embeddings.create(model="text-embedding-3-small", input=["hello world", "two three"])
    two = spans(exp)
    return {
        "library": "openinference-instrumentation-openai",
        "versions": {p: version(p) for p in ("openinference-instrumentation-openai", "openai")},
        "scenarios": {"openai_embeddings": one, "openai_embeddings_batch": two},
    }


def langgraph_shapes():
    """A one-node LangGraph graph with a checkpointer, traced by OpenLLMetry: only the association properties."""
    from langchain_openai import ChatOpenAI
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, MessagesState, StateGraph
    from opentelemetry.instrumentation.langchain import LangchainInstrumentor
    from opentelemetry.sdk.trace import TracerProvider

    exp = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exp))
    LangchainInstrumentor().instrument(tracer_provider=tp)
    llm = ChatOpenAI(model="gpt-4o-mini", base_url=BASE + "/v1", api_key="x")
    g = StateGraph(MessagesState)
    g.add_node("agent", lambda state: {"messages": [llm.invoke(state["messages"])]})
    g.add_edge(START, "agent")
    g.add_edge("agent", END)
    g.compile(checkpointer=InMemorySaver()).invoke(
        {"messages": [("user", "hi there")]},
        config={
            "configurable": {"thread_id": "conv-42"},
            "metadata": {"customer_id": "acme", "feature": "support-chat"},
        },
    )
    out = [
        {
            "scope": s.instrumentation_scope.name,
            "scope_version": s.instrumentation_scope.version,
            "name": s.name,
            "attributes": {
                k: (list(v) if isinstance(v, tuple) else v)
                for k, v in s.attributes.items()
                if k.startswith("traceloop.association.properties.")
            },
        }
        for s in exp.get_finished_spans()
    ]
    packages = ("opentelemetry-instrumentation-langchain", "langgraph", "langchain-core", "langchain-openai")
    return {
        "library": "opentelemetry-instrumentation-langchain",
        "versions": {p: version(p) for p in packages},
        "spans": out,
    }


which = sys.argv[1]
shapes = {"logfire": logfire_shapes, "openinference": openinference_shapes, "langgraph": langgraph_shapes}[which]
print(json.dumps(shapes(), indent=1))
