"""The hot path's shortcuts give what the plain path gives: encodings, attribute reading, framing."""

import os
import random

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline_processor.assembly.buffer import SPAN_OVERHEAD, TraceBuffer
from costline_processor.assembly.reader import SpanReader
from costline_processor.assembly.rollup import assemble_trace
from costline_processor.assembly.steps import step_name
from costline_processor.assembly.tags import OUTPUT_KEYS, OUTPUT_PREFIXES, TagReader
from costline_processor.config import AssemblyConfig, TaggingConfig
from costline_processor.intake import Intake
from costline_processor.normalize import normalize_span
from costline_processor.wire import attributes as encode
from costline_processor.wire import framing
from costline_processor.wire.keyvalue import decode_value
from costline_processor.wire.span import ids
from costline_processor.wire.varint import uvarint, varint
from tests.processor.spans import llm, new_trace_id, request, set_value, span

INTERESTING = [
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.provider.name",
    "gen_ai.system",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "llm.token_count.prompt",
    "llm.model_name",
    "openinference.span.kind",
    "costline.feature",
    "costline.customer_id",
    "costline.step.name",
    "costline.cost.usd",
    "gen_ai.usage.cost",
    "user.id",
    "server.address",
    "traceloop.association.properties.team",
    "telemetry.sdk.name",
    "ai.usage.promptTokens",
    "ai.model.id",
    "gen_ai.agent.name",
    "costline.usage.missing",
    "openai.response.service_tier",
]
values = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["chat", "gpt-4o", "openai", "LLM", "AGENT", "openlit", "execute_tool"]),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=0, max_value=300),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=5), max_size=3),
    st.binary(max_size=5),
    st.none(),
)
attrs = st.lists(st.tuples(st.one_of(st.sampled_from(INTERESTING), st.text(max_size=12)), values), max_size=10)


def _span_with(pairs, name="s"):
    s = Span(
        trace_id=os.urandom(16), span_id=os.urandom(8), name=name, kind=2, start_time_unix_nano=5, end_time_unix_nano=9
    )
    for k, v in pairs:
        set_value(s.attributes.add(key=k), v)
    return s


def _oracle(span: Span, tags: TagReader, scope: str):
    """What the reader must answer, from the protobuf runtime's view of the span."""
    reader = SpanReader(tags)
    picked = {}
    for kv in span.attributes:
        if kv.key in reader.keys or kv.key.startswith(reader.prefixes):
            picked[kv.key] = decode_value(kv.value)
    if not picked:
        return None
    call = normalize_span(picked, scope_name=scope, scope_version="", span_name=span.name, span_kind=span.kind)
    t, own = tags.read(picked)
    step = step_name(picked, span.name)
    rewrite = any(k in OUTPUT_KEYS or k.startswith(OUTPUT_PREFIXES) for k in picked)
    # the names tags are copied to for backends that the span carries itself (any value, even none), as (name,)
    own = own | {(k,) for k in picked if tags.backend is not None and k in tags.backend.keys}
    if call is None and t is None and step is None and not rewrite and not own:
        return None
    return (span.name, span.start_time_unix_nano, span.end_time_unix_nano, t, own, step, call, rewrite)


@settings(max_examples=300, deadline=None)
@given(attrs)
def test_reader_reads_what_the_runtime_reads(pairs):
    tags = TagReader(TaggingConfig())
    reader = SpanReader(tags)
    s = _span_with(pairs)
    origin = (b"", "", b"", "", "svc", "bench", "")
    for _ in range(2):  # the second read comes from the attribute cache
        info = reader.read(s.SerializeToString(), origin)
        got = None if info is None else tuple(info)
        assert got == _oracle(s, tags, "bench")


def _read(reader, d, origin):
    info = reader.read(d, origin)
    return None if info is None else tuple(info)


