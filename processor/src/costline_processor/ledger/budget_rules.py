"""Budgets as Prometheus alerting rules, over the cost counter `costline serve` exposes.

    config.budgets + metrics.dimensions --rules--> {"groups": [{"name": "costline-budgets", "rules": [...]}]}

Each budget gives a CostlineBudgetWarning rule per warning share (spent >= amount x share,
severity warning) and a CostlineBudgetOver rule (spent > amount, severity critical), labelled
with the budget's name, period and share. Spent is `costline_cost_usd_total` (metrics.py) of
the budget's label values, summed over every costline process, `by` the "*" scope keys (the
other, untagged and empty values left out, as `costline budgets` leaves out calls without
the tag). A call shared among owners (customer_id=["acme","globex"]) is in each owner's series
with its part (metrics.py), as `costline budgets` counts it. Prometheus cannot follow a
calendar, so a period is a rolling window: day 1d, week 7d, month 30d, where `costline
budgets` counts from the UTC period's start; every rule's description says so. Over the
window, a series that was there at its start counts its increase() (restarts handled); a
series born within it counts its whole value (a counter starts at 0 when its first call is
counted), which increase() alone would miss until a second sample: its highest value in the
window, so a replica scaled away since (its series gone) still counts what it served.

A scope key that is not one of the metrics' labels (metrics.dimensions) cannot be seen by
Prometheus: that budget gets no rule, and `skipped` says why. A fixed value past the label
budget (metrics.max_label_values) is counted under `other`, so its rule reads low.
"""

from __future__ import annotations

import re
from decimal import Decimal

import yaml

from costline_processor.config import EACH, Budget

METRIC = "costline_cost_usd_total"
WINDOWS = {"day": "1d", "week": "7d", "month": "30d"}
OTHER = "other"  # metrics.OTHER: a label value past the label budget (not imported: metrics loads the OTel SDK)
_CALENDAR = {"day": "UTC day", "week": "ISO week", "month": "UTC calendar month"}


def rules(budgets: list[Budget], dimensions: list[str], untagged: str) -> tuple[dict, list[str]]:
    """The rule file (as a mapping) for the budgets Prometheus can see, and a sentence for each it cannot."""
    out, skipped = [], []
    for b in budgets:
        unseen = [k for k in b.scope if k not in dimensions]
        if unseen:
            skipped.append(
                f"budget {b.label!r}: {unseen[0]} is not a label of the cost metrics (metrics.dimensions), so no "
                "Prometheus rule can see it"
            )
            continue
        out += _budget_rules(b, untagged)
    return {"groups": [{"name": "costline-budgets", "rules": out}]}, skipped


def dump(document: dict) -> str:
    head = "# Prometheus alerting rules for costline's budgets: `costline budgets --prometheus-rules`.\n"
    return head + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000)


def spent(b: Budget, untagged: str) -> str:
    """PromQL: the budget's spend over its rolling window, one series per value of its "*" keys."""
    matchers = []
    for key, value in b.scope.items():
        name = label_name(key)
        if value == EACH:
            matchers.append(f'{name}!~"{_quote(_regex_alternatives([OTHER, untagged, ""]))}"')
        else:
            matchers.append(f'{name}="{_quote(value)}"')
    selector = f"{METRIC}{{{', '.join(matchers)}}}"
    window = WINDOWS[b.period]
    by = [label_name(k) for k, v in b.scope.items() if v == EACH]
    inner = f"(increase({selector}[{window}]) and {selector} offset {window}) or max_over_time({selector}[{window}])"
    return f"sum by ({', '.join(by)}) ({inner})" if by else f"sum({inner})"


def _budget_rules(b: Budget, untagged: str) -> list[dict]:
    expr = spent(b, untagged)
    each = [label_name(k) for k, v in b.scope.items() if v == EACH]
    who = "".join(f" {k}={{{{ $labels.{k} }}}}" for k in each)
    name = _literal(b.label)
    labels = {"budget": _literal(b.label), "period": b.period}
    note = (
        f"Spend over the last {WINDOWS[b.period]} (rolling), an approximation of the {_CALENDAR[b.period]} that "
        "`costline budgets` counts exactly from the ledger; values past metrics.max_label_values count as other."
    )
    out = []
    for share in sorted({Decimal(str(s)) for s in b.warn_at}):
        threshold = _number(b.amount_usd * share)
        out.append(
            {
                "alert": "CostlineBudgetWarning",
                "expr": f"{expr} >= {threshold}",
                "labels": {**labels, "severity": "warning", "share": _number(share)},
                "annotations": {
                    "summary": f'Budget {name}{who}: ${{{{ $value | printf "%.2f" }}}} spent, '
                    f"{_number(share * 100)}% or more of ${_number(b.amount_usd)} per {b.period}.",
                    "description": note,
                },
            }
        )
    out.append(
        {
            "alert": "CostlineBudgetOver",
            "expr": f"{expr} > {_number(b.amount_usd)}",
            "labels": {**labels, "severity": "critical"},
            "annotations": {
                "summary": f'Budget {name}{who}: ${{{{ $value | printf "%.2f" }}}} spent, over '
                f"${_number(b.amount_usd)} per {b.period}.",
                "description": note,
            },
        }
    )
    return out


def label_name(key: str) -> str:
    """The Prometheus label a metric dimension becomes (the exporter turns other characters into _)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", key)
    return f"_{name}" if name[:1].isdigit() else name


def _regex_alternatives(values: list[str]) -> str:
    return "|".join(re.escape(v) for v in dict.fromkeys(values))


def _quote(text: str) -> str:
    """A PromQL double-quoted string's content."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _number(d: Decimal) -> str:
    return format(d.normalize(), "f")


def _literal(text: str) -> str:
    """Text shown as it is in an annotation, which Prometheus expands as a Go template."""
    return text.replace("{{", "{ {").replace("}}", "} }")
