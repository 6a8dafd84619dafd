"""The provisioned Grafana dashboard, read as Grafana reads it: the panels the issue asks
for, datasources reached through variables (provisioned, and imported into a Grafana with
other datasources), variables applied to every query, and trace links that open a valid
TraceQL query using labels the panel really has.
(test_dashboards_prometheus.py runs every query against a real Prometheus.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.deploy import dashboard_model as dm
from tests.deploy import traceql
from tests.deploy.support import DATASOURCES, DEPLOY_DOC, ROOT, load

REQUIRED = {
    "spend by feature, over time, stacked": r"Spend by feature .*stacked",
    "top-10 features": r"Top 10 features",
    "top-10 customers": r"Top 10 customers",
    "cost per active user": r"Cost per active customer$",
    "cost per cohort/plan": r"by plan",
    "spend by model and provider": r"Spend by model and provider",
    "per-agent-step cost": r"Cost per agent step",
    "untagged spend": r"Untagged spend$",
    "untagged share": r"Untagged share",
    "unpriced calls": r"Unpriced calls",
}


def test_generated_json_is_up_to_date():
    r = subprocess.run(
        [sys.executable, str(ROOT / "dashboards/grafana/generate.py"), "--check"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr


def test_every_panel_the_issue_asks_for_is_there():
    titles = [p["title"] for p in dm.panels()]
    for what, pattern in REQUIRED.items():
        assert any(re.search(pattern, t) for t in titles), f"no panel for {what}"
    ids = [p["id"] for p in dm.panels()]
    assert len(ids) == len(set(ids))


def test_panels_do_not_overlap():
    cells = {}
    for p in dm.panels():
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]


# An existing Grafana the dashboard is imported into: its own names and uids, two of each type.
THEIR_GRAFANA = [
    {"name": "Mimir (eu)", "uid": "mimir-eu", "type": "prometheus"},
    {"name": "Prometheus ops", "uid": "prom-ops", "type": "prometheus"},
    {"name": "Tempo staging", "uid": "tempo-stg", "type": "tempo"},
    {"name": "Traces", "uid": "tempo-prod", "type": "tempo"},
    {"name": "Loki", "uid": "loki", "type": "loki"},
]


def provisioned() -> list[dict]:
    return [{"name": d["name"], "uid": d["uid"], "type": d["type"]} for d in load(DATASOURCES)["datasources"]]


def test_no_panel_names_a_datasource_uid():
    """Every datasource reference goes through a variable: a fixed uid breaks in any Grafana
    whose datasources have other uids (every panel empty, "datasource not found")."""
    variable = {"prometheus": "${" + dm.PROM_VAR + "}", "tempo": "${" + dm.TEMPO_VAR + "}"}
    refs = dm.datasource_refs()
    assert len(refs) >= 40
    for where, ref in refs:
        assert ref["uid"] == variable[ref["type"]], (where, ref)


def test_the_datasource_variables_and_the_import_dialog_agree():
    d = dm.dashboard()
    names = [v["name"] for v in d["templating"]["list"]]
    inputs = {i["name"]: i for i in d["__inputs"]}
    for name, plugin in ((dm.PROM_VAR, "prometheus"), (dm.TEMPO_VAR, "tempo")):
        v = dm.variables(d)[name]
        assert v["type"] == "datasource" and v["query"] == plugin and not v["multi"] and not v["includeAll"]
        placeholder = v["current"]["value"]
        asked = inputs[placeholder[2:-1]]
        assert (asked["type"], asked["pluginId"]) == ("datasource", plugin)
        users = [n for n, u in dm.variables(d).items() if u.get("datasource", {}).get("type") == plugin]
        assert all(names.index(name) < names.index(u) for u in users), "a variable is read before its datasource"
    text = json.dumps({k: v for k, v in d.items() if k != "__inputs"})
    used = set(re.findall(r"\$\{(DS_[A-Z_]+)\}", text))
    assert used == set(inputs), "every input the dialog asks for is used, and nothing else is left to fill"


def test_provisioned_every_reference_reaches_the_provisioned_datasource():
    """docker-compose.yml's path: the file is loaded as it is, `__inputs` unused."""
    ours = provisioned()
    uid = {"prometheus": "prometheus", "tempo": "tempo"}
    d = dm.dashboard()
    for where, ref in dm.datasource_refs(d):
        ds = dm.resolve(ref, d, ours)
        assert ds and ds["uid"] == uid[ref["type"]], (where, ref, ds)
    # picked by the provisioned name, not by being first: another Prometheus listed before it changes nothing
    crowded = [{"name": "Another", "uid": "another", "type": "prometheus"}, *ours]
    assert dm.resolve({"type": "prometheus", "uid": "${" + dm.PROM_VAR + "}"}, d, crowded)["uid"] == "prometheus"


