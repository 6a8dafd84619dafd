"""assembly.max_buffer_bytes: configurable, validated, and the buffer flushes early at it."""

import pytest

from costline.processor.assembly.buffer import SPAN_OVERHEAD, TraceBuffer
from costline.processor.config import AssemblyConfig, Config, ConfigError, merge_yaml
from tests.processor.spans import new_trace_id


def _spans(n: int, size: int = 200) -> list:
    origin = (b"", "", b"", "", "svc", "lib", "")
    return [(bytes(size), origin) for _ in range(n)]


def test_byte_bound_flushes_oldest_traces_early_and_drops_nothing():
    per_trace = 5 * (200 + SPAN_OVERHEAD)
    buf = TraceBuffer(AssemblyConfig(trace_wait_s=60, max_buffer_bytes=3 * per_trace))
    traces = [new_trace_id() for _ in range(6)]
    flushed = []
    for i, t in enumerate(traces):
        flushed += buf.add(t, _spans(5), now=i)
        assert buf.byte_count <= 3 * per_trace
    assert [f.trace_id for f in flushed] == traces[:3] and all(f.reason == "bound" for f in flushed)
    flushed += buf.drain()
    assert sum(len(f.spans) for f in flushed) == 30 and buf.byte_count == 0 and buf.span_count == 0


def test_one_trace_over_the_byte_bound_is_flushed_whole():
    buf = TraceBuffer(AssemblyConfig(trace_wait_s=60, max_buffer_bytes=1000))
    (f,) = buf.add(new_trace_id(), _spans(10), now=0)
    assert len(f.spans) == 10 and buf.byte_count == 0


def test_zero_means_no_byte_bound():
    buf = TraceBuffer(AssemblyConfig(trace_wait_s=60, max_buffer_bytes=0))
    assert buf.add(new_trace_id(), _spans(1000, 10_000), now=0) == []


def test_config_sets_and_checks_the_byte_bound():
    cfg = Config()
    merge_yaml(cfg, {"assembly": {"max_buffer_bytes": 64 << 20}})
    cfg.validate()
    assert cfg.assembly.max_buffer_bytes == 64 << 20
    cfg.assembly.max_buffer_bytes = -1
    with pytest.raises(ConfigError, match="max_buffer_bytes"):
        cfg.validate()
