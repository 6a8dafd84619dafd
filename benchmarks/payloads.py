"""Realistic OTLP payloads for the benchmarks: 1 000-span requests of ~10-span traces.

A third of the spans are model calls (mixed dialects), agents fan out to tools,
roots carry attribution tags, every span carries the usual HTTP/db noise attributes.

Two profiles of the same traces (same shape, same IDs, same model calls and tags):

* `lean` (the default, ~250 B/span): only the attributes some costline stage reads, plus
  a little HTTP/db noise. The hardest case for the floor ratio: the protobuf runtime has
  the least to do per span, costline the same.
* `sdk` (~430 B/span): what the OTel Python SDK and the usual instrumentations export by
  default (HTTP server and DB client spans with their semconv attributes, chat spans as the
  GenAI instrumentations write them: request parameters, response id, finish reasons,
  server port; tool call ids; span flags and status; a full SDK resource).
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
        s = Span(
            trace_id=tid,
            span_id=os.urandom(8),
            name=name,
            kind=1,
            start_time_unix_nano=START + len(out) * 1000,
            end_time_unix_nano=START + len(out) * 1000 + 5_000_000,
        )
        if parent is not None:
            s.parent_span_id = parent.span_id
        _attrs(s, **kv)
        out.append(s)
        return s

    root = new(
        "POST /v1/chat",
        http__request__method="POST",
        url__path="/v1/chat",
        http__response__status_code=200,
        costline__feature=rng.choice(["search", "support", "summaries"]),
        costline__customer_id=f"cust-{rng.randrange(200)}",
        costline__user_id=f"user-{rng.randrange(5000)}",
    )
    agent = new("invoke_agent planner", root, gen_ai__operation__name="invoke_agent", gen_ai__agent__name="planner")
    while len(out) < spans_per_trace:
        kind = len(out) % 3
        if kind == 0:
            model = rng.choice(["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5"])
            new(
                f"chat {model}",
                agent,
                gen_ai__operation__name="chat",
                gen_ai__provider__name="anthropic" if model.startswith("claude") else "openai",
                gen_ai__request__model=model,
                gen_ai__response__model=model,
                server__address="api.example.com",
                gen_ai__usage__input_tokens=rng.randrange(100, 20_000),
                gen_ai__usage__output_tokens=rng.randrange(10, 2_000),
                gen_ai__usage__cache_read__input_tokens=rng.randrange(0, 50),
            )
        elif kind == 1:
            new("execute_tool search", agent, gen_ai__operation__name="execute_tool", gen_ai__tool__name="search")
        else:
            new(
                "SELECT orders",
                root,
                db__system__name="postgresql",
                db__query__text="SELECT * FROM orders WHERE id = $1",
                server__address="db.internal",
                server__port=5432,
            )
    return out[:spans_per_trace]


PROFILES = ("lean", "sdk")


def requests(
    n_requests: int,
    spans_per_request: int = 1000,
    spans_per_trace: int = 10,
    seed: int = 7,
    marker: bytes | None = None,
    profile: str = "lean",
) -> list[bytes]:
    if profile not in PROFILES:
        raise ValueError(f"unknown payload profile {profile!r} (one of {', '.join(PROFILES)})")
    rng = random.Random(seed)
    bodies = []
    for _ in range(n_requests):
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        kv = rs.resource.attributes.add(key="service.name")
        kv.value.string_value = "bench-app"
        ss = rs.scope_spans.add()
        ss.scope.name = "bench"
        if profile == "sdk":
            _sdk_resource(rs, ss)
        while len(ss.spans) < spans_per_request:
            spans = trace(rng, spans_per_trace, marker)
            if profile == "sdk":
                for s in spans:
                    _as_sdk_exports(s, rng)
            ss.spans.extend(spans)
        bodies.append(req.SerializeToString())
    return bodies


# -- the `sdk` profile: the same spans with what SDKs and instrumentations add by default -----------

_SERVER, _CLIENT, _INTERNAL = 2, 3, 1
_HAS_IS_REMOTE = 0x100  # SpanFlags: the exporter knows whether the parent was remote (the Python SDK sets it)


def _sdk_resource(rs, ss) -> None:
    _attrs_of(
        rs.resource,
        service__version="2.14.0",
        service__instance__id="0a6f4c1e-8d1b-4f7e-9b1c-2f1e6f9a7c3d",
        deployment__environment__name="production",
        telemetry__sdk__language="python",
        telemetry__sdk__name="opentelemetry",
        telemetry__sdk__version="1.39.0",
        telemetry__auto__version="0.60b0",
        host__name="bench-app-7d9f8c6b5-x2x9q",
        host__arch="amd64",
        os__type="linux",
        process__pid=4711,
        process__runtime__name="cpython",
        process__runtime__version="3.11.7",
    )
    ss.scope.version = "0.60b0"


def _attrs_of(target, **kv) -> None:
    for k, v in kv.items():
        a = target.attributes.add(key=k.replace("__", "."))
        if isinstance(v, bool):
            a.value.bool_value = v
        elif isinstance(v, int):
            a.value.int_value = v
        elif isinstance(v, float):
            a.value.double_value = v
        elif isinstance(v, list):
            a.value.array_value.values.add().string_value = v[0]
        else:
            a.value.string_value = str(v)


def _as_sdk_exports(s: Span, rng: random.Random) -> None:
    """Add what real instrumentation writes on a span of this kind (it keeps costline's attributes)."""
    s.flags = _HAS_IS_REMOTE | 0x01
    s.status.code = 1 if rng.random() < 0.9 else 0  # OK from most instrumentations, UNSET from some
    op = next((a.value.string_value for a in s.attributes if a.key == "gen_ai.operation.name"), "")
    if s.name.startswith("POST "):
        s.kind = _SERVER
        _attrs_of(
            s,
            url__scheme="https",
            http__route="/v1/chat",
            server__address="api.bench-app.internal",
            server__port=443,
            network__protocol__version="1.1",
            client__address="10.12.4.31",
            user_agent__original="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
        )
    elif op == "chat":
        s.kind = _CLIENT
        _attrs_of(
            s,
            gen_ai__request__temperature=0.2,
            gen_ai__request__max_tokens=4096,
            gen_ai__response__id=f"chatcmpl-{rng.getrandbits(96):024x}",
            gen_ai__response__finish_reasons=["stop"],
            server__port=443,
            gen_ai__output__type="text",
        )
    elif op == "execute_tool":
        _attrs_of(s, gen_ai__tool__call__id=f"call_{rng.getrandbits(96):024x}", gen_ai__tool__type="function")
    elif op == "invoke_agent":
        _attrs_of(s, gen_ai__agent__id="asst_planner_01", gen_ai__conversation__id=f"conv-{rng.getrandbits(48):012x}")
    elif s.name.startswith("SELECT"):
        s.kind = _CLIENT
        _attrs_of(
            s,
            db__namespace="orders",
            db__operation__name="SELECT",
            db__collection__name="orders",
            network__peer__address="10.12.8.5",
            network__peer__port=5432,
        )
