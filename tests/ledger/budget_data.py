"""Rows for the budget and forecast tests, and the figures they should give, computed here from the rows.

The forecast is written out by hand (`by_hand`) from the method `--help` states, apart from ledger/forecast.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal as D

from costline_processor.ledger import open_ledger
from tests.ledger.factory import make_row

NOW = "2026-03-10T12:00"  # a Tuesday: the ISO week began on Monday the 9th
ROWS = [  # cost, start, feature, customer_id
    ("0.50", "2026-02-27T10:00", "search", "acme"),  # last month: in no period, before the rate window
    *[("0.10", f"2026-03-{d:02d}T10:00", "search", "acme") for d in range(1, 11)],
    *[("0.02", f"2026-03-{d:02d}T11:00", "chat", "globex") for d in range(6, 11)],  # 4 full days before today
    ("0.30", "2026-03-10T06:00", "chat", "initech"),  # only today
    ("0.03", "2026-03-10T09:00", "chat", None),  # no customer
    ("0.40", "2026-03-10T12:00", "search", "acme"),  # at now: not yet (periods end at now, exclusive)
]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def spent(pred, since: str) -> D:
    return sum((D(c) for c, at, f, cu in ROWS if pred(f, cu) and since <= at < NOW), D(0))


def by_hand(pred, since: str, end: str) -> D:
    """forecast = spent this period + run rate x days left; run rate = cost of the last 7 full days / 7, or / the
    full days since the first call in them; only calls today: today's spend scaled to a day."""
    now, today = when(NOW), when(NOW[:10] + "T00:00")
    window = [(D(c), when(at)) for c, at, f, cu in ROWS if pred(f, cu) and today - timedelta(days=7) <= when(at) < now]
    before = [(c, at) for c, at in window if at < today]
    if before:
        first_day = min(at for _, at in before).replace(hour=0, minute=0)
        rate = sum((c for c, _ in before), D(0)) / min(7, (today - first_day).days)
    else:
        rate = sum((c for c, _ in window), D(0)) / D((now - today).total_seconds() / 86400)
    left = D((when(end) - now).total_seconds()) / 86400
    return spent(pred, since) + rate * left


def close(a, b) -> bool:
    return abs(D(str(a)) - D(str(b))) < D("1e-8")


def write(url: str) -> None:
    w = open_ledger(url, flush_interval_s=0.05)
    w.write([make_row(c, at=at, tags={"feature": f, **({"customer_id": cu} if cu else {})}) for c, at, f, cu in ROWS])
    w.close(10)