def test_reader_handles_unusual_keyvalue_layouts():
    tags = TagReader(TaggingConfig())
    reader = SpanReader(tags)
    origin = (b"", "", b"", "", "svc", "bench", "")
    model = KeyValue(key="gen_ai.request.model")
    model.value.string_value = "gpt-4o"
    kv = model.SerializeToString()
    swapped = kv[kv.index(b"\x12") :] + kv[: kv.index(b"\x12")]  # value before key
    twice = b"\x0a\x03abc" + kv  # key twice: the last wins
    long_key = KeyValue(key="costline." + "k" * 300)  # two-byte length
    long_key.value.string_value = "v"
    two_values = kv + b"\x12\x02\x18\x07"  # a second value: the last wins
    base = _span_with([("gen_ai.usage.input_tokens", 300), ("gen_ai.operation.name", "chat")], name="chat")
    for extra in (swapped, twice, long_key.SerializeToString(), two_values, b""):
        d = base.SerializeToString() + b"\x4a" + varint(len(extra)) + extra
        assert _read(reader, d, origin) == _oracle(Span.FromString(d), tags, "bench")
        assert _read(reader, d, origin) == _oracle(Span.FromString(d), tags, "bench")  # cached


@given(st.text(max_size=40), st.floats(allow_nan=False), st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_cached_encodings_equal_the_plain_ones(key, x, n):
    assert encode.double_attribute(key, x) == encode.attribute(key, x)
    assert encode.int_attribute(key, n) == encode.attribute(key, n)
    assert encode.string_attribute(key, key) == encode.attribute(key, key)
    assert uvarint(n & ((1 << 64) - 1)) == varint(n & ((1 << 64) - 1))
    keys = ("a", key, "costline.cost.usd", "b" * 200, "")
    pack = encode.doubles_packer(keys)
    assert pack(x, 1.5, -x, 0.0, 1e-300) == encode.attributes(zip(keys, (x, 1.5, -x, 0.0, 1e-300)))


def test_request_framing_matches_nested_framing():
    rng = random.Random(3)
    origins = []
    for r in range(3):
        res = Resource()
        res.attributes.add(key="service.name").value.string_value = f"svc{r}"
        for sc in range(2):
            scope = InstrumentationScope(name=f"lib{sc}", version="1")
            origins.append(
                (
                    res.SerializeToString(),
                    f"https://r{r % 2}" if r else "",
                    scope.SerializeToString(),
                    "https://s" if sc else "",
                    f"svc{r}",
                    f"lib{sc}",
                    "1",
                )
            )
    spans = [(os.urandom(rng.randrange(1, 300)), rng.choice(origins)) for _ in range(200)]
    groups: dict = {}
    for d, o in spans:
        g = groups.setdefault(o, [[], 0])
        g[0] += [framing.span_field_prefix(len(d)), d]
        g[1] += len(framing.span_field_prefix(len(d))) + len(d)
    by_res: dict = {}
    for o in groups:
        by_res.setdefault((o[0], o[1]), []).append(o)
    expected = framing.export_request(
        [
            framing.resource_spans(
                res, [framing.scope_spans(o[2], [d for d, oo in spans if oo == o], o[3]) for o in scopes], schema
            )
            for (res, schema), scopes in by_res.items()
        ]
    )
    assert framing.request(groups) == expected


def test_appended_bytes_are_the_encoded_additions():
    t = new_trace_id()
    root = span(t, "POST /chat", costline__feature="support", user__id="u-1")
    agent = span(t, "invoke_agent planner", root, gen_ai__operation__name="invoke_agent", gen_ai__agent__name="planner")
    calls = [llm(t, agent, input_tokens=100 * i + 1, output_tokens=2**i) for i in range(1, 12)]
    tool = span(t, "execute_tool", agent, gen_ai__operation__name="execute_tool", gen_ai__tool__name="search")
    deep = llm(t, tool, model="no-such-model", input_tokens=5, costline__customer_id="acme")
    plain = span(t, "SELECT", agent, db__system__name="postgresql")
    it = Intake()
    pairs, _, _ = it.spans(request([root, agent, *calls, tool, deep, plain]))
    buffered = [b for _, b in pairs]

    class Pricer:
        def price(self, call, start, duration):
            from decimal import Decimal

            from costline_processor.records import Cost, Unpriced

            if call.model == "no-such-model":
                return Unpriced("unknown_model")
            c = Decimal(call.usage.input_tokens) / 3
            caveat = "tier_unpriced:priority" if call.usage.output_tokens == 2 else None  # one call of eleven
            return Cost(c, c / 2, c / 2, Decimal(0), Decimal(0), call.model, "openai", "test", caveat)

    for write in (True, False):
        result = assemble_trace(t, buffered, {}, TaggingConfig(), Pricer().price, write)
        assert [encode.attributes(a) for a in result.additions] == result.appended
        assert any(result.appended)
        caveats = [dict(a).get("costline.price.caveat") for a in result.additions]
        assert caveats.count("tier_unpriced:priority") == 1 and sum(c is not None for c in caveats) == 1


def test_late_span_context_is_what_each_span_passes_down():
    """assemble_trace's `remember` (built lazily) against contexts written out by hand: each span with
    tags or an agent path, a parent outside the flush that has a billed call below it, and the priced
    calls, which pass on that a call arriving under them later repeats usage they billed."""
    from costline_processor.assembly.context import ROOT_KEY, Inherited
    from costline_processor.config import PricingConfig
    from costline_processor.pricing import Pricer

    t = new_trace_id()
    root = span(t, "POST /chat", costline__feature="search")
    agent = span(t, "invoke_agent planner", root, gen_ai__operation__name="invoke_agent", gen_ai__agent__name="planner")
    call = llm(t, agent, input_tokens=10)
    elsewhere = span(t, "not in this flush")
    orphan = llm(t, elsewhere, input_tokens=20)
    plain = span(t, "plain")
    pairs, _, _ = Intake().spans(request([root, agent, call, orphan, plain]))
    a = assemble_trace(t, [b for _, b in pairs], {}, TaggingConfig(), Pricer(PricingConfig()).price)
    cfg = TaggingConfig()
    untagged = {r: cfg.default for r in cfg.required}  # spans with billed calls at or below them get the defaults
    tags = {**untagged, "feature": "search"}
    by_span = {k: v for k, v in a.remember.items() if type(k) is bytes and len(k) == 8}
    assert by_span == {
        root.span_id: Inherited(tags, ()),
        agent.span_id: Inherited(tags, ("planner",)),
        call.span_id: Inherited(tags, ("planner",), billed_above=True),
        orphan.span_id: Inherited(tags, (), billed_above=True),  # its parent is missing: the root's tags
        elsewhere.span_id: Inherited({}, (), True),
    }
    assert a.remember.get(plain.span_id) is None and plain.span_id not in a.remember
    # the trace's root tags, for a later orphan; each billed call's identity, for a later twin (twins.py)
    assert a.remember[ROOT_KEY] == Inherited({"feature": "search"}, ())
    billed = {k: v for k, v in a.remember.items() if type(k) is tuple}
    assert set(billed) == {("usage", agent.span_id, 10, 100), ("usage", elsewhere.span_id, 20, 100)}
    assert [b.span_id for b in billed[("usage", agent.span_id, 10, 100)]] == [call.span_id]


def test_intake_groups_by_trace_and_rejects_bad_ids():
    t1, t2 = new_trace_id(), new_trace_id()
    spans = [span(t1, "a"), span(t2, "b"), span(t1, "c"), span(b"\0" * 16, "bad"), span(t2, "d", span_id=b"\0" * 8)]
    it = Intake()
    by_trace, accepted, rejected, message = it.group(request(spans).SerializeToString())
    assert accepted == 3 and rejected == 2 and "invalid" in message
    assert {k: [Span.FromString(d).name for d, _ in v] for k, v in by_trace.items()} == {t1: ["a", "c"], t2: ["b"]}
    buf = TraceBuffer(AssemblyConfig(trace_wait_s=1, max_buffer_bytes=10_000))
    for trace_id, group in by_trace.items():
        assert buf.add(trace_id, group, now=0) == []
    assert buf.byte_count == sum(len(d) for g in by_trace.values() for d, _ in g) + 3 * SPAN_OVERHEAD


def test_ids_read_at_their_offsets_or_wherever_they_are():
    t, s, p = b"\x01" * 16, b"\x02" * 8, b"\x03" * 8

    def field(tag, payload):
        return bytes([tag]) + varint(len(payload)) + payload

    assert ids(Span(trace_id=t, span_id=s, name="root").SerializeToString()) == (s, b"")
    assert ids(Span(trace_id=t, span_id=s, parent_span_id=p, name="x").SerializeToString()) == (s, p)
    assert ids(Span(trace_id=t, span_id=s, trace_state="k=v", parent_span_id=p).SerializeToString()) == (s, p)
    # out of field order: parent after the name, span_id before the trace_id
    assert ids(field(0x0A, t) + field(0x12, s) + field(0x2A, b"x") + field(0x22, p)) == (s, p)
    assert ids(field(0x12, s) + field(0x0A, t) + field(0x22, p)) == (s, p)


_COUNT_KEYS = [
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.input_tokens.cached",
    "gen_ai.usage.cache_write.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.reasoning.output_tokens",
    "costline.usage.cache_write_1h_tokens",
    "gen_ai.usage.audio.input_tokens",
    "gen_ai.usage.audio.output_tokens",
    "gen_ai.usage.audio.cache_read.input_tokens",
    "gen_ai.usage.image.input_tokens",
    "gen_ai.usage.image.output_tokens",
    "gen_ai.usage.image.cache_read.input_tokens",
    "costline.usage.web_searches",
]
_READ_KEYS = [
    "gen_ai.provider.name",
    "gen_ai.system",
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "costline.usage.missing",
    "server.address",
    "costline.reported_cost.usd",
    "openai.response.service_tier",
    "gen_ai.openai.request.service_tier",
    "costline.batch",
    "costline.feature",
    "telemetry.sdk.name",
]
semconv_values = st.one_of(
    st.sampled_from(
        [
            "chat",
            "embeddings",
            "invoke_agent",
            "gpt-4o",
            "openai",
            "aws",
            " Batch ",
            "priority",
            "auto",
            "api.openai.com",
            "0.25",
            "",
            " ",
            "true",
            "openlit",
        ]
    ),
    st.integers(min_value=-3, max_value=3),
    st.integers(min_value=0, max_value=10**12 + 2),
    st.booleans(),
    st.sampled_from([1.0, 0.5, float("nan"), float("inf")]),
    st.none(),
    st.lists(st.sampled_from(["a"]), max_size=2),
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(_COUNT_KEYS + _READ_KEYS), semconv_values), max_size=12),
    st.sampled_from(["", "bench", "costline.openai"]),
)
def test_semconv_memo_answers_what_the_plain_path_answers(pairs, scope):
    import costline_processor.normalize as n

    attrs = dict(pairs)
    memoised = [normalize_span(dict(attrs), scope_name=scope, span_name="s") for _ in range(2)]  # the 2nd: memo hits
    fast = n._semconv_call
    n._semconv_call = lambda *a: n._SLOW
    try:
        plain = normalize_span(dict(attrs), scope_name=scope, span_name="s")
    finally:
        n._semconv_call = fast
    assert memoised == [plain, plain]


