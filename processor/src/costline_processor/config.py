"""Settings for every stage of `costline serve`, one dataclass per stage.

Each field documents its default. Stages receive these objects and never read
`os.environ` themselves; `load_config` merges defaults, the YAML file (`--config`)
and command-line flags, in that order, and `validate` answers with plain sentences.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

DEFAULT_GRPC = "localhost:4317"
DEFAULT_HTTP = "localhost:4318"
DEFAULT_TRACE_WAIT_S = 5.0
DEFAULT_MAX_TRACES = 100_000
DEFAULT_MAX_SPANS = 1_000_000
DEFAULT_MAX_BUFFER_BYTES = 512 * 1024 * 1024  # span bytes + bookkeeping; 0 disables
DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024  # after decompression, as the OTLP spec suggests
DEFAULT_MAX_CONCURRENT_REQUESTS = 32
DEFAULT_RECENT_TRACES = 50_000
DEFAULT_QUEUE_BATCHES = 2_000
DEFAULT_BATCH_SPANS = 2_048
DEFAULT_EXPORT_REQUEST_BYTES = 4 * 1024 * 1024  # gRPC's default receive limit, which most backends keep
DEFAULT_UNTAGGED = "untagged"


class ConfigError(ValueError):
    """A setting is wrong; the message is one sentence a user can act on."""


@dataclass
class ReceiveConfig:
    grpc: str | None = DEFAULT_GRPC  # HOST:PORT; None disables the gRPC receiver
    http: str | None = DEFAULT_HTTP  # HOST:PORT; None disables the HTTP receiver
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES  # after decompression; over it: 413 / RESOURCE_EXHAUSTED
    retry_after_s: float = 5.0  # the hint sent with throttling answers (gRPC: exact; HTTP Retry-After: rounded up)
    # requests being read or handled at once, both receivers together; more are throttled before
    # their body is read (so bodies held <= this x max_request_bytes); 0: no cap
    max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS
    bearer_token_file: str | None = None  # require `Authorization: Bearer <file content>` on both receivers
    tls_cert_file: str | None = None  # serve TLS on both receivers (PEM certificate chain)
    tls_key_file: str | None = None  # its PEM private key


@dataclass
class PricingConfig:
    prices_file: str | None = None  # user YAML that overrides or adds models
    allow_network_updates: bool = False  # let genai-prices fetch fresh price data (off: never touch the network)
    write_gen_ai_usage_cost: bool = True  # also write the cost as `gen_ai.usage.cost`
    # deployment name -> model name (Azure deployments, gateway aliases), e.g. {prod-4o: gpt-4o-2024-08-06};
    # matched exactly, case-insensitive; default none
    deployments: dict[str, str] = field(default_factory=dict)


@dataclass
class TaggingConfig:
    """The tagging contract: which tags matter, where other libraries keep them."""

    required: list[str] = field(default_factory=lambda: ["feature", "customer_id"])
    default: str = DEFAULT_UNTAGGED  # value given to required tags still missing
    owner: str | None = None  # who owns the untagged bucket (reported beside it)
    # source attribute -> costline tag name (without the `costline.` prefix)
    aliases: dict[str, str] = field(
        default_factory=lambda: {
            "user.id": "user_id",
            "enduser.id": "user_id",
            "session.id": "session_id",
            "gen_ai.conversation.id": "session_id",
            "langfuse.user.id": "user_id",
            "langfuse.session.id": "session_id",
            "langfuse.environment": "environment",
            "deployment.environment": "environment",
            "deployment.environment.name": "environment",
        }
    )
    # attribute prefixes whose suffix is the tag name, e.g. traceloop's association properties
    prefixes: list[str] = field(
        default_factory=lambda: [
            "traceloop.association.properties.",
            "langfuse.trace.metadata.",
            "langfuse.observation.metadata.",
            "ai.telemetry.metadata.",
        ]
    )
    # Glob patterns (fnmatch: * ? [seq]) on the tag name a prefix gives; a match is not a tag. Added to
    # the built-in framework metadata patterns (assembly/tags.py FRAMEWORK_KEYS: ls_*, lc_*, langgraph_*,
    # checkpoint_ns, checkpoint_id). Aliases and a span's own `costline.*` tags are never ignored.
    ignore: list[str] = field(default_factory=list)
    # Tag trust and privacy (processor/assembly/policy.py). trust: resource service.name -> the tag
    # names that service may set ("*": all); the service "*" covers every service not listed. A tag a
    # service may not set is ignored (inherited or defaulted instead) and counted as tags_untrusted.
    trust: dict[str, list[str]] = field(default_factory=lambda: {"*": ["*"]})
    hash: list[str] = field(default_factory=list)  # tags whose values become h:<HMAC-SHA256 hex[:16]>
    drop: list[str] = field(default_factory=list)  # tags removed before export, ledger and metrics
    hash_key_file: str | None = None  # the HMAC key for `hash` (at least 16 bytes), read from this file


@dataclass
class AssemblyConfig:
    trace_wait_s: float = DEFAULT_TRACE_WAIT_S  # quiet time before a trace is flushed
    max_traces: int = DEFAULT_MAX_TRACES  # at the bound the oldest trace flushes early
    max_spans: int = DEFAULT_MAX_SPANS  # buffered spans across all traces; same policy
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES  # buffered span bytes (+ 160 B each); same policy; 0: none
    recent_traces: int = DEFAULT_RECENT_TRACES  # flushed traces remembered for late spans


@dataclass
class ExportTarget:
    protocol: str  # "grpc" or "http"
    endpoint: str  # HOST:PORT for grpc, base URL or full /v1/traces URL for http
    headers: dict[str, str] = field(default_factory=dict)
    insecure: bool = True
    compression: str | None = None  # "gzip" or None
    timeout_s: float = 10.0
    ca_file: str | None = None  # PEM roots to verify the backend's TLS certificate (default: system roots)
    max_request_bytes: int | None = None  # this target's request bound; None: export.max_request_bytes


@dataclass
class ExportConfig:
    targets: list[ExportTarget] = field(default_factory=list)
    queue_batches: int = DEFAULT_QUEUE_BATCHES  # per target; full -> receivers throttle senders
    batch_spans: int = DEFAULT_BATCH_SPANS  # spans per export request
    # encoded bytes per export request (a lone span larger than this goes alone); with several
    # targets, requests are framed at the smallest target's bound. A backend's "too large"
    # answer (RESOURCE_EXHAUSTED, 413) splits the request in halves, sent again.
    max_request_bytes: int = DEFAULT_EXPORT_REQUEST_BYTES
    batch_timeout_s: float = 0.2  # a partial batch is sent after this long
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    retry_max_elapsed_s: float = 0.0  # 0: retry retryable failures until they succeed
    drain_timeout_s: float = 30.0  # how long SIGTERM waits for buffers and queues
    # --queue-dir: acknowledged spans are written here before the sender hears OK and kept
    # until exported (and in the ledger); left-over ones are replayed at start. None: memory only.
    queue_dir: str | None = None
    queue_fsync: bool = False  # fsync each write: survive power loss too, not just a process crash
    queue_max_bytes: int = 2 * 1024 * 1024 * 1024  # on disk; over it the receivers throttle senders; 0: none
    queue_segment_bytes: int = 8 * 1024 * 1024  # one file per segment; a finished segment is deleted

    def request_bytes(self) -> int:
        """The byte bound export requests are framed to: the smallest of the targets' bounds."""
        return min([t.max_request_bytes or self.max_request_bytes for t in self.targets] or [self.max_request_bytes])


