"""Scale-out: routing by trace ID keeps costline's trace work right across replicas, and a
split that ignores trace IDs breaks it.

Two real costline servers (the in-process harness, each exporting to its own OTLP
sink) stand for two replicas. A router in front of them stands for the gateway's
`load_balancing` exporter: it builds the hash ring from the host names in
collector-config/scale-out/gateway-static.yaml exactly as the contrib exporter does
(tests/deploy/trace_router.py) and maps each host name to one local replica. The
traffic is the realistic worst case: the spans of 40 traces, shuffled and cut into
requests of 1-6 spans, so children and parents of one trace arrive in different
requests, in any order.

Each trace: a root request span carrying the tags, an agent span that repeats its
children's token usage (costline marks it `aggregate_usage` and does not bill it), and
two priced model calls under it.
"""

from __future__ import annotations

import math
import random
import time
from decimal import Decimal

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from tests.deploy.support import GATEWAY_STATIC, load
from tests.deploy.trace_router import HashRing, split_by_trace
from tests.fakes.otlp_sink import OtlpSink
from tests.processor.harness import RunningServer, loopback_config

M = Decimal(1_000_000)
PRICES = {"gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")), "gpt-4o": (Decimal("2.50"), Decimal("10"))}
TRACES = 40
FEATURES = ("search", "support", "summaries")


def kv(key: str, value) -> KeyValue:
    if isinstance(value, bool):
        v = AnyValue(bool_value=value)
    elif isinstance(value, int):
        v = AnyValue(int_value=value)
    else:
        v = AnyValue(string_value=str(value))
    return KeyValue(key=key, value=v)


def call_cost(model: str, tokens_in: int, tokens_out: int) -> Decimal:
    pin, pout = PRICES[model]
    return (tokens_in * pin + tokens_out * pout) / M


def make_traces(rng: random.Random) -> tuple[list[Span], dict[str, dict]]:
    """All spans of TRACES traces, and per trace (hex id) what costline should write."""
    spans, expected = [], {}
    now = time.time_ns()
    for i in range(TRACES):
        tid = rng.randbytes(16)
        root_id, agent_id, a_id, b_id = (rng.randbytes(8) for _ in range(4))
        feature, customer = FEATURES[i % 3], f"customer-{i % 7}"
        calls = [("gpt-4o-mini", 1_000 * (i + 1), 100 + i), ("gpt-4o", 500 * (i + 2), 50 + i)]
        start = now - 2_000_000_000
        span = lambda sid, parent, name, kind, attrs, off: Span(
            trace_id=tid,
            span_id=sid,
            parent_span_id=parent,
            name=name,
            kind=kind,
            start_time_unix_nano=start + off,
            end_time_unix_nano=start + 1_000_000_000 - off,
            attributes=[kv(k, v) for k, v in attrs.items()],
        )
        spans.append(
            span(
                root_id,
                b"",
                "POST /chat",
                Span.SPAN_KIND_SERVER,
                {"costline.feature": feature, "costline.customer_id": customer},
                0,
            )
        )
        spans.append(
            span(
                agent_id,
                root_id,
                "invoke_agent assistant",
                Span.SPAN_KIND_INTERNAL,
                {
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.usage.input_tokens": sum(c[1] for c in calls),
                    "gen_ai.usage.output_tokens": sum(c[2] for c in calls),
                },
                1_000,
            )
        )
        for sid, (model, tin, tout) in zip((a_id, b_id), calls):
            spans.append(
                span(
                    sid,
                    agent_id,
                    f"chat {model}",
                    Span.SPAN_KIND_CLIENT,
                    {
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": model,
                        "gen_ai.usage.input_tokens": tin,
                        "gen_ai.usage.output_tokens": tout,
                    },
                    2_000,
                )
            )
        expected[tid.hex()] = {
            "feature": feature,
            "calls": {sid.hex(): call_cost(*c) for sid, c in zip((a_id, b_id), calls)},
            "total": sum((call_cost(*c) for c in calls), Decimal(0)),
        }
    return spans, expected


