// DOM building with text only: every value a sender chose (tags, span and model names) goes in
// as a text node or an attribute value, never as HTML. No innerHTML anywhere in the page.

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node, ...children) {
  node.replaceChildren(...children.filter((c) => c !== undefined && c !== null));
  return node;
}

export function errorBox(err) {
  return el("p", { class: "error", role: "alert" }, String(err && err.message ? err.message : err));
}

const NUMERIC = (column) => !["started", "tags", "first_call", "service", "agent", "trace_id"].includes(column);

// A table of an API answer: `cells` (the CLI's text) shown, `rows` (JSON values) kept in data-value.
export function answerTable(answer, { dims = [], sort = null, onSort = null, link = null } = {}) {
  const head = el("tr", {}, answer.columns.map((c) => {
    const numeric = !dims.includes(c) && NUMERIC(c);
    return el("th", {
      class: [numeric ? "num" : "", onSort ? "sortable" : "", sort === c ? "sorted" : ""].join(" ").trim(),
      dataset: { column: c },
      onclick: onSort ? () => onSort(c) : null,
      title: onSort ? "sort by " + c : null,
    }, c);
  }));
  const body = answer.rows.map((row, i) => el("tr", {}, answer.columns.map((c) => {
    const numeric = !dims.includes(c) && NUMERIC(c);
    const text = answer.cells[i][c] ?? (row[c] === null || row[c] === undefined ? "" : String(row[c]));
    const content = link && link.column === c ? el("a", { href: link.href(row[c]) }, text) : text;
    return el("td", {
      class: numeric ? "num" : ({ tags: "tags", trace_id: "mono" })[c] || "text",
      dataset: { column: c, value: row[c] === null ? "" : String(row[c]) },
      title: numeric ? null : text,
    }, content);
  })));
  return el("table", { class: "answer" }, el("thead", {}, head), el("tbody", {}, body));
}