@dataclass
class MetricsConfig:
    listen: str | None = None  # HOST:PORT for Prometheus /metrics (--metrics); None: no endpoint
    # labels on every cost metric: tag names, or model / provider / agent / service
    dimensions: list[str] = field(
        default_factory=lambda: ["feature", "customer_id", "model", "provider", "environment", "team", "agent"]
    )
    max_label_values: int = 50  # per dimension; later values are reported as `other`
    max_series: int = 2000  # label combinations per metric; later ones are counted with every dimension `other`
    otlp_endpoint: str | None = None  # also push OTLP metrics here (HOST:PORT gRPC)
    otlp_interval_s: float = 60.0


@dataclass
class MemoryConfig:
    # MiB of telemetry costline may hold: trace buffer, recent traces, export queues, forwarded
    # metrics and logs, ledger backlog (processor/memory.py). Senders are throttled from 80% of it.
    # None: half the machine's memory, or of the cgroup limit when lower, shared by --workers; 0: none.
    limit_mib: int | None = None


@dataclass
class Config:
    receive: ReceiveConfig = field(default_factory=ReceiveConfig)
    pricing: PricingConfig = field(default_factory=PricingConfig)
    tagging: TaggingConfig = field(default_factory=TaggingConfig)
    assembly: AssemblyConfig = field(default_factory=AssemblyConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    ledger: str | None = None  # path or postgresql:// URL (the ledger issue)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)

    def validate(self) -> None:
        for addr, name in ((self.receive.grpc, "--grpc"), (self.receive.http, "--http")):
            if addr is not None:
                parse_hostport(addr, name)
        if self.receive.grpc is None and self.receive.http is None:
            raise ConfigError("at least one receiver (--grpc or --http) must be enabled")
        if self.assembly.trace_wait_s < 0:
            raise ConfigError("--trace-wait must be zero or more seconds")
        if self.assembly.max_traces < 1 or self.assembly.max_spans < 1:
            raise ConfigError("max_traces and max_spans must be at least 1")
        if self.assembly.max_buffer_bytes < 0:
            raise ConfigError("max_buffer_bytes must be zero (no byte bound) or more")
        if not self.receive.retry_after_s > 0:
            raise ConfigError("receive.retry_after_s must be more than zero")
        if self.receive.max_request_bytes < 1024:
            raise ConfigError("max_request_bytes must be at least 1024")
        if self.receive.max_concurrent_requests < 0:
            raise ConfigError("receive.max_concurrent_requests must be zero (no cap) or more")
        for t in self.export.targets:
            if t.protocol not in ("grpc", "http"):
                raise ConfigError(f"export protocol must be grpc or http, not {t.protocol!r}")
            if t.protocol == "grpc":
                parse_hostport(t.endpoint, "--export-grpc")
            elif not t.endpoint.startswith(("http://", "https://")):
                raise ConfigError(f"--export-http needs an http:// or https:// URL, not {t.endpoint!r}")
            if t.compression not in (None, "gzip", "none"):
                raise ConfigError(f"export compression must be gzip or none, not {t.compression!r}")
        if self.export.queue_batches < 1 or self.export.batch_spans < 1:
            raise ConfigError("queue_batches and batch_spans must be at least 1")
        for where, n in [("export.max_request_bytes", self.export.max_request_bytes)] + [
                (f"max_request_bytes of {t.endpoint}", t.max_request_bytes) for t in self.export.targets]:
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1024):
                raise ConfigError(f"{where} must be a whole number of bytes, at least 1024")
        if self.export.queue_dir is not None:
            qd = Path(self.export.queue_dir)
            if qd.exists() and not qd.is_dir():
                raise ConfigError(f"--queue-dir {qd} exists and is not a directory")
            if self.export.queue_max_bytes < 0 or self.export.queue_segment_bytes < 1024:
                raise ConfigError("queue_max_bytes must be zero (no bound) or more, queue_segment_bytes at least 1024")
        limit = self.memory.limit_mib
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ConfigError("memory.limit_mib must be a whole number of MiB (0: no bound)")
        if self.pricing.prices_file and not Path(self.pricing.prices_file).is_file():
            raise ConfigError(f"price file not found: {self.pricing.prices_file}")
        for name, model in self.pricing.deployments.items():
            if not (isinstance(name, str) and name.strip() and isinstance(model, str) and model.strip()):
                raise ConfigError(f"pricing.deployments: {name!r}: {model!r} must map a deployment name to a model "
                                  f"name, e.g. {{prod-4o: gpt-4o}}")
        if self.metrics.listen:
            parse_hostport(self.metrics.listen, "--metrics")
        if self.metrics.max_label_values < 1:
            raise ConfigError("metrics.max_label_values must be at least 1")
        if self.metrics.max_series < 1:
            raise ConfigError("metrics.max_series must be at least 1")
        if not self.tagging.default:
            raise ConfigError("tagging.default must be a non-empty string")
        _validate_tag_policy(self.tagging)