def requests_of(spans: list[Span], rng: random.Random) -> list[list[Span]]:
    """Shuffled and cut into requests of 1-6 spans: a trace's spans arrive apart."""
    spans = spans[:]
    rng.shuffle(spans)
    out = []
    while spans:
        n = rng.randint(1, 6)
        out.append(spans[:n])
        spans = spans[n:]
    return out


def export(endpoint: str, spans: list[Span]) -> None:
    req = trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[kv("service.name", "checkout")]), scope_spans=[ScopeSpans(spans=spans)]
            )
        ]
    )
    with grpc.insecure_channel(endpoint) as ch:
        resp = trace_service_pb2_grpc.TraceServiceStub(ch).Export(req, timeout=10)
    assert not resp.partial_success.rejected_spans


def run(mode: str) -> tuple[dict[str, list], dict[str, dict], list[int]]:
    """Send the same kind of traffic through `mode` ("trace-id" or "round-robin") to two
    fresh replicas; returns the spans each trace came out as (tagged with the replica),
    what was expected, and how many traces each replica received."""
    rng = random.Random(20261123 if mode == "trace-id" else 7)
    spans, expected = make_traces(rng)
    hostnames = load(GATEWAY_STATIC)["exporters"]["load_balancing/costline"]["resolver"]["static"]["hostnames"]
    ring = HashRing(hostnames)
    with (
        OtlpSink() as sink_a,
        OtlpSink() as sink_b,
        RunningServer(loopback_config(sink_a, trace_wait=0.4)) as a,
        RunningServer(loopback_config(sink_b, trace_wait=0.4)) as b,
    ):
        replica = dict(zip(sorted(hostnames), (a.grpc_endpoint, b.grpc_endpoint)))
        for n, request in enumerate(requests_of(spans, rng)):
            if mode == "trace-id":
                for tid, group in split_by_trace(request).items():
                    export(replica[ring.endpoint_for(tid)], group)
            else:
                export((a, b)[n % 2].grpc_endpoint, request)
        deadline = time.monotonic() + 20
        while len(sink_a.spans()) + len(sink_b.spans()) < len(spans) and time.monotonic() < deadline:
            time.sleep(0.05)
        out: dict[str, list] = {}
        for name, sink in (("a", sink_a), ("b", sink_b)):
            for s in sink.spans():
                s.replica = name
                out.setdefault(s.trace_id, []).append(s)
        received = [len({s.trace_id for s in sink.spans()}) for sink in (sink_a, sink_b)]
    assert sum(len(v) for v in out.values()) == len(spans), "every span comes out exactly once"
    return out, expected, received


def verdict(trace_spans: list, want: dict) -> dict:
    """What costline wrote for one trace, against what is true."""
    roots = [s for s in trace_spans if not s.parent_span_id]
    calls = [s for s in trace_spans if s.name.startswith("chat ")]
    billed = sum(Decimal(str(s.attributes.get("costline.cost.usd", 0))) for s in trace_spans)
    rollups = [s.attributes.get("costline.rollup.cost_usd") for s in roots]
    return {
        "split": len({s.replica for s in trace_spans}) > 1,
        "rollup_ok": len(roots) == 1
        and rollups[0] is not None
        and math.isclose(rollups[0], float(want["total"]), abs_tol=1e-12)
        and roots[0].attributes.get("costline.rollup.llm_calls") == 2,
        "calls_priced_ok": all(
            math.isclose(s.attributes["costline.cost.usd"], float(want["calls"][s.span_id]), abs_tol=1e-12)
            for s in calls
        ),
        "tags_ok": all(s.attributes.get("costline.feature") == want["feature"] for s in calls),
        "billed": billed,
        "billed_ok": math.isclose(float(billed), float(want["total"]), abs_tol=1e-12),
    }


@pytest.fixture(scope="module")
def routed():
    return run("trace-id")


@pytest.fixture(scope="module")
def round_robin():
    return run("round-robin")


