"""Differential check for hot-path work: one digest of everything the pipeline outputs.

Runs a fixed corpus through `Pipeline` in process (no sockets) and hashes every exported
request body, every ledger row and the stats snapshot. A change that is meant to only
make things faster must leave the digest identical:

  python benchmarks/support/differential.py            # prints the digest (and per-part digests)
  python benchmarks/support/differential.py --expect HEX   # exit 1 when it differs

The corpus: the benchmark payloads (IDs from a seeded generator, so runs agree), every
dialect case of tests/processor/test_serve_costs.py under a tagged root, spans carrying
costline's own output attributes (rewrites), late spans after their trace was flushed
(calls under a call priced earlier included),
cycles / self-parents / duplicate IDs, invalid IDs, non-canonical field order and
unusual KeyValue layouts, mapped tags (aliases, prefixes), a tag policy (trust, hash,
drop), several resources and scopes with schema URLs, 3 000-span traces, and export
batch sizes 7 and 2 048.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))  # `tests.processor.*`, run from a checkout

_rng = random.Random(1234)
os.urandom = lambda n: _rng.randbytes(n)  # every generated ID reproducible (payloads, tests' helpers)

import payloads  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from opentelemetry.proto.trace.v1.trace_pb2 import Span  # noqa: E402

from costline_processor.config import Config, attribute_names  # noqa: E402
from costline_processor.pipeline import Pipeline  # noqa: E402
from costline_processor.pricing import Pricer  # noqa: E402
from costline_processor.wire.varint import varint  # noqa: E402


def _tests():
    try:
        from tests.processor import spans as helpers
        from tests.processor.test_serve_costs import CASES
    except ImportError:
        sys.path.insert(0, str(ROOT))
        from tests.processor import spans as helpers
        from tests.processor.test_serve_costs import CASES
    return helpers, CASES


class ListSink:
    acknowledges = False

    def __init__(self):
        self.rows = []

    def write(self, rows, on_commit=None):
        self.rows.extend(rows)
        if on_commit:
            on_commit()

    def close(self, timeout=None):
        pass


class Capture:
    saturated = False

    def __init__(self):
        self.bodies = []

    def put(self, batch):
        self.bodies.append((batch.signal, batch.spans, batch.body))


def _field(tag: int, payload: bytes) -> bytes:
    return bytes([tag]) + varint(len(payload)) + payload


def _request_of(spans, service="checkout", scope="test", resource_schema="", scope_schema="", version=""):
    h, _ = _tests()
    req = h.request(spans, service, scope)
    rs = req.resource_spans[0]
    rs.schema_url = resource_schema
    rs.scope_spans[0].schema_url = scope_schema
    rs.scope_spans[0].scope.version = version
    return req


def dialect_requests() -> list[bytes]:
    h, CASES = _tests()
    out = []
    for scope in ("app", "openinference.instrumentation.openai", "openlit", "pydantic-ai", "costline.openai"):
        t = h.new_trace_id()
        root = h.span(t, "POST /chat", costline__feature="support", costline__customer_id="acme")
        spans = [root]
        for name, (attrs, _) in CASES.items():
            s = h.span(t, name, root)
            for k, v in attrs.items():
                h.set_value(s.attributes.add(key=k), v)
            spans.append(s)
        # split over two requests and two resources, in reverse order
        half = len(spans) // 2
        h.set_value(spans[-1].attributes.add(key="costline.customer_id"), "evil")  # not trusted from support-bot
        h.set_value(spans[-2].attributes.add(key="user.id"), "u-2")
        out.append(
            _request_of(spans[half:][::-1], "support-bot", scope, "https://r", "https://s", "1.2").SerializeToString()
        )
        out.append(_request_of(spans[:half], "other-svc", scope).SerializeToString())
    return out


def assembly_requests() -> list[list[bytes]]:
    """Rounds of requests; the pipeline flushes everything between rounds (late spans)."""
    h, _ = _tests()
    rounds: list[list[bytes]] = [[], [], []]
    # inheritance, rollups, agent paths, aggregates (usage on a parent)
    t = h.new_trace_id()
    root = h.span(
        t,
        "root",
        costline__feature="search",
        user__id="u-7",
        traceloop__association__properties__team="core",
        session__id="s-1",
    )
    agent = h.span(t, "agent", root, gen_ai__operation__name="invoke_agent", gen_ai__agent__name="planner")
    step = h.span(t, "retriever", agent, costline__step__name="retriever")
    parent_call = h.llm(t, step, input_tokens=900)
    child_call = h.llm(t, parent_call, model="claude-sonnet-4-5", provider="anthropic", input_tokens=300_000)
    oi = h.span(t, "oi agent", agent, openinference__span__kind="AGENT", agent__name="oi")
    tool = h.span(t, "tool", oi, openinference__span__kind="TOOL", tool__name="search")
    tlw = h.span(t, "tlw", tool, traceloop__span__kind="workflow", traceloop__entity__name="wf")
    vtool = h.span(t, "vtool", tlw, ai__operationId="ai.toolCall", ai__toolCall__name="calc")
    leaf = h.llm(t, vtool, model="gpt-4o-mini", costline__customer_id="initech", enduser__id="e-1")
    nomodel = h.span(t, "chat ?", vtool, gen_ai__operation__name="chat", gen_ai__request__model="mystery")
    rounds[0].append(_request_of([leaf, root, agent, step, parent_call, child_call]).SerializeToString())
    rounds[0].append(_request_of([oi, tool, tlw, vtool, nomodel]).SerializeToString())
    # late spans for the same trace, and a late span whose parent was never seen
    rounds[1].append(
        _request_of(
            [h.llm(t, step, input_tokens=5), h.llm(t, tool, input_tokens=6), h.span(t, "orphan", h.span(t, "ghost"))]
        ).SerializeToString()
    )
    # the reverse: a call priced first (nothing below it yet), its calls late (billed_in_parent), and deeper
    t6 = h.new_trace_id()
    framework_call = h.llm(t6, None, input_tokens=7_000, costline__feature="late")
    http = h.span(t6, "POST /v1/chat/completions", framework_call)
    late_calls = [h.llm(t6, framework_call, input_tokens=3_000), h.llm(t6, http, input_tokens=4_000)]
    rounds[0].append(_request_of([framework_call, http]).SerializeToString())
    rounds[1].append(_request_of(late_calls).SerializeToString())
    rounds[2].append(_request_of([h.llm(t6, late_calls[0], input_tokens=1_000)]).SerializeToString())
    # rewrites: spans arriving with costline's output attributes
    t2 = h.new_trace_id()
    r2 = h.span(t2, "r2", costline__feature="x", costline__cost__usd=1.5, costline__rollup__llm_calls=3)
    c2 = h.llm(t2, r2, gen_ai__usage__cost=0.25, costline__agent__path="old")
    c3 = h.llm(t2, r2, costline__price__model="zzz")
    rounds[0].append(_request_of([r2, c2, c3]).SerializeToString())
    # cycles, self-parent, duplicates
    t3 = h.new_trace_id()
    a = h.span(t3, "a", span_id=b"\x00" * 7 + b"\x0a")
    b = h.span(t3, "b", span_id=b"\x00" * 7 + b"\x0b")
    a.parent_span_id, b.parent_span_id = b.span_id, a.span_id
    selfp = h.span(t3, "self", span_id=b"\x00" * 7 + b"\x0c")
    selfp.parent_span_id = selfp.span_id
    c = h.llm(t3, a, input_tokens=500)
    dup = h.span(t3, "dup", span_id=a.span_id, costline__feature="dup")
    rounds[0].append(_request_of([a, b, selfp, c, dup]).SerializeToString())
    # invalid IDs
    t4 = h.new_trace_id()
    bad = [
        h.span(b"\0" * 16, "zero trace"),
        h.span(t4, "zero span", span_id=b"\0" * 8),
        h.span(t4, "ok"),
        Span(trace_id=b"\x01" * 15, span_id=b"\x02" * 8, name="short trace"),
        Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 7, name="short span"),
        Span(name="no ids"),
    ]
    rounds[0].append(_request_of(bad).SerializeToString())
    # non-canonical field order and unusual KeyValue layouts, by hand
    t5, s1, s2, s3 = b"\x05" * 16, b"\x06" * 8, b"\x07" * 8, b"\x08" * 8
    model = h.span(t5, "x", gen_ai__request__model="gpt-4o").attributes[0].SerializeToString()
    usage = h.span(t5, "x", gen_ai__usage__input_tokens=1234).attributes[0].SerializeToString()
    op = h.span(t5, "x", gen_ai__operation__name="chat").attributes[0].SerializeToString()
    swapped = model[model.index(b"\x12") :] + model[: model.index(b"\x12")]
    attrs = _field(0x4A, op) + _field(0x4A, usage) + _field(0x4A, b"\x0a\x03abc" + model)
    spans_raw = [
        _field(0x0A, t5) + _field(0x12, s1) + _field(0x2A, b"root") + _field(0x4A, op + b"\x12\x02\x18\x07"),
        _field(0x12, s2) + _field(0x0A, t5) + _field(0x22, s1) + _field(0x2A, b"chat") + attrs,
        _field(0x0A, t5)
        + _field(0x12, s3)
        + _field(0x1A, b"k=v")
        + _field(0x22, s2)
        + _field(0x2A, b"chat2")
        + _field(0x4A, op)
        + _field(0x4A, swapped)
        + _field(0x4A, usage),
        _field(0x0A, t5)
        + _field(0x12, b"\x09" * 8)
        + _field(0x2A, b"after")
        + _field(0x22, s3)
        + _field(0x4A, h.span(t5, "x", **{"costline__" + "k" * 300: "v"}).attributes[0].SerializeToString()),
    ]
    res = _request_of([]).resource_spans[0]
    scope_spans = _field(0x0A, res.scope_spans[0].scope.SerializeToString()) + b"".join(
        _field(0x12, s) for s in spans_raw
    )
    body = _field(0x0A, _field(0x0A, res.resource.SerializeToString()) + _field(0x12, scope_spans))
    ExportTraceServiceRequest.FromString(body)
    rounds[0].append(body)
    # a 3 000-span trace: a fan-out with calls, and a chain
    t6 = h.new_trace_id()
    root6 = h.span(t6, "big", costline__feature="bulk")
    big = [root6] + [
        h.llm(t6, root6, input_tokens=i + 1) if i % 3 == 0 else h.span(t6, f"s{i}", root6, http__x=i)
        for i in range(2999)
    ]
    rounds[0].append(_request_of(big).SerializeToString())
    t7 = h.new_trace_id()
    chain = [h.span(t7, "c0", costline__customer_id="deep")]
    for i in range(1, 3000):
        chain.append(h.span(t7, f"c{i}", chain[-1]) if i % 500 else h.llm(t7, chain[-1], input_tokens=i))
    rounds[0].append(_request_of(chain[::-1]).SerializeToString())
    # another scope of an existing resource, a trace spread over two requests
    t8 = h.new_trace_id()
    r8 = h.span(t8, "r8", costline__feature="spread")
    rounds[0].append(_request_of([r8], scope="s1").SerializeToString())
    rounds[0].append(_request_of([h.llm(t8, r8)], scope="s2", version="9").SerializeToString())
    rounds[2].append(_request_of([h.llm(t8, r8, input_tokens=77)], scope="s2", version="9").SerializeToString())
    # twins: one provider call traced by three libraries side by side (same response id; no id), a fan-out of
    # look-alike calls of one scope, a twin arriving a round later, an orphan call under the tagged root
    t9 = h.new_trace_id()
    r9 = h.span(t9, "r9", costline__feature="twins", costline__customer_id="acme")
    sdk = h.llm(
        t9,
        r9,
        model="claude-sonnet-4-5",
        provider="anthropic",
        input_tokens=1_500,
        gen_ai__response__id="msg_t9",
        gen_ai__usage__cache_read__input_tokens=1_000,
    )
    same_id = h.llm(
        t9, r9, model="claude-sonnet-4-5", provider="anthropic", input_tokens=1_500, gen_ai__response__id="msg_t9"
    )
    no_id = h.llm(t9, r9, model="claude-sonnet-4-5", provider="anthropic", input_tokens=1_500)
    fan = [h.llm(t9, r9, input_tokens=42) for _ in range(3)]
    rounds[0].append(_request_of([r9, *fan], scope="app").SerializeToString())
    rounds[0].append(_request_of([sdk], scope="com.anthropic.sdk.python").SerializeToString())
    rounds[0].append(_request_of([same_id], scope="opentelemetry.instrumentation.anthropic").SerializeToString())
    rounds[0].append(
        _request_of(
            [no_id, h.llm(t9, h.span(t9, "sampled out", r9), input_tokens=9)],
            scope="openinference.instrumentation.anthropic",
        ).SerializeToString()
    )
    rounds[1].append(
        _request_of(
            [
                h.llm(
                    t9,
                    r9,
                    model="claude-sonnet-4-5",
                    provider="anthropic",
                    input_tokens=1_500,
                    gen_ai__response__id="msg_t9",
                )
            ],
            scope="late.lib",
        ).SerializeToString()
    )
    return rounds


BACKEND_NAMES: list[str] | None = None  # --backend-user-attributes: None keeps the config's default


def run(rounds: list[list[bytes]], cfg: Config, pricer: Pricer, batch: int) -> tuple[list, list, dict]:
    cfg.assembly.trace_wait_s = 1e9
    if BACKEND_NAMES is not None:
        cfg.tagging.backend_user_attributes = BACKEND_NAMES
    cfg.export.batch_spans = batch
    sink = ListSink()
    p = Pipeline(cfg, pricer, sinks=[sink])
    q = Capture()
    p.queues = [q]
    for bodies in rounds:
        for b in bodies:
            ExportTraceServiceRequest.FromString(b)
            p.accept_traces(b)
        p._flush(p.buffer.drain())
    return q.bodies, sink.rows, p.stats.snapshot()


def digest(verbose: bool = False) -> str:
    pricer = Pricer(Config().pricing)
    bench = payloads.requests(12)
    bench_small = payloads.requests(2, spans_per_request=333, spans_per_trace=7, seed=3)
    dialects = dialect_requests()
    assembly = assembly_requests()
    key_file = Path(tempfile.mkdtemp()) / "hash.key"
    key_file.write_bytes(b"0123456789abcdef0123456789abcdef\n")

    def policy_cfg():
        cfg = Config()
        cfg.tagging.trust = {"support-bot": ["feature"], "*": ["*"]}
        cfg.tagging.hash = ["user_id"]
        cfg.tagging.drop = ["session_id"]
        cfg.tagging.hash_key_file = str(key_file)
        return cfg

    def no_cost_cfg():
        cfg = Config()
        cfg.pricing.write_gen_ai_usage_cost = False
        cfg.tagging.required = ["feature", "team"]
        return cfg

    runs = [
        ("bench", [bench], Config, 2048),
        ("bench-b7", [bench_small + bench[:2]], Config, 7),
        ("dialects", [dialects], Config, 2048),
        ("dialects-b7", [dialects], Config, 7),
        ("assembly", assembly, Config, 2048),
        ("assembly-b7", assembly, Config, 7),
        ("policy", [dialects + [b for r in assembly for b in r]], policy_cfg, 2048),
        ("policy-b7", assembly, policy_cfg, 7),
        ("no-gen-ai-cost", [dialects] + assembly, no_cost_cfg, 64),
    ]
    total = hashlib.sha256()
    for name, rounds, make_cfg, batch in runs:
        bodies, rows, stats = run(rounds, make_cfg(), pricer, batch)
        h = hashlib.sha256()
        for signal, n, body in bodies:
            h.update(f"{signal} {n} {len(body)}\n".encode())
            h.update(body)
        for row in rows:
            h.update(repr(row).encode())
        h.update(repr(stats).encode())
        total.update(h.digest())
        if verbose:
            print(
                f"{name:16} {h.hexdigest()[:16]}  requests {len(bodies)}, spans {sum(b[1] for b in bodies)}, "
                f"rows {len(rows)}"
            )
    return total.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--expect", help="exit 1 unless the digest equals this")
    ap.add_argument(
        "--backend-user-attributes",
        metavar="NAMES",
        help="run every config with this tagging.backend_user_attributes ('off': none; default: the config's)",
    )
    args = ap.parse_args()
    if args.backend_user_attributes is not None:
        global BACKEND_NAMES
        BACKEND_NAMES = attribute_names(args.backend_user_attributes)
    logging.getLogger("costline").setLevel(logging.ERROR)  # first-seen notes of the corpus' bad cases
    d = digest(verbose=True)
    print(d)
    if args.expect and d != args.expect:
        print("DIFFERENT", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
