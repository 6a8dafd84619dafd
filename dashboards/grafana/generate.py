"""Writes dashboards/grafana/dashboards/costline-spend.json, the provisioned dashboard.

    python dashboards/grafana/generate.py          # rewrite the JSON
    python dashboards/grafana/generate.py --check  # exit 1 if the JSON is out of date

The JSON is what Grafana loads (and what tests/deploy checks against a real
Prometheus scraping a real `costline serve`); this script is how it is written, so
the PromQL and the trace links live in one readable place. Edit here, regenerate,
commit both. Written for Grafana 12.4 (classic dashboard JSON, schemaVersion 41).

Every Prometheus query filters on the dashboard variables through `F`:
environment, team and service are metric dimensions (deploy/costline.yaml adds
`service` and `plan` to costline's defaults); with "All" selected they match any value,
including series that lack the label.

No panel names a datasource uid. Panels, targets and trace links go through two
datasource variables, `prometheus_ds` and `tempo_ds`, so the one JSON works two ways:

    provisioned  (docker-compose.yml)  `__inputs` is ignored; a variable's current value
                 `${DS_PROMETHEUS}` matches no datasource, so Grafana takes the option whose
                 name is the current text, "Prometheus" (then "Tempo"), as provisioned in
                 dashboards/grafana/provisioning/datasources/datasources.yaml;
    imported     (Dashboards > New > Import)  the dialog asks for one Prometheus and one Tempo
                 datasource (`__inputs`) and writes their uids where `${DS_PROMETHEUS}` and
                 `${DS_TEMPO}` stand, so the variables start on the chosen ones.

Either way the variables stay on the dashboard, to switch datasource later.
"""

from __future__ import annotations

import json
import re
import sys
import urllib.parse
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards" / "costline-spend.json"
PROM = {"type": "prometheus", "uid": "${prometheus_ds}"}
TEMPO = {"type": "tempo", "uid": "${tempo_ds}"}
# The import dialog's questions (Grafana replaces "${NAME}" with the uid picked for input NAME), and
# the datasource each variable selects when provisioned: (variable, label, plugin, input, provisioned name).
DATASOURCES = [
    ("prometheus_ds", "Prometheus", "prometheus", "DS_PROMETHEUS", "Prometheus"),
    ("tempo_ds", "Tempo", "tempo", "DS_TEMPO", "Tempo"),
]
GRAFANA = "12.4.3"  # the image docker-compose.yml pins
PANEL_NAMES = {"stat": "Stat", "bargauge": "Bar gauge", "timeseries": "Time series", "table": "Table"}

F = 'environment=~"$environment", team=~"$team", service=~"$service"'
COST = "costline_cost_usd_total"
CALLS = "costline_llm_calls_total"
TOKENS = "costline_tokens_total"
UNPRICED = "costline_unpriced_calls_total"
KNOWN = 'customer_id!~"untagged|other"'  # customers with a real id (not missing, not past the label budget)


def sel(metric: str, *extra: str) -> str:
    return f"{metric}{{{', '.join([F, *extra])}}}"


