"""Reads the provisioned Grafana dashboard the way Grafana would use it: its Prometheus
queries (with Grafana's macros and variables), its variables, the TraceQL behind every
trace link, and which datasource each panel ends up on, provisioned or imported.

The datasource part follows Grafana's own rules: the import dialog replaces each
`${NAME}` of a declared `__inputs` entry with the uid picked for it, everywhere in the
JSON (pkg/services/dashboardimport/utils/dash_template_evaluator.go), and a datasource
variable keeps its current value if an option has it as uid, else the option named
by its current text, else the first option (@grafana/scenes MultiValueVariable)."""

from __future__ import annotations

import json
import re
import urllib.parse

from tests.deploy.support import DASHBOARD

PROM_VAR = "prometheus_ds"  # the datasource variables every panel, target and trace link goes through
TEMPO_VAR = "tempo_ds"


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels(d: dict | None = None) -> list[dict]:
    return (d or dashboard())["panels"]


def prometheus_targets(d: dict | None = None) -> list[tuple[dict, dict]]:
    return [(p, t) for p in panels(d) for t in p.get("targets", []) if t["datasource"]["type"] == "prometheus"]


def tempo_targets(d: dict | None = None) -> list[tuple[dict, dict]]:
    return [(p, t) for p in panels(d) for t in p.get("targets", []) if t["datasource"]["type"] == "tempo"]


def variables(d: dict | None = None) -> dict[str, dict]:
    return {v["name"]: v for v in (d or dashboard())["templating"]["list"]}


def substitute(expr: str, values: dict[str, str], range_: str = "5m", rate_interval: str = "1m") -> str:
    """Grafana's interpolation for what the dashboard uses: $__range, $__rate_interval,
    $__interval and the dashboard variables (a regex value for `=~` matchers)."""
    out = (
        expr.replace("$__rate_interval", rate_interval)
        .replace("$__range", range_)
        .replace("$__interval", rate_interval)
    )
    for name, value in sorted(values.items(), key=lambda kv: -len(kv[0])):
        out = out.replace("${" + name + "}", value).replace("$" + name, value)
    assert "$" not in out, f"uninterpolated variable in {out}"
    return out


# -- PromQL names ---------------------------------------------------------------------------
SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
FUNCTIONS = {"sum", "count", "avg", "min", "max", "topk", "bottomk", "rate", "increase", "irate", "label_values"}


def names_in(expr: str) -> tuple[dict[str, set[str]], set[str]]:
    """metric -> labels its matchers use, and the labels of by/without/on clauses."""
    metrics: dict[str, set[str]] = {}
    for metric, body in SELECTOR.findall(expr):
        labels = metrics.setdefault(metric, set())
        for part in filter(str.strip, body.split(",")):
            m = MATCHER.fullmatch(part)
            assert m, f"cannot read matcher {part!r} in {expr}"
            labels.add(m.group(1))
    bare = set(re.findall(r"\b(costline_[a-z_]+)\b", expr)) - set(metrics)
    for metric in bare:
        metrics[metric] = set()
    grouping = {label.strip() for _, labels in GROUPING.findall(expr) for label in labels.split(",") if label.strip()}
    return metrics, grouping


# -- trace links ----------------------------------------------------------------------------
SAMPLE = {"__from": "1767225600000", "__to": "1767229200000", "min_cost": "0.01", TEMPO_VAR: "sample-tempo-uid"}


def link_traceql(url: str, label_values: dict[str, str] | None = None) -> tuple[dict, list[str]]:
    """The Explore pane a data link opens (placeholders filled the way Grafana fills
    them) and the field labels the link needs from the panel's series."""
    assert url.startswith("/explore?"), url
    needed = re.findall(r"\$\{__field\.labels\.([a-z_]+):percentencode\}", url)
    filled = url
    for label in needed:
        value = (label_values or {}).get(label, f"sample-{label}")
        filled = filled.replace("${__field.labels." + label + ":percentencode}", urllib.parse.quote(value, safe=""))
    for name, value in SAMPLE.items():
        filled = filled.replace("${" + name + "}", value)
    assert "${" not in filled, f"unknown placeholder in {url}"
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(filled).query)
    panes = json.loads(query["panes"][0])
    assert len(panes) == 1
    return next(iter(panes.values())), needed


