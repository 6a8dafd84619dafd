"""Settings for every stage of `costline serve`, one dataclass per stage, each declared once.

A field holds its default, the docstring beneath it says what it means, and the flags that
set it, if any, are in its metadata (`option(Flag(...))`, config_options.py). `costline
serve`'s arguments, the copying of flags onto fields and docs/configuration.md are generated
from these declarations (`python -m costline_processor.option_table` rewrites the page).
Stages receive these objects and never read `os.environ` themselves; config_sources.py
merges the defaults, the YAML file (`--config`) and the flags. Each stage's `validate`
answers with plain sentences; `Config.validate` asks them all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from costline_processor.config_options import Flag, option

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
MIN_HASH_KEY_BYTES = 16


class ConfigError(ValueError):
    """A setting is wrong; the message is one sentence a user can act on."""


def _unless_off(value: str) -> str | None:
    """A receiver flag's value: `off` disables the receiver."""
    return None if value == "off" else value


def attribute_names(value: str) -> list[str]:
    """--backend-user-attributes' value: comma-separated names, or `off` for none."""
    if value.strip() == "off":
        return []
    return [name.strip() for name in value.split(",") if name.strip()]


@dataclass
class ReceiveConfig:
    """The OTLP receivers (gRPC and HTTP): addresses, request bounds, TLS and the bearer token."""

    grpc: str | None = field(
        default=DEFAULT_GRPC,
        metadata=option(
            Flag("--grpc HOST:PORT", "OTLP/gRPC listen address (default localhost:4317; 'off' disables)", _unless_off)
        ),
    )
    """OTLP/gRPC listen address, HOST:PORT; null disables the gRPC receiver."""
    http: str | None = field(
        default=DEFAULT_HTTP,
        metadata=option(
            Flag("--http HOST:PORT", "OTLP/HTTP listen address (default localhost:4318; 'off' disables)", _unless_off)
        ),
    )
    """OTLP/HTTP listen address, HOST:PORT; null disables the HTTP receiver."""
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    """Largest request body, after decompression; over it the answer is 413 (HTTP) or RESOURCE_EXHAUSTED (gRPC)."""
    retry_after_s: float = 5.0
    """The hint sent with throttling answers, in seconds (gRPC: exact; HTTP Retry-After: rounded up)."""
    max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS
    """Requests being read or handled at once, both receivers together; more are throttled before their body is read (so
    bodies held <= this x max_request_bytes); 0: no cap."""
    bearer_token_file: str | None = field(
        default=None,
        metadata=option(
            Flag("--bearer-token-file FILE", "require 'Authorization: Bearer <token in FILE>' on both receivers")
        ),
    )
    """Require `Authorization: Bearer <file content>` on both receivers."""
    tls_cert_file: str | None = field(
        default=None, metadata=option(Flag("--tls-cert PEM", "serve TLS on both receivers with this certificate chain"))
    )
    """Serve TLS on both receivers with this PEM certificate chain."""
    tls_key_file: str | None = field(default=None, metadata=option(Flag("--tls-key PEM", "the TLS private key")))
    """The PEM private key of tls_cert_file."""

    def validate(self) -> None:
        for addr, name in ((self.grpc, "--grpc"), (self.http, "--http")):
            if addr is not None:
                parse_hostport(addr, name)
        if self.grpc is None and self.http is None:
            raise ConfigError("at least one receiver (--grpc or --http) must be enabled")
        if not self.retry_after_s > 0:
            raise ConfigError("receive.retry_after_s must be more than zero")
        if self.max_request_bytes < 1024:
            raise ConfigError("max_request_bytes must be at least 1024")
        if self.max_concurrent_requests < 0:
            raise ConfigError("receive.max_concurrent_requests must be zero (no cap) or more")