def _validate_tag_policy(t: TaggingConfig) -> None:
    def names(value) -> bool:
        return isinstance(value, list) and all(isinstance(n, str) and n for n in value)

    if not isinstance(t.trust, dict):
        raise ConfigError('tagging.trust must map a service.name to a list of tag names ("*" for all)')
    for service, allowed in t.trust.items():
        if not isinstance(service, str) or not names(allowed):
            raise ConfigError(f'tagging.trust.{service} must be a list of tag names, or ["*"] for all')
    for key in ("hash", "drop"):
        if not names(getattr(t, key)):
            raise ConfigError(f"tagging.{key} must be a list of tag names")
    if not names(t.ignore):
        raise ConfigError('tagging.ignore must be a list of tag-name patterns, e.g. ["langgraph_*", "ls_*"]')
    if both := sorted(set(t.hash) & set(t.drop)):
        raise ConfigError(f"tag {both[0]!r} cannot be both hashed and dropped (tagging.hash, tagging.drop)")
    if required := sorted(set(t.required) & set(t.drop)):
        raise ConfigError(f"tagging.drop cannot name the required tag {required[0]!r}: required tags are always filled")
    if t.hash:
        from costline_processor.assembly.policy import read_hash_key

        read_hash_key(t.hash_key_file)


def parse_hostport(value: str, name: str = "address") -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not (0 <= int(port) <= 65535):
        raise ConfigError(f"{name} must be HOST:PORT, not {value!r}")
    return (host.strip("[]") or "localhost"), int(port)


