"""Each view in Chromium: it loads without console errors and shows the numbers the CLI prints.

The page's cells carry the API's JSON values (data-value), the API's rows come from the same
query layer as `costline report`; here each is held to `costline ... --format json` run as a
subprocess on the same ledger. Each view's screenshot is written under docs/.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.ui.conftest import TRACE_URL, cli_text
from tests.ui.ledger_rows import AGENT_TRACE


def table(page, selector: str, key: str) -> dict[str, dict[str, str]]:
    """A table's rows keyed by the `key` column: column -> data-value."""
    return page.page.eval_on_selector(
        selector,
        """(t, key) => Object.fromEntries([...t.querySelectorAll('tbody tr')].map(tr => {
            const cells = [...tr.querySelectorAll('td')];
            const row = Object.fromEntries(cells.map(td => [td.dataset.column, td.dataset.value]));
            return [row[key], row];
        }))""",
        key,
    )


def value(page, selector: str) -> float:
    return float(page.page.get_attribute(selector, "data-value"))


def number(text: str) -> float | None:
    return float(text) if text else None


def utc_day() -> str:
    return datetime.fromtimestamp(time.time(), UTC).strftime("%Y-%m-%d")


def test_overview_shows_the_reports_numbers(page, cli_json):
    """The page answers at one moment and the CLI a few seconds later: when a UTC day (or month) begins between
    the two, "this month", the forecast and the budgets' periods are different questions, so the comparison is
    made again, both sides asked anew in the new day."""
    on_one_utc_day(lambda: same_numbers_as_the_cli(page, cli_json))
    page.page.wait_for_selector("#changes-chart[data-drawn='1']")
    page.screenshot("ui-overview.png")


def test_each_answer_says_how_long_the_ledger_took(page):
    """Every panel's answer names its time in the ledger (Server-Timing `ledger`, read by the browser) and what
    answered (SQLite, or the columnar copy in DuckDB once it is loaded), or says it was kept (`cache`); the same
    panels asked again at once are the kept answers."""

    def timings() -> dict[str, list]:
        entries = page.page.evaluate(
            "performance.getEntriesByType('resource').filter(e => e.name.includes('/api/overview/'))"
            ".map(e => [e.name, e.serverTiming.map(t => [t.name, t.duration, t.description])])"
        )
        return {name.split("/api/overview/")[1]: said for name, said in entries}

    first = timings()
    assert len(first) == 9, first
    for said in first.values():
        assert len(said) == 1, first
        name, ms, engine = said[0]
        assert name == "cache" or (name == "ledger" and ms > 0 and engine in ("sqlite", "duckdb")), first
    page.page.reload()
    page.wait("overview")
    assert {panel: said[0][0] for panel, said in timings().items()} == dict.fromkeys(first, "cache")


def on_one_utc_day(check) -> None:
    """`check()`, and once more if it failed while a UTC day began: the page and the CLI then asked apart."""
    day = utc_day()
    try:
        check()
    except AssertionError:
        if utc_day() == day:
            raise
        check()


def bars(page) -> list[list]:
    """The spend chart's bars: [x label, feature label, cost], every one of the stack."""
    return sorted(
        page.page.evaluate(
            """() => document.getElementById('series-chart').data.flatMap(t => t.x.map((x, i) => [x, t.name, t.y[i]]))"""
        )
    )


def stacked(report: list[dict], unit: str) -> list[list]:
    """The bars a report by (unit, feature) makes: every feature on every bucket, the empty ones too: a (bucket,
    feature) the report has no row for is a bar of 0, as is one whose only calls are unpriced (its row says 0)."""
    xs, features = sorted({r[unit] for r in report}), sorted({r["feature"] for r in report})
    cost = {(r[unit], r["feature"]): r["cost_usd"] for r in report}
    return sorted([plot_text(x), plot_text(f), cost.get((x, f), 0)] for x in xs for f in features)


def test_the_spend_chart_per_week_and_month_is_the_reports(page, cli_json):
    page.open("#overview", "overview")
    for unit in ("week", "month"):
        page.act(lambda: page.page.select_option("select[name=unit]", unit), "overview")
        assert f"unit={unit}" in page.page.url
        page.page.wait_for_selector("#series-chart[data-drawn='1']")
        assert bars(page) == stacked(cli_json("report", "--by", f"{unit},feature"), unit)


