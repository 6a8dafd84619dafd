"""wire/attributes.py: appended attribute bytes parse as the attributes the protobuf runtime sets."""

import math

from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline_processor.wire import attributes as encode
from tests.fakes.otlp_sink import any_value


def _span(**attrs) -> Span:
    s = Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="chat gpt-4o", start_time_unix_nano=5)
    for k, v in attrs.items():
        kv = s.attributes.add(key=k)
        kv.value.string_value = v
    return s


def test_appended_attributes_parse_as_set_attributes():
    base = _span(existing="yes")
    added = [
        ("costline.cost.usd", 0.00725),
        ("costline.rollup.llm_calls", 3),
        ("costline.feature", "chat"),
        ("flag", True),
        ("neg", -5),
        ("unicode", "café ✓"),
    ]
    parsed = Span.FromString(base.SerializeToString() + encode.attributes(added))
    got = {kv.key: any_value(kv.value) for kv in parsed.attributes}
    assert got == {"existing": "yes", **dict(added)}
    assert parsed.name == "chat gpt-4o" and parsed.start_time_unix_nano == 5


@given(
    st.lists(
        st.tuples(
            st.text(max_size=30),
            st.one_of(
                st.text(max_size=50),
                st.booleans(),
                st.integers(min_value=-(2**63), max_value=2**63 - 1),
                st.floats(allow_nan=False),
            ),
        ),
        max_size=20,
    )
)
def test_any_attribute_roundtrips(pairs):
    parsed = Span.FromString(_span().SerializeToString() + encode.attributes(pairs))
    got = [(kv.key, any_value(kv.value)) for kv in parsed.attributes]
    assert got == pairs


def test_nan_double_roundtrips():
    parsed = Span.FromString(encode.attributes([("x", float("nan"))]))
    assert math.isnan(parsed.attributes[0].value.double_value)


def _doubles(keys, values):
    return encode.attributes(zip(keys, values))


costs = st.floats(allow_nan=False)
counts = st.integers(min_value=0, max_value=2**64 - 1)


@given(costs, costs, costs, costs, costs, costs, st.binary(max_size=40), st.booleans(), st.binary(max_size=300))
def test_cost_packer_packs_what_attribute_encodes(a, b, c, d, e, r, middle, repeat, tail):
    keys = ("costline.cost.usd", "in", "out", "k" * 200, "")
    pack = encode.cost_packer(keys, middle, "gen_ai.usage.cost" if repeat else None, tail, "costline.rollup.cost_usd")
    expected = _doubles(keys, (a, b, c, d, e)) + middle
    if repeat:
        expected += encode.attribute("gen_ai.usage.cost", a)
    expected += tail + encode.attribute("costline.rollup.cost_usd", r)
    assert pack(a, b, c, d, e, r) == expected


@given(costs, counts, counts, counts)
def test_int_encoders_encode_what_attribute_encodes(x, a, b, c):
    ints = encode.ints_encoder("calls", "x" * 130, "")
    both = encode.double_ints_encoder("cost", "calls", "x" * 130, "")
    # values are int64 on the wire: what a uint64 above 2**63 - 1 means as a signed one
    signed = [v - 2**64 if v >= 2**63 else v for v in (a, b, c)]
    plain = encode.attributes(zip(("calls", "x" * 130, ""), signed))
    assert ints(a, b, c) == plain
    assert both(x, a, b, c) == encode.attribute("cost", x) + plain
    parsed = Span.FromString(both(x, a, b, c))
    assert [any_value(kv.value) for kv in parsed.attributes][1:] == signed