def targets_from_env(env: os._Environ | dict[str, str]) -> list[ExportTarget]:
    """The standard OTEL_EXPORTER_OTLP_* variables, used when no export flag is given."""
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not endpoint:
        return []
    protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc"
    headers = _parse_headers(env.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or env.get("OTEL_EXPORTER_OTLP_HEADERS") or "")
    compression = env.get("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION") or env.get("OTEL_EXPORTER_OTLP_COMPRESSION")
    if protocol == "grpc":
        hostport = endpoint.split("://", 1)[-1].rstrip("/")
        return [ExportTarget("grpc", hostport, headers, insecure=not endpoint.startswith("https"), compression=compression)]
    if protocol.startswith("http"):
        return [ExportTarget("http", endpoint, headers, compression=compression)]
    raise ConfigError(f"OTEL_EXPORTER_OTLP_PROTOCOL must be grpc, http/protobuf or http/json, not {protocol!r}")


def _parse_headers(raw: str) -> dict[str, str]:
    out = {}
    for part in raw.split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def merge_yaml(config: Config, data: dict[str, Any], where: str = "config") -> None:
    """Apply a YAML mapping onto `config`; unknown keys are an error, not ignored."""
    for key, value in data.items():
        if key == "export" and isinstance(value, dict) and "targets" in value:
            value = dict(value)
            targets = value.pop("targets") or []
            config.export.targets = [_target(t, f"{where}.export.targets") for t in targets]
        if not hasattr(config, key) or key.startswith("_"):
            raise ConfigError(f"unknown setting {where}.{key}")
        current = getattr(config, key)
        if is_dataclass(current) and isinstance(value, dict):
            merge_yaml(current, value, f"{where}.{key}")
        else:
            setattr(config, key, _coerce(current, value, f"{where}.{key}"))


def _target(raw: Any, where: str) -> ExportTarget:
    if not isinstance(raw, dict) or "endpoint" not in raw:
        raise ConfigError(f"{where}: each target needs protocol and endpoint")
    names = {f.name for f in fields(ExportTarget)}
    unknown = set(raw) - names
    if unknown:
        raise ConfigError(f"unknown setting {where}.{sorted(unknown)[0]}")
    return ExportTarget(**{"protocol": "grpc", **raw})


def _coerce(current: Any, value: Any, where: str) -> Any:
    if current is None or value is None:
        return value
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false")
        return value
    if isinstance(current, (int, float)) and not isinstance(current, bool):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number")
        return type(current)(value)
    if isinstance(current, list) and not isinstance(value, list):
        raise ConfigError(f"{where} must be a list")
    if isinstance(current, dict) and not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping")
    return value


def load_yaml_file(path: str) -> dict[str, Any]:
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data
