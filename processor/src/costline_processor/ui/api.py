"""The page's JSON API: each handler turns its query string into Questions and asks ledger/query.py.

    GET /api/meta                    the tagging contract and the trace link template
    GET /api/overview/<panel>        one Overview panel (overview.py), ?since..&unit=day&cohort=plan; a panel
                                     the period cannot answer is {"note": why}, a wrong parameter a 400
    GET /api/explore                 `costline report` with the same flags as parameters
    GET /api/explore.csv             the same rows and columns as the table shows, as CSV
    GET /api/traces                  the costliest traces (`costline top traces`)
    GET /api/trace/<trace_id>        one trace's cost tree (trace_tree.py)

An answer's rows come as `rows` (JSON values: `render.plain`, as `--format json` writes them)
and `cells` (the text the CLI's table prints for them: `render.cell`, four decimals or more for
a smaller amount, `-$0.0057`); a total comes with the text the CLI's footers print for it
(`total_text`: cents, or more digits for less than a cent), so the page neither adds nor
formats money itself. A ConfigError (a bad period, an unknown tag) is a 400 with its
sentence. Queries block, so they run in the reader pool's threads (readers.py); an answer is
kept for a while by its request (cache.py). Each JSON answer says in a `Server-Timing` header how
long the ledger took over it and what answered (`ledger;dur=` milliseconds, the wait for a reader left out;
`desc="sqlite"` or `"duckdb"`, the columnar copy) or that it was kept (`cache`): the browser's developer tools
and benchmarks/ui.py read it.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from aiohttp import web

from costline_processor.config import Config, ConfigError
from costline_processor.ledger import query
from costline_processor.ledger.drivers import signed
from costline_processor.ledger.periods import bucket
from costline_processor.ledger.render import cell, money, plain, render, total_money
from costline_processor.ui import overview
from costline_processor.ui.cache import AnswerCache
from costline_processor.ui.questions import Params, question, window_only
from costline_processor.ui.readers import ReaderPool
from costline_processor.ui.trace_tree import trace_tree

SHOWN = ["cost_usd", "share", "calls", "avg_cost_usd", "unpriced_calls", "input_tokens", "output_tokens"]
SHOWN_TOKENS = ("input_tokens", "output_tokens")  # the sums Explore asks for: each token sum costs ~5% of its time
PER_USER = ["active_users", "cost_per_user"]
CAVEATS = ["caveat_calls", "caveat_usd"]
TRACE_COLUMNS = ["trace_id", "started", "service", "agent", "first_call", "calls", "unpriced_calls", "cost_usd"]
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_TOOK = "costline.took"  # the request's Server-Timing entry (set by _run)
POOL: web.AppKey[ReaderPool] = web.AppKey("pool", ReaderPool)
CACHE: web.AppKey[AnswerCache] = web.AppKey("cache", AnswerCache)
CONFIG: web.AppKey[Config] = web.AppKey("config", Config)
CLOCK: web.AppKey[Callable[[], int]] = web.AppKey("clock", Callable[[], int])  # type: ignore[arg-type]


def routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/api/meta", meta),
        web.get("/api/overview/{panel}", overview_panel),
        web.get("/api/explore", explore),
        web.get("/api/explore.csv", explore_csv),
        web.get("/api/traces", traces),
        web.get("/api/trace/{trace_id}", trace),
    ]


def shown_columns(q: query.Question, answer: query.Answer) -> list[str]:
    """The columns the page's table shows for `q`: the dimensions, then the CLI's main measures."""
    extra = PER_USER if q.user_tag else []
    return [*q.dims, *(["traces"] if q.traces else []), *SHOWN, *extra, *(CAVEATS if answer.caveats else [])]


def answer_object(answer: query.Answer, columns: list[str]) -> dict:
    return {
        "columns": columns,
        "rows": [{c: plain(r.get(c)) for c in columns} for r in answer.rows],
        "cells": [{c: cell(c, r.get(c)) for c in columns} for r in answer.rows],
        "total": plain(with_cells(answer.total, total_text)),
        "caveats": plain(answer.caveats),
    }


async def meta(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    tagging = config.tagging
    body = {
        "required": tagging.required,
        "untagged": tagging.default,
        "owner": tagging.owner,
        "trace_url": config.ui.trace_url,
    }
    return web.json_response(body)


async def overview_panel(request: web.Request) -> web.Response:
    name = request.match_info["panel"]
    panel = overview.PANELS.get(name)
    if panel is None:
        raise web.HTTPNotFound(text=f"no panel {name!r}")
    params = _params(request)
    config = request.app[CONFIG]

    def work(reader) -> dict:
        now = request.app[CLOCK]()
        frame = overview.Frame(
            window_only(replace(question(params, config.tagging, now, by=None), tokens=SHOWN_TOKENS)),
            now,
            config.tagging,
            unit=params.get("unit", "day") or "day",
            cohort=params.tag("cohort", "plan"),
            budgets=tuple(config.budgets),
        )
        try:
            got = panel(reader, frame)
        except ConfigError as e:  # this period cannot answer the panel (no call to compare with): its note
            return {"note": str(e)}
        if isinstance(got, query.Answer):
            q = replace(frame.q, dims=got.dims, user_tag=overview.USER_TAG if name in ("users", "cohorts") else None)
            return answer_object(got, shown_columns(q, got))
        return panel_object(name, got)

    return await _answer(request, work)


async def explore(request: web.Request) -> web.Response:
    params = _params(request)
    tagging = request.app[CONFIG].tagging

    def work(reader) -> dict:
        q = replace(question(params, tagging, request.app[CLOCK]()), tokens=SHOWN_TOKENS)
        answer = query.ask(reader, q)
        return {**answer_object(answer, shown_columns(q, answer)), "dims": list(q.dims)}

    return await _answer(request, work)


async def explore_csv(request: web.Request) -> web.Response:
    params = _params(request)
    tagging = request.app[CONFIG].tagging

    def work(reader) -> str:
        q = replace(question(params, tagging, request.app[CLOCK]()), tokens=SHOWN_TOKENS)
        answer = query.ask(reader, q)
        out = io.StringIO()
        render(answer.rows, "csv", out, columns=shown_columns(q, answer))
        return out.getvalue()

    try:
        text = await _run(request, work)
    except ConfigError as e:
        return web.json_response({"error": str(e)}, status=400)
    name = "costline-" + "-".join((params.get("by") or "feature").split(",")) + ".csv"
    headers = {"Content-Disposition": f'attachment; filename="{re.sub(r"[^A-Za-z0-9_.-]", "_", name)}"'}
    return web.Response(text=text, content_type="text/csv", charset="utf-8", headers=headers)


async def traces(request: web.Request) -> web.Response:
    params = _params(request)
    tagging = request.app[CONFIG].tagging

    def work(reader) -> dict:
        q = replace(question(params, tagging, request.app[CLOCK](), by=None), required=(), sort=None)
        q = replace(q, limit=params.number("limit", 25, 500))
        answer = query.top_traces(reader, q)
        columns = [*TRACE_COLUMNS, "share", *(CAVEATS if answer.caveats else []), "tags"]
        return answer_object(answer, columns)

    return await _answer(request, work)


async def trace(request: web.Request) -> web.Response:
    trace_id = request.match_info["trace_id"].strip().lower()
    if not _TRACE_ID.match(trace_id):
        return web.json_response({"error": "a trace id is 32 hex digits"}, status=400)

    def work(reader) -> dict:
        rows = reader.trace(trace_id)
        if not rows:
            raise ConfigError(f"no calls of trace {trace_id} in the ledger")
        tree = trace_tree(trace_id, rows)
        rollup = {
            **tree["rollup"],
            "cells": {"cost_usd": money(tree["rollup"]["cost_usd"], 6)},
        }  # costline trace's line
        return plain({**with_cells(tree), "rollup": rollup})

    return await _answer(request, work)


def panel_object(name: str, got: dict) -> dict:
    """A panel that is not a report's rows: the month figures and the untagged bucket are totals (as the footers
    of `report` print them), explain's rows are its table's cells and its total its footer's, budgets a table."""
    if name in ("months", "untagged"):
        return plain(with_cells(got, total_text))
    if name == "changes":
        return plain({**with_cells(got), "total": with_cells(got["total"], total_text)})
    if name == "budgets":  # the used share as `costline budgets` prints it (16.1%)
        rows = [{**r, "cells": {**r["cells"], "used": cell("share", r["used"])}} for r in with_cells(got["rows"])]
        return plain({**got, "rows": rows})
    return plain(with_cells(got))