def test_a_span_with_searches_or_cache_subsets_and_no_token_counts_reads_as_the_plain_path_reads_it():
    """A count that is no token total alone (web searches, a modality's cache reads) does not make a span a
    call with usage: its tokens are unknown, so it is no_usage (a model call) or no call, whatever the
    value's type. The memo billed 2 searches and no tokens for the int and said no_usage for "2"."""
    chat = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "claude-sonnet-4-5"}
    for extra in (
        {"costline.usage.web_searches": 2},
        {"costline.usage.web_searches": "2"},
        {"gen_ai.usage.image.cache_read.input_tokens": 3},
        {"gen_ai.usage.audio.cache_read.input_tokens": 3},
    ):
        call = normalize_span({**chat, **extra}, span_name="chat")
        assert call is not None and call.status == "no_usage" and call.usage is None, (extra, call)
        agent = {"gen_ai.operation.name": "invoke_agent", **extra}
        assert normalize_span(agent, span_name="invoke_agent") is None, extra


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.one_of(st.sampled_from(INTERESTING), st.text(max_size=12)), values), max_size=4),
    st.sampled_from(["s", "invoke_agent planner"]),
    st.sampled_from(["svc", "other"]),
)
def test_remembered_spans_read_as_the_first_time(pairs, name, service):
    tags = TagReader(TaggingConfig(trust={"svc": ["feature"], "*": ["*"]}))
    reader = SpanReader(tags)
    d = _span_with(pairs, name).SerializeToString()
    origin = (b"", "", b"", "", service, "bench", "")
    reads = [_read(reader, d, origin) for _ in range(4)]  # decoded, from the attribute cache, then remembered whole
    assert reads == [reads[0]] * 4
    assert reads[0] == _read(SpanReader(tags), d, origin)
    if reads[0] is not None and reads[0][6] is not None:
        infos = [reader.read(d, origin) for _ in range(2)]
        assert infos[0].call is not infos[1].call  # each model call its own object


