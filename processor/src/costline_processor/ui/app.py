"""The aiohttp application behind `costline ui`: headers, access, routes, and serving it.

Every answer carries a Content-Security-Policy that allows only the page's own files: no inline
script, no eval, no other origin (styles may be inline: plotly.js sets them on its SVG), no
framing; with nosniff and no referrer. Requests pass two checks before any handler runs:

    Host     on a loopback address, only localhost / 127.0.0.1 / [::1] (a rebound DNS name
             cannot make a visited site read the page's API)
    access   the bearer token or its session cookie (access.py); /login is the way in

An unauthenticated API request gets 401 and JSON; the page itself the login form, also 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from costline_processor.config import Config, parse_hostport
from costline_processor.listen import bind_error, hostport, hosts
from costline_processor.ui import api, assets
from costline_processor.ui.access import COOKIE, Access
from costline_processor.ui.cache import AnswerCache
from costline_processor.ui.readers import ReaderPool

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
OPEN_PATHS = {"/login", "/static/page.css", "/favicon.ico"}
ACCESS: web.AppKey[Access] = web.AppKey("access", Access)
LOOPBACK_ONLY: web.AppKey[bool] = web.AppKey("loopback_only", bool)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(
    pool: ReaderPool,
    config: Config,
    access: Access,
    *,
    loopback: bool = True,
    clock: Callable[[], int] = time.time_ns,
    cache: AnswerCache | None = None,
) -> web.Application:
    """The page over the ledger `pool` reads; `clock` gives now in ns (the Overview's months)."""
    app = web.Application(middlewares=[headers, host_check, access_check])
    app[api.POOL], app[api.CONFIG], app[api.CLOCK] = pool, config, clock
    app[api.CACHE] = cache if cache is not None else AnswerCache()
    app[ACCESS], app[LOOPBACK_ONLY] = access, loopback
    app.add_routes([*api.routes(), *assets.routes(), web.get("/login", login_form), web.post("/login", login)])
    return app


@web.middleware
async def headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as e:
        response = e
    response.headers.update(HEADERS)
    if request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"
    return response


@web.middleware
async def host_check(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.app[LOOPBACK_ONLY] and host_name(request.host or "") not in LOOPBACK_NAMES:
        raise web.HTTPMisdirectedRequest(text="this page answers to localhost only")
    return await handler(request)


def host_name(host: str) -> str:
    """The name of a Host header: `[::1]:4390` -> `::1`, `localhost:4390` -> `localhost`."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if ":" in host else host


@web.middleware
async def access_check(request: web.Request, handler: Handler) -> web.StreamResponse:
    access = request.app[ACCESS]
    if request.path in OPEN_PATHS or access.allows(request.headers.get("Authorization"), request.cookies.get(COOKIE)):
        return await handler(request)
    if request.path.startswith("/api/"):
        return web.json_response({"error": "sign in: a bearer token or the session cookie"}, status=401)
    return _login_page(status=401)


async def login_form(request: web.Request) -> web.StreamResponse:
    if request.app[ACCESS].open:
        raise web.HTTPSeeOther("/")
    return _login_page(status=200)


async def login(request: web.Request) -> web.StreamResponse:
    access = request.app[ACCESS]
    form = await request.post()
    token = form.get("token")
    if access.open or not isinstance(token, str) or not access.accepts(token):
        return _login_page(status=401)
    response = web.HTTPSeeOther("/")
    response.set_cookie(COOKIE, access.session(), httponly=True, samesite="Strict", path="/", secure=request.secure)
    return response


def _login_page(status: int) -> web.FileResponse:
    return web.FileResponse(assets.STATIC / "login.html", status=status, headers={"Cache-Control": "no-store"})


async def start(app: web.Application, listen: str) -> tuple[web.AppRunner, str]:
    """Serve `app` on every address `listen` (HOST:PORT) means; the page's URL. Port 0: one free port, shared."""
    host, port = parse_hostport(listen, "--listen")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    for addr in hosts(host):
        site = web.TCPSite(runner, addr, port, reuse_address=True)
        try:
            await site.start()
        except OSError as e:
            await runner.cleanup()
            raise bind_error("--listen", listen, hostport(addr, port), e) from None
        if port == 0:
            port = runner.addresses[-1][1]
    return runner, f"http://{hostport(host, port)}/"


def is_loopback(listen: str) -> bool:
    host, _ = parse_hostport(listen, "--listen")
    try:
        return all(ipaddress.ip_address(a).is_loopback for a in hosts(host))
    except ValueError:
        return False


def serve(app: web.Application, listen: str, on_ready: Callable[[str], None]) -> None:
    """Serve until SIGINT or SIGTERM; `on_ready(url)` once listening."""

    async def main() -> None:
        runner, url = await start(app, listen)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        on_ready(url)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())
