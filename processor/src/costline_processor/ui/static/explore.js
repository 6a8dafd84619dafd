// Explore: `costline report` on the page. One or two dimensions, the report's filters and periods,
// a table sorted by the server (a header click is --sort) beside a chart, and the CSV of exactly
// the table's rows and columns (the CLI's own CSV writer: formulas neutralised).
import { getJSON, query } from "./api.js";
import { el, clear, errorBox, answerTable } from "./dom.js";
import { stackedBars, bars } from "./charts.js";
import { periodControl, periodParams } from "./controls.js";

const SUGGESTED = ["feature", "customer_id", "user_id", "plan", "team", "environment", "model", "provider", "agent",
  "service", "operation", "status", "caveat", "day", "week", "month"];

function state(search) {
  const by = (search.get("by") || "feature").split(",").filter(Boolean);
  return { by, where: search.getAll("where"), sort: search.get("sort") || "", period: periodParams(search) };
}

function hashOf(s) {
  return "#explore?" + query({ by: s.by.join(","), ...s.period, where: s.where, sort: s.sort });
}

function apiParams(s) {
  return { by: s.by.join(","), ...s.period, where: s.where, sort: s.sort };
}

function controls(s, go) {
  const list = el("datalist", { id: "dimensions" }, SUGGESTED.map((d) => el("option", { value: d })));
  const first = el("input", { name: "by", list: "dimensions", value: s.by[0] || "feature", size: 14 });
  const second = el("input", { name: "by2", list: "dimensions", value: s.by[1] || "", size: 14, placeholder: "(none)" });
  const apply = () => go(hashOf({ ...s, by: [first.value.trim(), second.value.trim()].filter(Boolean), sort: "" }));
  first.addEventListener("change", apply);
  second.addEventListener("change", apply);
  const whereInput = el("input", { name: "where", size: 22, placeholder: "model!=gpt-4o" });
  const addWhere = (e) => {
    e.preventDefault();
    if (whereInput.value.trim()) go(hashOf({ ...s, where: [...s.where, whereInput.value.trim()] }));
  };
  const chips = s.where.map((w, i) => el("span", { class: "chip" }, el("span", {}, w),
    el("button", { type: "button", title: "remove", onclick: () => go(hashOf({ ...s, where: s.where.filter((_, j) => j !== i) })) }, "×")));
  const whereForm = el("form", { class: "filters", onsubmit: addWhere }, el("label", {}, "where", whereInput),
    el("button", { type: "submit", class: "plain" }, "add filter"), chips);
  return el("div", { class: "controls" }, list, el("label", {}, "by", first), el("label", {}, "then by", second),
    periodControl(s.period, (p) => go(hashOf({ ...s, period: p }))), whereForm);
}

function chart(node, s, a) {
  const [x, stack] = a.dims;
  if (stack) {
    const rows = a.rows.map((r) => ({ x: r[x], stack: r[stack], value: r.cost_usd }));
    const xs = [...new Set(a.rows.map((r) => r[x]))];
    return stackedBars(node, rows, { xs: ["day", "week", "month"].includes(x) ? xs.sort() : xs });
  }
  return bars(node, a.rows.map((r) => r[x]), a.rows.map((r) => r.cost_usd));
}

function summary(a) {
  const t = a.total;
  const parts = [`total ${t.cells.cost_usd} over ${t.calls.toLocaleString("en-US")} calls (${t.unpriced_calls.toLocaleString("en-US")} unpriced)`];
  if (t.untagged) parts.push(`untagged ${t.untagged.cells.cost_usd} (${t.untagged.cells.share})`);
  return el("p", { class: "summary", id: "explore-total", dataset: { value: t.cost_usd, calls: t.calls } }, parts.join("; "));
}

export async function render(main, search, { go }) {
  const s = state(search);
  const out = el("div", {}, el("p", { class: "muted" }, "…"));
  clear(main, el("h1", {}, "Explore"), controls(s, go), out);
  let a;
  try {
    a = await getJSON("/api/explore", apiParams(s));
  } catch (err) {
    clear(out, errorBox(err));
    return;
  }
  const csv = el("a", { href: "/api/explore.csv?" + query(apiParams(s)), download: "", id: "csv" }, "Download CSV");
  const table = answerTable(a, { dims: a.dims, sort: s.sort || null, onSort: (c) => go(hashOf({ ...s, sort: c })) });
  const plot = el("div", { class: "chart", id: "explore-chart" });
  const caveats = a.caveats.map((c) => el("p", { class: "muted" }, `caveat ${c.caveat}: ${c.calls} calls`));
  clear(out, el("div", { class: "toolbar" }, summary(a), csv), el("div", { class: "split" },
    el("section", { class: "card" }, plot), el("section", { class: "card scroll" }, table)), caveats);
  await chart(plot, s, a);
}