# -- queries -----------------------------------------------------------------------------
TOTAL_SPEND = f"sum(increase({sel(COST)}[$__range]))"
SPEND_RATE_BY_FEATURE = f"sum by (feature) (rate({sel(COST)}[$__rate_interval])) * 3600"
TOP_FEATURES = f"topk(10, sum by (feature) (increase({sel(COST)}[$__range])))"
TOP_CUSTOMERS = f"topk(10, sum by (customer_id) (increase({sel(COST, KNOWN)}[$__range])))"
ACTIVE_CUSTOMERS = f"count(sum by (customer_id) (increase({sel(CALLS, KNOWN)}[$__range])) > 0)"
COST_PER_ACTIVE_CUSTOMER = f"sum(increase({sel(COST, KNOWN)}[$__range]))\n/\n{ACTIVE_CUSTOMERS}"
SPEND_BY_PLAN = f"sum by (plan) (increase({sel(COST)}[$__range]))"
COST_PER_CUSTOMER_BY_PLAN = (
    f"sum by (plan) (increase({sel(COST, KNOWN)}[$__range]))\n/\n"
    f"count by (plan) (sum by (plan, customer_id) (increase({sel(CALLS, KNOWN)}[$__range])) > 0)"
)
SPEND_BY_MODEL = f"sum by (provider, model) (increase({sel(COST)}[$__range]))"
SPEND_RATE_BY_PROVIDER = f"sum by (provider) (rate({sel(COST)}[$__rate_interval])) * 3600"
IN_A_STEP = sel(COST, 'agent!=""')
UNTAGGED_FEATURE = sel(COST, 'feature="untagged"')
UNTAGGED_CUSTOMER = sel(COST, 'customer_id="untagged"')
COST_BY_AGENT_STEP = f"sum by (agent) (increase({IN_A_STEP}[$__range]))"
UNTAGGED = f"sum(\n  increase({UNTAGGED_FEATURE}[$__range])\nor\n  increase({UNTAGGED_CUSTOMER}[$__range])\n)"
UNTAGGED_RATE = (
    f"sum(\n  rate({UNTAGGED_FEATURE}[$__rate_interval])\nor\n  rate({UNTAGGED_CUSTOMER}[$__rate_interval])\n) * 3600"
)
UNTAGGED_SHARE = f"{UNTAGGED}\n/\n{TOTAL_SPEND}"
UNPRICED_CALLS = f"sum by (reason, model) (increase({sel(UNPRICED)}[$__range])) > 0"
TOKENS_PER_MINUTE = f"sum by (type) (rate({sel(TOKENS)}[$__rate_interval])) * 60"

# -- TraceQL behind the panels (Tempo) -------------------------------------------------------
# Attribute names are the ones costline writes (README "Attributes costline writes");
# tests/deploy checks each one appears on spans a real costline exported.
EXPENSIVE_TRACES = "{ nestedSetParent < 0 && span.costline.rollup.cost_usd > ${min_cost} }"
EXPENSIVE_CALLS = "{ span.costline.cost.usd > ${min_cost} }"


def calls_where(condition: str) -> str:
    return "{ " + condition + " && span.costline.cost.usd > 0 }"


TRACEQL_FEATURE = calls_where('span.costline.feature = "${__field.labels.feature}"')
TRACEQL_CUSTOMER = calls_where('span.costline.customer_id = "${__field.labels.customer_id}"')
TRACEQL_PLAN = calls_where('span.costline.plan = "${__field.labels.plan}"')
TRACEQL_PROVIDER = calls_where('span.costline.price.provider = "${__field.labels.provider}"')
TRACEQL_MODEL = calls_where(
    'span.costline.price.provider = "${__field.labels.provider}" && '
    'span.costline.price.model = "${__field.labels.model}"'
)
TRACEQL_AGENT = calls_where('span.costline.agent.path = "${__field.labels.agent}"')
TRACEQL_UNTAGGED = calls_where('(span.costline.feature = "untagged" || span.costline.customer_id = "untagged")')
TRACEQL_UNPRICED = '{ span.costline.cost.status = "${__field.labels.reason}" }'

_PLACEHOLDER = re.compile(r"\$\{[^}]+\}")


def explore_url(traceql: str, datasource: dict = TEMPO, table: str = "traces") -> str:
    """A Grafana Explore link running `traceql` over the panel's time range.

    The `${...}` placeholders stay raw in the URL so Grafana fills them in when the
    link is clicked (label values percent-encoded); everything else is encoded.
    """
    pane = {
        "datasource": datasource["uid"],
        "queries": [
            {
                "refId": "A",
                "datasource": datasource,
                "queryType": "traceql",
                "query": traceql,
                "limit": 20,
                "tableType": table,
            }
        ],
        "range": {"from": "${__from}", "to": "${__to}"},
    }
    raw = json.dumps({"costline": pane}, separators=(",", ":"))
    found: list[str] = []

    def keep(m: re.Match) -> str:
        found.append(m.group(0))
        return f"PLACEHOLDER{len(found) - 1}X"

    encoded = urllib.parse.quote(_PLACEHOLDER.sub(keep, raw), safe="")
    for i, ph in enumerate(found):
        if ph.startswith("${__field."):
            ph = ph[:-1] + ":percentencode}"
        encoded = encoded.replace(f"PLACEHOLDER{i}X", ph)
    return "/explore?schemaVersion=1&orgId=1&panes=" + encoded