def test_direct_constructors_make_the_dataclass_objects():
    from dataclasses import fields
    from decimal import Decimal

    from costline_processor import normalize, rate_card
    from costline_processor.records import Cost, Usage

    for caveat in (None, "tier_by_rule:batch"):
        cost_args = (
            Decimal("0.3"),
            Decimal("0.1"),
            Decimal("0.2"),
            Decimal(0),
            Decimal(0),
            "gpt-4o",
            "openai",
            "test",
            caveat,
            Decimal("0.3"),
            None,
        )
        made = rate_card.new_cost(*cost_args)
        assert made == Cost(*cost_args) and repr(made) == repr(Cost(*cost_args))
        assert hash(made) == hash(Cost(*cost_args))
    assert len(rate_card.COST_SLOTS) == len(fields(Cost))  # a field added to Cost must be set there too
    usage = normalize._new_usage(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    made = Usage(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    assert usage == made and repr(usage) == repr(made)
    assert len(normalize._USAGE_SLOTS) == len(fields(Usage))
    from costline_processor.assembly import context

    ctx = context.inherited({"feature": "x"}, ("planner",))
    assert ctx == context.Inherited({"feature": "x"}, ("planner",)) and len(fields(context.Inherited)) == 4
    assert context.inherited({}, (), True) == context.Inherited({}, (), True)
    assert context.inherited({}, (), False, True) == context.Inherited({}, (), False, True)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([b"\x01" * 16, b"\x02" * 16, b"\0" * 16, b"\x03" * 15]),
            st.sampled_from([b"\x05" * 8, b"\0" * 8, b"\x06" * 7]),
            st.booleans(),
        ),
        max_size=30,
    )
)
def test_intake_grouping_matches_the_runtime(specs):
    def field(tag, payload):
        return bytes([tag]) + varint(len(payload)) + payload

    spans = []
    for i, (t, s, odd) in enumerate(specs):
        name = field(0x2A, f"s{i}".encode())
        spans.append(field(0x12, s) + field(0x0A, t) + name if odd else field(0x0A, t) + field(0x12, s) + name)
    body = field(0x0A, field(0x0A, b"") + field(0x12, field(0x0A, b"") + b"".join(field(0x12, d) for d in spans)))
    by_trace, accepted, rejected, _ = Intake().group(body)
    expected: dict = {}
    for d in spans:
        m = Span.FromString(d)
        if len(m.trace_id) == 16 and m.trace_id != b"\0" * 16 and len(m.span_id) == 8 and m.span_id != b"\0" * 8:
            expected.setdefault(m.trace_id, []).append(d)
    assert {k: [d for d, _ in v] for k, v in by_trace.items()} == expected
    assert accepted == sum(map(len, expected.values())) and rejected == len(spans) - accepted


