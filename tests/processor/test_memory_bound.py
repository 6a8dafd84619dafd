"""assembly.max_buffer_bytes: configurable, validated, and the buffer flushes early at it."""

import pytest

from costline_processor.assembly.buffer import SPAN_OVERHEAD, TraceBuffer
from costline_processor.config import AssemblyConfig, Config, ConfigError
from costline_processor.config_sources import merge_yaml
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


def test_memory_limit_mib_is_read_and_checked():
    cfg = Config()
    assert cfg.memory.limit_mib is None  # a share of the machine's memory (memory.default_limit_mib)
    merge_yaml(cfg, {"memory": {"limit_mib": 64}})
    cfg.validate()
    assert cfg.memory.limit_mib == 64
    cfg.memory.limit_mib = -1
    with pytest.raises(ConfigError, match="memory.limit_mib"):
        cfg.validate()
    with pytest.raises(ConfigError, match="unknown setting"):
        merge_yaml(Config(), {"memory": {"limit": 64}})


def test_the_default_limit_is_half_the_memory_shared_by_workers():
    from costline_processor.memory import DEFAULT_FRACTION, _cgroup_bytes, _machine_bytes, default_limit_mib

    total = min(x for x in (_machine_bytes(), _cgroup_bytes()) if x)
    assert default_limit_mib() == int(total * DEFAULT_FRACTION) >> 20
    assert abs(default_limit_mib(4) - default_limit_mib() / 4) <= 1


def test_the_budget_throttles_at_the_soft_limit_and_never_admits_past_the_hard_one():
    from costline_processor.memory import SOFT_FRACTION, MemoryBudget, MiB

    class Queue:
        bytes = 0

    class Pipe:
        buffer = TraceBuffer(AssemblyConfig(trace_wait_s=60))
        queues = [Queue(), Queue()]
        _pending_spans = 0
        _acking = []

    p = Pipe()
    budget = MemoryBudget(10 * MiB, p)
    assert budget.refusal(1 * MiB) is None
    p.queues[0].bytes = int(10 * MiB * SOFT_FRACTION)  # the slowest queue holds what all hold
    assert "soft memory limit" in budget.refusal(0)
    p.queues[0].bytes = int(4.5 * MiB)  # under soft; a request that would cross the hard limit waits
    assert "past its memory limit" in budget.refusal(6 * MiB) and budget.refusal(1 * MiB) is None
    p.queues[0].bytes = 0  # a near-empty budget takes a request larger than its headroom
    assert budget.refusal(9 * MiB) is None


def test_recent_traces_give_way_at_their_share_of_the_limit():
    from costline_processor.memory import RECENT_SPAN_BYTES

    buf = TraceBuffer(AssemblyConfig(trace_wait_s=60, recent_traces=1000))
    buf.recent_max_bytes = 10 * 6 * RECENT_SPAN_BYTES
    for _ in range(25):
        buf.remember(new_trace_id(), {}, 6)
    assert buf.recent_bytes == 10 * 6 * RECENT_SPAN_BYTES and len(buf._recent) == 10