def link(title: str, traceql: str, table: str = "traces") -> dict:
    return {"title": title, "url": explore_url(traceql, table=table), "targetBlank": False}


CALL_LINK = "Calls behind this number (Tempo)"


# -- panels ----------------------------------------------------------------------------------
class Layout:
    def __init__(self):
        self.next_id = 1

    def panel(self, kind: str, title: str, description: str, x: int, y: int, w: int, h: int, **rest) -> dict:
        p = {
            "id": self.next_id,
            "type": kind,
            "title": title,
            "description": description,
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            **rest,
        }
        self.next_id += 1
        return p


def target(expr: str, legend: str = "", *, instant: bool, ref: str = "A", table: bool = False) -> dict:
    t = {
        "refId": ref,
        "datasource": PROM,
        "expr": expr,
        "legendFormat": legend,
        "instant": instant,
        "range": not instant,
    }
    if table:
        t["format"] = "table"
    return t


def field_config(unit: str, links: list[dict] = (), **custom) -> dict:
    defaults: dict = {"unit": unit, "links": list(links)}
    if custom:
        defaults["custom"] = custom
    if unit == "currencyUSD":
        defaults["decimals"] = 4
    return {"defaults": defaults, "overrides": []}


def stat(lay: Layout, title: str, description: str, expr: str, unit: str, x: int, y: int, links=()) -> dict:
    return lay.panel(
        "stat",
        title,
        description,
        x,
        y,
        6,
        4,
        datasource=PROM,
        fieldConfig=field_config(unit, links),
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "none",
            "textMode": "auto",
        },
        targets=[target(expr, instant=True)],
    )


def bars(
    lay: Layout, title: str, description: str, expr: str, legend: str, x: int, y: int, w: int, h: int, links=()
) -> dict:
    return lay.panel(
        "bargauge",
        title,
        description,
        x,
        y,
        w,
        h,
        datasource=PROM,
        fieldConfig=field_config("currencyUSD", links),
        options={
            "orientation": "horizontal",
            "displayMode": "gradient",
            "showUnfilled": True,
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        },
        targets=[target(expr, legend, instant=True)],
    )


