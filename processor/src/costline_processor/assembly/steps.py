"""Agent-step names: which spans are steps of an agent, and what each is called.

A model call's agent path is the chain of step names from the root down to it
(`planner/search_tool`). Steps are marked differently by each library; only spans
that *are* a step count (OpenLLMetry copies `gen_ai.agent.name` onto every span in
its context, so that attribute alone does not make a step).
"""

from __future__ import annotations

STEP_KEYS = frozenset(
    {
        "costline.step.name",
        "gen_ai.operation.name",
        "gen_ai.agent.name",
        "gen_ai.tool.name",
        "gen_ai.workflow.name",
        "openinference.span.kind",
        "agent.name",
        "tool.name",
        "traceloop.span.kind",
        "traceloop.entity.name",
        "ai.operationId",
        "ai.toolCall.name",
    }
)

_AGENT_OPS = ("invoke_agent", "create_agent")
_TRACELOOP_STEPS = ("agent", "tool", "workflow", "task")


def step_name(attrs: dict, span_name: str) -> str | None:
    """The step this span marks, or None when it is not an agent/tool/workflow step."""
    if name := attrs.get("costline.step.name"):
        return str(name)
    op = attrs.get("gen_ai.operation.name")
    if op in _AGENT_OPS:
        return str(attrs.get("gen_ai.agent.name") or span_name)
    if op == "execute_tool":
        return str(attrs.get("gen_ai.tool.name") or span_name)
    if op == "invoke_workflow":
        return str(attrs.get("gen_ai.workflow.name") or span_name)
    oi = attrs.get("openinference.span.kind")
    if oi == "AGENT":
        return str(attrs.get("agent.name") or attrs.get("gen_ai.agent.name") or span_name)
    if oi == "TOOL":
        return str(attrs.get("tool.name") or span_name)
    tl = attrs.get("traceloop.span.kind")
    if tl in _TRACELOOP_STEPS:
        return str(attrs.get("traceloop.entity.name") or span_name)
    if attrs.get("ai.operationId") == "ai.toolCall":
        return str(attrs.get("ai.toolCall.name") or span_name)
    return None


def extend_path(parent: tuple[str, ...], step: str | None) -> tuple[str, ...]:
    """Append a step, folding a step nested in a span of the same name (wrapper spans)."""
    if step is None or (parent and parent[-1] == step):
        return parent
    return (*parent, step)
