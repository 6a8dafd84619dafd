"""The cost explorer on a 1M-call ledger: each API request's time, and the page's first paint.

The ledger is benchmarks/reports.py's synthetic one (90 days of calls ending 2026-04-01 UTC,
cached under --cache and shared with that benchmark), in SQLite or (--engine postgresql) in the
benchmark's own PostgreSQL server. The page runs in this process (the app
`costline ui` serves, on a free loopback port) with its clock set just before the ledger's end,
so "this month" is a full March, and its answer cache off: every request is answered from the
ledger, as on a first visit. Each request is timed alone over HTTP, best and worst of
--repeats; then, when Debian's chromium and Playwright are there, the Overview is opened in a
headless browser: first contentful paint, and the time until every panel has its numbers
(the browser asks for the nine panels at once, as a user's would: each one's time in the ledger, from its
Server-Timing header, and asked to answered, which counts its wait behind the others). Prints figures; never fails
a build. The issue's bar: first paint under 1 s, no request over 2 s.

On SQLite the page is served twice, side by side: as `costline ui` serves it (with the columnar copy of the
calls in DuckDB, ledger/columnar.py, whose load is timed first) and with `ui.columnar: false` (SQLite answers
every question): each request is asked of both in turn, the same repeats.

  python benchmarks/ui.py [--calls 1000000] [--repeats 3] [--cache /tmp/costline-reports-bench]
                          [--engine sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reports import END, pg_ledger, pg_server, sqlite_ledger

from costline_processor.config import Config
from costline_processor.ledger.columnar import ColumnarCopy
from costline_processor.ui.access import Access
from costline_processor.ui.app import build_app, start
from costline_processor.ui.cache import AnswerCache
from costline_processor.ui.readers import ReaderPool

NOW = END - 3600 * 10**9  # an hour before the ledger's last call: March is "this month"
TRACE = "/api/traces?since=30d&limit=50"
REQUESTS = [
    "/",
    "/static/main.js",
    "/api/meta",
    *(f"/api/overview/{p}" for p in ("months", "budgets", "untagged", "series?unit=day", "changes", "features")),
    *(f"/api/overview/{p}" for p in ("customers", "users", "cohorts?cohort=plan")),  # the Overview, as it asks
    "/api/overview/cohorts?since=30d&cohort=feature",
    "/api/overview/series?since=90d&unit=week",
    "/api/explore?by=feature,model&since=30d",
    "/api/explore?by=customer_id&since=30d",
    "/api/explore?by=customer_id&since=90d&where=feature!%3Dchat&sort=calls",
    "/api/explore.csv?by=feature,model&since=30d",
    TRACE,
    # the whole ledger (90 days) by its busiest keys: what a user can ask that no rollup holds
    *(f"/api/explore?by={by}&since=90d" for by in ("user_id", "session_id", "trace", "customer_id,model")),
    *(f"/api/explore?by={by}&since=90d" for by in ("week,customer_id", "user_id,model")),
    *(f"/api/overview/{p}?since=90d" for p in ("customers", "users")),
    "/api/traces?since=90d&limit=50",
]


def serve(location: str, columnar: ColumnarCopy | None = None) -> str:
    """The page on a free loopback port, on its own event-loop thread; its URL."""
    pool = ReaderPool(location, columnar=columnar)
    app = build_app(pool, Config(), Access(None), clock=lambda: NOW, cache=AnswerCache(ttl_s=0))
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    _, url = asyncio.run_coroutine_threadsafe(start(app, "127.0.0.1:0"), loop).result(30)
    return url.rstrip("/")


def timed(url: str) -> tuple[float, int]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as r:
        size = len(r.read())
    return time.perf_counter() - started, size


def first_trace(base: str) -> str:
    import json

    with urllib.request.urlopen(base + TRACE, timeout=60) as r:
        return json.load(r)["rows"][0]["trace_id"]


def browser_times(base: str) -> dict[str, float] | None:
    """First contentful paint and all-panels time of the Overview in headless Chromium, in seconds."""
    chromium = os.environ.get("TEST_CHROMIUM", "/usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not os.path.exists(chromium):
        return None
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = b.new_page(viewport={"width": 1360, "height": 900})
        started = time.perf_counter()
        page.goto(base + "/#overview")
        page.wait_for_selector("body[data-ready='overview']", timeout=60_000)
        ready = time.perf_counter() - started
        paint = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null")
        api = page.evaluate(
            "performance.getEntriesByType('resource').filter(e => e.name.includes('/api/'))"
            ".map(e => [e.name, e.startTime, e.responseEnd, e.serverTiming.find(t => t.name === 'ledger')?.duration ?? 0])"
        )
        b.close()
    months = next(end for name, _, end, _ in api if "/api/overview/months" in name)
    slowest, name = max((end - start, name) for name, start, end, _ in api)
    ledger, busiest = max((took, name) for name, _, _, took in api)

    def panel(url: str) -> str:
        return url.split("/api/overview/")[-1].split("?")[0]

    return {
        "first paint": paint / 1000,
        "this month's figures": months / 1000,
        f"longest in the ledger (Server-Timing): {panel(busiest)}": ledger / 1000,
        f"slowest asked to answered (queued behind the others): {panel(name)}": slowest / 1000,
        "every panel drawn": ready,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cache", default="/tmp/costline-reports-bench")
    p.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    args = p.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    location = sqlite_ledger(args.calls, cache) if args.engine == "sqlite" else pg_ledger(args.calls, pg_server(cache))
    pages = {"": serve(location)}
    if args.engine == "sqlite":
        copy = ColumnarCopy(location)
        started = time.perf_counter()
        copy.load()
        size = sum(f.stat().st_size for f in copy._dir.iterdir()) / 1e6
        print(f"columnar copy (DuckDB) loaded in {time.perf_counter() - started:.1f} s, {size:,.0f} MB on disk")
        pages = {"sqlite only": pages[""], "with the copy": serve(location, copy)}
    print(f"{args.calls:,} calls, {args.engine} ({location}); best and worst of {args.repeats}, seconds")
    print(f"  {'request':70} " + " ".join(f"{name:>15}" for name in pages) + f" {'bytes':>9}")
    base = list(pages.values())[-1]
    for path in [*REQUESTS, f"/api/trace/{first_trace(base)}"]:
        cells, size = [], 0
        for url in pages.values():
            runs = [timed(url + path) for _ in range(args.repeats)]
            times = [t for t, _ in runs]
            cells.append(f"{min(times):7.3f} {max(times):7.3f}")
            size = runs[-1][1]
        print(f"  {path:70} {' '.join(cells)} {size:9,}", flush=True)
    for name, url in pages.items():
        page = browser_times(url)
        if page is None:
            print("  (no chromium or playwright: the page's paint was not timed)")
            return
        for what, seconds in page.items():
            print(f"  Overview in Chromium{f' ({name})' if name else ''}: {what:62} {seconds:7.3f}")


if __name__ == "__main__":
    main()
