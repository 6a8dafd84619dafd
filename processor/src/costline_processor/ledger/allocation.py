"""Showback: the untagged bucket of a report spread over the values of one of its tags, by their tagged cost.

`report --by customer_id --allocate-untagged customer_id`: the cost of the calls without a
customer_id is given to the customers in proportion to what their own calls cost, so each
customer's row shows its cost with its part of the overhead, and the untagged row goes. With
other dimensions beside the tag (`--by month,customer_id`), each month's untagged cost is
spread over that month's customers. Pure: it rewrites an Answer's rows.

Each row gets `allocated_usd` (its part of the untagged cost; 0 for a row with no tagged cost)
added to cost_usd, and its share and per-call/user/outcome averages follow the new cost; the
calls and tokens stay those of its own calls. The parts add up to the untagged cost exactly:
rows in name order, each part the difference of rounded cumulative shares
(costline_processor.shares, with the tagged costs as weights), so the report's total is
unchanged. A group whose tagged cost is not positive (nothing to weigh by: no tagged call, or
credits) keeps its untagged row, and the result says how much stayed there.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from costline_processor.config import ConfigError
from costline_processor.ledger import dimensions
from costline_processor.ledger.render import amount as money
from costline_processor.ledger.reports import ratio
from costline_processor.shares import part_money

ZERO = Decimal(0)
COLUMN = "allocated_usd"


def check(dims: tuple[str, ...], dim: str | None) -> str:
    """The tag `--allocate-untagged` names (when given bare: the report's one tag), or ConfigError."""
    tags = [d for d in dims if dimensions.is_tag(d)]
    if not dim:
        if len(tags) != 1:
            raise ConfigError("--allocate-untagged: name the tag to spread the untagged cost over (a tag of --by)")
        return tags[0]
    if dim not in tags:
        raise ConfigError(f"--allocate-untagged {dim}: the report must be by that tag (--by {dim}, or with others)")
    return dim


def allocate(rows: list[dict], dims: tuple[str, ...], dim: str, untagged: str, grand: Decimal) -> dict[str, Any]:
    """Spread each untagged row of `dim` over its tagged peers (same other dimensions), in place (the rows
    list loses the rows it spreads). Returns {dim, allocated_usd, unallocated_usd}."""
    others = [d for d in dims if d != dim]
    peers: dict[tuple, list[dict]] = {}
    for row in rows:
        row[COLUMN] = ZERO
        peers.setdefault(tuple(row[d] for d in others), []).append(row)
    allocated = unallocated = ZERO
    spread_rows: set[int] = set()
    for group in peers.values():
        bucket = [r for r in group if r[dim] == untagged]
        tagged = sorted((r for r in group if r[dim] != untagged), key=lambda r: r[dim])
        if not bucket:
            continue
        spread = _spread(bucket[0]["cost_usd"], tagged)
        if spread is None:
            unallocated += bucket[0]["cost_usd"]
            continue
        for row, amount in zip(tagged, spread):
            _add(row, amount, grand)
        allocated += bucket[0]["cost_usd"]
        spread_rows.add(id(bucket[0]))
    rows[:] = [r for r in rows if id(r) not in spread_rows]
    return {"dim": dim, "allocated_usd": allocated, "unallocated_usd": unallocated}


def _spread(amount: Decimal, tagged: list[dict]) -> list[Decimal] | None:
    """`amount` in parts proportional to the rows' cost (exact, shares.part_money), or None: no positive weights."""
    costs = [r["cost_usd"] for r in tagged]
    if not costs or any(c < 0 for c in costs) or sum(costs, ZERO) <= 0:
        return None
    places = max(0, -min(int(c.as_tuple().exponent) for c in costs))
    weights = [int(c.scaleb(places)) for c in costs]
    total, low, out = sum(weights), 0, []
    for w in weights:  # a row of no cost gets nothing (not even what lies below a femto-dollar)
        out.append(part_money(amount, low, low + w, total) if w else ZERO)
        low += w
    return out


def _add(row: dict, amount: Decimal, grand: Decimal) -> None:
    row[COLUMN] = amount
    cost = row["cost_usd"] = row["cost_usd"] + amount
    row["share"] = ratio(cost, grand) or (ZERO if grand else None)
    row["avg_cost_usd"] = ratio(cost, row["calls"] - row["unpriced_calls"])
    if "active_users" in row:
        row["cost_per_user"] = ratio(cost, row["active_users"])
    if "outcomes" in row:
        row["cost_per_outcome"] = ratio(cost, row["outcomes"])


def line(summary: dict[str, Any]) -> str:
    """The line under a report's table that says its rows carry allocated cost."""
    text = (
        f"allocated: {money(summary['allocated_usd'], 2)} of untagged cost spread over {summary['dim']} in "
        "proportion to each value's tagged cost (showback: allocated_usd in each row)"
    )
    if summary["unallocated_usd"]:
        text += f"; {money(summary['unallocated_usd'], 2)} stays untagged (no tagged cost beside it to weigh by)"
    return text