@dataclass
class PricingConfig:
    """How calls are priced: genai-prices' data, a price file over it, deployment names."""

    prices_file: str | None = field(
        default=None, metadata=option(Flag("--prices FILE", "price file that overrides or adds models"))
    )
    """A YAML price file that overrides or adds models."""
    allow_network_updates: bool = False
    """Let genai-prices fetch fresh price data (false: never touch the network)."""
    write_gen_ai_usage_cost: bool = True
    """Also write each call's cost as `gen_ai.usage.cost`."""
    deployments: dict[str, str] = field(default_factory=dict)
    """Deployment name -> model name (Azure deployments, gateway aliases), e.g. {prod-4o: gpt-4o-2024-08-06}; matched
    exactly, case-insensitive."""

    def validate(self) -> None:
        if self.prices_file and not Path(self.prices_file).is_file():
            raise ConfigError(f"price file not found: {self.prices_file}")
        for name, model in self.deployments.items():
            if not (isinstance(name, str) and name.strip() and isinstance(model, str) and model.strip()):
                raise ConfigError(
                    f"pricing.deployments: {name!r}: {model!r} must map a deployment name to a model "
                    f"name, e.g. {{prod-4o: gpt-4o}}"
                )


DEFAULT_ALIASES = {
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


@dataclass
class TaggingConfig:
    """The tagging contract: which tags matter, where other libraries keep them, who may set them."""

    required: list[str] = field(default_factory=lambda: ["feature", "customer_id"])
    """Tags every call should carry; a call without one gets `default` for it."""
    default: str = DEFAULT_UNTAGGED
    """Value given to required tags still missing."""
    owner: str | None = None
    """Who owns the untagged bucket (reported beside it)."""
    aliases: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ALIASES))
    """Source attribute -> costline tag name (without the `costline.` prefix)."""
    prefixes: list[str] = field(
        default_factory=lambda: [
            "traceloop.association.properties.",
            "langfuse.trace.metadata.",
            "langfuse.observation.metadata.",
            "ai.telemetry.metadata.",
        ]
    )
    """Attribute prefixes whose suffix is the tag name, e.g. traceloop's association properties."""
    ignore: list[str] = field(default_factory=list)
    """Glob patterns (fnmatch: * ? [seq]) on the tag name a prefix gives; a match is not a tag. Added to the built-in
    framework metadata patterns (assembly/tags.py FRAMEWORK_KEYS: ls_*, lc_*, langgraph_*, checkpoint_ns,
    checkpoint_id). Aliases and a span's own `costline.*` tags are never ignored."""
    trust: dict[str, list[str]] = field(default_factory=lambda: {"*": ["*"]})
    """Resource service.name -> the tag names that service may set ("*": all); the service "*" covers every service not
    listed. A tag a service may not set is ignored (inherited or defaulted instead) and counted as tags_untrusted
    (assembly/policy.py)."""
    hash: list[str] = field(default_factory=list)
    """Tags whose values become `h:<HMAC-SHA256 hex[:16]>`."""
    drop: list[str] = field(default_factory=list)
    """Tags removed before export, ledger and metrics."""
    hash_key_file: str | None = None
    """The file holding the HMAC key for `hash` (at least 16 bytes: MIN_HASH_KEY_BYTES)."""
    backend_user_attributes: list[str] = field(
        default_factory=lambda: ["user.id", "session.id"],
        metadata=option(
            Flag(
                "--backend-user-attributes NAMES",
                "comma-separated attributes the exported spans also carry a tag under, for backends' user and "
                "session views (default user.id,session.id; 'off' writes none)",
                attribute_names,
            )
        ),
    )
    """Attributes an exported span also gets, holding the value of one of its tags, for trace backends' user and
    session views (Phoenix, Langfuse: `user.id`, `session.id`; Langfuse's own: `langfuse.user.id`,
    `langfuse.session.id`). `NAME` copies the tag `aliases` (or its default) maps NAME to (user.id -> user_id);
    `NAME=TAG` names the tag. A span's own attribute of that name is kept, never overwritten; a tag the span does not
    carry, or a required tag's `default`, is not copied. Sent to the export targets only, as the `costline.*` tags
    are. [] or "off": none."""

    def validate(self) -> None:
        if not self.default:
            raise ConfigError("tagging.default must be a non-empty string")

        def names(value) -> bool:
            return isinstance(value, list) and all(isinstance(n, str) and n for n in value)

        if not isinstance(self.trust, dict):
            raise ConfigError('tagging.trust must map a service.name to a list of tag names ("*" for all)')
        for service, allowed in self.trust.items():
            if not isinstance(service, str) or not names(allowed):
                raise ConfigError(f'tagging.trust.{service} must be a list of tag names, or ["*"] for all')
        for key in ("hash", "drop"):
            if not names(getattr(self, key)):
                raise ConfigError(f"tagging.{key} must be a list of tag names")
        if not names(self.ignore):
            raise ConfigError('tagging.ignore must be a list of tag-name patterns, e.g. ["langgraph_*", "ls_*"]')
        if both := sorted(set(self.hash) & set(self.drop)):
            raise ConfigError(f"tag {both[0]!r} cannot be both hashed and dropped (tagging.hash, tagging.drop)")
        if required := sorted(set(self.required) & set(self.drop)):
            raise ConfigError(
                f"tagging.drop cannot name the required tag {required[0]!r}: required tags are always filled"
            )
        if self.hash:
            read_hash_key(self.hash_key_file)
        self.backend_names()

    def backend_names(self) -> tuple[tuple[str, str], ...]:
        """(attribute, tag name) of each of `backend_user_attributes`, or a ConfigError sentence."""
        where = "tagging.backend_user_attributes (--backend-user-attributes)"
        if not isinstance(self.backend_user_attributes, list):
            raise ConfigError(f"{where} must be a list of attribute names, e.g. [user.id, session.id]")
        out: dict[str, str] = {}
        for entry in self.backend_user_attributes:
            name, eq, tag = entry.partition("=") if isinstance(entry, str) else ("", "", "")
            name, tag = name.strip(), tag.strip()
            if not name or (eq and not tag):
                raise ConfigError(f"{where}: {entry!r} must be an attribute name, or NAME=TAG")
            if name.startswith("costline."):
                raise ConfigError(f"{where}: {name!r} is costline's own namespace, where the tags are written already")
            tag = tag or self.aliases.get(name) or DEFAULT_ALIASES.get(name, "")
            if not tag:
                raise ConfigError(f"{where}: {name!r} is not a tagging.aliases key: name its tag, {name}=TAG")
            if name in out:
                raise ConfigError(f"{where}: {name!r} is named twice")
            out[name] = tag
        return tuple(out.items())


