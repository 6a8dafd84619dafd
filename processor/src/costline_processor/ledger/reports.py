"""Report arithmetic over ledger rows in memory: pure, exact (Decimal), testable without a database.

    rows --aggregate--> {group key: Totals} --report_rows--> list of dicts (one per group)

The report commands ask the database instead (query.py: one GROUP BY, whatever the ledger's
size); this module does the same arithmetic over the calls of one trace, for the alerts, and
as the reference the tests hold the SQL to. `measures` and `change` shape a row for both.

Columns of a report row: the dimensions, calls, unpriced_calls, each token count,
cost_usd, share (of the window's total cost, 0..1), avg_cost_usd (per *priced* call),
and on request active_users/cost_per_user, outcomes/cost_per_outcome and the previous
period's cost with the change. Unpriced calls count as calls but never as $0 of cost.
When any call of the window carries a price caveat (price_caveats.py: priced by a
tier rule, without its tier, audio at the text rate), every row gets `caveat_calls`
and `caveat_usd` (how many of its calls, and their cost), and `caveat_lines` says which
caveats, so a report never shows such a figure without saying so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from costline_processor.config import DEFAULT_UNTAGGED
from costline_processor.ledger import dimensions
from costline_processor.ledger.periods import TIME_DIMENSIONS, iso
from costline_processor.ledger.render import money
from costline_processor.ledger.schema import TOKEN_FIELDS
from costline_processor.records import LedgerRow
from costline_processor.shares import split_row

ZERO = Decimal(0)
OUTCOME_TAG = "outcome"


@dataclass
class Totals:
    """Running sums for one group of calls."""

    calls: int = 0
    unpriced_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal = ZERO
    caveats: dict[str, list] = field(default_factory=dict)  # caveat -> [calls, cost]
    users: set[str] = field(default_factory=set)
    outcome_traces: set[str] = field(default_factory=set)

    def add(self, row: LedgerRow, opts: Options) -> None:
        self.calls += 1
        for f in TOKEN_FIELDS:
            setattr(self, f, getattr(self, f) + getattr(row, f))
        if row.cost_usd is None:
            self.unpriced_calls += 1
        else:
            self.cost_usd += row.cost_usd
            if row.price_caveat:
                seen = self.caveats.setdefault(row.price_caveat, [0, ZERO])
                seen[0] += 1
                seen[1] += row.cost_usd
        if opts.user_tag:
            user = row.tags.get(opts.user_tag)
            if user and user != opts.untagged:
                self.users.add(user)
        if opts.outcomes and row.tags.get(OUTCOME_TAG) in opts.outcomes:
            self.outcome_traces.add(row.trace_id)

    @property
    def priced_calls(self) -> int:
        return self.calls - self.unpriced_calls

    @property
    def caveat_calls(self) -> int:
        return sum(n for n, _ in self.caveats.values())

    @property
    def caveat_usd(self) -> Decimal:
        return sum((usd for _, usd in self.caveats.values()), ZERO)


@dataclass(frozen=True)
class Options:
    untagged: str = DEFAULT_UNTAGGED
    user_tag: str | None = None  # count distinct values of this tag as active users
    outcomes: frozenset[str] = frozenset()  # `costline.outcome` values that are a unit of value


def aggregate(
    rows: Iterable[LedgerRow], dims: list[str], opts: Options = Options()
) -> tuple[dict[tuple, Totals], Totals]:
    """Group calls by `dims`; also return the totals of all of them. A call whose tag among `dims` names
    several owners adds its part to each owner's group (shares.split_row, as the SQL reports split it)."""
    groups: dict[tuple, Totals] = {}
    total = Totals()
    split = [dimensions.tag_name(d) for d in dims if dimensions.is_tag(d)]
    for row in rows:
        for part in split_row(row, split) if split else (row,):
            k = dimensions.key(part, dims, opts.untagged)
            t = groups.get(k)
            if t is None:
                t = groups[k] = Totals()
            t.add(part, opts)
        total.add(row, opts)
    return groups, total


def ratio(num: Decimal, den: int | Decimal) -> Decimal | None:
    return num / den if den else None


def totals_row(t: Totals, grand_total: Decimal, opts: Options) -> dict:
    tokens = {f: getattr(t, f) for f in TOKEN_FIELDS}
    users = len(t.users) if opts.user_tag else None
    outcomes = len(t.outcome_traces) if opts.outcomes else None
    return measures(t.calls, t.unpriced_calls, tokens, t.cost_usd, grand_total, users, outcomes)


def measures(
    calls: int,
    unpriced: int,
    tokens: dict[str, int],
    cost: Decimal,
    grand_total: Decimal,
    users: int | None = None,
    outcomes: int | None = None,
) -> dict:
    """A report row's columns after its dimensions, from its sums (here or from query.py's SQL)."""
    out = {
        "calls": calls,
        "unpriced_calls": unpriced,
        **tokens,
        "cost_usd": cost,
        "share": ratio(cost, grand_total) or (ZERO if grand_total else None),
        "avg_cost_usd": ratio(cost, calls - unpriced),
    }
    if users is not None:
        out["active_users"] = users
        out["cost_per_user"] = ratio(cost, users)
    if outcomes is not None:
        out["outcomes"] = outcomes
        out["cost_per_outcome"] = ratio(cost, outcomes)
    return out


