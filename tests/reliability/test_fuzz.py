"""Property-based fuzzing of everything a sender controls: bytes, JSON, span graphs, attributes.

Whatever arrives, costline answers with a RequestError (a clear OTLP status) or accepts;
it never crashes, and every span it accepts is exported exactly once.
"""

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline_processor.config import Config
from costline_processor.pipeline import Pipeline
from costline_processor.pricing import Pricer
from costline_processor.receive import decode
from costline_processor.receive.errors import RequestError
from tests.processor.spans import set_value

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_PRICER = Pricer(Config().pricing)

KEYS = [
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.provider.name",
    "gen_ai.system",
    "gen_ai.operation.name",
    "llm.token_count.prompt",
    "llm.token_count.completion",
    "llm.model_name",
    "ai.usage.promptTokens",
    "openinference.span.kind",
    "traceloop.span.kind",
    "costline.feature",
    "costline.customer_id",
    "costline.step.name",
    "gen_ai.agent.name",
    "costline.cost.usd",
    "costline.rollup.cost_usd",
    "gen_ai.usage.cost",
    "telemetry.sdk.name",
    "server.address",
    "user.id",
    "traceloop.association.properties.customer_id",
    "openai.response.service_tier",
    "random.key",
]
VALUES = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.booleans(),
    st.sampled_from(
        [
            "gpt-4o",
            "claude-sonnet-4-5",
            "openai",
            "anthropic",
            "chat",
            "invoke_agent",
            "LLM",
            "AGENT",
            "mystery-model",
            "NaN",
            "-1",
        ]
    ),
)


class CapturingQueue:
    saturated = False

    def __init__(self):
        self.bodies = []

    def put(self, batch):
        self.bodies.append(batch.body)


def run_pipeline(bodies):
    cfg = Config()
    cfg.assembly.trace_wait_s = 1e9
    cfg.assembly.max_traces = 4  # small bounds so early flushes happen too
    cfg.assembly.max_spans = 16
    p = Pipeline(cfg, _PRICER)
    q = CapturingQueue()
    p.queues = [q]
    accepted = 0
    for body in bodies:
        try:
            req = decode.parse_protobuf(ExportTraceServiceRequest, body)
        except RequestError:
            continue
        rejected, _ = p.accept_traces(req)
        accepted += sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans) - rejected
    p._flush(p.buffer.drain())
    exported = [
        s
        for b in q.bodies
        for rs in ExportTraceServiceRequest.FromString(b).resource_spans
        for ss in rs.scope_spans
        for s in ss.spans
    ]
    return accepted, exported


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_crash_the_protobuf_path(body):
    try:
        decode.decode(ExportTraceServiceRequest, body, "application/x-protobuf", None, 1 << 20)
    except RequestError:
        pass
    run_pipeline([body])


JSONS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceSpans",
                    "scopeSpans",
                    "spans",
                    "traceId",
                    "spanId",
                    "attributes",
                    "key",
                    "value",
                    "intValue",
                    "stringValue",
                    "kind",
                    "status",
                    "code",
                    "name",
                    "startTimeUnixNano",
                    "arrayValue",
                    "values",
                    "kvlistValue",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@FUZZ
@given(JSONS)
def test_arbitrary_json_is_decoded_or_refused(doc):
    try:
        body = json.dumps(doc, allow_nan=True).encode()
        decode.decode(ExportTraceServiceRequest, body, "application/json", None, 1 << 20)
    except RequestError:
        pass


@st.composite
def span_graphs(draw):
    """Spans over a few traces and IDs: parents that loop, repeat, point nowhere."""
    ids = [bytes([i + 1]) * 8 for i in range(draw(st.integers(1, 12)))]
    traces = [bytes([t + 1]) * 16 for t in range(draw(st.integers(1, 3)))]
    spans = []
    for _ in range(draw(st.integers(1, 25))):
        s = Span(
            trace_id=draw(st.sampled_from(traces)),
            span_id=draw(st.sampled_from(ids)),
            name=draw(st.text(max_size=10)),
            start_time_unix_nano=draw(st.integers(0, 2**64 - 1)),
            end_time_unix_nano=draw(st.integers(0, 2**64 - 1)),
        )
        if draw(st.booleans()):
            s.parent_span_id = draw(st.sampled_from(ids + [b"\x09" * 8, b"\x01\x02"]))
        for key, value in draw(st.lists(st.tuples(st.sampled_from(KEYS), VALUES), max_size=8)):
            set_value(s.attributes.add(key=key), value)
        spans.append(s)
    return spans


@FUZZ
@given(st.lists(span_graphs(), min_size=1, max_size=3))
def test_any_span_graph_is_exported_exactly_once(batches):
    bodies = []
    for spans in batches:
        req = ExportTraceServiceRequest()
        req.resource_spans.add().scope_spans.add().spans.extend(spans)
        bodies.append(req.SerializeToString())
    accepted, exported = run_pipeline(bodies)
    assert len(exported) == accepted
    for s in exported:
        attrs = {kv.key: kv.value for kv in s.attributes}
        if "costline.cost.usd" in attrs and attrs["costline.cost.usd"].WhichOneof("value") == "double_value":
            cost = attrs["costline.cost.usd"].double_value
            # a cost costline wrote is finite and never negative, whatever the tokens said
            if "costline.price.source" in attrs:
                assert math.isfinite(cost) and cost >= 0


def test_invalid_utf8_in_a_string_field_is_refused_cleanly():
    # Span.name (field 5) with bytes that are not UTF-8, framed by hand
    bad_span = b"\x0a\x10" + b"\x01" * 16 + b"\x12\x08" + b"\x02" * 8 + b"\x2a\x02\xff\xfe"
    body = (
        b"\x0a"
        + bytes([len(bad_span) + 4])
        + b"\x12"
        + bytes([len(bad_span) + 2])
        + b"\x12"
        + bytes([len(bad_span)])
        + bad_span
    )
    try:
        decode.parse_protobuf(ExportTraceServiceRequest, body)
    except RequestError as e:
        assert e.http_status == 400
    else:
        raise AssertionError("invalid UTF-8 was accepted")
