"""The --queue-dir journal: records survive a restart, torn tails are detected, finished
segments are deleted, and export batches account for every journaled span exactly once."""

from __future__ import annotations

import random

import pytest

from costline_processor.config import ConfigError
from costline_processor.export.batches import encode_requests
from costline_processor.journal import Journal


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def files(d):
    return sorted(p.name for p in d.glob("*.otlp"))


def test_records_survive_a_restart_in_order(tmp_path):
    j = Journal(tmp_path, clock=Clock())
    bodies = [bytes([i]) * (i * 100 + 1) for i in range(20)]
    segs = {j.append(b, 1) for b in bodies}
    assert segs == {1}
    j.close()
    again = Journal(tmp_path)
    assert again.left_over == [1]
    assert list(again.records(1)) == bodies


@pytest.mark.parametrize("cut", [3, 8 + 50, -1])  # inside a header, inside a body, last byte
def test_a_torn_tail_keeps_the_records_before_it(tmp_path, cut):
    j = Journal(tmp_path, clock=Clock())
    bodies = [b"a" * 100, b"b" * 200]
    for b in bodies:
        j.append(b, 1)
    j.close()
    path = tmp_path / files(tmp_path)[0]
    data = path.read_bytes()
    first_record = 8 + 100
    path.write_bytes(data[: first_record + cut] if cut >= 0 else data[:-1])
    again = Journal(tmp_path)
    assert list(again.records(again.left_over[0])) == [bodies[0]]
    assert again.torn_records == 1


def test_a_corrupt_record_is_detected_by_its_checksum(tmp_path):
    j = Journal(tmp_path, clock=Clock())
    j.append(b"x" * 64, 1)
    j.append(b"y" * 64, 1)
    j.close()
    path = tmp_path / files(tmp_path)[0]
    data = bytearray(path.read_bytes())
    data[8 + 64 + 8 + 10] ^= 0xFF  # a byte inside the second body
    path.write_bytes(bytes(data))
    again = Journal(tmp_path)
    assert list(again.records(1)) == [b"x" * 64]
    assert again.torn_records == 1


def test_a_segment_is_deleted_once_closed_and_every_span_is_done(tmp_path):
    clock = Clock()
    j = Journal(tmp_path, clock=clock, segment_age_s=1.0)
    s1 = j.append(b"r1", 3)
    j.append(b"r2", 2)
    clock.t = 1.5
    s2 = j.append(b"r3", 1)  # the first segment is old: a new one opens
    assert s2 == s1 + 1 and len(files(tmp_path)) == 2
    j.release({s1: 4})
    assert len(files(tmp_path)) == 2  # one span of s1 still out
    j.release({s1: 1, s2: 1})
    assert len(files(tmp_path)) == 1  # s2 is done but still open for appends
    clock.t = 3.0
    j.tick()
    assert files(tmp_path) == [] and j.bytes == 0 and j.pending_spans == 0


def test_left_over_segments_wait_for_replay_then_for_their_spans(tmp_path):
    j = Journal(tmp_path, clock=Clock())
    j.append(b"r1", 1)
    j.close()  # a crash or a stop with spans not done
    again = Journal(tmp_path, clock=Clock())
    seg = again.left_over[0]
    again.hold(seg, 2)
    again.replayed(seg)
    assert files(tmp_path) != []
    again.release({seg: 2})
    assert files(tmp_path) == [] and again.left_over == []
    assert again.append(b"r2", 1) > seg  # numbering goes on after the old segments


def test_one_process_per_directory(tmp_path):
    j = Journal(tmp_path)
    with pytest.raises(ConfigError, match="in use by another costline process"):
        Journal(tmp_path)
    j.close()
    Journal(tmp_path).close()  # free again once the first one stopped