def plot_text(text: str) -> str:
    """A label as the chart shows it: charts.js escapes what plotly would read as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def same_numbers_as_the_cli(page, cli_json) -> None:
    page.open("#overview", "overview")
    for name in ("months", "untagged", "series", "changes", "features", "customers", "users", "cohorts"):
        assert page.page.locator(f"section[data-loaded='{name}'] .error").count() == 0, name
    month = cli_json("report", "--by", "month", "--mtd", "--forecast", "month")
    if month:  # none when a month began during the run: no call of the ledger is in it, and no forecast row
        assert value(page, "#this-month .value") == pytest.approx(month[0]["cost_usd"], rel=1e-12)
        # the forecast adds the run rate until the month's end from now, and now moves on between page and CLI
        assert value(page, "#forecast .value") == pytest.approx(month[0]["forecast_usd"], abs=0.01)
    else:
        assert value(page, "#this-month .value") == 0
    (last_month,) = cli_json("report", "--by", "month", "--last-month")
    assert value(page, "#last-month .value") == pytest.approx(last_month["cost_usd"], rel=1e-12)

    features = table(page, "section[data-loaded='features'] table", "feature")
    top = cli_json("top", "features", "-n", "10")
    assert list(features) == [r["feature"] for r in top]
    for r in top:
        assert float(features[r["feature"]]["cost_usd"]) == r["cost_usd"]
    customers = table(page, "section[data-loaded='customers'] table", "customer_id")
    assert {k: float(v["cost_usd"]) for k, v in customers.items()} == {
        r["customer_id"]: r["cost_usd"] for r in cli_json("top", "customers", "-n", "10")
    }
    untagged = cli_json("report", "--untagged")
    assert value(page, "#untagged-cost .value") == untagged["cost_usd"]
    assert value(page, "#untagged-share .value") == untagged["share"]
    assert page.page.text_content("#untagged-owner .value") == "platform-team"

    weeks = table(page, "section[data-loaded='users'] table", "week")
    assert {k: (int(v["active_users"]), float(v["cost_per_user"])) for k, v in weeks.items()} == {
        r["week"]: (r["active_users"], r["cost_per_user"]) for r in cli_json("report", "--by", "week", "--per-user")
    }
    plans = table(page, "section[data-loaded='cohorts'] table", "plan")
    assert {k: number(v["cost_per_user"]) for k, v in plans.items()} == {
        r["plan"]: r["cost_per_user"] for r in cli_json("report", "--by", "plan", "--per-user")
    }
    assert bars(page) == stacked(cli_json("report", "--by", "day,feature"), "day")
    budgets = page.page.eval_on_selector_all(
        "#budgets-table tbody tr",
        """trs => trs.map(tr => [tr.dataset.budget, tr.dataset.scope,
            ...['spent_usd', 'used', 'forecast_usd'].map(
                c => +tr.querySelector(`td[data-column=${c}]`).dataset.value)])""",
    )
    expected = cli_json("budgets")
    assert [b[:4] for b in budgets] == [[r["budget"], r["scope"], r["spent_usd"], r["used"]] for r in expected]
    assert [b[4] for b in budgets] == pytest.approx([r["forecast_usd"] for r in expected], abs=0.01)
    assert len(budgets) >= 3
    explained = cli_json("explain", "--by", "feature")
    assert page.page.text_content("#changes-headline") == explained["headline"]
    assert value(page, "#changes-headline") == explained["total"]["change_usd"]


def explore_rows(page) -> list[dict[str, str]]:
    return page.page.eval_on_selector(
        "table.answer",
        """t => [...t.querySelectorAll('tbody tr')].map(tr =>
            Object.fromEntries([...tr.querySelectorAll('td')].map(td => [td.dataset.column, td.dataset.value])))""",
    )


def same_rows(shown: list[dict[str, str]], report: list[dict], dims: tuple[str, ...]) -> None:
    """The page's rows are the report's, in its order, with its calls and cost."""
    assert [tuple(r[d] for d in dims) for r in shown] == [tuple(r[d] for d in dims) for r in report]
    for s, r in zip(shown, report):
        assert (int(s["calls"]), float(s["cost_usd"])) == (r["calls"], r["cost_usd"])


def test_explore_filters_and_sorts_as_the_cli_does(page, cli_json):
    page.open("#explore?by=feature,model&since=30d", "explore")
    same_rows(explore_rows(page), cli_json("report", "--by", "feature,model", "--since", "30d"), ("feature", "model"))
    total = cli_json("report", "--by", "month", "--since", "30d")
    assert float(page.page.get_attribute("#explore-total", "data-value")) == pytest.approx(
        sum(r["cost_usd"] for r in total), rel=1e-12
    )

    page.page.fill("input[name=where]", "model!=gpt-4o")
    page.act(lambda: page.page.press("input[name=where]", "Enter"), "explore")
    assert page.page.text_content(".chip span") == "model!=gpt-4o"
    filtered = cli_json("report", "--by", "feature,model", "--since", "30d", "--where", "model!=gpt-4o")
    same_rows(explore_rows(page), filtered, ("feature", "model"))
    assert all(r["model"] != "gpt-4o" for r in explore_rows(page))

    page.act(lambda: page.page.click("th[data-column=calls]"), "explore")
    assert page.page.locator("th.sorted[data-column=calls]").count() == 1
    report = cli_json(
        "report", "--by", "feature,model", "--since", "30d", "--where", "model!=gpt-4o", "--sort", "calls"
    )
    same_rows(explore_rows(page), report, ("feature", "model"))
    page.page.wait_for_selector("#explore-chart[data-drawn='1']")
    page.screenshot("ui-explore.png")


def test_a_period_changes_the_numbers_as_the_cli_does(page, cli_json):
    page.open("#explore?by=customer_id", "explore")
    page.act(lambda: page.page.select_option("select[name=period]", "7d"), "explore")
    same_rows(explore_rows(page), cli_json("report", "--by", "customer_id", "--since", "7d"), ("customer_id",))
    page.act(lambda: page.page.select_option("select[name=period]", "last_month"), "explore")
    assert "last_month=1" in page.page.url
    same_rows(explore_rows(page), cli_json("report", "--by", "customer_id", "--last-month"), ("customer_id",))

    page.open("#overview", "overview")
    page.act(lambda: page.page.select_option("select[name=period]", "7d"), "overview")
    assert "since=7d" in page.page.url
    for kind, dim in (("features", "feature"), ("customers", "customer_id")):
        shown = table(page, f"section[data-loaded='{kind}'] table", dim)
        top = cli_json("top", kind, "-n", "10", "--since", "7d")
        assert [(k, int(v["calls"]), float(v["cost_usd"])) for k, v in shown.items()] == [
            (r[dim], r["calls"], r["cost_usd"]) for r in top
        ]
    page.page.wait_for_selector("#series-chart[data-drawn='1']")
    assert bars(page) == stacked(cli_json("report", "--by", "day,feature", "--since", "7d"), "day")


def test_traces_list_and_one_trace_adds_up_to_its_rollup(page, cli_json, ledger):
    page.open("#traces", "traces")
    top = cli_json("top", "traces", "-n", "50", "--since", "30d")
    listed = explore_rows(page)
    shown = [r["trace_id"] for r in listed]
    assert shown == [r["trace_id"] for r in top]
    assert [(int(r["calls"]), float(r["cost_usd"])) for r in listed] == [(r["calls"], r["cost_usd"]) for r in top]
    assert shown[0] == AGENT_TRACE
    page.screenshot("ui-traces.png")

    page.act(lambda: page.page.click(f"a[href='#trace/{AGENT_TRACE}']"), "trace")
    nodes = page.page.eval_on_selector_all(
        "#trace-tree tbody tr",
        """trs => trs.map(tr => ({kind: tr.dataset.kind, cost: tr.dataset.cost,
                                 calls: +tr.dataset.calls, depth: +tr.dataset.depth}))""",
    )
    rollup = cli_json("trace", AGENT_TRACE)
    headline = cli_text(ledger, "trace", AGENT_TRACE).splitlines()[0]  # trace ID: $6.125000 over 5 calls (0 unpriced)
    assert page.page.text_content("#rollup").startswith(headline.split(": ", 1)[1] + " ")
    assert Decimal(page.page.get_attribute("#rollup", "data-value")) == Decimal(str(rollup["cost_usd"]))
    assert nodes[0]["kind"] == "trace" and Decimal(nodes[0]["cost"]) == Decimal(str(rollup["cost_usd"]))
    assert nodes[0]["calls"] == rollup["calls"] == sum(n["kind"] == "call" for n in nodes)
    for i, node in enumerate(nodes):  # each step (and the trace) is the sum of its children
        if node["kind"] == "call":
            continue
        children = []
        for later in nodes[i + 1 :]:
            if later["depth"] <= node["depth"]:
                break
            if later["depth"] == node["depth"] + 1:
                children.append(later)
        assert sum(Decimal(c["cost"]) for c in children) == Decimal(node["cost"])
        assert sum(c["calls"] for c in children) == node["calls"]
    assert page.page.get_attribute("#trace-link", "href") == TRACE_URL.format(trace_id=AGENT_TRACE)
    page.screenshot("ui-trace.png")


def table_text(text: str, first: str = "feature") -> tuple[list[dict[str, str]], str]:
    """The CLI's table as printed, from its header (the line starting with the column `first`): its rows (column
    -> cell text, columns apart by two spaces or more), and the lines under it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first + " "))
    columns = re.split(r"\s{2,}", lines[start].strip())
    rows = []
    for i, line in enumerate(lines[start + 1 :], start + 1):
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) != len(columns):
            return rows, "\n".join(lines[i:])
        rows.append(dict(zip(columns, cells)))
    return rows, ""


