// The page's router: #overview, #explore?by=..., #traces?..., #trace/<id>. Each view module
// exports render(main, search, go), where go(hash) moves to another address.
import { getJSON } from "./api.js";
import { errorBox } from "./dom.js";
import * as overview from "./overview.js";
import * as explore from "./explore.js";
import * as traces from "./traces.js";

const VIEWS = { overview, explore, traces, trace: traces };
let meta = null;
let latest = 0; // the route whose view is on the page: an earlier one finishing late must not claim it

function parse() {
  const hash = window.location.hash.replace(/^#/, "") || "overview";
  const [path, qs] = hash.split("?", 2);
  const [view, arg] = path.split("/", 2);
  return { view: VIEWS[view] ? view : "overview", arg: arg || null, search: new URLSearchParams(qs || "") };
}

export function go(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

async function route() {
  const { view, arg, search } = parse();
  const mine = ++latest;
  delete document.body.dataset.ready;
  const main = document.getElementById("view");
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.dataset.view === (view === "trace" ? "traces" : view));
  }
  document.body.dataset.view = view;
  try {
    meta = meta || (await getJSON("/api/meta"));
    await VIEWS[view].render(main, search, { go, meta, arg, view });
  } catch (err) {
    if (mine === latest) main.replaceChildren(errorBox(err));
  }
  if (mine === latest) document.body.dataset.ready = view;
}

window.addEventListener("hashchange", route);
route();
