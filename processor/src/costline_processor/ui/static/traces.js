// Traces: the costliest requests of a period, and one request as its cost tree (trace, agent
// steps, calls) with each call's model, tokens, cost and tags; the tree adds up to the rollup
// `costline trace TRACE_ID` prints. A link goes out to the tracing UI when ui.trace_url is set.
import { getJSON, query } from "./api.js";
import { el, clear, errorBox, answerTable } from "./dom.js";
import { periodControl, periodParams } from "./controls.js";

async function list(main, search, go) {
  const period = periodParams(search);
  const out = el("div", {}, el("p", { class: "muted" }, "…"));
  clear(main, el("h1", {}, "Costliest traces"),
    el("div", { class: "controls" }, periodControl(period, (p) => go("#traces?" + query(p)))), out);
  try {
    const a = await getJSON("/api/traces", { ...period, limit: 50 });
    const table = answerTable(a, { dims: ["trace_id"], link: { column: "trace_id", href: (id) => `#trace/${id}` } });
    clear(out, el("p", { class: "summary", id: "traces-total", dataset: { value: a.total.cost_usd } },
      `the ${a.rows.length} costliest traces of the period, whose ${a.total.calls.toLocaleString("en-US")} calls cost ${a.total.cells.cost_usd}`),
    el("section", { class: "card scroll" }, table));
  } catch (err) {
    clear(out, errorBox(err));
  }
}

const TOKENS = (n) => Number(n).toLocaleString("en-US");

function treeRows(node, depth, rows) {
  const label = node.label;
  const indent = { style: `padding-left: ${8 + depth * 18}px` };
  const tags = node.tags ? Object.entries(node.tags).map(([k, v]) => `${k}=${v}`).join(" ") : "";
  const model = node.kind === "call" ? node.model : (node.models || []).join(", ");
  rows.push(el("tr", { class: node.kind, dataset: { kind: node.kind, cost: node.cost_usd ?? "", calls: node.calls, depth } },
    el("td", { class: "label", ...indent }, node.kind === "call" ? `${node.time.slice(11, 19)}  ${label}` : label),
    el("td", { class: "text" }, model),
    el("td", { class: "num" }, TOKENS(node.calls)),
    el("td", { class: "num" }, TOKENS(node.input_tokens)),
    el("td", { class: "num" }, TOKENS(node.output_tokens)),
    el("td", { class: "num" }, node.cost_usd === null ? `unpriced (${node.status})` : node.cells.cost_usd),
    el("td", { class: "tags" }, tags)));
  for (const child of node.children) treeRows(child, depth + 1, rows);
  return rows;
}

async function one(main, traceId, meta) {
  const out = el("div", {}, el("p", { class: "muted" }, "…"));
  clear(main, el("p", {}, el("a", { href: "#traces" }, "← costliest traces")), el("h1", {}, `Trace ${traceId}`), out);
  try {
    const t = await getJSON(`/api/trace/${encodeURIComponent(traceId)}`);
    const link = meta.trace_url
      ? el("a", { href: meta.trace_url.replace("{trace_id}", t.trace_id), target: "_blank", rel: "noopener noreferrer", id: "trace-link" }, "open in the tracing UI")
      : el("span", { class: "muted" }, "(set ui.trace_url to link to your tracing UI)");
    const head = el("tr", {}, ["step / call", "model", "calls", "input tokens", "output tokens", "cost", "tags"].map((h, i) =>
      el("th", { class: i >= 2 && i <= 5 ? "num" : "" }, h)));
    const table = el("table", { class: "tree", id: "trace-tree" }, el("thead", {}, head), el("tbody", {}, treeRows(t.tree, 0, [])));
    clear(out, el("p", { class: "summary", id: "rollup", dataset: { value: t.rollup.cost_usd, calls: t.rollup.calls } },
      `${t.rollup.cells.cost_usd} over ${t.rollup.calls} calls (${t.rollup.unpriced_calls} unpriced) `, link),
    el("section", { class: "card scroll" }, table));
  } catch (err) {
    clear(out, errorBox(err));
  }
}

export async function render(main, search, { go, meta, arg, view }) {
  if (view === "trace" && arg) return one(main, arg, meta);
  return list(main, search, go);
}
