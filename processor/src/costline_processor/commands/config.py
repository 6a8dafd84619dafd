"""`costline config check [FILE]`: validate a config file, print the settings serve would run with.

The file (FILE, else $COSTLINE_CONFIG) goes through serve's own loader and checks, with the
environment's COSTLINE_* (and OTEL_EXPORTER_OTLP_*) variables applied as serve applies them,
so CI can refuse a bad file before a deploy does. A wrong setting is the one line serve would
print, exit 2. A good file prints the effective settings as YAML, secrets masked
(redaction.py): URL passwords and export header values; files holding secrets appear by path.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping

from costline_processor import redaction
from costline_processor.commands.serve import check
from costline_processor.config import Config
from costline_processor.config_options import all_flags
from costline_processor.config_sources import CONFIG_ENV, load_config, unknown_variables


def register(sub) -> None:
    p = sub.add_parser("config", help="check a config file and print the effective settings", description=__doc__)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = actions.add_parser("check", help="validate FILE and print the settings serve would run with, secrets masked")
    c.add_argument("file", nargs="?", metavar="FILE", help=f"the YAML config (default: ${CONFIG_ENV})")
    c.set_defaults(func=run_check)


def run_check(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> int:
    path = args.file or env.get(CONFIG_ENV, "").strip() or None
    config = load_config(path, env=env)
    check(config)
    print(f"# {path or 'no config file'}: valid. The settings `costline serve` runs with (without flags):")
    for line in _sources(env):
        print(f"# {line}")
    print(effective_yaml(config, env), end="")
    return 0


def effective_yaml(config: Config, env: Mapping[str, str] = os.environ) -> str:
    """The settings as the YAML file would write them, the ledger resolved, secrets masked."""
    import yaml

    from costline_processor.ledger import resolve_location

    data = dataclasses.asdict(config)
    data["ledger"] = resolve_location(None, config.ledger, env)
    data["budgets"] = [{**b, "amount_usd": float(b["amount_usd"])} for b in data["budgets"]]  # YAML has no Decimal
    return yaml.safe_dump(redaction.settings(data), sort_keys=False, default_flow_style=False)


def _sources(env: Mapping[str, str]) -> list[str]:
    """Comment lines naming the variables that applied, and those that name nothing."""
    lines = []
    applied = [flag.variable for flag in all_flags(Config) if env.get(flag.variable, "").strip()]
    if applied:
        lines.append(f"from the environment: {', '.join(applied)}")
    if unknown := unknown_variables(env):
        lines.append(f"ignored (no setting has that name): {', '.join(unknown)}")
    return lines
