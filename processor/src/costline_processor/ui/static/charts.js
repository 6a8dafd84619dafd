// Charts by plotly.js, loaded on first use from the installed plotly package (/vendor/plotly.min.js),
// so tables and figures paint before the 4 MB library is parsed. plotly reads a few HTML-like tags
// in labels (<b>, <br>, <a>): every label from the ledger is escaped first, so it shows as typed.

let loading = null;

function plotly() {
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/vendor/plotly.min.js";
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => reject(new Error("charts need the plotly package: pip install 'costline[processor]'"));
      document.head.append(script);
    });
  }
  return loading;
}

export function plotText(value) {
  return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const LAYOUT = {
  margin: { l: 56, r: 12, t: 8, b: 64 },
  paper_bgcolor: "rgba(0,0,0,0)",
  plot_bgcolor: "rgba(0,0,0,0)",
  font: { family: "system-ui, sans-serif", size: 12 },
  legend: { orientation: "h", y: -0.22 },
  yaxis: { tickprefix: "$", rangemode: "tozero", automargin: true },
  xaxis: { type: "category", automargin: true },
};
const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

async function draw(node, traces, layout) {
  try {
    const Plotly = await plotly();
    await Plotly.react(node, traces, { ...LAYOUT, ...layout }, CONFIG);
    node.dataset.drawn = "1";
  } catch (err) {
    node.replaceChildren(document.createTextNode(err.message));
    node.classList.add("muted");
  }
}

// rows: [{x, stack, value}] -> one bar trace per stack value, largest total first.
export function stackedBars(node, rows, { xs = null, horizontalLegend = true } = {}) {
  const stacks = new Map();
  for (const r of rows) stacks.set(r.stack, (stacks.get(r.stack) || 0) + r.value);
  const order = [...stacks.keys()].sort((a, b) => stacks.get(b) - stacks.get(a));
  const xOrder = xs || [...new Set(rows.map((r) => r.x))];
  const traces = order.map((stack) => {
    const byX = new Map(rows.filter((r) => r.stack === stack).map((r) => [r.x, r.value]));
    return {
      type: "bar",
      name: plotText(stack),
      x: xOrder.map(plotText),
      y: xOrder.map((x) => byX.get(x) || 0),
      hovertemplate: "%{x}<br>%{fullData.name}: $%{y:.4f}<extra></extra>",
    };
  });
  const legend = { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" }; // above the plot: rotated dates need the room below
  return draw(node, traces, { barmode: "stack", showlegend: horizontalLegend, legend, margin: { ...LAYOUT.margin, t: 36 } });
}

export function bars(node, labels, values) {
  const trace = {
    type: "bar",
    x: labels.map(plotText),
    y: values,
    marker: { color: "#1f5f8b" },
    hovertemplate: "%{x}: $%{y:.4f}<extra></extra>",
  };
  return draw(node, [trace], { showlegend: false });
}