def series(
    lay: Layout,
    title: str,
    description: str,
    expr: str,
    legend: str,
    unit: str,
    x: int,
    y: int,
    w: int,
    h: int,
    links=(),
    stacked: bool = True,
) -> dict:
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 60 if stacked else 10, "showPoints": "never"}
    if stacked:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    return lay.panel(
        "timeseries",
        title,
        description,
        x,
        y,
        w,
        h,
        datasource=PROM,
        fieldConfig=field_config(unit, links, **custom),
        options={
            "legend": {"displayMode": "table", "placement": "right", "calcs": ["mean", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        targets=[target(expr, legend, instant=False)],
    )


def tempo_table(lay: Layout, title: str, description: str, traceql: str, table: str, x: int, y: int) -> dict:
    return lay.panel(
        "table",
        title,
        description,
        x,
        y,
        12,
        10,
        datasource=TEMPO,
        targets=[
            {
                "refId": "A",
                "datasource": TEMPO,
                "queryType": "traceql",
                "query": traceql,
                "limit": 20,
                "tableType": table,
            }
        ],
    )


def panels() -> list[dict]:
    lay = Layout()
    ps = [
        stat(
            lay,
            "Total spend",
            "USD of priced LLM calls in the selected time range.",
            TOTAL_SPEND,
            "currencyUSD",
            0,
            0,
            links=[link("Most expensive traces (Tempo)", EXPENSIVE_TRACES)],
        ),
        stat(
            lay,
            "Cost per active customer",
            "Spend of identified customers divided by the customers that made at least one call in the range. "
            "This stands in for cost per active user: distinct users cannot be counted from metric labels without "
            "unbounded cardinality. Customers past metrics.max_label_values are reported as `other` and left out "
            "of both sides. For true per-user numbers use the ledger: `costline report --by week --per-user`.",
            COST_PER_ACTIVE_CUSTOMER,
            "currencyUSD",
            6,
            0,
            links=[link("Most expensive traces (Tempo)", EXPENSIVE_TRACES)],
        ),
        stat(
            lay,
            "Untagged spend",
            "Spend of calls missing a required tag (feature or customer_id): costline fills them with `untagged`. "
            "The owner of this bucket is tagging.owner in costline's config.",
            UNTAGGED,
            "currencyUSD",
            12,
            0,
            links=[link(CALL_LINK, TRACEQL_UNTAGGED, "spans")],
        ),
        stat(
            lay,
            "Untagged share of spend",
            "Untagged spend divided by all spend in the range (alert: CostlineUntaggedSpendShareHigh).",
            UNTAGGED_SHARE,
            "percentunit",
            18,
            0,
            links=[link(CALL_LINK, TRACEQL_UNTAGGED, "spans")],
        ),
        series(
            lay,
            "Spend by feature (USD per hour, stacked)",
            "Spend rate per feature; the stack is the total. Click a series for the calls behind it in Tempo.",
            SPEND_RATE_BY_FEATURE,
            "{{feature}}",
            "currencyUSD",
            0,
            4,
            16,
            9,
            links=[link(CALL_LINK, TRACEQL_FEATURE, "spans")],
        ),
        bars(
            lay,
            "Top 10 features",
            "Spend per feature over the selected range.",
            TOP_FEATURES,
            "{{feature}}",
            16,
            4,
            8,
            9,
            links=[link(CALL_LINK, TRACEQL_FEATURE, "spans")],
        ),
        bars(
            lay,
            "Top 10 customers",
            "Spend per identified customer over the range (untagged and `other` excluded).",
            TOP_CUSTOMERS,
            "{{customer_id}}",
            0,
            13,
            8,
            9,
            links=[link(CALL_LINK, TRACEQL_CUSTOMER, "spans")],
        ),
        lay.panel(
            "table",
            "Spend and cost per active customer, by plan",
            "Cohorts by the `plan` tag (a metric dimension in deploy/costline.yaml; not one of costline's defaults). "
            "Cost per active customer: the plan's spend over its customers with at least one call in the range.",
            8,
            13,
            8,
            9,
            datasource=PROM,
            fieldConfig={
                "defaults": {"unit": "currencyUSD", "decimals": 4, "links": [link(CALL_LINK, TRACEQL_PLAN, "spans")]},
                "overrides": [],
            },
            options={"showHeader": True, "sortBy": [{"displayName": "Spend", "desc": True}]},
            targets=[
                target(SPEND_BY_PLAN, instant=True, ref="A", table=True),
                target(COST_PER_CUSTOMER_BY_PLAN, instant=True, ref="B", table=True),
            ],
            transformations=[
                {"id": "merge", "options": {}},
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True},
                        "renameByName": {"plan": "Plan", "Value #A": "Spend", "Value #B": "Cost per active customer"},
                    },
                },
            ],
        ),
        bars(
            lay,
            "Spend by model and provider",
            "Spend per (provider, model) over the range.",
            SPEND_BY_MODEL,
            "{{provider}} / {{model}}",
            16,
            13,
            8,
            9,
            links=[link(CALL_LINK, TRACEQL_MODEL, "spans")],
        ),
        bars(
            lay,
            "Cost per agent step",
            "Spend per agent path (step names joined by `/`, from costline.step). Calls outside any step are left out.",
            COST_BY_AGENT_STEP,
            "{{agent}}",
            0,
            22,
            12,
            9,
            links=[link(CALL_LINK, TRACEQL_AGENT, "spans")],
        ),
        lay.panel(
            "table",
            "Unpriced calls",
            "Calls costline could not price, by reason and model. Their cost is missing from every other panel: "
            "add the model to the price file (costline serve --prices).",
            12,
            22,
            12,
            9,
            datasource=PROM,
            fieldConfig={
                "defaults": {"links": [link("These calls (Tempo)", TRACEQL_UNPRICED, "spans")]},
                "overrides": [],
            },
            options={"showHeader": True},
            targets=[target(UNPRICED_CALLS, instant=True, table=True)],
            transformations=[
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True},
                        "renameByName": {"reason": "Reason", "model": "Model", "Value": "Calls"},
                    },
                }
            ],
        ),
        series(
            lay,
            "Spend by provider (USD per hour, stacked)",
            "Spend rate per provider.",
            SPEND_RATE_BY_PROVIDER,
            "{{provider}}",
            "currencyUSD",
            0,
            31,
            12,
            8,
            links=[link(CALL_LINK, TRACEQL_PROVIDER, "spans")],
        ),
        series(
            lay,
            "Untagged spend (USD per hour)",
            "Spend rate of calls missing feature or customer_id.",
            UNTAGGED_RATE,
            "untagged",
            "currencyUSD",
            12,
            31,
            6,
            8,
            links=[link(CALL_LINK, TRACEQL_UNTAGGED, "spans")],
            stacked=False,
        ),
        series(
            lay,
            "Tokens per minute, by type",
            "input includes cache reads and writes; output includes reasoning.",
            TOKENS_PER_MINUTE,
            "{{type}}",
            "short",
            18,
            31,
            6,
            8,
            stacked=False,
        ),
        tempo_table(
            lay,
            "Most expensive traces (Tempo)",
            "Root spans whose rolled-up cost (costline.rollup.cost_usd) is above the min_cost variable.",
            EXPENSIVE_TRACES,
            "traces",
            0,
            39,
        ),
        tempo_table(
            lay,
            "Most expensive calls (Tempo)",
            "Model-call spans whose own cost (costline.cost.usd) is above min_cost.",
            EXPENSIVE_CALLS,
            "spans",
            12,
            39,
        ),
    ]
    return ps