def read_hash_key(path: str | None) -> bytes:
    """The HMAC key of tagging.hash held in `path`, or a ConfigError sentence."""
    if not path:
        raise ConfigError("tagging.hash needs tagging.hash_key_file: a file holding the secret HMAC key")
    try:
        key = Path(path).read_bytes().strip()
    except FileNotFoundError:
        raise ConfigError(f"tagging.hash_key_file not found: {path}") from None
    except OSError as e:
        raise ConfigError(f"cannot read tagging.hash_key_file {path}: {e.strerror}") from None
    if len(key) < MIN_HASH_KEY_BYTES:
        raise ConfigError(f"tagging.hash_key_file {path} must hold a secret of at least {MIN_HASH_KEY_BYTES} bytes")
    return key


@dataclass
class AssemblyConfig:
    """The trace buffer: how long a trace waits for its spans, and the bounds of what is held."""

    trace_wait_s: float = field(
        default=DEFAULT_TRACE_WAIT_S,
        metadata=option(Flag("--trace-wait SECONDS", "quiet time before a trace is assembled (default 5)", type=float)),
    )
    """Quiet time, in seconds, before a trace is flushed."""
    max_traces: int = DEFAULT_MAX_TRACES
    """Buffered traces; at the bound the oldest trace flushes early."""
    max_spans: int = DEFAULT_MAX_SPANS
    """Buffered spans across all traces; same policy."""
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES
    """Buffered span bytes (+ 160 B each); same policy; 0: no byte bound."""
    recent_traces: int = DEFAULT_RECENT_TRACES
    """Flushed traces remembered for late spans."""

    def validate(self) -> None:
        if self.trace_wait_s < 0:
            raise ConfigError("--trace-wait must be zero or more seconds")
        if self.max_traces < 1 or self.max_spans < 1:
            raise ConfigError("max_traces and max_spans must be at least 1")
        if self.max_buffer_bytes < 0:
            raise ConfigError("max_buffer_bytes must be zero (no byte bound) or more")


