"""`costline serve`: receive OTLP, price and roll up LLM calls, re-export enriched spans."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping

from costline_processor.config import Config, ConfigError, parse_hostport
from costline_processor.config_options import add_flags
from costline_processor.config_sources import load_config
from costline_processor.listen import hostport, preflight


def register(sub) -> None:
    """The flags declared on config.py's fields, and the three that are not settings."""
    p = sub.add_parser("serve", help="run the OTLP cost processor", description=__doc__)
    add_flags(p, Config)
    p.add_argument("--config", metavar="FILE", help="YAML file with these settings and the tagging contract")
    p.add_argument(
        "--workers",
        metavar="N",
        type=int,
        default=1,
        help="serve from N processes sharing the receiver ports (SO_REUSEPORT; default 1). Each process "
        "assembles the traces its connections bring: use when whole traces arrive over one connection",
    )
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO)")
    p.set_defaults(func=run)


def build_config(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> Config:
    """The config `costline serve` runs with (defaults < --config file < flags; OTLP variables
    when nothing names an export target), checked: a wrong setting is one ConfigError sentence."""
    config = load_config(args.config, args, env)
    config.validate()
    _refuse_self_export(config)
    from costline_processor.receive.security import load_security

    load_security(config.receive)  # unreadable token or certificate files: one clear line now
    return config


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
    logging.basicConfig(level=log_level(args.log_level), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = build_config(args)
    check_workers(config, args.workers)
    preflight(listeners(config, args.workers))  # a port in use: one line, before the ledger or any file exists
    from costline_processor import server  # the pipeline, grpc and aiohttp: only when serving

    if args.workers > 1:
        return server.run_workers(config, args.workers, args.log_level)
    return server.run(config, server.open_sinks(config))
