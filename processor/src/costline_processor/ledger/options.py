"""Command-line options every ledger command shares, and their resolution.

--ledger (else $COSTLINE_LEDGER, else the config file's `ledger:`, else DEFAULT_LEDGER),
--config (else $COSTLINE_CONFIG: the same YAML `costline serve` reads: tagging.required/default/owner),
--since/--until (durations like 7d, yesterday, dates, ISO times; UTC) or one calendar period
(--month, --last-month, --mtd), --where filters and --sort (filters.py, query.py), and --format.
"""

from __future__ import annotations

import argparse
import os
import time

from costline_processor.config import Config, ConfigError
from costline_processor.config_sources import load_config as load_config_file
from costline_processor.ledger import LedgerReader, open_reader, resolve_location
from costline_processor.ledger.periods import last_month_window, month_to_date_window, month_window, window
from costline_processor.ledger.render import FORMATS


def add_ledger(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ledger",
        metavar="PATH|URL",
        help="SQLite file or postgresql:// URL (default: $COSTLINE_LEDGER or ./costline-ledger.db)",
    )
    p.add_argument("--config", metavar="FILE", help="costline YAML config (tagging contract, ledger)")


def add_window(p: argparse.ArgumentParser, since: str | None = "30d") -> None:
    p.add_argument(
        "--since",
        metavar="WHEN",
        help=f"start: 7d, yesterday, 2026-03-01 or ISO time, UTC (default: {since or 'the beginning'})",
    )
    p.add_argument("--until", metavar="WHEN", help="end, exclusive: as --since, or today (default: now)")
    p.add_argument("--month", metavar="YYYY-MM", help="that calendar month (UTC) instead of --since/--until")
    p.add_argument("--last-month", action="store_true", help="the previous calendar month (UTC)")
    p.add_argument("--mtd", action="store_true", help="this calendar month to date (UTC)")
    p.set_defaults(default_since=since)


def add_filters(p: argparse.ArgumentParser, *, sort: bool = True) -> None:
    p.add_argument(
        "--where",
        action="append",
        metavar="DIM=VALUE",
        help="only calls whose DIM (a tag, model, provider, agent, service, operation, status) is VALUE; "
        "DIM!=VALUE: is not; repeatable (one DIM: any of its values; several: all must hold)",
    )
    if sort:
        p.add_argument(
            "--sort", metavar="COLUMN", help="order by this column: numbers largest first, names A to Z (default: cost)"
        )


def add_allocation(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allocate-untagged",
        nargs="?",
        const="",
        metavar="TAG",
        help="showback: spread the untagged cost over the values of TAG (a tag of the report; default: its one "
        "tag) in proportion to their tagged cost; allocated_usd says how much each row got",
    )


def add_format(p: argparse.ArgumentParser, default: str = "table") -> None:
    p.add_argument("--format", choices=FORMATS, default=default, help=f"output format (default: {default})")


def load_config(args: argparse.Namespace) -> Config:
    """The --config file (else $COSTLINE_CONFIG) and the COSTLINE_* variables through serve's loader
    (config_sources.py); the ledger flags are read apart."""
    return load_config_file(getattr(args, "config", None), env=os.environ)


def reader(args: argparse.Namespace, config: Config | None = None, *, create: bool = False) -> LedgerReader:
    config = config or load_config(args)
    return open_reader(resolve_location(args.ledger, config.ledger, os.environ), create=create)


def now_ns() -> int:
    return time.time_ns()


def time_window(args: argparse.Namespace, now: int) -> tuple[int | None, int]:
    """[start, end) from --since/--until or one calendar period (--month, --last-month, --mtd), in ns."""
    given = {
        "--since/--until": args.since or args.until,
        "--month": getattr(args, "month", None),
        "--last-month": getattr(args, "last_month", False),
        "--mtd": getattr(args, "mtd", False),
    }
    chosen = [flag for flag, value in given.items() if value]
    if len(chosen) > 1:
        raise ConfigError(f"one period at a time: {' or '.join(chosen)}, not both")
    if given["--month"]:
        return month_window(args.month)
    if given["--last-month"]:
        return last_month_window(now)
    if given["--mtd"]:
        return month_to_date_window(now)
    return window(args.since or getattr(args, "default_since", None), args.until, now)
