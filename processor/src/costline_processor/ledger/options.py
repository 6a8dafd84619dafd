"""Command-line options every ledger command shares, and their resolution.

--ledger (else the config file's `ledger:`, else $COSTLINE_LEDGER, else DEFAULT_LEDGER),
--config (the same YAML `costline serve` reads: tagging.required/default/owner),
--since/--until (durations like 7d, dates, ISO times; UTC) and --format.
"""

from __future__ import annotations

import argparse
import os
import time

from costline_processor.config import Config, load_yaml_file, merge_yaml
from costline_processor.ledger import LedgerReader, open_reader, resolve_location
from costline_processor.ledger.periods import window
from costline_processor.ledger.render import FORMATS


def add_ledger(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ledger", metavar="PATH|URL", help="SQLite file or postgresql:// URL (default: $COSTLINE_LEDGER or ./costline-ledger.db)")
    p.add_argument("--config", metavar="FILE", help="costline YAML config (tagging contract, ledger)")


def add_window(p: argparse.ArgumentParser, since: str | None = "30d") -> None:
    p.add_argument("--since", default=since, metavar="WHEN", help=f"start: 7d, 2026-03-01 or ISO time, UTC (default: {since or 'the beginning'})")
    p.add_argument("--until", metavar="WHEN", help="end, exclusive (default: now)")


def add_format(p: argparse.ArgumentParser, default: str = "table") -> None:
    p.add_argument("--format", choices=FORMATS, default=default, help=f"output format (default: {default})")


def load_config(args: argparse.Namespace) -> Config:
    config = Config()
    if getattr(args, "config", None):
        merge_yaml(config, load_yaml_file(args.config))
    return config


def reader(args: argparse.Namespace, config: Config | None = None, *, create: bool = False) -> LedgerReader:
    config = config or load_config(args)
    return open_reader(resolve_location(args.ledger, config.ledger, os.environ), create=create)


def now_ns() -> int:
    return time.time_ns()


def time_window(args: argparse.Namespace, now: int) -> tuple[int | None, int]:
    return window(args.since, args.until, now)
