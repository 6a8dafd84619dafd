"""The journal's state machine (journal.py): acknowledged -> exported / recorded -> released,
a party that fails, replay; driven through the tokens the stages get (receipts, Claims)."""

from __future__ import annotations

import pytest

from costline_processor import queue_dir
from costline_processor.journal import Journal

PARTIES = ("export", "ledger")


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def segments(d):
    return sorted(p.name for p in d.glob("*.otlp"))


def markers(d):
    return sorted(p.name for p in d.glob("*.done"))


def closed(journal: Journal, clock: Clock) -> None:
    clock.t += 1.5
    journal.tick()


def test_acknowledged_then_exported_then_recorded_is_released(tmp_path):
    clock = Clock()
    j = Journal(tmp_path, clock=clock, parties=PARTIES)
    a = j.append(b"request a", 3)
    b = j.append(b"request b", 2)
    assert a == b and j.pending_spans == 2 * 5
    export = j.claim("export", {a: 5}, holders=2)  # one batch, two export targets
    export.done()
    assert j.todo(a) == PARTIES and j.pending_spans == 10  # one target still sending
    export.done()
    assert j.pending_spans == 5 and markers(tmp_path) == []  # open: no marker yet
    closed(j, clock)
    assert markers(tmp_path) == [f"{a:012d}.export.done"] and segments(tmp_path)
    j.claim("ledger", {a: 5}).done()
    assert segments(tmp_path) == [] and markers(tmp_path) == [] and j.bytes == 0 and j.pending_spans == 0


def test_recorded_before_exported_marks_the_ledger(tmp_path):
    clock = Clock()
    j = Journal(tmp_path, clock=clock, parties=PARTIES)
    seg = j.append(b"r", 2)
    closed(j, clock)
    j.claim("ledger", {seg: 2}).done()
    assert markers(tmp_path) == [f"{seg:012d}.ledger.done"]
    j.claim("export", {seg: 1}).done()
    assert segments(tmp_path)  # one span still to export
    j.claim("export", {seg: 1}).done()
    assert segments(tmp_path) == [] and markers(tmp_path) == []


def test_a_segment_is_not_released_while_open_even_at_zero(tmp_path):
    clock = Clock()
    j = Journal(tmp_path, clock=clock, parties=PARTIES)
    seg = j.append(b"r1", 1)
    j.claim("export", {seg: 1}).done()
    j.claim("ledger", {seg: 1}).done()
    assert segments(tmp_path) and j.pending_spans == 0
    assert j.append(b"r2", 1) == seg  # still open: more spans may come
    closed(j, clock)
    assert segments(tmp_path)
    j.release({seg: 1}, "export")
    j.release({seg: 1}, "ledger")
    assert segments(tmp_path) == [] and markers(tmp_path) == []  # finished together: never marked


def test_a_party_that_fails_keeps_the_segment_and_a_restart_gives_it_only_that_party(tmp_path):
    """The export never finishes (a backend down), the ledger does: the segment stays, marked
    for the ledger; the next start replays it to the export only and then releases it."""
    clock = Clock()
    j = Journal(tmp_path, clock=clock, parties=PARTIES)
    seg = j.append(b"r1", 2)
    j.append(b"r2", 1)
    j.claim("export", {seg: 3}, holders=1)  # handed to a queue that never finishes
    closed(j, clock)
    j.claim("ledger", {seg: 3}).done()
    j.close()
    assert segments(tmp_path) == [f"{seg:012d}.otlp"] and markers(tmp_path) == [f"{seg:012d}.ledger.done"]

    again = Journal(tmp_path, clock=Clock(), parties=PARTIES)
    assert again.todo(seg) == ("export",) and again.done_before["ledger"] == {seg}
    replayed = []
    for receipt, body in again.replay():
        replayed.append(body)
        again.hold(receipt, 2 if body == b"r1" else 1)
    assert replayed == [b"r1", b"r2"] and again.left_over == []
    assert again.pending_spans == 3  # held for the export only
    again.claim("ledger", {seg: 3}).done()  # the ledger had finished it: ignored
    assert segments(tmp_path)
    again.claim("export", {seg: 3}).done()
    assert segments(tmp_path) == [] and markers(tmp_path) == [] and again.done_before["ledger"] == set()
    assert again.append(b"r3", 1) > seg


def test_a_replay_stopped_early_leaves_the_segment_for_the_next_start(tmp_path):
    j = Journal(tmp_path, clock=Clock(), parties=PARTIES)
    seg = j.append(b"r1", 1)
    j.append(b"r2", 1)
    j.close()
    again = Journal(tmp_path, clock=Clock(), parties=PARTIES)
    replay = again.replay()
    receipt, _ = next(replay)
    again.hold(receipt, 1)
    replay.close()  # shutdown cancelled the replay task
    again.claim("export", {seg: 1}).done()
    again.claim("ledger", {seg: 1}).done()
    assert again.left_over == [seg] and segments(tmp_path)  # not read back in full: kept
    again.close()
    third = Journal(tmp_path, clock=Clock(), parties=PARTIES)
    assert [body for _, body in third.replay()] == [b"r1", b"r2"]


def test_a_segment_every_party_had_finished_goes_unread(tmp_path):
    """A crash after the last party finished, before the deletion: both markers, no replay."""
    j = Journal(tmp_path, clock=Clock(), parties=PARTIES)
    seg = j.append(b"r1", 1)
    j.close()
    for party in PARTIES:
        (tmp_path / f"{seg:012d}.{party}.done").touch()
    (tmp_path / "000000000099.export.done").touch()  # its segment went: removed at start
    again = Journal(tmp_path, clock=Clock(), parties=PARTIES)
    assert again.todo(seg) == () and not (tmp_path / "000000000099.export.done").exists()
    assert list(again.replay()) == []
    assert segments(tmp_path) == [] and markers(tmp_path) == []


def test_a_failed_append_holds_nothing_and_its_empty_segment_goes(tmp_path, monkeypatch):
    clock = Clock()
    j = Journal(tmp_path, clock=clock, parties=PARTIES)

    def disk_full(fd, data):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(queue_dir, "_write_all", disk_full)
        with pytest.raises(OSError):
            j.append(b"r1", 4)
    assert j.pending_spans == 0 and segments(tmp_path) == [] and j.bytes == 0
    seg = j.append(b"r2", 1)  # a fresh segment
    closed(j, clock)
    j.claim("export", {seg: 1}).done()
    j.claim("ledger", {seg: 1}).done()
    assert segments(tmp_path) == []


def test_no_party_means_released_once_closed(tmp_path):
    """--queue-dir with no export target and no ledger: nothing holds a segment once it closes."""
    clock = Clock()
    j = Journal(tmp_path, clock=clock, parties=())
    j.append(b"r1", 5)
    assert segments(tmp_path)
    closed(j, clock)
    assert segments(tmp_path) == [] and j.pending_spans == 0
