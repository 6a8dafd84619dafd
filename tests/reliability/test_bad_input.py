"""Issue #6, scenario 5, case by case over a real server on loopback: each bad input gets
its OTLP answer (or its unpriced status), a counted and logged reason, and a good model
call sent in the same request is still priced to the cent and exported."""

from __future__ import annotations

import logging
import os
from decimal import Decimal

import grpc
import pytest

from tests.fakes.otlp_sink import OtlpSink
from tests.processor.harness import RunningServer, loopback_config
from tests.processor.spans import llm, request, span

TRACE_PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
# gpt-4o-mini: $0.15 / $0.60 per million input / output tokens (published)
GOOD_COST = (Decimal(1234) * Decimal("0.15") + Decimal(567) * Decimal("0.60")) / 1_000_000


def send(endpoint: str, body: bytes):
    with grpc.insecure_channel(endpoint) as ch:
        return ch.unary_unary(TRACE_PATH, request_serializer=None, response_deserializer=None).with_call(
            body, timeout=30
        )


def good_call():
    t = os.urandom(16)
    root = span(t, "good root", span_id=os.urandom(8), costline__customer_id="acme")
    return [root, llm(t, root, model="gpt-4o-mini", input_tokens=1234, output_tokens=567, span_id=os.urandom(8))]


def bad_call(**usage):
    t = os.urandom(16)
    attrs = {
        "gen_ai__operation__name": "chat",
        "gen_ai__provider__name": "openai",
        "gen_ai__request__model": usage.pop("model", "gpt-4o-mini"),
        "gen_ai__usage__output_tokens": 10,
    }
    attrs.update(usage)
    return [span(t, "bad call", span_id=os.urandom(8), **attrs)]


def cycle():
    t = os.urandom(16)
    a, b = os.urandom(8), os.urandom(8)
    x = span(t, "cycle a", span_id=a)
    x.parent_span_id = b
    y = span(t, "cycle b", span_id=b)
    y.parent_span_id = a
    z = llm(t, x, model="gpt-4o-mini", input_tokens=10, output_tokens=1, span_id=os.urandom(8))
    return [x, y, z]


def duplicates():
    t = os.urandom(16)
    sid = os.urandom(8)
    return [
        span(t, "dup first", span_id=sid),
        span(t, "dup second", span_id=sid),
        llm(t, None, model="gpt-4o-mini", input_tokens=10, output_tokens=1, span_id=os.urandom(8)),
    ]


def deep_chain(depth: int = 3000):
    t = os.urandom(16)
    out = [span(t, "depth 0", span_id=os.urandom(8))]
    for i in range(1, depth):
        out.append(span(t, f"depth {i}", out[-1], span_id=os.urandom(8)))
    out.append(llm(t, out[-1], model="gpt-4o-mini", input_tokens=1000, output_tokens=0, span_id=os.urandom(8)))
    return out


def wide_trace(n: int = 10_000):
    t = os.urandom(16)
    root = span(t, "wide root", span_id=os.urandom(8))
    out = [root]
    for i in range(n - 1):
        if i % 3 == 0:
            out.append(llm(t, root, model="gpt-4o-mini", input_tokens=100, output_tokens=10, span_id=os.urandom(8)))
        else:
            out.append(span(t, "step", root, span_id=os.urandom(8)))
    return out


CASES = {
    # name: (spans, counter that must move, its label, status on the bad span or None)
    "nan tokens": (
        lambda: bad_call(gen_ai__usage__input_tokens=float("nan")),
        "llm_calls",
        "invalid_usage",
        "invalid_usage",
    ),
    "negative tokens": (
        lambda: bad_call(gen_ai__usage__input_tokens=-5),
        "llm_calls",
        "invalid_usage",
        "invalid_usage",
    ),
    "huge tokens": (
        lambda: bad_call(gen_ai__usage__input_tokens=10**13),
        "llm_calls",
        "invalid_usage",
        "invalid_usage",
    ),
    "unknown model": (
        lambda: bad_call(model="mystery-model-9000", gen_ai__usage__input_tokens=5),
        "llm_calls",
        "unknown_model",
        "unknown_model",
    ),
    "cyclic parents": (cycle, "broken_parent_links", "", None),
    "duplicate span ids": (duplicates, "broken_parent_links", "", None),
}