def test_trace_id_routing_keeps_every_trace_on_one_replica(routed):
    out, expected, received = routed
    assert set(out) == set(expected)
    assert all(received), f"both replicas take traces: {received}"
    assert not [t for t, spans in out.items() if len({s.replica for s in spans}) > 1]


def test_trace_id_routing_keeps_rollups_tags_and_bills_right(routed):
    out, expected, _ = routed
    for tid, spans in out.items():
        v = verdict(spans, expected[tid])
        assert v["rollup_ok"], (tid, "root rollup differs from the sum of its calls")
        assert v["calls_priced_ok"] and v["tags_ok"] and v["billed_ok"], (tid, v)
        agent = next(s for s in spans if s.name.startswith("invoke_agent"))
        assert agent.attributes.get("costline.cost.status") == "aggregate_usage"
    total = sum(verdict(spans, expected[t])["billed"] for t, spans in out.items())
    assert total == sum(w["total"] for w in expected.values())


def test_a_split_that_ignores_trace_ids_breaks_rollups_tags_and_bills(round_robin):
    out, expected, received = round_robin
    verdicts = {tid: verdict(spans, expected[tid]) for tid, spans in out.items()}
    split = [t for t, v in verdicts.items() if v["split"]]
    assert split, "round-robin over requests splits traces"
    # each call is still priced on its own ...
    assert all(v["calls_priced_ok"] for v in verdicts.values())
    # ... but the trace-level work goes wrong for split traces, and only for them
    wrong_rollups = [t for t, v in verdicts.items() if not v["rollup_ok"]]
    assert wrong_rollups and set(wrong_rollups) <= set(split)
    assert [t for t, v in verdicts.items() if not v["tags_ok"]], "calls split from their root lose its tags"
    overbilled = [t for t, v in verdicts.items() if v["billed"] > expected[t]["total"]]
    assert overbilled, "an aggregate span split from its calls is billed as a call of its own"
    assert all(v["rollup_ok"] and v["tags_ok"] and v["billed_ok"] for t, v in verdicts.items() if t not in split)
    billed = sum(v["billed"] for v in verdicts.values())
    true = sum(w["total"] for w in expected.values())
    assert billed > true
    print(
        f"round-robin: {len(split)}/{TRACES} traces split, {len(wrong_rollups)} wrong rollups, "
        f"billed ${billed:.6f} for ${true:.6f} of calls"
    )


# -- the ring itself ------------------------------------------------------------------------
def trace_ids(n: int) -> list[bytes]:
    rng = random.Random(99)
    return [rng.randbytes(16) for _ in range(n)]


def test_ring_spreads_traces_evenly_over_the_configured_replicas():
    hostnames = load(GATEWAY_STATIC)["exporters"]["load_balancing/costline"]["resolver"]["static"]["hostnames"]
    ring = HashRing(hostnames)
    ids = trace_ids(20_000)
    counts = {h: 0 for h in hostnames}
    for t in ids:
        counts[ring.endpoint_for(t)] += 1
    for h, c in counts.items():
        assert abs(c / len(ids) - 1 / len(hostnames)) < 0.05, counts
    assert HashRing(list(reversed(hostnames))).endpoint_for(ids[0]) == ring.endpoint_for(ids[0]), "order-independent"


def test_resize_moves_only_routes_that_touch_the_changed_replica():
    two = HashRing(["costline-1:4317", "costline-2:4317"])
    three = HashRing(["costline-1:4317", "costline-2:4317", "costline-3:4317"])
    ids = trace_ids(20_000)
    moved = [(two.endpoint_for(t), three.endpoint_for(t)) for t in ids if two.endpoint_for(t) != three.endpoint_for(t)]
    assert {new for _, new in moved} == {"costline-3:4317"}, "scale-up: routes only move to the new replica"
    assert 0.25 < len(moved) / len(ids) < 0.42, "about 1/N of the traces move"
    back = [t for t in ids if three.endpoint_for(t) != two.endpoint_for(t)]
    assert all(three.endpoint_for(t) == "costline-3:4317" for t in back), (
        "scale-down: only the removed replica's routes move"
    )
