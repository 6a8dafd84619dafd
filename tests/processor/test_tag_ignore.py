"""Framework metadata under mapped prefixes is not a tag (assembly/tags.py FRAMEWORK_KEYS, tagging.ignore).

The association properties are what OpenLLMetry's LangChain instrumentation 0.62.4 wrote for a
one-node LangGraph 1.2.24 graph with a checkpointer (tests/testdata/spans, capture.py there), the
app having set `customer_id` and `feature` in the run's metadata and `thread_id` in its configurable.
"""

from __future__ import annotations

import json
from pathlib import Path

from opentelemetry import trace

from costline_processor.assembly.tags import TagReader
from costline_processor.config import TaggingConfig
from tests.processor.harness import sdk_tracer
from tests.processor.test_tag_trust import GPT_4O_MINI, run

CAPTURED = json.loads(
    (Path(__file__).parents[1] / "testdata" / "spans" / "openllmetry-langchain-0.62.4-langgraph.json").read_text()
)
SPANS = {s["name"]: s["attributes"] for s in CAPTURED["spans"]}
CHAT = SPANS["ChatOpenAI.chat"]  # the model call: the whole LangChain run metadata
APP_TAGS = {"customer_id": "acme", "feature": "support-chat", "thread_id": "conv-42"}
P = "traceloop.association.properties."


def test_the_fixture_floods_as_the_issue_says():
    names = {k[len(P) :] for k in CHAT}
    assert {
        "ls_provider",
        "ls_model_name",
        "ls_model_type",
        "ls_integration",
        "lc_versions",
        "langgraph_step",
        "langgraph_node",
        "langgraph_checkpoint_ns",
        "checkpoint_ns",
    } <= names
    assert CHAT[P + "checkpoint_ns"].startswith("agent:")  # a new id per step


def test_framework_metadata_is_no_tag():
    reader = TagReader(TaggingConfig())
    for name, attrs in SPANS.items():
        tags, own = reader.read(attrs)
        assert tags == (APP_TAGS if attrs else None), name
        assert own == frozenset()


def test_tagging_ignore_drops_more():
    reader = TagReader(TaggingConfig(ignore=["thread_*", "feat?re"]))
    assert reader.read(CHAT)[0] == {"customer_id": "acme"}
    assert reader.name_of(P + "thread_id") is None  # the policy sees the same (hash/drop find no source)
    assert reader.name_of(P + "customer_id") == "customer_id"


def test_ignore_never_applies_to_own_tags_or_aliases():
    reader = TagReader(TaggingConfig(ignore=["team*"], aliases={P + "langgraph_node": "graph_node"}))
    tags, own = reader.read({**CHAT, "costline.team": "red", "costline.ls_note": "set on purpose"})
    assert tags == {**APP_TAGS, "graph_node": "agent", "team": "red", "ls_note": "set on purpose"}
    assert own == {"team", "ls_note"}


def test_other_prefixes_are_filtered_the_same():
    """Langfuse's LangChain handler puts the same run metadata under observation metadata."""
    reader = TagReader(TaggingConfig())
    attrs = {"langfuse.observation.metadata." + k[len(P) :]: v for k, v in CHAT.items()}
    assert reader.read(attrs)[0] == APP_TAGS


def test_the_ledger_and_the_exported_span_carry_only_the_real_tags(tmp_path):
    def configure(cfg):
        cfg.tagging.ignore = ["thread_id"]

    def send(endpoint):
        provider = sdk_tracer(endpoint, service="graph")
        tracer = provider.get_tracer("opentelemetry.instrumentation.langchain", "0.62.4")
        root = tracer.start_span("LangGraph.workflow", attributes=SPANS["LangGraph.workflow"])
        ctx = trace.set_span_in_context(root)
        step = tracer.start_span("execute_task agent", context=ctx, attributes=SPANS["execute_task agent"])
        tracer.start_span(
            "ChatOpenAI.chat", context=trace.set_span_in_context(step), attributes={**CHAT, **GPT_4O_MINI}
        ).end()
        step.end()
        root.end()
        provider.shutdown()

    spans, _, rows = run(tmp_path, configure, send, 3)
    assert rows["ChatOpenAI.chat"]["tags"] == {"customer_id": "acme", "feature": "support-chat"}
    exported = spans["ChatOpenAI.chat"].attributes
    assert not [
        k
        for k in exported
        if k.startswith("costline.") and ("ls_" in k or "langgraph" in k or "checkpoint" in k or "thread" in k)
    ]
    assert exported[P + "langgraph_node"] == "agent"  # the app's attributes pass as sent
