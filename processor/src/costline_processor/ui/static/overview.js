// Overview: this month against last, spend over time by feature, the top features and customers,
// cost per active user (by week and by cohort), the untagged bucket. Each panel asks the API on
// its own and paints as soon as its answer comes. All are asked at once, in the page's order: the
// server answers them in that order with as many threads as cores (readers.py), so the top panels
// still come first, and a panel's request never waits for another's painting (plotly's first chart
// holds the page's only thread for most of a second, which used to leave the server idle).
import { getJSON } from "./api.js";
import { el, clear, errorBox, answerTable } from "./dom.js";
import { stackedBars, bars } from "./charts.js";
import { periodControl, periodParams } from "./controls.js";

function hash(search) {
  return "#overview?" + search.toString();
}

function card(title, wide = false) {
  const body = el("div", { class: "body" }, el("p", { class: "muted" }, "…"));
  const node = el("section", { class: wide ? "card wide" : "card" }, el("h2", {}, title), body);
  return { node, body };
}

async function panel(name, params, box, paint) {
  try {
    const answer = await getJSON(`/api/overview/${name}`, params);
    if (answer.note) clear(box.body, el("p", { class: "muted note" }, answer.note));
    else await paint(answer);
  } catch (err) {
    clear(box.body, errorBox(err));
  }
  box.node.dataset.loaded = name;
}

function figure(label, text, { id, value, cls } = {}) {
  return el("div", { class: "figure", id }, el("div", { class: ["value", cls].filter(Boolean).join(" "), dataset: { value } }, text), el("div", { class: "label" }, label));
}

function paintMonths(box, a) {
  const change = a.change_pct; // the server's, as report --compare's change_pct: none when last month had no cost
  const changeText = change === null ? "–" : a.cells.change_pct;
  clear(box.body, el("div", { class: "figures" },
    figure("this month so far", a.this_month.cells.cost_usd, { id: "this-month", value: a.this_month.cost_usd }),
    figure("last month, same days", a.last_month_to_date.cells.cost_usd, { id: "last-month-to-date", value: a.last_month_to_date.cost_usd }),
    figure("change", changeText, { id: "change", value: change ?? "", cls: change > 0 ? "up" : "down" }),
    figure("forecast for this month", a.cells.forecast_usd, { id: "forecast", value: a.forecast_usd }),
    figure("last month", a.last_month.cells.cost_usd, { id: "last-month", value: a.last_month.cost_usd }),
  ));
}

function paintSeries(box, a, unit) {
  const chart = el("div", { class: "chart", id: "series-chart" });
  const total = a.total.cells.cost_usd;
  clear(box.body, el("p", { class: "summary" }, `${total} over ${a.total.calls.toLocaleString("en-US")} calls, per ${unit}`), chart);
  const rows = a.rows.map((r) => ({ x: r[unit], stack: r.feature, value: r.cost_usd }));
  return stackedBars(chart, rows, { xs: [...new Set(a.rows.map((r) => r[unit]))].sort() });
}

function paintTop(box, a, dim, chartId) {
  const chart = el("div", { class: "chart small", id: chartId });
  const table = answerTable({ ...a, columns: [dim, "calls", "cost_usd", "share"] }, { dims: [dim] });
  clear(box.body, chart, el("div", { class: "scroll" }, table));
  return bars(chart, a.rows.map((r) => r[dim]), a.rows.map((r) => r.cost_usd));
}

function paintUntagged(box, a) {
  const missing = Object.entries(a.missing).filter(([, n]) => n).map(([tag, n]) => `${tag} on ${n.toLocaleString("en-US")} calls`);
  const share = a.share === null ? "–" : a.cells.share;
  clear(box.body, el("div", { class: "figures" },
    figure("untagged cost", a.cells.cost_usd, { id: "untagged-cost", value: a.cost_usd }),
    figure("share of spend", share, { id: "untagged-share", value: a.share }),
    figure("calls", a.calls.toLocaleString("en-US"), { id: "untagged-calls", value: a.calls }),
    figure("owner", a.owner || "nobody (set tagging.owner)", { id: "untagged-owner" }),
  ), el("p", { class: "muted" }, "missing: ", missing.join(", ") || "none"));
}

