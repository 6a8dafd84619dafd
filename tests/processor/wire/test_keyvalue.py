"""wire/keyvalue.py: KeyValue bytes decoded as the protobuf runtime decodes them; keys found where keys are."""

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline_processor.wire.keyvalue import decode_value, decoder, key_search
from costline_processor.wire.varint import varint
from tests.processor.spans import set_value

values = st.one_of(
    st.text(max_size=20),
    st.text(min_size=130, max_size=200),
    st.booleans(),
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=0, max_value=2**22),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=5), max_size=3),
    st.binary(max_size=5),
)
keys = st.one_of(st.sampled_from(["gen_ai.usage.input_tokens", "picked", "other", "p" * 200]), st.text(max_size=12))


def _classifier():
    """(classes, classify, decode): keys starting gen_ai., picked or p are picked."""
    classes: dict = {}

    def classify(kb: bytes) -> tuple[str, int]:
        key = kb.decode()
        found = classes[kb] = (key, 1 if key.startswith(("gen_ai.", "picked", "p")) else 0)
        return found

    return classes, classify, decoder(classes, classify)


def _runtime(kv: bytes, classify):
    m = KeyValue.FromString(kv)
    bits = classify(m.key.encode())[1]
    return (m.key, decode_value(m.value), bits) if bits else None


def _kv(key: str, value) -> bytes:
    kv = KeyValue(key=key)
    set_value(kv, value)
    return kv.SerializeToString()


@settings(max_examples=300, deadline=None)
@given(keys, values)
def test_decode_decodes_what_the_runtime_decodes(key, value):
    classes, classify, decode = _classifier()
    kv = _kv(key, value)
    first = decode(kv)
    assert first == _runtime(kv, classify)
    assert classes and decode(kv) == first  # the key's class from `classes` this time


def test_decode_of_unusual_layouts_is_the_runtimes():
    _, classify, decode = _classifier()
    kv = _kv("picked.model", "gpt-4o")
    value_at = kv.index(b"\x12")
    layouts = [
        kv[value_at:] + kv[:value_at],  # value before key
        b"\x0a\x05other" + kv,  # key twice: the last wins (a picked key after one not picked)
        _kv("other", "x") + b"\x0a\x06picked",  # ... and the other way round
        kv + b"\x12\x02\x18\x07",  # a second value: the last wins
        _kv("p" * 200, 5),  # a two-byte key length
        _kv("picked", "v" * 300),  # two-byte value lengths
        _kv("picked", -1),
        _kv("picked", 2**40),
        _kv("picked", 300),
        _kv("picked", 2**20),
        b"\x0a\x06picked",  # no value
        b"\x0a\x06picked\x12\x00",  # an empty AnyValue
    ]
    for layout in layouts:
        assert decode(layout) == _runtime(layout, classify), layout


def test_decode_of_a_key_not_picked_is_none_without_decoding():
    classes, _, decode = _classifier()
    assert decode(_kv("other", "anything")) is None
    assert classes[b"other"] == ("other", 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(keys, values), max_size=6), st.text(max_size=20))
def test_key_search_finds_every_span_that_has_a_key_with_a_head(pairs, name):
    search = key_search({"gen_ai.", "picked"})
    span = Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name=name)
    for k, v in pairs:
        set_value(span.attributes.add(key=k), v)
    if any(k.startswith(("gen_ai.", "picked")) for k, _ in pairs):
        assert search(span.SerializeToString()) is not None


def test_key_search_looks_for_a_key_field_not_for_the_words():
    search = key_search({"gen_ai."})
    assert search(Span(name="gen_ai.chat").SerializeToString()) is None  # a name is field 5, not a key
    assert search(b"\x0a" + varint(300) + b"gen_ai." + b"x" * 293) is not None  # a key with a two-byte length
    assert search(b"\x0a\x05gen_a") is None