def test_imported_into_another_grafana_every_reference_reaches_the_picked_datasources():
    before = dm.dashboard()
    assert dm.resolve({"type": "prometheus", "uid": "prometheus"}, before, THEIR_GRAFANA) is None  # a fixed uid: lost
    d = dm.grafana_import(before, {"DS_PROMETHEUS": "prom-ops", "DS_TEMPO": "tempo-prod"})
    assert "__inputs" not in d and "${DS_" not in json.dumps(d)
    picked = {"prometheus": "prom-ops", "tempo": "tempo-prod"}
    for where, ref in dm.datasource_refs(d):
        ds = dm.resolve(ref, d, THEIR_GRAFANA)
        assert ds and ds["uid"] == picked[ref["type"]], (where, ref, ds)


def test_imported_without_the_dialog_every_panel_still_finds_a_datasource_of_its_type():
    """Saved through the API as it is (no inputs answered): the variables fall back to the
    first datasource of their type, and the user can switch them from the dashboard."""
    d = dm.dashboard()
    for where, ref in dm.datasource_refs(d):
        ds = dm.resolve(ref, d, THEIR_GRAFANA)
        assert ds and ds["type"] == ref["type"], (where, ref)


def test_variables_filter_every_prometheus_query():
    vs = dm.variables()
    for name in ("environment", "team", "service"):
        v = vs[name]
        assert v["type"] == "query" and v["multi"] and v["includeAll"] and v["allValue"] == ".*"
        assert v["query"] == f"label_values(costline_llm_calls_total, {name})"
    targets = dm.prometheus_targets()
    assert len(targets) >= 14
    for panel, t in targets:
        selectors = dm.SELECTOR.findall(t["expr"])
        assert selectors, (panel["title"], t["expr"])
        for metric, body in selectors:
            for name in ("environment", "team", "service"):
                assert f'{name}=~"${name}"' in body, (panel["title"], metric, name)


def test_cost_per_active_user_says_what_it_approximates():
    panel = next(p for p in dm.panels() if p["title"] == "Cost per active customer")
    assert "cost per active user" in panel["description"] and "--per-user" in panel["description"]


def test_every_cost_panel_links_to_the_traces_behind_it():
    linked = {p["title"] for p, _ in dm.links() if p}
    for panel, t in dm.prometheus_targets():
        if "costline_cost_usd_total" in t["expr"] or "unpriced" in t["expr"]:
            assert panel["title"] in linked, f"{panel['title']} has no trace link"
    assert dm.tempo_targets(), "the dashboard lists the most expensive traces straight from Tempo"


def test_each_link_opens_tempo_with_labels_its_panel_has():
    for panel, link in dm.links():
        pane, needed = dm.link_traceql(link["url"])
        assert pane["datasource"] == dm.SAMPLE[dm.TEMPO_VAR]  # the tempo_ds variable's uid, filled by Grafana
        assert [q["queryType"] for q in pane["queries"]] == ["traceql"]
        assert pane["range"] == {"from": dm.SAMPLE["__from"], "to": dm.SAMPLE["__to"]}
        if needed:
            exprs = " ".join(t["expr"] for t in panel.get("targets", []))
            _, grouping = dm.names_in(exprs)
            assert set(needed) <= grouping, f"{panel['title']}: link uses {needed}, series only have {grouping}"


def test_label_values_reach_the_query_intact():
    _, link = next((p, lk) for p, lk in dm.links() if p.get("title") == "Top 10 customers")
    pane, _ = dm.link_traceql(link["url"], {"customer_id": "acme & co/eu"})
    assert 'span.costline.customer_id = "acme & co/eu"' in pane["queries"][0]["query"]


@pytest.mark.parametrize("where, query", dm.all_traceql(), ids=lambda x: x[:60] if isinstance(x, str) else "")
def test_every_traceql_query_parses(where, query):
    parsed = traceql.parse(query)
    assert parsed.attributes, where


@pytest.mark.parametrize("doc", [DEPLOY_DOC, ROOT / "dashboards" / "README.md"], ids=lambda p: p.name)
def test_the_traceql_examples_in_the_docs_parse(doc):
    block = re.search(r"```traceql\n(.*?)```", doc.read_text(), re.S).group(1)
    queries = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert len(queries) >= 5
    for q in queries:
        traceql.parse(q)
    if doc == DEPLOY_DOC:
        assert "{ span.costline.cost.usd > 0.05 }" in queries


@pytest.mark.parametrize(
    "bad",
    [
        "{ span.costline.cost.usd > }",
        "{ costline.cost.usd > 0.05 }",
        '{ span.costline.feature = "a" ',
        "{ span.costline.cost.usd > 0.05 } | sum(span.costline.cost.usd)",
        "{ span.costline.cost.usd =~ 5 }",
    ],
)
def test_the_traceql_checker_refuses_broken_queries(bad):
    with pytest.raises(traceql.TraceQLError):
        traceql.parse(bad)
