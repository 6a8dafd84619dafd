"""The calls the page's tests read: a month and a half of spend up to now, with the traps in it.

Costs are chosen here, so every total is known; times are relative to the test's start (the
Overview's months are calendar months of now). Among the tags: a customer named like an HTML
element with a handler (must render as text and run nothing), a feature that is a spreadsheet
formula (the CSV must neutralise it), calls without customer (the untagged bucket), one unpriced
call, agent steps in one costly trace, and a plan and user on every tagged call (cohorts, users).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from costline_processor.records import LedgerRow
from tests.ledger.factory import make_row

HOSTILE = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("http://x","y")'
AGENT_TRACE = "a1" * 16
DAY_S = 86_400


def at(days_ago: float, now: float) -> str:
    return datetime.fromtimestamp(now - days_ago * DAY_S, UTC).strftime("%Y-%m-%dT%H:%M")


def rows(now: float | None = None) -> list[LedgerRow]:
    now = now or time.time()
    out = []
    features = ["search", "support", "summaries", FORMULA]
    customers = ["acme", "globex", "initech", HOSTILE, "umbrella"]
    models = [("gpt-4o", "openai"), ("gpt-4o-mini", "openai"), ("claude-haiku-4-5", "anthropic")]
    for i in range(120):
        days = 0.2 + (i * 0.37) % 44
        feature, customer = features[i % 4], customers[i % 5]
        model, provider = models[i % 3]
        tags = {"feature": feature, "customer_id": customer, "user_id": f"u{i % 9}", "plan": ["free", "pro"][i % 2]}
        if i % 11 == 0:
            del tags["customer_id"]
        cost = f"0.{(i * 7919) % 9000 + 1000:04d}"
        out.append(
            make_row(
                cost, at=at(days, now), tags=tags, model=model, provider=provider, tokens=(800 + i, 90 + i, 0, 0, 0)
            )
        )
    out.append(make_row(None, at=at(1.5, now), tags={"feature": "search", "customer_id": "acme"}, model="mystery-1"))
    # a call this calendar month at any hour: on the 1st before 04:48 UTC every call above is last month's
    month_start = datetime.fromtimestamp(now, UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    tags = {"feature": "summaries", "customer_id": "initech", "user_id": "u3", "plan": "free"}
    out.append(make_row("0.0457", at=at((now - month_start.timestamp()) / 2 / DAY_S, now), tags=tags))
    steps = ["research/plan", "research/search_web", "research/search_web", "research/write", ""]
    for j, step in enumerate(steps):
        tags = {"feature": "research-agent", "customer_id": "globex", "user_id": "u1", "plan": "pro"}
        out.append(
            make_row(
                f"1.{j}25",
                at=at(0.5, now),
                trace=AGENT_TRACE,
                tags=tags,
                agent_path=step,
                model="gpt-4o",
                tokens=(9000, 900, 0, 0, 0),
            )
        )
    return out
