"""`costline` command line: argument parsing only.

Each subcommand lives in `costline_processor.commands.<name>` and exposes
`register(subparsers)`; the modules are imported lazily so `costline --help` stays
fast and the app-side install (no processor extra) gets a clear message.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = [
    "serve",
    "report",
    "top",
    "explain",
    "trace",
    "ui",
    "alerts",
    "budgets",
    "reconcile",
    "reprice",
    "prices",
    "export",
    "demo",
    "lint",
    "config",
]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of `only` (what `main` runs: one command's imports, not all
    fifteen's; `costline report` on a rollup answers in ~0.3 s, half of it was importing the others)."""
    from costline import __version__

    parser = argparse.ArgumentParser(prog="costline", description="OpenTelemetry-native LLM cost attribution.")
    parser.add_argument("--version", action="version", version=f"costline {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else [only]:
        try:
            module = importlib.import_module(f"costline_processor.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name and e.name.startswith("costline_processor.commands"):
                continue  # command not built yet
            sub.add_parser(name, help=f"(needs `pip install 'costline[processor]'`: {e.name} missing)")
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from costline_processor.config import ConfigError

    try:
        return int(args.func(args) or 0)
    except ConfigError as e:
        print(f"costline: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `costline report ... | head`: the reader left, nothing is wrong
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