def _tags_plain(reader: TagReader, attrs: dict):
    """TagReader.read as a plain walk: every key looked at afresh (the reference for its per-key memo)."""
    from costline_processor.assembly.tags import TAG_PREFIX, _text, tag_name

    own, mapped = {}, {}
    for key, value in attrs.items():
        if value is None or isinstance(value, (list, bytes)):
            continue
        if key.startswith(TAG_PREFIX):
            if (name := tag_name(key)) is not None:
                own[name] = _text(value)
        elif key in reader.aliases:
            mapped.setdefault(reader.aliases[key], _text(value))
        else:
            for p in reader.prefixes:
                if key.startswith(p) and len(key) > len(p):
                    mapped.setdefault(key[len(p) :], _text(value))
                    break
    if not own and not mapped:
        return None, frozenset()
    if mapped:
        mapped.update(own)
        return mapped, frozenset(own)
    return own, frozenset(own)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "costline.feature",
                    "costline.cost.usd",
                    "costline.",
                    "costline.step.name",
                    "costline.a.b",
                    "user.id",
                    "enduser.id",
                    "session.id",
                    "traceloop.association.properties.",
                    "traceloop.association.properties.team",
                    "langfuse.trace.metadata.user_id",
                    "feature",
                    "gen_ai.system",
                ]
            ),
            values,
        ),
        max_size=8,
    )
)
def test_tag_reader_reads_what_a_plain_walk_reads(pairs):
    reader = TagReader(TaggingConfig())
    attrs = dict(pairs)
    assert [reader.read(attrs) for _ in range(2)] == [_tags_plain(reader, attrs)] * 2
