"""A small, varied ledger: the spec tests compute their expectations from."""

from __future__ import annotations

from decimal import Decimal

from tests.ledger.factory import make_row

# (cost or None, day, feature, customer_id, user_id, model, agent_path, outcome)
SPEC = [
    ("0.120", "2026-03-02T09:00", "chat", "acme", "u1", "gpt-4o", "support/answer", None),
    ("0.030", "2026-03-02T09:01", "chat", "acme", "u1", "gpt-4o-mini", "support/triage", "accepted"),
    ("1.500", "2026-03-02T11:00", "summarize", "globex", "u2", "claude-sonnet-4-5", "", None),
    ("0.007", "2026-03-03T08:00", "chat", "globex", "u3", "gpt-4o-mini", "support/triage", None),
    ("0.250", "2026-03-03T12:00", "search", "acme", "u4", "gpt-4o", "", "accepted"),
    (None, "2026-03-03T13:00", "chat", "initech", "u5", "mystery-model", "", None),
    ("0.040", "2026-03-04T10:00", None, None, None, "gpt-4o-mini", "", None),
    ("2.000", "2026-03-04T15:00", "summarize", "acme", "u1", "claude-sonnet-4-5", "", "accepted"),
    ("0.333", "2026-03-09T10:00", "chat", "initech", "u6", "gpt-4o", "", None),
]
TRACE = "ab" * 16


def rows():
    out = []
    for i, (cost, at, feature, customer, user, model, agent, outcome) in enumerate(SPEC):
        tags = {
            k: v
            for k, v in (("feature", feature), ("customer_id", customer), ("user_id", user), ("outcome", outcome))
            if v
        }
        provider = "anthropic" if model.startswith("claude") else "openai"
        trace = TRACE if i < 2 else None
        out.append(
            make_row(
                cost,
                at=at,
                tags=tags,
                model=model,
                provider=provider,
                agent_path=agent,
                trace=trace,
                tokens=(1000 + i, 100 + i, 10 * i, i, 2 * i),
            )
        )
    return out


def cost_where(pred) -> Decimal:
    return sum((Decimal(s[0]) for s in SPEC if s[0] is not None and pred(s)), Decimal(0))


TOTAL = cost_where(lambda s: True)