def query_variable(name: str, label: str) -> dict:
    q = f"label_values({CALLS}, {name})"
    # the classic string form: every Grafana version reads it (and upgrades it in place)
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": PROM,
        "query": q,
        "definition": q,
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def datasource_variable(name: str, label: str, plugin: str, input_name: str, provisioned: str) -> dict:
    return {
        "name": name,
        "label": label,
        "type": "datasource",
        "query": plugin,
        "regex": "",
        "refresh": 1,
        "hide": 0,
        "multi": False,
        "includeAll": False,
        "options": [],
        "current": {"selected": True, "text": provisioned, "value": "${" + input_name + "}"},
    }


def inputs() -> list[dict]:
    return [
        {
            "name": input_name,
            "label": label,
            "description": f"the {label} datasource with costline's "
            + ("metrics" if plugin == "prometheus" else "enriched traces"),
            "type": "datasource",
            "pluginId": plugin,
            "pluginName": label,
        }
        for _, label, plugin, input_name, _ in DATASOURCES
    ]


def requires() -> list[dict]:
    plugins = [("grafana", "grafana", "Grafana", GRAFANA)]
    plugins += [("datasource", plugin, label, "") for _, label, plugin, _, _ in DATASOURCES]
    plugins += [("panel", kind, PANEL_NAMES[kind], "") for kind in sorted({p["type"] for p in panels()})]
    return [{"type": t, "id": i, "name": n, "version": v} for t, i, n, v in plugins]


def dashboard() -> dict:
    return {
        "__inputs": inputs(),
        "__requires": requires(),
        "uid": "costline-spend",
        "title": "costline: LLM spend",
        "description": "LLM spend from costline's Prometheus metrics, with links to the traces behind each number.",
        "tags": ["costline", "llm", "cost"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 41,
        "version": 1,
        "time": {"from": "now-3h", "to": "now"},
        "refresh": "30s",
        "timezone": "browser",
        "links": [
            {
                "title": "Most expensive traces (Tempo)",
                "type": "link",
                "url": explore_url(EXPENSIVE_TRACES),
                "targetBlank": False,
            },
            {"title": "Jaeger", "type": "link", "url": "http://localhost:16686/search", "targetBlank": True},
        ],
        "templating": {
            "list": [
                *(datasource_variable(*ds) for ds in DATASOURCES),
                query_variable("environment", "Environment"),
                query_variable("team", "Team"),
                query_variable("service", "Service"),
                {
                    "name": "min_cost",
                    "label": "Trace links: min cost (USD)",
                    "type": "custom",
                    "query": "0.001,0.01,0.05,0.5,1",
                    "multi": False,
                    "includeAll": False,
                    "current": {"selected": True, "text": "0.01", "value": "0.01"},
                    "options": [
                        {"selected": v == "0.01", "text": v, "value": v} for v in ("0.001", "0.01", "0.05", "0.5", "1")
                    ],
                },
            ]
        },
        "panels": panels(),
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is out of date: run python {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
