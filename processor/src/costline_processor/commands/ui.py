"""`costline ui`: the cost explorer page over the ledger (ui/), on localhost:4390 by default."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from costline_processor.config import Config
from costline_processor.ledger import options, resolve_location
from costline_processor.listen import preflight


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "ui", help="the cost explorer: a web page over the ledger (Overview, Explore, Traces)", description=__doc__
    )
    options.add_ledger(p)
    p.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="serve the page here (default: the config's ui.listen, localhost:4390); the page shows customer "
        "names: bind wider only with --bearer-token-file",
    )
    p.add_argument(
        "--bearer-token-file",
        metavar="FILE",
        help="require this token (the receivers' file: default the config's receive.bearer_token_file), "
        "as 'Authorization: Bearer' or through the page's sign-in",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = options.load_config(args)
    page = open_page(config, args.ledger, args.listen, args.bearer_token_file)
    page.serve(lambda url: print(f"costline ui: {url}  (ledger {page.location}; Ctrl-C stops)", flush=True))
    return 0


class Page:
    """The page, checked and ready to serve: its app, its listen address, its ledger."""

    def __init__(self, app, listen: str, location: str, pool) -> None:
        self.app, self.listen, self.location, self.pool = app, listen, location, pool

    def serve(self, on_ready) -> None:
        from costline_processor.ui.app import serve

        try:
            serve(self.app, self.listen, on_ready)
        finally:
            self.pool.close()
            if self.pool.columnar is not None:
                self.pool.columnar.close()


def _columnar(config: Config, location: str):
    """The columnar copy of a SQLite ledger the page answers from once loaded (ledger/columnar.py), or None."""
    if not config.ui.columnar or location.startswith(("postgresql://", "postgres://")):
        return None
    from costline_processor.ledger.columnar import ColumnarCopy

    try:
        return ColumnarCopy(location)
    except (ImportError, OSError) as e:  # no duckdb/adbc installed, no temporary directory
        print(f"costline ui: SQLite answers every question (no columnar copy: {e})", file=sys.stderr)
        return None


def open_page(config: Config, ledger: str | None, listen: str | None, token_file: str | None) -> Page:
    """Everything `costline ui` checks before it listens: settings, token file, ledger, port."""
    import os

    from costline_processor.receive.security import load_security
    from costline_processor.ui.access import Access
    from costline_processor.ui.app import build_app, is_loopback
    from costline_processor.ui.readers import ReaderPool

    config.ui = replace(config.ui, listen=listen or config.ui.listen)
    config.ui.validate()
    receive = replace(config.receive, bearer_token_file=token_file or config.receive.bearer_token_file)
    access = Access(load_security(receive).token)
    location = resolve_location(ledger, config.ledger, os.environ)
    pool = ReaderPool(location, columnar=_columnar(config, location))
    pool.check()
    if pool.columnar is not None:
        pool.columnar.start()
    preflight([("--listen", config.ui.listen)])
    if not is_loopback(config.ui.listen) and access.open:
        print(
            f"costline ui: warning: {config.ui.listen} is not loopback and no bearer token is set: "
            "anyone who can reach it sees the ledger",
            file=sys.stderr,
        )
    app = build_app(pool, config, access, loopback=is_loopback(config.ui.listen))
    return Page(app, config.ui.listen, location, pool)