def total_text(column: str, v: Any) -> str:
    """A total as the CLI's footers print it: money to the cent, or to two significant digits when less
    (`total_money`); a change with its sign (`signed`: explain's footer); a share as its table does."""
    if v is None or not column.endswith("_usd"):
        return cell(column, v)
    return signed(v) if column == "change_usd" else total_money(v)


def with_cells(obj: Any, text: Callable[[str, Any], str] = cell) -> Any:
    """`obj` with, in each dict that has money or a share, `cells`: those values as the CLI prints them (`text`:
    the table's cell, or `total_text`), in every dict inside it too."""
    if isinstance(obj, list):
        return [with_cells(x, text) for x in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: with_cells(v, text) for k, v in obj.items()}
    texts = {k: text(k, v) for k, v in obj.items() if k.endswith(("_usd", "_pct")) or k == "share"}
    return {**out, "cells": texts} if texts else out


def _params(request: web.Request) -> Params:
    q = request.rel_url.query
    return Params({k: q.get(k, "") for k in q}, q.getall("where", []))


async def _run(request: web.Request, work: Callable[[Any], Any]) -> Any:
    """`work(reader)` on a pooled reader, or the answer the cache keeps for this request on this UTC day (when
    a day begins, "this month", "today" and the budgets' periods may have moved: nothing kept is reused)."""
    day = bucket(request.app[CLOCK](), "day")
    took: list[tuple[str, float]] = []  # (engine, seconds): two when the columnar copy failed and SQLite answered

    def timed(reader) -> Any:
        started = time.perf_counter()
        try:
            return work(reader)
        finally:
            took.append((reader.dialect, time.perf_counter() - started))

    answer = await request.app[CACHE].answer(f"{day} {request.path_qs}", lambda: request.app[POOL].run(timed))
    seconds = sum(s for _, s in took)
    request[_TOOK] = f'ledger;dur={seconds * 1000:.1f};desc="{took[-1][0]}"' if took else "cache"
    return answer


async def _answer(request: web.Request, work: Callable[[Any], Any]) -> web.Response:
    try:
        body = await _run(request, work)
    except ConfigError as e:
        return web.json_response({"error": str(e)}, status=400)
    return web.json_response(body, headers={"Server-Timing": request[_TOOK]})