export async function render(main, search, { go }) {
  const params = periodParams(search);
  const unit = search.get("unit") || "day";
  const cohort = search.get("cohort") || "plan";
  const update = (changes) => {
    const next = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...params, unit, cohort, ...changes })) if (v) next.set(k, v);
    go(hash(next));
  };
  const unitSelect = el("select", { name: "unit", onchange: (e) => update({ unit: e.target.value }) },
    ["day", "week", "month"].map((u) => el("option", { value: u, selected: u === unit ? "" : null }, u)));
  const cohortInput = el("input", { name: "cohort", value: cohort, size: 12, onchange: (e) => update({ cohort: e.target.value }) });
  const controls = el("div", { class: "controls" },
    periodControl(params, (p) => { for (const k of ["since", "until", "month", "last_month", "mtd"]) delete params[k]; update(p); }),
    el("label", {}, "spend per", unitSelect), el("label", {}, "cohort tag", cohortInput));

  const months = card("This month against last");
  const series = card("Spend over time, by feature");
  const features = card("Top 10 features");
  const customers = card("Top 10 customers");
  const users = card("Cost per active user, by week");
  const cohorts = card(`Cost per active user, by ${cohort}`);
  const untagged = card("Untagged bucket");
  const changes = card("Why spend changed: the last 7 days against the 7 before");
  const budgets = card("Budgets", true);
  clear(main, el("h1", {}, "Overview"), controls, el("div", { class: "grid" },
    months.node, untagged.node, budgets.node, series.node, changes.node, features.node, customers.node, users.node, cohorts.node));

  // Each panel is asked with only the parameters it reads: the server keeps answers by request, so choosing
  // "per week" asks the series again and finds every other panel's answer kept.
  const q = { ...params };
  await Promise.all([
    panel("months", q, months, (a) => paintMonths(months, a)),
    panel("budgets", q, budgets, (a) => paintBudgets(budgets, a)),
    panel("untagged", q, untagged, (a) => paintUntagged(untagged, a)),
    panel("series", { ...q, unit }, series, (a) => paintSeries(series, a, unit)),
    panel("changes", q, changes, (a) => paintChanges(changes, a)),
    panel("features", q, features, (a) => paintTop(features, a, "feature", "features-chart")),
    panel("customers", q, customers, (a) => paintTop(customers, a, "customer_id", "customers-chart")),
    panel("users", q, users, (a) => clear(users.body, answerTable({ ...a, columns: ["week", "active_users", "cost_per_user", "cost_usd"] }, { dims: ["week"] }))),
    panel("cohorts", { ...q, cohort }, cohorts, (a) => clear(cohorts.body, answerTable({ ...a, columns: [cohort, "active_users", "cost_per_user", "cost_usd", "share"] }, { dims: [cohort] }))),
  ]);
}

const EFFECT_NAMES = {
  volume: "volume", model_mix: "model mix", tokens_input: "input tokens per call",
  tokens_cached_input: "cached input per call", tokens_cache_write: "cache writes per call",
  tokens_output: "output tokens per call", tokens_reasoning: "reasoning tokens per call",
  price: "price", new: "new features", gone: "features gone",
};

export function paintChanges(box, a) {
  const effects = Object.keys(EFFECT_NAMES).filter((e) => a.total[`${e}_usd`]);
  const chart = el("div", { class: "chart small", id: "changes-chart" });
  const rows = { ...a, rows: a.rows, cells: a.rows.map((r) => r.cells), columns: ["feature", "prev_cost_usd", "cost_usd", "change_usd", "driver"] };
  const against = `${a.against.since.slice(0, 10)} – ${a.against.until.slice(0, 10)}`;
  clear(box.body,
    el("p", { class: "summary", id: "changes-headline", dataset: { value: a.total.change_usd } }, a.headline),
    el("p", { class: "muted" }, el("span", { id: "changes-total" }, `${a.total.cells.prev_cost_usd} → ${a.total.cells.cost_usd} (${a.total.cells.change_usd})`), ` against ${against}`),
    chart, el("div", { class: "scroll" }, answerTable(rows, { dims: ["feature", "driver"] })));
  return bars(chart, effects.map((e) => EFFECT_NAMES[e]), effects.map((e) => a.total[`${e}_usd`]));
}

export function paintBudgets(box, a) {
  if (!a.rows.length) {
    clear(box.body, el("p", { class: "muted" }, "No budgets: add a list such as "),
      el("code", {}, "budgets: [{scope: {feature: search}, period: month, amount_usd: 500}]"),
      el("p", { class: "muted" }, "to the config file (costline budgets --help)."));
    return;
  }
  const head = el("tr", {}, ["budget", "spent", "of", "used", "forecast", "status"].map((h, i) =>
    el("th", { class: i >= 1 && i <= 4 ? "num" : "" }, h)));
  const body = a.rows.map((r) => el("tr", { dataset: { budget: r.budget, scope: r.scope } },
    el("td", { class: "text", title: `${r.budget}: ${r.scope}, since ${r.since}` }, `${r.scope} per ${r.period}`),
    el("td", { class: "num", dataset: { column: "spent_usd", value: r.spent_usd } }, r.cells.spent_usd),
    el("td", { class: "num" }, r.cells.amount_usd),
    el("td", { class: "num", dataset: { column: "used", value: r.used } },
      el("meter", { min: 0, max: 1, low: 0.8, high: 0.999, optimum: 0, value: Math.min(r.used, 1) }), ` ${r.cells.used}`),
    el("td", { class: "num", dataset: { column: "forecast_usd", value: r.forecast_usd } }, r.cells.forecast_usd),
    el("td", { class: `status ${r.status}` }, r.status)));
  clear(box.body, el("div", { class: "scroll" }, el("table", { id: "budgets-table" }, el("thead", {}, head), el("tbody", {}, body))));
}
