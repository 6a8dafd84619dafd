"""wire/varint.py: varints as protobuf writes them, read back; LEN fields."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline_processor.wire.varint import SMALL, U64, len_field, read, uvarint, varint

int64s = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@given(int64s)
def test_varint_is_protobufs_encoding_of_an_int64(n):
    assert b"\x18" + varint(n & U64) == AnyValue(int_value=n).SerializeToString()
    assert uvarint(n & U64) == varint(n & U64)


@given(st.integers(min_value=0, max_value=U64), st.binary(max_size=3), st.binary(max_size=3))
def test_read_gives_the_value_and_where_it_ends(n, before, after):
    data = before + varint(n) + after
    assert read(data, len(before)) == (n, len(data) - len(after))


def test_small_table_and_the_edges():
    assert len(SMALL) == 16384 and SMALL[0] == b"\x00" and SMALL[127] == b"\x7f" and SMALL[128] == b"\x80\x01"
    for n in (16383, 16384, 2097151, 2097152, U64):
        assert uvarint(n) == varint(n) and read(varint(n), 0) == (n, len(varint(n)))
    assert len(varint(U64)) == 10


def test_read_refuses_a_truncated_or_overlong_varint():
    with pytest.raises(ValueError):
        read(b"\x80\x80", 0)
    with pytest.raises(ValueError):
        read(b"", 0)
    with pytest.raises(ValueError):
        read(b"\xff" * 10 + b"\x01", 0)  # 11 bytes


@given(st.binary(min_size=1, max_size=300))
def test_len_field_is_a_protobuf_length_delimited_field(payload):
    assert len_field(b"\x0a", payload) == Span(trace_id=payload).SerializeToString()  # Span.trace_id: field 1, LEN