@dataclass
class ExportTarget:
    """One OTLP backend the enriched spans are sent to (an item of export.targets)."""

    protocol: str
    """grpc or http."""
    endpoint: str
    """HOST:PORT for grpc; a base URL or the full /v1/traces URL for http."""
    headers: dict[str, str] = field(default_factory=dict)
    """Headers sent with every request (e.g. authorization)."""
    insecure: bool = True
    """grpc: a plain-text channel (false: TLS); http follows its URL's scheme."""
    compression: str | None = None
    """gzip, or null for none."""
    timeout_s: float = 10.0
    """Deadline of one export request, in seconds."""
    ca_file: str | None = None
    """PEM roots to verify the backend's TLS certificate (default: the system's roots)."""
    max_request_bytes: int | None = None
    """This target's request bound; null: export.max_request_bytes."""

    def validate(self) -> None:
        if self.protocol not in ("grpc", "http"):
            raise ConfigError(f"export protocol must be grpc or http, not {self.protocol!r}")
        if self.protocol == "grpc":
            parse_hostport(self.endpoint, "--export-grpc")
        elif not self.endpoint.startswith(("http://", "https://")):
            raise ConfigError(f"--export-http needs an http:// or https:// URL, not {self.endpoint!r}")
        if self.compression not in (None, "gzip", "none"):
            raise ConfigError(f"export compression must be gzip or none, not {self.compression!r}")


def _grpc_target(endpoint: str) -> ExportTarget:
    return ExportTarget("grpc", endpoint)


def _http_target(endpoint: str) -> ExportTarget:
    return ExportTarget("http", endpoint)


