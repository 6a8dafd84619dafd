"""The page's files: HTML, CSS and ES modules shipped in ui/static/, and the chart library.

The charts are drawn by plotly.js, the `plotly` PyPI package's own copy (plotly/package_data/
plotly.min.js, a declared dependency of the processor extra), served from where pip installed
it: nothing is fetched from a CDN and no copy of it lives in this repository. It runs under the
page's Content-Security-Policy without 'unsafe-eval' (bar charts use no WebGL, the only part of
plotly.js that compiles code at run time). Without the package the page still works, its charts
replaced by a line saying what to install.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static"
CHART_LIBRARY_ROUTE = "/vendor/plotly.min.js"


def chart_library() -> Path | None:
    """plotly.min.js inside the installed plotly package (found without importing it), or None."""
    spec = importlib.util.find_spec("plotly")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "package_data" / "plotly.min.js"
        if path.is_file():
            return path
    return None


def routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/", index),
        web.get("/favicon.ico", favicon),
        web.get(CHART_LIBRARY_ROUTE, plotly_js),
        web.static("/static", STATIC, append_version=False),
    ]


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def favicon(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "favicon.svg", headers={"Content-Type": "image/svg+xml"})


async def plotly_js(request: web.Request) -> web.StreamResponse:
    path = chart_library()
    if path is None:
        raise web.HTTPNotFound(text="the plotly package is not installed: pip install 'costline[processor]'")
    return web.FileResponse(path, headers={"Cache-Control": "max-age=86400", "Content-Type": "text/javascript"})
