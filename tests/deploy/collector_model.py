"""What tests/deploy knows about the pinned Collector release, and a config checker.

The Collector cannot run here, so `otelcol validate` is not available. This module is
the stand-in: it applies the rules the Collector applies when it loads a config
(component IDs are `type[/name]`, a pipeline may only name components defined in
its section, a pipeline ID is `signal[/name]`) plus a key list per component taken
from the upstream config schemas of the components these files use, so a misspelt
key fails here the way it fails at Collector start-up ("has invalid keys").

The key lists cover only the components used in collector-config/; a component
missing from them is reported, not assumed valid.
"""

from __future__ import annotations

import re

RELEASE = "0.157.0"  # otel/opentelemetry-collector-contrib, the tag docker-compose.yml pins

# Names the 2026 releases renamed, kept as deprecated aliases: configs must use the new ones.
DEPRECATED = {
    ("exporters", "otlp"): "otlp_grpc",  # collector v0.144.0
    ("exporters", "otlphttp"): "otlp_http",  # collector v0.144.0
    ("exporters", "loadbalancing"): "load_balancing",  # contrib, May 2026 (v0.153.0)
}

TLS = {
    "insecure",
    "insecure_skip_verify",
    "ca_file",
    "ca_pem",
    "cert_file",
    "cert_pem",
    "key_file",
    "key_pem",
    "server_name_override",
    "min_version",
    "max_version",
    "reload_interval",
    "include_system_ca_certs_pool",
}
QUEUE = {"enabled", "num_consumers", "queue_size", "sizer", "block_on_overflow", "wait_for_result", "storage", "batch"}
RETRY = {"enabled", "initial_interval", "max_interval", "max_elapsed_time", "multiplier", "randomization_factor"}
GRPC_CLIENT = {
    "endpoint",
    "tls",
    "compression",
    "timeout",
    "sending_queue",
    "retry_on_failure",
    "headers",
    "balancer_name",
    "keepalive",
    "auth",
    "read_buffer_size",
    "write_buffer_size",
    "wait_for_ready",
    "authority",
}
HTTP_CLIENT = {
    "endpoint",
    "traces_endpoint",
    "metrics_endpoint",
    "logs_endpoint",
    "tls",
    "compression",
    "timeout",
    "sending_queue",
    "retry_on_failure",
    "headers",
    "encoding",
    "auth",
    "read_buffer_size",
    "write_buffer_size",
    "max_idle_conns",
    "idle_conn_timeout",
    "proxy_url",
}
NESTED = {"tls": TLS, "sending_queue": QUEUE, "retry_on_failure": RETRY}

# kind -> type -> (signals it supports, allowed top-level keys)
COMPONENTS: dict[str, dict[str, tuple[set[str], set[str]]]] = {
    "receivers": {
        "otlp": ({"traces", "metrics", "logs"}, {"protocols"}),
    },
    "processors": {
        "memory_limiter": (
            {"traces", "metrics", "logs"},
            {
                "check_interval",
                "limit_mib",
                "spike_limit_mib",
                "limit_percentage",
                "spike_limit_percentage",
                "min_gc_interval_when_soft_limited",
                "min_gc_interval_when_hard_limited",
            },
        ),
        "batch": (
            {"traces", "metrics", "logs"},
            {"send_batch_size", "send_batch_max_size", "timeout", "metadata_keys", "metadata_cardinality_limit"},
        ),
    },
    "exporters": {
        "otlp_grpc": ({"traces", "metrics", "logs"}, GRPC_CLIENT),
        "otlp_http": ({"traces", "metrics", "logs"}, HTTP_CLIENT),
        "load_balancing": (
            {"traces", "logs", "metrics"},
            {
                "routing_key",
                "routing_attributes",
                "protocol",
                "resolver",
                "timeout",
                "sending_queue",
                "retry_on_failure",
            },
        ),
        "debug": ({"traces", "metrics", "logs"}, {"verbosity", "sampling_initial", "sampling_thereafter"}),
    },
    "extensions": {
        "health_check": (set(), {"endpoint", "path", "check_collector_pipeline", "tls", "response_body"}),
    },
}
RECEIVER_PROTOCOLS = {
    "grpc": {
        "endpoint",
        "max_recv_msg_size_mib",
        "max_concurrent_streams",
        "tls",
        "keepalive",
        "read_buffer_size",
        "write_buffer_size",
        "auth",
        "include_metadata",
    },
    "http": {
        "endpoint",
        "tls",
        "cors",
        "traces_url_path",
        "metrics_url_path",
        "logs_url_path",
        "include_metadata",
        "auth",
        "max_request_body_size",
    },
}
RESOLVERS = {
    "static": {"hostnames"},
    "dns": {"hostname", "port", "interval", "timeout"},
    "k8s": {"service", "ports", "timeout", "return_hostnames"},
    "aws_cloud_map": {"namespace", "service_name", "port", "health_status", "interval", "timeout"},
}
ROUTING_KEYS = {"service", "traceID", "resource", "metric", "streamID", "attributes"}
SIGNALS = {"traces", "metrics", "logs"}
DURATION = re.compile(r"^(0|(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+)$")
DURATION_KEYS = {"check_interval", "timeout", "initial_interval", "max_interval", "max_elapsed_time", "interval"}