@dataclass
class ExportConfig:
    """Re-export of the enriched spans: backends, batching, retries, and the on-disk queue."""

    targets: list[ExportTarget] = field(
        default_factory=list,
        metadata=option(
            Flag(
                "--export-grpc HOST:PORT", "export to an OTLP/gRPC backend (repeatable)", _grpc_target, repeatable=True
            ),
            Flag("--export-http URL", "export to an OTLP/HTTP backend (repeatable)", _http_target, repeatable=True),
            items=ExportTarget,
        ),
    )
    """The backends (fields below). The flags replace the file's list; with neither, the standard OTEL_EXPORTER_OTLP_*
    variables name one; with none, spans are priced and recorded only."""
    queue_batches: int = DEFAULT_QUEUE_BATCHES
    """Batches queued per target; when full, the receivers throttle senders."""
    batch_spans: int = DEFAULT_BATCH_SPANS
    """Spans per export request."""
    max_request_bytes: int = DEFAULT_EXPORT_REQUEST_BYTES
    """Encoded bytes per export request (a lone span larger than this goes alone); with several targets, requests are
    framed at the smallest target's bound. A backend's "too large" answer (RESOURCE_EXHAUSTED, 413) splits the
    request in halves, sent again."""
    batch_timeout_s: float = 0.2
    """A partial batch is sent after this many seconds."""
    retry_initial_s: float = 0.5
    """First wait before retrying a failed export, in seconds; it doubles each attempt (with jitter)."""
    retry_max_s: float = 30.0
    """Longest wait between two attempts, in seconds."""
    retry_max_elapsed_s: float = 0.0
    """Give up on a batch after this many seconds; 0: retry retryable failures until they succeed."""
    drain_timeout_s: float = 30.0
    """How long SIGTERM waits for buffers and queues, in seconds."""
    queue_dir: str | None = field(
        default=None,
        metadata=option(
            Flag(
                "--queue-dir DIR",
                "keep acknowledged spans on disk here until exported and recorded; replayed "
                "after a restart or crash (default: memory only)",
            )
        ),
    )
    """Acknowledged spans are written here before the sender hears OK and kept until exported (and in the ledger);
    left-over ones are replayed at start. null: memory only."""
    queue_fsync: bool = False
    """fsync each write: survive power loss too, not just a process crash."""
    queue_max_bytes: int = 2 * 1024 * 1024 * 1024
    """Bytes on disk; over it the receivers throttle senders; 0: no bound."""
    queue_segment_bytes: int = 8 * 1024 * 1024
    """Bytes per segment file; a finished segment is deleted."""

    def request_bytes(self) -> int:
        """The byte bound export requests are framed to: the smallest of the targets' bounds."""
        return min([t.max_request_bytes or self.max_request_bytes for t in self.targets] or [self.max_request_bytes])

    def validate(self) -> None:
        for t in self.targets:
            t.validate()
        if self.queue_batches < 1 or self.batch_spans < 1:
            raise ConfigError("queue_batches and batch_spans must be at least 1")
        for where, n in [("export.max_request_bytes", self.max_request_bytes)] + [
            (f"max_request_bytes of {t.endpoint}", t.max_request_bytes) for t in self.targets
        ]:
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1024):
                raise ConfigError(f"{where} must be a whole number of bytes, at least 1024")
        if self.queue_dir is not None:
            qd = Path(self.queue_dir)
            if qd.exists() and not qd.is_dir():
                raise ConfigError(f"--queue-dir {qd} exists and is not a directory")
            if self.queue_max_bytes < 0 or self.queue_segment_bytes < 1024:
                raise ConfigError("queue_max_bytes must be zero (no bound) or more, queue_segment_bytes at least 1024")


@dataclass
class MetricsConfig:
    """Cost metrics: the Prometheus endpoint, an OTLP push, and the labels they carry."""

    listen: str | None = field(
        default=None,
        metadata=option(
            Flag(
                "--metrics HOST:PORT",
                "serve Prometheus /metrics on this address (with --workers N: worker i on PORT+i)",
            )
        ),
    )
    """HOST:PORT for Prometheus /metrics; null: no endpoint. With --workers N, worker i serves on PORT+i."""
    dimensions: list[str] = field(
        default_factory=lambda: ["feature", "customer_id", "model", "provider", "environment", "team", "agent"]
    )
    """Labels on every cost metric: tag names, or model / provider / agent / service."""
    max_label_values: int = 50
    """Values per dimension; later values are reported as `other`."""
    max_series: int = 2000
    """Label combinations per metric; later ones are counted with every dimension `other`."""
    otlp_endpoint: str | None = None
    """Also push OTLP metrics here (HOST:PORT, gRPC)."""
    otlp_interval_s: float = 60.0
    """Seconds between two OTLP metric pushes."""

    def validate(self) -> None:
        if self.listen:
            parse_hostport(self.listen, "--metrics")
        if self.max_label_values < 1:
            raise ConfigError("metrics.max_label_values must be at least 1")
        if self.max_series < 1:
            raise ConfigError("metrics.max_series must be at least 1")


@dataclass
class MemoryConfig:
    """The bound on the telemetry costline holds in memory (processor/memory.py)."""

    limit_mib: int | None = None
    """MiB of telemetry costline may hold: trace buffer, recent traces, export queues, forwarded metrics and logs,
    ledger backlog. Senders are throttled from 80% of it. null: half the machine's memory, or of the cgroup limit
    when lower, shared by --workers; 0: no bound."""

    def validate(self) -> None:
        limit = self.limit_mib
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ConfigError("memory.limit_mib must be a whole number of MiB (0: no bound)")


