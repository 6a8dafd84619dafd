"""Realistic OTLP payloads for the benchmarks: 1 000-span requests of ~10-span traces.

A third of the spans are model calls (mixed dialects), agents fan out to tools,
roots carry attribution tags, every span carries the usual HTTP/db noise attributes.
"""

from __future__ import annotations

import os
import random

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

START = 1_763_900_000_000_000_000


def _attrs(span: Span, **kv) -> None:
    for k, v in kv.items():
        a = span.attributes.add(key=k.replace("__", "."))
        if isinstance(v, int):
            a.value.int_value = v
        else:
            a.value.string_value = str(v)


def trace(rng: random.Random, spans_per_trace: int = 10, marker: bytes | None = None) -> list[Span]:
    """One trace; with `marker`, its ID is 8 random bytes + the marker (see support/wire.stamp)."""
    tid = os.urandom(8) + marker if marker else os.urandom(16)
    out = []

    def new(name, parent=None, **kv):
        s = Span(trace_id=tid, span_id=os.urandom(8), name=name, kind=1,
                 start_time_unix_nano=START + len(out) * 1000, end_time_unix_nano=START + len(out) * 1000 + 5_000_000)
        if parent is not None:
            s.parent_span_id = parent.span_id
        _attrs(s, **kv)
        out.append(s)
        return s

    root = new("POST /v1/chat", http__request__method="POST", url__path="/v1/chat", http__response__status_code=200,
               costline__feature=rng.choice(["search", "support", "summaries"]),
               costline__customer_id=f"cust-{rng.randrange(200)}", costline__user_id=f"user-{rng.randrange(5000)}")
    agent = new("invoke_agent planner", root, gen_ai__operation__name="invoke_agent", gen_ai__agent__name="planner")
    while len(out) < spans_per_trace:
        kind = len(out) % 3
        if kind == 0:
            model = rng.choice(["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5"])
            new(f"chat {model}", agent, gen_ai__operation__name="chat",
                gen_ai__provider__name="anthropic" if model.startswith("claude") else "openai",
                gen_ai__request__model=model, gen_ai__response__model=model, server__address="api.example.com",
                gen_ai__usage__input_tokens=rng.randrange(100, 20_000), gen_ai__usage__output_tokens=rng.randrange(10, 2_000),
                gen_ai__usage__cache_read__input_tokens=rng.randrange(0, 50))
        elif kind == 1:
            new("execute_tool search", agent, gen_ai__operation__name="execute_tool", gen_ai__tool__name="search")
        else:
            new("SELECT orders", root, db__system__name="postgresql", db__query__text="SELECT * FROM orders WHERE id = $1",
                server__address="db.internal", server__port=5432)
    return out[:spans_per_trace]


def requests(n_requests: int, spans_per_request: int = 1000, spans_per_trace: int = 10, seed: int = 7,
             marker: bytes | None = None) -> list[bytes]:
    rng = random.Random(seed)
    bodies = []
    for _ in range(n_requests):
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        kv = rs.resource.attributes.add(key="service.name")
        kv.value.string_value = "bench-app"
        ss = rs.scope_spans.add()
        ss.scope.name = "bench"
        while len(ss.spans) < spans_per_request:
            ss.spans.extend(trace(rng, spans_per_trace, marker))
        bodies.append(req.SerializeToString())
    return bodies
