"""One trace as a cost tree: the trace, its agent steps (nested by their path), their calls.

    trace 3f2a...              $0.0412   8 calls
    ├── research               $0.0390   6 calls
    │   ├── plan               $0.0031   1 call    gpt-4o-mini
    │   └── search_web         ...
    └── (no agent)             $0.0022   2 calls

A step's numbers are the sums of its children's, exactly (Decimal), so the tree adds up to
the trace's rollup: the total `costline trace TRACE_ID --format json` prints (reports.trace_steps),
which `rollup` carries beside the tree for the page to show and the tests to compare. Leaves are
the ledger's calls, oldest first, with their span, model, tokens, cost and tags. Pure.
"""

from __future__ import annotations

from decimal import Decimal

from costline_processor.ledger import dimensions, reports
from costline_processor.ledger.periods import iso
from costline_processor.records import LedgerRow

SUMMED = ("calls", "unpriced_calls", "input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens")


def trace_tree(trace_id: str, rows: list[LedgerRow]) -> dict:
    """The tree of `rows` (one trace's calls) and the rollup it must add up to."""
    rows = sorted(rows, key=lambda r: (r.start_unix_nano, r.span_id))
    root = _node(trace_id, "trace")
    for r in rows:
        parent = root
        for depth, part in enumerate(_steps(r)):
            parent = _child(parent, part, "step", depth)
        parent["children"].append(_call(r))
    _add_up(root)
    _, _, total = reports.trace_steps(rows)
    rollup = {"calls": total.calls, "unpriced_calls": total.unpriced_calls, "cost_usd": total.cost_usd}
    return {"trace_id": trace_id, "tree": root, "rollup": rollup}


def _steps(r: LedgerRow) -> list[str]:
    path = dimensions.value(r, "agent")
    return [p for p in path.split("/") if p] if r.agent_path else [path]


def _node(label: str, kind: str) -> dict:
    return {"label": label, "kind": kind, "children": [], **dict.fromkeys(SUMMED, 0), "cost_usd": Decimal(0)}


def _child(parent: dict, label: str, kind: str, depth: int) -> dict:
    for c in parent["children"]:
        if c["kind"] == kind and c["label"] == label:
            return c
    c = _node(label, kind)
    c["depth"] = depth
    parent["children"].append(c)
    return c


def _call(r: LedgerRow) -> dict:
    return {
        "label": r.span_name,
        "kind": "call",
        "children": [],
        "span_id": r.span_id,
        "time": iso(r.start_unix_nano),
        "model": r.model or "unknown",
        "status": r.status or "priced",
        "tags": dict(sorted(r.tags.items())),
        "calls": 1,
        "unpriced_calls": int(r.cost_usd is None),
        "input_tokens": r.input_tokens,
        "output_tokens": r.output_tokens,
        "cache_read_tokens": r.cache_read_tokens,
        "reasoning_tokens": r.reasoning_tokens,
        "cost_usd": r.cost_usd,
    }


def _add_up(node: dict) -> None:
    """Each step's and the trace's sums from their children (calls carry their own)."""
    if node["kind"] == "call":
        return
    for c in node["children"]:
        _add_up(c)
        for k in SUMMED:
            node[k] += c[k]
        node["cost_usd"] += c["cost_usd"] or Decimal(0)
    models = {c.get("model") for c in node["children"] if c.get("model")} | {
        m for c in node["children"] for m in c.get("models", ())
    }
    node["models"] = sorted(models)