DEFAULT_UI_LISTEN = "localhost:4390"


@dataclass
class UiConfig:
    """`costline ui`, the cost explorer page: where it listens and where its trace links go."""

    listen: str = DEFAULT_UI_LISTEN
    """HOST:PORT the page is served on (`costline ui --listen` overrides it); localhost unless you mean to share it:
    the page shows customer names."""
    trace_url: str | None = None
    """Link from a trace on the page to a tracing UI, with `{trace_id}` where the id goes, e.g.
    "http://localhost:16686/trace/{trace_id}" (Jaeger); null: no link."""
    columnar: bool = True
    """With a SQLite ledger, the page also loads its calls into a columnar copy (DuckDB, in a temporary directory:
    ~100 MB on disk and ~4.5 s in the background per million calls) and answers from it the questions SQLite's
    per-day rollup does not hold (by user, session, trace, customer...): ~0.3 s where SQLite sorts for 1-2.7 s on
    1M calls. false: SQLite answers everything."""

    def validate(self) -> None:
        parse_hostport(self.listen, "ui.listen")
        if self.trace_url is not None and (
            "{trace_id}" not in self.trace_url or not self.trace_url.startswith(("http://", "https://"))
        ):
            raise ConfigError(f"ui.trace_url must be an http(s) URL with {{trace_id}} in it, not {self.trace_url!r}")


BUDGET_PERIODS = ("day", "week", "month")
EACH = "*"  # a budget scope's value meaning "each value separately"
_NOT_SCOPES = ("day", "week", "month", "trace", "caveat")  # calendar buckets are the period; a trace is no owner


@dataclass
class Budget:
    """One spending limit (an item of `budgets`): the cost of the calls in its scope over one UTC calendar period,
    against an amount. `costline budgets` shows each with its forecast, `costline alerts` fires at its warning shares,
    and `costline budgets --prometheus-rules` writes it as Prometheus alerting rules."""

    amount_usd: Decimal
    """The limit, in USD per period (more than zero)."""
    scope: dict[str, str] = field(default_factory=dict)
    """Which calls count: tag name, or model / provider / agent / service, -> value; all must hold. The value "*" makes
    one budget per value (`customer_id: "*"`: each customer; calls without the tag are left out). Empty: every call."""
    period: str = "month"
    """day, week (ISO: Monday to Sunday) or month, in UTC; spend counts from zero again each period."""
    warn_at: list[float] = field(default_factory=lambda: [0.8, 1.0])
    """Shares of the amount at which the budget warns (an alert of `costline alerts`); spent above the amount is
    over."""
    name: str | None = None
    """What tables and alerts call it; null: its scope and period, e.g. `feature=search per month`."""

    @property
    def label(self) -> str:
        scope = ", ".join(f"{k}={v}" for k, v in self.scope.items()) or "all calls"
        return self.name or f"{scope} per {self.period}"

    def validate(self, where: str = "budget") -> None:
        if not isinstance(self.amount_usd, Decimal) or not self.amount_usd.is_finite() or self.amount_usd <= 0:
            raise ConfigError(f"{where}: amount_usd must be a number of USD more than zero, not {self.amount_usd}")
        if self.period not in BUDGET_PERIODS:
            raise ConfigError(f"{where}: period must be day, week or month, not {self.period!r}")
        for key, value in self.scope.items():
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", key) or key in _NOT_SCOPES:
                raise ConfigError(f"{where}: scope key {key!r} is not a tag name or model, provider, agent, service")
            if not isinstance(value, str) or not value:
                raise ConfigError(f'{where}: scope {key} must be a value or "*" (each value), not {value!r}')
        if any(isinstance(s, bool) or not isinstance(s, int | float) or not 0 < s <= 10 for s in self.warn_at):
            raise ConfigError(f"{where}: warn_at must be a list of shares of the amount (0 to 10), e.g. [0.8, 1.0]")
        if self.name is not None and (not isinstance(self.name, str) or not self.name.strip()):
            raise ConfigError(f"{where}: name must be text")