def component_type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def _keys(where: str, value, allowed: set[str], problems: list[str]) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        problems.append(f"{where} must be a mapping")
        return
    for k in sorted(set(value) - allowed):
        problems.append(f"{where} has invalid key {k!r}")
    for k, v in value.items():
        if k in NESTED and isinstance(v, dict):
            _keys(f"{where}::{k}", v, NESTED[k], problems)
        if k in DURATION_KEYS and v is not None and not DURATION.match(str(v)):
            problems.append(f"{where}::{k} is not a duration: {v!r}")


def check(config: dict) -> list[str]:
    """Problems the Collector would refuse the config for (empty list: none found)."""
    problems: list[str] = []
    for kind in ("receivers", "processors", "exporters", "extensions"):
        for cid, body in (config.get(kind) or {}).items():
            ctype = component_type(cid)
            if (kind, ctype) in DEPRECATED:
                problems.append(f"{kind}::{cid} uses the deprecated name {ctype!r}; use {DEPRECATED[(kind, ctype)]!r}")
                continue
            known = COMPONENTS[kind].get(ctype)
            if known is None:
                problems.append(f"{kind}::{cid}: type {ctype!r} is not one this checker knows for contrib {RELEASE}")
                continue
            _keys(f"{kind}::{cid}", body, known[1], problems)
            if ctype == "otlp" and kind == "receivers":
                for proto, pbody in (body or {}).get("protocols", {}).items():
                    if proto not in RECEIVER_PROTOCOLS:
                        problems.append(f"{kind}::{cid}::protocols has invalid key {proto!r}")
                    else:
                        _keys(f"{kind}::{cid}::protocols::{proto}", pbody, RECEIVER_PROTOCOLS[proto], problems)
            if ctype == "load_balancing":
                protocol = (body or {}).get("protocol") or {}
                _keys(f"{kind}::{cid}::protocol", protocol, {"otlp"}, problems)
                _keys(f"{kind}::{cid}::protocol::otlp", protocol.get("otlp"), GRPC_CLIENT - {"endpoint"}, problems)
                resolver = (body or {}).get("resolver") or {}
                chosen = [r for r in resolver if r in RESOLVERS]
                if len(resolver) != 1 or len(chosen) != 1:
                    problems.append(
                        f"{kind}::{cid}::resolver needs exactly one of {sorted(RESOLVERS)}, has {sorted(resolver)}"
                    )
                for r in chosen:
                    _keys(f"{kind}::{cid}::resolver::{r}", resolver[r], RESOLVERS[r], problems)
                key = (body or {}).get("routing_key", "traceID")
                if key not in ROUTING_KEYS:
                    problems.append(f"{kind}::{cid}::routing_key {key!r} is not one of {sorted(ROUTING_KEYS)}")

    service = config.get("service") or {}
    for ext in service.get("extensions") or []:
        if ext not in (config.get("extensions") or {}):
            problems.append(f"service::extensions: {ext!r} is not defined under extensions")
    pipelines = service.get("pipelines") or {}
    if not pipelines:
        problems.append("service::pipelines is empty")
    for pid, p in pipelines.items():
        signal = pid.split("/", 1)[0]
        if signal not in SIGNALS:
            problems.append(f"pipeline {pid!r}: unknown signal {signal!r}")
            continue
        unknown = set(p or {}) - {"receivers", "processors", "exporters"}
        if unknown:
            problems.append(f"pipeline {pid!r} has invalid keys {sorted(unknown)}")
        for kind in ("receivers", "exporters"):
            if not (p or {}).get(kind):
                problems.append(f"pipeline {pid!r} needs at least one of {kind}")
        for kind in ("receivers", "processors", "exporters"):
            names = (p or {}).get(kind) or []
            if len(set(names)) != len(names):
                problems.append(f"pipeline {pid!r} names a {kind[:-1]} twice")
            for cid in names:
                if cid not in (config.get(kind) or {}):
                    problems.append(f"pipeline {pid!r} references {kind[:-1]} {cid!r}, which is not defined")
                    continue
                known = COMPONENTS[kind].get(component_type(cid))
                if known and signal not in known[0]:
                    problems.append(f"pipeline {pid!r}: {cid!r} does not support {signal}")
    return problems


def used(config: dict, kind: str) -> set[str]:
    return {
        cid
        for p in ((config.get("service") or {}).get("pipelines") or {}).values()
        for cid in (p or {}).get(kind) or []
    }