def test_full_is_reported_at_the_byte_bound(tmp_path):
    j = Journal(tmp_path, clock=Clock(), max_bytes=1000)
    j.append(b"z" * 500, 1)
    assert not j.full
    j.append(b"z" * 500, 1)
    assert j.full


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("final", [True, False])
def test_batches_account_for_every_journaled_span_once(seed, final):
    """Traces with spans from several segments, cut into batches at arbitrary places: the
    {segment: spans} of the yielded batches (plus what a non-final call puts back) add up
    to exactly what was journaled, and each batch's counts add up to its size."""
    rng = random.Random(seed)
    origin = (b"", "", b"", "")
    traces, expected = [], {}
    for _ in range(rng.randint(1, 30)):
        runs, spans = [], []
        for _ in range(rng.randint(1, 4)):
            seg, n = rng.randint(1, 5), rng.randint(1, 40)
            if runs and runs[-1][0] == seg:
                runs[-1][1] += n
            else:
                runs.append([seg, n])
            spans += [(b"\x0a\x10" + bytes(16), origin)] * n
            expected[seg] = expected.get(seg, 0) + n
        traces.append((spans, [b""] * len(spans), runs))
    pending = list(traces)
    got: dict[int, int] = {}
    batch_size = rng.randint(1, 100)
    for _body, n, segments in encode_requests(pending, batch_size, final):
        assert sum(segments.values()) == n <= batch_size
        for seg, k in segments.items():
            got[seg] = got.get(seg, 0) + k
    for spans, _, runs in pending:  # put back by a non-final call: its runs cover exactly its spans
        assert sum(k for _, k in runs) == len(spans)
        for seg, k in runs:
            got[seg] = got.get(seg, 0) + k
    assert got == expected
    assert final is False or pending == []


def test_batches_without_a_journal_carry_no_segments():
    origin = (b"", "", b"", "")
    spans = [(b"\x0a\x10" + bytes(16), origin)] * 5
    out = list(encode_requests([(spans, [b""] * 5, None)], 2))
    assert [(n, s) for _, n, s in out] == [(2, None), (2, None), (1, None)]


def test_a_torn_record_left_by_a_crash_is_counted_and_the_rest_replayed(tmp_path):
    """Through a real server exporting to a real sink: the complete records of a left-over
    segment are exported, the torn one is counted (and logged), nothing else is affected."""
    from tests.fakes.otlp_sink import OtlpSink
    from tests.processor.harness import RunningServer, loopback_config
    from tests.processor.spans import llm, new_trace_id, request, span
    from tests.processor.test_assembly import FlatPricer

    j = Journal(tmp_path / "q", clock=Clock())
    names = []
    for i in range(3):
        t = new_trace_id()
        root = span(t, f"root {i}")
        names.append(root.name)
        j.append(request([root, llm(t, root)]).SerializeToString(), 2)
    j.close()
    path = next((tmp_path / "q").glob("*.otlp"))
    path.write_bytes(path.read_bytes()[:-5])  # the last record cut short, as a power loss might

    with OtlpSink() as sink:
        cfg = loopback_config(sink, trace_wait=0)
        cfg.export.queue_dir = str(tmp_path / "q")
        with RunningServer(cfg, pricer=FlatPricer()) as srv:
            spans = sink.wait_for_spans(4)
            stats = srv.stats
    assert sorted(s.name for s in spans if s.name.startswith("root")) == names[:2]
    assert len(spans) == 4
    assert stats.get("spans_replayed") == 4 and stats.get("queue_dir_records_torn") == 1
    assert list((tmp_path / "q").glob("*.otlp")) == []  # exported, so deleted at the stop


def test_each_party_finishes_a_segment_on_its_own_and_a_restart_replays_it_only_to_the_other(tmp_path):
    """Issue #14 item 9: the export finished a segment, the ledger did not (locked, down):
    a marker records the export's finish, so the next start replays it to the ledger only."""
    clock = Clock()
    j = Journal(tmp_path, clock=clock, segment_age_s=1.0, parties=("export", "ledger"))
    seg = j.append(b"r1", 3)
    clock.t = 1.5
    j.tick()  # closed
    j.release({seg: 3}, "export")
    assert (tmp_path / f"{seg:012d}.export.done").exists() and files(tmp_path)
    j.close()
    again = Journal(tmp_path, parties=("export", "ledger"))
    assert again.left_over == [seg] and again.todo(seg) == ("ledger",) and again.done_before["export"] == {seg}
    again.hold(seg, 3)  # replayed: held for the ledger only
    again.replayed(seg)
    again.release({seg: 3}, "export")  # the pipeline does not export it; a stray release is ignored
    assert files(tmp_path)
    again.release({seg: 3}, "ledger")
    assert files(tmp_path) == [] and not list(tmp_path.glob("*.done")) and again.done_before["export"] == set()


def test_a_segment_both_parties_finish_leaves_no_marker(tmp_path):
    clock = Clock()
    j = Journal(tmp_path, clock=clock, segment_age_s=1.0, parties=("export", "ledger"))
    seg = j.append(b"r1", 2)
    j.release({seg: 2}, "export")
    j.release({seg: 2}, "ledger")  # both done while it was still open: nothing to mark
    assert not list(tmp_path.glob("*.done"))
    clock.t = 2.0
    j.tick()
    assert files(tmp_path) == [] and not list(tmp_path.glob("*.done"))