def cell_texts(page, selector: str) -> list[dict[str, str]]:
    return page.page.eval_on_selector(
        selector,
        """t => [...t.querySelectorAll('tbody tr')].map(tr =>
            Object.fromEntries([...tr.querySelectorAll('td')].map(td => [td.dataset.column, td.textContent])))""",
    )


def test_money_reads_as_the_clis_text(page, ledger):
    """Cells as the CLI's table prints them (four decimals, more for less, `-$0.0057`), totals as its footers do
    (cents, more for less than a cent): the same text, held to `costline report/explain` run on the same ledger."""
    page.open("#explore?by=feature&since=30d", "explore")
    rows, footer = table_text(cli_text(ledger, "report", "--by", "feature", "--since", "30d"))
    shown = cell_texts(page, "table.answer")
    assert shown == [{c: r[c] for c in shown[0]} for r in rows]
    assert all(re.fullmatch(r"\$\d+\.\d{4,}", r["cost_usd"]) for r in shown)
    total = re.search(r"^total: (\S+) over ([\d,]+) calls \(([\d,]+) unpriced\)", footer, re.M)
    assert total and re.fullmatch(r"\$[\d,]+\.\d\d", total[1])
    untagged = re.search(r"^untagged: (\S+) \((\S+)\)", footer, re.M)
    assert untagged
    assert page.page.text_content("#explore-total") == (
        f"total {total[1]} over {total[2]} calls ({total[3]} unpriced); untagged {untagged[1]} ({untagged[2]})"
    )
    on_one_utc_day(lambda: overview_money(page, ledger))


