"""`costline serve`: receive OTLP, price and roll up LLM calls, re-export enriched spans."""

from __future__ import annotations

import argparse
import logging
import os

from costline_processor.config import (
    Config,
    ConfigError,
    ExportTarget,
    load_yaml_file,
    merge_yaml,
    parse_hostport,
    targets_from_env,
)
from costline_processor.listen import hostport, preflight


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the OTLP cost processor", description=__doc__)
    p.add_argument("--grpc", metavar="HOST:PORT", help="OTLP/gRPC listen address (default localhost:4317; 'off' disables)")
    p.add_argument("--http", metavar="HOST:PORT", help="OTLP/HTTP listen address (default localhost:4318; 'off' disables)")
    p.add_argument("--export-grpc", metavar="HOST:PORT", action="append", default=[], help="export to an OTLP/gRPC backend (repeatable)")
    p.add_argument("--export-http", metavar="URL", action="append", default=[], help="export to an OTLP/HTTP backend (repeatable)")
    p.add_argument("--trace-wait", metavar="SECONDS", type=float, help="quiet time before a trace is assembled (default 5)")
    p.add_argument("--prices", metavar="FILE", help="price file that overrides or adds models")
    p.add_argument("--config", metavar="FILE", help="YAML file with these settings and the tagging contract")
    p.add_argument("--ledger", metavar="PATH|URL", help="SQLite path or postgresql:// URL for the cost ledger ('off' disables)")
    p.add_argument("--metrics", metavar="HOST:PORT",
                   help="serve Prometheus /metrics on this address (with --workers N: worker i on PORT+i)")
    p.add_argument("--workers", metavar="N", type=int, default=1,
                   help="serve from N processes sharing the receiver ports (SO_REUSEPORT; default 1). Each process "
                        "assembles the traces its connections bring: use when whole traces arrive over one connection")
    p.add_argument("--tls-cert", metavar="PEM", help="serve TLS on both receivers with this certificate chain")
    p.add_argument("--tls-key", metavar="PEM", help="the TLS private key")
    p.add_argument("--bearer-token-file", metavar="FILE", help="require 'Authorization: Bearer <token in FILE>' on both receivers")
    p.add_argument("--queue-dir", metavar="DIR",
                   help="keep acknowledged spans on disk here until exported and recorded; replayed after a "
                        "restart or crash (default: memory only)")
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO)")
    p.set_defaults(func=run)


def build_config(args: argparse.Namespace, env=os.environ) -> Config:
    config = Config()
    if args.config:
        merge_yaml(config, load_yaml_file(args.config), where=os.path.basename(args.config))
    if args.grpc:
        config.receive.grpc = None if args.grpc == "off" else args.grpc
    if args.http:
        config.receive.http = None if args.http == "off" else args.http
    if args.trace_wait is not None:
        config.assembly.trace_wait_s = args.trace_wait
    if args.prices:
        config.pricing.prices_file = args.prices
    for flag, field in (("tls_cert", "tls_cert_file"), ("tls_key", "tls_key_file"), ("bearer_token_file", "bearer_token_file")):
        if getattr(args, flag, None):
            setattr(config.receive, field, getattr(args, flag))
    if args.ledger:
        config.ledger = args.ledger
    if getattr(args, "queue_dir", None):
        config.export.queue_dir = args.queue_dir
    if args.metrics:
        config.metrics.listen = args.metrics
    flags = [ExportTarget("grpc", e) for e in args.export_grpc] + [ExportTarget("http", e) for e in args.export_http]
    if flags:
        config.export.targets = flags
    elif not config.export.targets:
        config.export.targets = targets_from_env(env)
    config.validate()
    _refuse_self_export(config)
    from costline_processor.receive.security import load_security

    load_security(config.receive)  # unreadable token or certificate files: one clear line now
    return config


def _refuse_self_export(config: Config) -> None:
    own = {config.receive.grpc, config.receive.http} - {None}
    own_ports = {parse_hostport(a)[1] for a in own}
    for t in config.export.targets:
        hostport = t.endpoint.split("://", 1)[-1].split("/", 1)[0]
        host, _, port = hostport.rpartition(":")
        if port.isdigit() and int(port) in own_ports and host in ("localhost", "127.0.0.1", "0.0.0.0", "[::1]", ""):
            raise ConfigError(f"export target {t.endpoint} is costline's own receiver: spans would loop")


def open_sinks(config: Config) -> list:
    """The ledger (on by default: --ledger, config, $COSTLINE_LEDGER, ./costline-ledger.db) and metrics."""
    from costline_processor.ledger import open_ledger, resolve_location

    sinks = []
    location = resolve_location(None, config.ledger)
    if location != "off":
        sinks.append(open_ledger(location))
        logging.getLogger("costline").info("ledger: %s", location)
    m = config.metrics
    if m.listen or m.otlp_endpoint:
        from costline_processor.metrics import MetricsSink

        sink = MetricsSink(m.dimensions, m.max_label_values, untagged=config.tagging.default,
                           otlp_endpoint=m.otlp_endpoint, otlp_interval_s=m.otlp_interval_s, max_series=m.max_series)
        if m.listen:
            host, port = parse_hostport(m.listen, "--metrics")
            sink.serve(host, port)
            logging.getLogger("costline").info("Prometheus metrics on %s", ", ".join(f"http://{a}/metrics" for a in sink.addresses))
        sinks.append(sink)
    return sinks


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
    if args.workers > 1:
        from costline_processor.server import run_workers

        return run_workers(config, args.workers, args.log_level)
    from costline_processor.server import run as run_server

    return run_server(config, open_sinks(config))
