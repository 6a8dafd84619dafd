"""Several writers on one ledger (costline replicas, or a replay after a crash)."""

from __future__ import annotations

import threading
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from costline_processor.ledger import open_ledger, open_reader, reports
from tests.ledger.factory import make_row


def test_replicas_and_replays_store_each_call_once(ledger_url):
    rows = [make_row(f"0.{i:03d}", tags={"feature": f"f{i % 3}"}) for i in range(1, 301)]
    writers = [open_ledger(ledger_url, flush_interval_s=0.02, batch_rows=50) for _ in range(3)]

    def feed(w, part):
        for k in range(0, len(part), 25):
            w.write(part[k : k + 25])

    # replica 0 gets the first two thirds, replica 1 the last two thirds, replica 2 replays everything
    threads = [
        threading.Thread(target=feed, args=(writers[0], rows[:200])),
        threading.Thread(target=feed, args=(writers[1], rows[100:])),
        threading.Thread(target=feed, args=(writers[2], rows)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in writers:
        w.close(20)
    assert all(w.dropped == 0 for w in writers)
    with open_reader(ledger_url) as r:
        stored = list(r.rows())
    assert len(stored) == 300 and len({(x.trace_id, x.span_id) for x in stored}) == 300
    assert sum(x.cost_usd for x in stored) == sum(Decimal(f"0.{i:03d}") for i in range(1, 301))


costs = st.one_of(st.none(), st.decimals(min_value=0, max_value=100, places=9, allow_nan=False, allow_infinity=False))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(costs, st.sampled_from(["a", "b", "c", None]), st.sampled_from(["m1", "m2"])), max_size=40))
def test_groups_add_up_to_the_total(spec):
    rows = [make_row(None if c is None else str(c), tags={"feature": f} if f else {}, model=m) for c, f, m in spec]
    groups, total = reports.aggregate(rows, ["feature", "model"])
    out = reports.report_rows(groups, ["feature", "model"], total)
    want = sum((c for c, _, _ in spec if c is not None), Decimal(0))
    assert total.cost_usd == want == sum((r["cost_usd"] for r in out), Decimal(0))
    assert sum(r["calls"] for r in out) == len(spec)
    assert sum(r["unpriced_calls"] for r in out) == sum(1 for c, _, _ in spec if c is None)
    if want:
        assert abs(sum(r["share"] for r in out) - 1) < Decimal("1e-20")