def overview_money(page, ledger) -> None:
    page.open("#overview", "overview")
    _, footer = table_text(cli_text(ledger, "report", "--mtd"))
    this_month = re.search(r"^total: (\S+) over", footer, re.M)  # none: a month began during the run, no call yet
    assert page.page.text_content("#this-month .value") == (this_month[1] if this_month else "$0.00")
    _, footer = table_text(cli_text(ledger, "report", "--last-month"))
    last_month = re.search(r"^total: (\S+) over", footer, re.M)
    assert last_month and page.page.text_content("#last-month .value") == last_month[1]
    assert re.fullmatch(r"\$[\d,]+\.\d\d", page.page.text_content("#forecast .value") or "")
    untagged = re.search(r"^untagged: (\S+) \((\S+)\)", cli_text(ledger, "report", "--untagged"))
    assert untagged
    assert page.page.text_content("#untagged-cost .value") == untagged[1]
    assert page.page.text_content("#untagged-share .value") == untagged[2]
    change = page.page.text_content("#change .value") or ""
    assert re.fullmatch(r"[+-]\d+\.\d%", change), change  # report --compare's change_pct, as its table prints it
    budgets, _ = table_text(cli_text(ledger, "budgets", check=False), "budget")  # exit 1: a budget is over
    shown = page.page.eval_on_selector_all(
        "#budgets-table tbody tr",
        """trs => trs.map(tr => [...tr.querySelectorAll('td')].slice(1, 4).map(td => td.textContent.trim()))""",
    )
    assert shown == [[r["spent_usd"], r["amount_usd"], r["used"]] for r in budgets]
    rows, footer = table_text(cli_text(ledger, "explain", "--by", "feature"))
    change = re.search(r"^total: (\S+) -> (\S+) \(([^,)]+)", footer, re.M)
    assert change and page.page.text_content("#changes-total") == f"{change[1]} → {change[2]} ({change[3]})"
    shown = cell_texts(page, "section[data-loaded='changes'] table")
    assert shown == [{c: r[c] for c in shown[0]} for r in rows[: len(shown)]]