def budgets_from(raw: Any, where: str) -> list[Budget]:
    """The `budgets` list of a YAML file, each checked; a wrong entry is one sentence naming it."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(
            f"{where} must be a list, e.g. [{{scope: {{feature: search}}, period: month, amount_usd: 500}}]"
        )
    out = [_budget(item, f"{where}[{i}]") for i, item in enumerate(raw)]
    labels = [b.label for b in out]
    if twice := next((label for label in labels if labels.count(label) > 1), None):
        raise ConfigError(f"{where}: two budgets are called {twice!r}: give one a different name")
    return out


def _budget(raw: Any, where: str) -> Budget:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping with amount_usd, and scope, period, warn_at, name if needed")
    if isinstance(raw.get("name"), str):
        where = f"{where} ({raw['name']!r})"
    names = {f.name for f in fields(Budget)}
    if unknown := sorted(set(map(str, raw)) - names):
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; a budget has {', '.join(sorted(names))}")
    if "amount_usd" not in raw:
        raise ConfigError(f"{where}: amount_usd is missing (USD per period)")
    amount, scope = raw["amount_usd"], raw.get("scope") or {}
    if isinstance(amount, bool) or not isinstance(amount, int | float | str):
        raise ConfigError(f"{where}: amount_usd must be a number, not {amount!r}")
    try:
        decimal = Decimal(str(amount))
    except InvalidOperation:
        raise ConfigError(f"{where}: amount_usd must be a number, not {amount!r}") from None
    if not isinstance(scope, dict):
        raise ConfigError(f'{where}: scope must be a mapping, e.g. {{feature: search}} or {{customer_id: "*"}}')
    scope = {
        str(k).removeprefix("costline."): str(v) if isinstance(v, int) and not isinstance(v, bool) else v
        for k, v in scope.items()
    }
    warn = raw.get("warn_at", [0.8, 1.0])
    budget = Budget(
        decimal, scope, raw.get("period", "month"), warn if isinstance(warn, list) else [warn], raw.get("name")
    )
    budget.validate(where)
    return budget


@dataclass
class Config:
    """Every setting of `costline serve`, one block per stage; the ledger commands read the same file."""

    receive: ReceiveConfig = field(default_factory=ReceiveConfig)
    pricing: PricingConfig = field(default_factory=PricingConfig)
    tagging: TaggingConfig = field(default_factory=TaggingConfig)
    assembly: AssemblyConfig = field(default_factory=AssemblyConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    ledger: str | None = field(
        default=None,
        metadata=option(
            Flag("--ledger PATH|URL", "SQLite path or postgresql:// URL for the cost ledger ('off' disables)")
        ),
    )
    """SQLite path or postgresql:// URL of the cost ledger; "off" disables it (quoted in YAML, where a bare off is
    false). Not set: $COSTLINE_LEDGER, else ./costline-ledger.db."""
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    ui: UiConfig = field(default_factory=UiConfig)
    budgets: list[Budget] = field(default_factory=list, metadata=option(items=Budget))
    """Spending limits (fields below), checked against the ledger by `costline budgets` and `costline alerts`."""

    def validate(self) -> None:
        """Each stage's own checks; the first wrong setting raises its sentence."""
        stages = (
            self.receive,
            self.assembly,
            self.export,
            self.memory,
            self.pricing,
            self.metrics,
            self.tagging,
            self.ui,
        )
        for stage in stages:
            stage.validate()


def parse_hostport(value: str, name: str = "address") -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not (0 <= int(port) <= 65535):
        raise ConfigError(f"{name} must be HOST:PORT, not {value!r}")
    return (host.strip("[]") or "localhost"), int(port)
