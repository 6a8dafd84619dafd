"""`costline serve`: receive OTLP, price and roll up LLM calls, re-export enriched spans."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping

from costline_processor.config import Config, ConfigError, parse_hostport
from costline_processor.config_options import add_flags
from costline_processor.config_sources import load_config, unknown_variables
from costline_processor.listen import hostport, preflight
from costline_processor.log_lines import configure_logging
from costline_processor.process_flags import LOG_FORMATS, PROCESS_DEFAULTS, PROCESS_FLAGS

log = logging.getLogger("costline.serve")


def register(sub, env: Mapping[str, str] = os.environ) -> None:
    """The flags declared on config.py's fields, and those that are not settings (process_flags.py):
    their variable, when set, is the default the flag overrides."""
    p = sub.add_parser("serve", help="run the OTLP cost processor", description=__doc__)
    add_flags(p, Config)
    for flag in PROCESS_FLAGS:
        default = env.get(flag.variable, "").strip() or PROCESS_DEFAULTS[flag.name]
        p.add_argument(
            flag.name, metavar=flag.metavar, type=flag.type, default=default, help=f"{flag.help} [${flag.variable}]"
        )
    p.set_defaults(func=run)


def build_config(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> Config:
    """The config `costline serve` runs with (defaults < --config file < COSTLINE_* variables <
    flags; OTLP variables when nothing names an export target), checked: a wrong setting is one
    ConfigError sentence."""
    config = load_config(args.config, args, env)
    check(config)
    return config


def check(config: Config) -> None:
    """What serve checks before it starts: each stage's settings, no export to itself, and the
    token and certificate files readable (read to check, never printed)."""
    config.validate()
    _refuse_self_export(config)
    from costline_processor.receive.security import load_security

    load_security(config.receive)  # unreadable token or certificate files: one clear line now


def _refuse_self_export(config: Config) -> None:
    own_ports = {parse_hostport(a)[1] for a in (config.receive.grpc, config.receive.http) if a is not None}
    for t in config.export.targets:
        hostport = t.endpoint.split("://", 1)[-1].split("/", 1)[0]
        host, _, port = hostport.rpartition(":")
        if port.isdigit() and int(port) in own_ports and host in ("localhost", "127.0.0.1", "0.0.0.0", "[::1]", ""):
            raise ConfigError(f"export target {t.endpoint} is costline's own receiver: spans would loop")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level(value: str) -> str:
    if value.upper() not in LOG_LEVELS:
        raise ConfigError(f"--log-level must be one of {', '.join(LOG_LEVELS)}, not {value!r}")
    return value.upper()


def log_format(value: str) -> str:
    if value.lower() not in LOG_FORMATS:
        raise ConfigError(f"--log-format must be {' or '.join(LOG_FORMATS)}, not {value!r}")
    return value.lower()


def listeners(config: Config, workers: int) -> list[tuple[str, str]]:
    """(flag, HOST:PORT) of every socket serve will listen on; worker i serves /metrics on PORT+i."""
    out = [(flag, addr) for flag, addr in (("--grpc", config.receive.grpc), ("--http", config.receive.http)) if addr]
    if config.metrics.listen:
        host, port = parse_hostport(config.metrics.listen, "--metrics")
        ports = [port + i for i in range(workers)] if workers > 1 else [port]
        out += [("--metrics", hostport(host, p)) for p in ports]
    return out


def check_workers(config: Config, workers: int) -> None:
    """What several processes cannot share: ephemeral ports, one Prometheus endpoint, one push."""
    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    if workers == 1:
        return
    for addr, name in ((config.receive.grpc, "--grpc"), (config.receive.http, "--http")):
        if addr is not None and parse_hostport(addr, name)[1] == 0:
            raise ConfigError(f"--workers {workers} needs a fixed {name} port, not 0")
    if config.metrics.listen and parse_hostport(config.metrics.listen, "--metrics")[1] == 0:
        raise ConfigError(f"--workers {workers} needs a fixed --metrics port, not 0 (worker i serves on port + i)")


def run(args: argparse.Namespace) -> int:
    logs = (log_level(args.log_level), log_format(args.log_format))
    configure_logging(*logs)
    if unknown := unknown_variables(os.environ):
        log.warning("ignoring %s: no setting of costline has that name (docs/configuration.md)", ", ".join(unknown))
    config = build_config(args)
    check_workers(config, args.workers)
    preflight(listeners(config, args.workers))  # a port in use: one line, before the ledger or any file exists
    from costline_processor import server  # the pipeline, grpc and aiohttp: only when serving

    if args.workers > 1:
        return server.run_workers(config, args.workers, logs)
    return server.run(config, server.open_sinks(config))