def change(cost: Decimal, prev: Decimal) -> dict:
    """--compare's columns: the previous period's cost and the change."""
    return {"prev_cost_usd": prev, "change_usd": cost - prev, "change_pct": ratio((cost - prev) * 100, prev)}


def report_rows(
    groups: dict[tuple, Totals],
    dims: list[str],
    total: Totals,
    opts: Options = Options(),
    previous: dict[tuple, Totals] | None = None,
) -> list[dict]:
    """One dict per group; with `previous`, adds prev_cost_usd, change_usd and change_pct."""
    keys = set(groups) | set(previous or {})
    out = []
    for k in keys:
        t = groups.get(k) or Totals()
        row = {**dict(zip(dims, k)), **totals_row(t, total.cost_usd, opts)}
        if previous is not None:
            row.update(change(t.cost_usd, (previous.get(k) or Totals()).cost_usd))
        if total.caveats:
            row["caveat_calls"], row["caveat_usd"] = t.caveat_calls, t.caveat_usd
        out.append(row)
    if dims and dims[0] in TIME_DIMENSIONS:
        out.sort(key=lambda r: tuple(r[d] for d in dims))
    else:
        out.sort(key=lambda r: (-r["cost_usd"], tuple(r[d] for d in dims)))
    return out


def caveat_lines(caveats: list[dict]) -> list[str]:
    """One line per price caveat (query.Answer.caveats: caveat, calls, cost_usd), for a report's footer."""
    lines = []
    for c in caveats:
        meaning = "; ".join(_CAVEAT_MEANING.get(part.split(":")[0], part) for part in c["caveat"].split(","))
        lines.append(f"caveat {c['caveat']}: {c['calls']:,} calls, {money(c['cost_usd'])} ({meaning})")
    return lines


_CAVEAT_MEANING = {
    "tier_by_rule": "their tier has no listed price at their date: priced by the provider's documented rule",
    "tier_unpriced": "their tier has no listed price and no documented rule: priced at the standard rate",
    "audio_at_text_rate": "audio tokens priced at the text rate: the price data has no audio rate",
}


def with_caveats(calls: list[dict], rows: list[LedgerRow]) -> list[dict]:
    """`calls` (call_row dicts of `rows`) with a `caveat` column when any of them has one."""
    if any(r.price_caveat for r in rows):
        for c, r in zip(calls, rows):
            c["caveat"] = r.price_caveat
    return calls


def call_row(r: LedgerRow) -> dict:
    return {
        "call_id": f"{r.trace_id}-{r.span_id}",
        "time": iso(r.start_unix_nano),
        "trace_id": r.trace_id,
        "span_id": r.span_id,
        "agent": r.agent_path,
        "model": r.model,
        "provider": r.provider,
        "feature": r.tags.get("feature"),
        "customer_id": r.tags.get("customer_id"),
        **{f: getattr(r, f) for f in TOKEN_FIELDS},
        "cost_usd": r.cost_usd,
        "status": r.status or "priced",
    }


def trace_steps(rows: list[LedgerRow]) -> tuple[list[dict], list[dict], Totals]:
    """One trace's cost by agent step (in order of first call), its calls, and its total."""
    rows = sorted(rows, key=lambda r: (r.start_unix_nano, r.span_id))
    groups, total = aggregate(rows, ["agent"])
    order = list(dict.fromkeys(dimensions.value(r, "agent") for r in rows))
    steps = [{"agent": a, **totals_row(groups[(a,)], total.cost_usd, Options())} for a in order]
    return steps, with_caveats([call_row(r) for r in rows], rows), total


def untagged_summary(
    rows: Iterable[LedgerRow], required: list[str], untagged: str = DEFAULT_UNTAGGED, owner: str | None = None
) -> dict:
    """Spend on calls missing any required tag: the bucket someone has to drive to zero."""
    bucket, total = Totals(), Totals()
    missing = {t: 0 for t in required}
    opts = Options(untagged=untagged)
    for row in rows:
        total.add(row, opts)
        lacking = [t for t in required if row.tags.get(t, untagged) in ("", untagged)]
        if lacking:
            bucket.add(row, opts)
            for t in lacking:
                missing[t] += 1
    return {
        "calls": bucket.calls,
        "cost_usd": bucket.cost_usd,
        "share": ratio(bucket.cost_usd, total.cost_usd) or (ZERO if total.cost_usd else None),
        "total_cost_usd": total.cost_usd,
        "owner": owner,
        "missing": missing,
    }


def top_label_values(
    rows: Iterable[LedgerRow], dims: list[str], n: int, untagged: str = DEFAULT_UNTAGGED
) -> dict[str, list[str]]:
    """The n costliest values of each dimension: seeds MetricsSink's label budget."""
    costs: dict[str, dict[str, Decimal]] = {d: {} for d in dims}
    for row in rows:
        for d in dims:
            v = dimensions.value(row, d, untagged)
            costs[d][v] = costs[d].get(v, ZERO) + (row.cost_usd or ZERO)
    return {d: [v for v, _ in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:n]] for d, c in costs.items()}