def links(d: dict | None = None) -> list[tuple[dict, dict]]:
    """(panel, link) for every data link on every panel, plus dashboard links (panel {})."""
    out = [(p, link) for p in panels(d) for link in p.get("fieldConfig", {}).get("defaults", {}).get("links", [])]
    out += [({}, link) for link in (d or dashboard()).get("links", []) if link.get("url", "").startswith("/explore")]
    return out


def all_traceql(d: dict | None = None) -> list[tuple[str, str]]:
    """(where, TraceQL) for every Tempo query the dashboard can run, variables filled."""
    out = []
    for panel, link in links(d):
        pane, _ = link_traceql(link["url"])
        out += [(f"{panel.get('title', 'dashboard')}: {link['title']}", q["query"]) for q in pane["queries"]]
    for panel, t in tempo_targets(d):
        out.append((panel["title"], t["query"].replace("${min_cost}", SAMPLE["min_cost"])))
    return out


# -- datasources: provisioned or imported ------------------------------------------------------
_PLACEHOLDER = re.compile(r"\$\{.+?\}")


def grafana_import(d: dict, answers: dict[str, str]) -> dict:
    """The dashboard as Grafana's import stores it: every `${INPUT}` of a declared input replaced
    by the uid picked for it (an undeclared placeholder stays as it is), `__inputs` dropped."""
    declared = {i["name"] for i in d.get("__inputs", [])}
    missing = declared - set(answers)
    assert not missing, f"the import dialog would ask for {sorted(missing)}"
    table = {"${" + name + "}": uid for name, uid in answers.items() if name in declared}

    def walk(value):
        if isinstance(value, str):
            return _PLACEHOLDER.sub(lambda m: table.get(m.group(0), m.group(0)), value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items() if k != "__inputs"}
        return value

    return walk(d)


def choose(variable: dict, datasources: list[dict]) -> dict | None:
    """The datasource a `datasource` variable settles on among `datasources` (name, uid, type)."""
    options = [ds for ds in datasources if ds["type"] == variable["query"]]
    current = variable.get("current") or {}
    by_uid = [ds for ds in options if ds["uid"] == current.get("value")]
    by_name = [ds for ds in options if ds["name"] == current.get("text")]
    return (by_uid or by_name or options or [None])[0]


def resolve(ref: dict, d: dict, datasources: list[dict]) -> dict | None:
    """The datasource a panel's or target's `datasource` reference reaches (None: not found)."""
    uid = ref.get("uid", "")
    chosen = {name: choose(v, datasources) for name, v in variables(d).items() if v["type"] == "datasource"}
    m = re.fullmatch(r"\$\{(\w+)\}|\$(\w+)", uid)
    ds = chosen.get(m.group(1) or m.group(2)) if m else next((ds for ds in datasources if ds["uid"] == uid), None)
    return ds if ds and ds["type"] == ref.get("type") else None


def datasource_refs(d: dict | None = None) -> list[tuple[str, dict]]:
    """(where, reference) for every datasource the dashboard names: panels, targets, variables,
    and the Explore panes its trace links open (pane and queries)."""
    d = d or dashboard()
    out = []
    for p in panels(d):
        out += [(p["title"], p["datasource"])] + [(f"{p['title']} {t['refId']}", t["datasource"]) for t in p["targets"]]
    out += [(f"variable {n}", v["datasource"]) for n, v in variables(d).items() if "datasource" in v]
    for panel, link in links(d):
        pane = link_pane(link["url"])
        where = f"{panel.get('title', 'dashboard')}: {link['title']}"
        out.append((where, {"type": "tempo", "uid": pane["datasource"]}))
        out += [(where, q["datasource"]) for q in pane["queries"]]
    return out


def link_pane(url: str) -> dict:
    """The Explore pane a data link opens, its placeholders left as they are."""
    panes = json.loads(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["panes"][0])
    return next(iter(panes.values()))
