// The period picker shared by every view: the same periods as `costline report` (--since 7d,
// --mtd, --last-month, --month 2026-03, --since/--until), kept in the address's hash.
import { el } from "./dom.js";

const CHOICES = [
  ["7d", "last 7 days"], ["30d", "last 30 days"], ["90d", "last 90 days"], ["mtd", "this month"],
  ["last_month", "last month"], ["month", "a month…"], ["custom", "from … to …"],
];

// URLSearchParams of the hash -> the API's period parameters.
export function periodParams(search) {
  const out = {};
  for (const key of ["since", "until", "month", "last_month", "mtd"]) {
    if (search.get(key)) out[key] = search.get(key);
  }
  return out;
}

function choiceOf(p) {
  if (p.mtd) return "mtd";
  if (p.last_month) return "last_month";
  if (p.month) return "month";
  if (p.until || (p.since && !["7d", "30d", "90d"].includes(p.since))) return "custom";
  return p.since || "30d";
}

// A control that calls onChange(periodParams) when the period changes.
export function periodControl(current, onChange) {
  const choice = choiceOf(current);
  const month = el("input", { type: "month", value: current.month || "", name: "month" });
  const since = el("input", { type: "text", size: 12, placeholder: "7d, 2026-03-01", value: current.since || "", name: "since" });
  const until = el("input", { type: "text", size: 12, placeholder: "now", value: current.until || "", name: "until" });
  const select = el("select", { name: "period" }, CHOICES.map(([v, label]) => el("option", { value: v, selected: v === choice ? "" : null }, label)));
  const monthBox = el("label", {}, "month", month);
  const customBox = el("span", { class: "controls" }, el("label", {}, "since", since), el("label", {}, "until", until));
  const show = () => {
    monthBox.hidden = select.value !== "month";
    customBox.hidden = select.value !== "custom";
  };
  const emit = () => {
    const v = select.value;
    if (v === "mtd") onChange({ mtd: "1" });
    else if (v === "last_month") onChange({ last_month: "1" });
    else if (v === "month") { if (month.value) onChange({ month: month.value }); }
    else if (v === "custom") { if (since.value || until.value) onChange({ since: since.value, until: until.value }); }
    else onChange({ since: v });
  };
  select.addEventListener("change", () => { show(); emit(); });
  month.addEventListener("change", emit);
  since.addEventListener("change", emit);
  until.addEventListener("change", emit);
  show();
  return el("span", { class: "controls period" }, el("label", {}, "period", select), monthBox, customBox);
}