@pytest.fixture
def served(caplog):
    caplog.set_level(logging.WARNING, logger="costline")
    with OtlpSink() as sink, RunningServer(loopback_config(sink, trace_wait=0.2)) as srv:
        yield srv, sink


def check_good(sink, expected_total: int):
    spans = sink.wait_for_spans(expected_total, timeout=30)
    assert len(spans) == expected_total  # nothing lost, nothing sent twice
    good = [s for s in spans if s.name == "chat gpt-4o-mini" and s.attributes.get("costline.customer_id") == "acme"]
    assert len(good) == 1
    assert Decimal(str(good[0].attributes["costline.cost.usd"])).quantize(Decimal("1e-12")) == GOOD_COST.quantize(
        Decimal("1e-12")
    )
    return spans


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_span_is_counted_logged_and_leaves_its_neighbours_alone(served, caplog, case):
    srv, sink = served
    make, counter, label, status = CASES[case]
    bad = make()
    before = srv.stats.get(counter, label)
    send(srv.grpc_endpoint, request(good_call() + bad).SerializeToString())
    spans = check_good(sink, 2 + len(bad))
    assert srv.stats.get(counter, label) > before
    assert any(counter in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]
    if status:
        (b,) = [s for s in spans if s.name == "bad call"]
        assert b.attributes["costline.cost.status"] == status and "costline.cost.usd" not in b.attributes


def test_a_3000_deep_chain_is_rolled_up_without_recursion(served):
    srv, sink = served
    chain = deep_chain()
    send(srv.grpc_endpoint, request(good_call() + chain).SerializeToString())
    spans = {s.name: s for s in check_good(sink, 2 + len(chain))}
    expected = Decimal(1000) * Decimal("0.15") / 1_000_000
    assert abs(Decimal(str(spans["depth 0"].attributes["costline.rollup.cost_usd"])) - expected) < Decimal("1e-12")


def test_a_10000_span_trace_is_exported_whole_with_its_rollup(served):
    srv, sink = served
    wide = wide_trace()
    send(srv.grpc_endpoint, request(good_call() + wide).SerializeToString())
    spans = check_good(sink, 2 + len(wide))
    calls = sum(1 for s in wide if s.name == "chat gpt-4o-mini")
    expected = calls * (Decimal(100) * Decimal("0.15") + Decimal(10) * Decimal("0.60")) / 1_000_000
    (root,) = [s for s in spans if s.name == "wide root"]
    assert abs(Decimal(str(root.attributes["costline.rollup.cost_usd"])) - expected) < Decimal("1e-9")
    assert root.attributes["costline.rollup.llm_calls"] == calls


@pytest.mark.parametrize(
    "body,why",
    [
        (b"\x0a\x05\x12\x03\x12\x01", "truncated"),
        (b"\xff" * 64, "not protobuf"),
    ],
)
def test_a_request_that_does_not_parse_is_invalid_argument_and_counted(served, body, why):
    srv, sink = served
    with pytest.raises(grpc.RpcError) as e:
        send(srv.grpc_endpoint, body)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, why
    assert srv.stats.get("requests_refused") >= 1
    send(srv.grpc_endpoint, request(good_call()).SerializeToString())
    check_good(sink, 2)


def test_a_string_that_is_not_utf8_is_repaired_not_refused(served):
    """Since receive/utf8.py: the request is taken, its bad bytes become U+FFFD (tests/processor/test_invalid_utf8.py)."""
    srv, sink = served
    body = request([span(os.urandom(16), "x", span_id=os.urandom(8))]).SerializeToString().replace(b"x", b"\xff")
    send(srv.grpc_endpoint, body)
    assert srv.stats.get("strings_repaired", "invalid_utf8") == 1 and not srv.stats.get("requests_refused")
    send(srv.grpc_endpoint, request(good_call()).SerializeToString())
    check_good(sink, 3)
