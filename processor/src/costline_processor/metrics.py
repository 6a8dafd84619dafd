"""MetricsSink: ledger rows as Prometheus counters (and optionally OTLP metrics).

Every instrument costline exports is declared here. Names as scraped from /metrics:

    costline_cost_usd_total{dims}                 USD of priced calls
    costline_tokens_total{dims, type}             type: input, output, cache_read, cache_write, reasoning
    costline_llm_calls_total{dims}                every recognised model call, priced or not
    costline_unpriced_calls_total{dims, reason}   calls with no cost, by reason (never a silent $0)

Token types keep the GenAI meaning: `input` includes cache_read and cache_write, and
`output` includes reasoning, so total tokens are `type=~"input|output"`.

`dims` are the configured dimensions (default: feature, customer_id, model, provider,
environment, team, agent). Cardinality is costline's bound, in two steps: each dimension
keeps the values in `allowed` (e.g. the top-N customers from the ledger) and then the
first values seen, up to `max_label_values`, every later value reported as `other`; and
each metric keeps the first `max_series` combinations of dimension values, every later
combination counted in one series whose every dimension is `other`. A missing tag is
`untagged`. Instruments are created with the OTel metrics SDK; the OTel Prometheus
exporter turns `costline.cost_usd` (unit `{USD}`) into `costline_cost_usd_total`.

The SDK has its own cardinality limit (2 000 attribute sets per metric stream): past it,
points go to one series labelled only `otel.metric.overflow`, with no attribution at all.
A view raises it for costline's instruments to `_SDK_SERIES_PER_COMBINATION` times
costline's bound (the `type` and `reason` labels multiply the combinations by at most
that), so costline's bound always acts first.

A call whose dimension tag names several owners (customer_id=["acme","globex"] or weights
{"acme":3,"globex":1}: shares.py) is labelled with each owner, never with the JSON text: each
owner's series gets its part of the call's tokens and cost, split as reports split them
(shares.split_row: integers exactly, so the owners' tokens add up to the call's; the cost in
whole femto-dollars exactly, then a float like every cost here), and its share of the one
call in llm_calls (and unpriced_calls): 0.75 and 0.25 of a call, so `sum(costline_llm_calls_total)`
stays the number of calls (to float rounding, ~1e-16 of a call). Several such dimensions in one
call split it by the product of the shares. Each owner passes the label bound as any value.

`write` runs on the event loop: it only updates in-memory aggregates (no I/O).

costline's own health, read from the pipeline at each scrape (`watch`), like the
Collector's otelcol_* self-metrics:

    costline_spans_received_total                 spans accepted from senders
    costline_spans_exported_total{target}         spans a target took
    costline_spans_dropped_total{reason}          spans given up on (permanent_error, retry_exhausted, shutdown)
    costline_spans_rejected_total{reason}         spans refused at intake (invalid_id)
    costline_requests_refused_total{reason}       requests answered with an error (undecodable, too_large...)
    costline_requests_throttled_total{target}     requests answered "retry later" (a full queue)
    costline_export_retries_total{target}
    costline_broken_parent_links_total            cycles, duplicate span ids, self-parents cut
    costline_tags_untrusted_total{service}        tags a service may not set (tagging.trust)
    costline_spans_replayed_total                 spans read back from --queue-dir at start
    costline_spans_kept_for_restart_total{target} spans left in --queue-dir at a stop
    costline_buffer_spans, costline_buffer_bytes  what the trace buffer holds now
    costline_export_queue_batches{target}         batches waiting or in flight per target
    costline_queue_dir_bytes                      the journal's size on disk
"""

from __future__ import annotations

import math
import os
import socket
import threading
from collections.abc import Iterable, Mapping, Sequence

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, start_http_server

from costline_processor import listen
from costline_processor.config import DEFAULT_UNTAGGED, ConfigError
from costline_processor.records import LedgerRow
from costline_processor.shares import owners, split_row

DEFAULT_DIMENSIONS = ("feature", "customer_id", "model", "provider", "environment", "team", "agent")
DEFAULT_MAX_LABEL_VALUES = 50
DEFAULT_MAX_SERIES = 2000  # label combinations per metric
_SDK_SERIES_PER_COMBINATION = 16  # >= the values of the extra label: 5 token types, 8 unpriced reasons
OTHER = "other"
TOKEN_TYPES = (
    ("input", "input_tokens"),
    ("output", "output_tokens"),
    ("cache_read", "cache_read_tokens"),
    ("cache_write", "cache_write_tokens"),
    ("reasoning", "reasoning_tokens"),
)
_FIELDS = {
    "model": lambda r: r.model or "unknown",
    "provider": lambda r: r.provider or "unknown",
    "agent": lambda r: r.agent_path or "",
    "service": lambda r: r.service or "",
}


class LabelBudget:
    """Caps the distinct values of each label (allowed ones, then first come, then `other`)
    and the distinct combinations of them (first come)."""

    def __init__(
        self,
        max_values: int,
        allowed: Mapping[str, Iterable[str]] | None = None,
        untagged: str = DEFAULT_UNTAGGED,
        max_series: int = DEFAULT_MAX_SERIES,
    ):
        self.max_values = max_values
        self.max_series = max_series
        self._series: set[tuple[str, ...]] = set()
        self._always = {untagged, OTHER, ""}
        self._known: dict[str, set[str]] = {d: set(v) for d, v in (allowed or {}).items()}
        self._lock = threading.Lock()

    def admit(self, dim: str, value: str) -> str:
        if value in self._always:
            return value
        known = self._known.get(dim)
        if known is None:
            known = self._known.setdefault(dim, set())
        if value in known:
            return value
        with self._lock:
            if len(known) < self.max_values:
                known.add(value)
                return value
        return OTHER

    def admit_series(self, values: tuple[str, ...]) -> bool:
        """True if this combination has its own series (seen before, or room for one more)."""
        if values in self._series:
            return True
        with self._lock:
            if len(self._series) < self.max_series:
                self._series.add(values)
                return True
        return False


class MetricsSink:
    def __init__(
        self,
        dimensions: Sequence[str] = DEFAULT_DIMENSIONS,
        max_label_values: int = DEFAULT_MAX_LABEL_VALUES,
        *,
        allowed: Mapping[str, Iterable[str]] | None = None,
        untagged: str = DEFAULT_UNTAGGED,
        otlp_endpoint: str | None = None,
        otlp_protocol: str = "grpc",
        otlp_interval_s: float = 60.0,
        readers: Sequence[MetricReader] = (),
        max_series: int = DEFAULT_MAX_SERIES,
    ):
        if max_label_values < 1 or max_series < 1:
            raise ConfigError("max_label_values and max_series must be at least 1")
        reserved = {"type", "reason"} & set(dimensions)
        if reserved:
            raise ConfigError(f"metric dimension {sorted(reserved)[0]!r} clashes with a costline label")
        self.dimensions = list(dimensions)
        self.untagged = untagged
        self._tag_dims = tuple(d for d in self.dimensions if d not in _FIELDS)  # the dimensions read from tags
        self.budget = LabelBudget(max_label_values, allowed, untagged, max_series)
        self.registry = CollectorRegistry(auto_describe=True)
        all_readers = [PrometheusMetricReader(scope_info_enabled=False, registry=self.registry), *readers]
        if otlp_endpoint:
            all_readers.append(_otlp_reader(otlp_endpoint, otlp_protocol, otlp_interval_s))
        # One instance id per process, so OTLP pushes from `--workers` processes (or replicas) stay separate series
        instance = f"{socket.gethostname()}:{os.getpid()}"
        sdk_limit = (max_series + 1) * _SDK_SERIES_PER_COMBINATION  # + 1: the all-`other` series
        self._provider = MeterProvider(
            metric_readers=all_readers,
            resource=Resource.create({"service.name": "costline", "service.instance.id": instance}),
            views=[View(instrument_name="costline.*", aggregation_cardinality_limit=sdk_limit)],
        )
        meter = self._provider.get_meter("costline.processor.metrics")
        self._cost = meter.create_counter(
            "costline.cost_usd", unit="{USD}", description="Cost of priced LLM calls in US dollars"
        )
        self._tokens = meter.create_counter(
            "costline.tokens", unit="{token}", description="Tokens used by LLM calls, by type"
        )
        self._calls = meter.create_counter(
            "costline.llm_calls",
            unit="{call}",
            description="LLM calls recorded, priced or not; a call shared among owners counts each owner's share of it",
        )
        self._unpriced = meter.create_counter(
            "costline.unpriced_calls",
            unit="{call}",
            description="LLM calls that could not be priced, by reason; a shared call counts each owner's share of it",
        )
        self._servers: list = []  # one per address: `localhost` is 127.0.0.1 and ::1 (processor/listen.py)
        self.addresses: list[str] = []
        self._closed = False

    def labels(self, row: LedgerRow) -> dict[str, str]:
        out = {}
        for d in self.dimensions:
            getter = _FIELDS.get(d)
            raw = getter(row) if getter else (row.tags.get(d) or self.untagged)
            out[d] = self.budget.admit(d, raw)
        if not self.budget.admit_series(tuple(out.values())):
            return dict.fromkeys(self.dimensions, OTHER)
        return out

    def write(self, rows: list[LedgerRow]) -> None:
        tag_dims = self._tag_dims
        for row in rows:
            tags = row.tags
            for d in tag_dims:
                value = tags.get(d)
                if value and value[0] in "[{":  # perhaps several owners (shares.owners): a rare call
                    self._write_shared(row)
                    break
            else:
                self._add(row, self.labels(row), 1)

    def _add(self, row: LedgerRow, labels: dict[str, str], calls: float) -> None:
        self._calls.add(calls, labels)
        for kind, field in TOKEN_TYPES:
            n = getattr(row, field)
            if n:
                self._tokens.add(n, {**labels, "type": kind})
        if row.cost_usd is None:
            self._unpriced.add(calls, {**labels, "reason": row.status or "unknown"})
        else:
            self._cost.add(float(row.cost_usd), labels)

    def _write_shared(self, row: LedgerRow) -> None:
        """A call whose dimension tag names several owners: each owner (combination, over several such
        dimensions) gets its part of the tokens and cost (split_row: exact integers, then float for the cost)
        and its share of the one call, the product of its weights' fractions."""
        fractions: dict[str, dict[str, float]] = {}
        for d in self._tag_dims:
            split = owners(row.tags.get(d))
            if split is not None:
                fractions[d] = {name: (high - low) / total for name, low, high, total in split}
        if not fractions:  # `[` or `{` opens a value that is one owner after all
            self._add(row, self.labels(row), 1)
            return
        for part in split_row(row, fractions):
            share = math.prod(fractions[d][part.tags[d]] for d in fractions)
            self._add(part, self.labels(part), share)

    def watch(self, pipeline) -> None:
        """Publish the pipeline's own counters and levels, read at each collection."""
        from opentelemetry.metrics import CallbackOptions, Observation

        meter = self._provider.get_meter("costline.processor.self")
        counts = pipeline.stats.counts

        def counter(stat: str, label: str | None, description: str) -> None:
            def observe(options: CallbackOptions):
                # list() copies in one C call under the GIL: the event loop may be adding keys
                return [
                    Observation(v, {label: lab} if label else {})
                    for (name, lab), v in list(counts.items())
                    if name == stat
                ]

            meter.create_observable_counter(f"costline.{stat}", [observe], unit="1", description=description)

        for stat, label, description in _SELF_COUNTERS:
            counter(stat, label, description)

        def gauge(name: str, read, description: str) -> None:
            meter.create_observable_gauge(
                f"costline.{name}", [lambda options: read()], unit="1", description=description
            )

        buffer = pipeline.buffer
        gauge("buffer_spans", lambda: [Observation(buffer.span_count)], "Spans waiting in the trace buffer")
        gauge(
            "buffer_bytes",
            lambda: [Observation(buffer.byte_count)],
            "Bytes the trace buffer holds (wire + bookkeeping)",
        )
        gauge(
            "export_queue_batches",
            lambda: [Observation(len(q), {"target": q.client.name}) for q in pipeline.queues],
            "Export batches waiting or in flight, per target",
        )
        gauge(
            "queue_dir_bytes",
            lambda: [Observation(pipeline.journal.bytes)] if pipeline.journal else [],
            "Bytes of --queue-dir segments on disk",
        )

    def serve(self, host: str, port: int) -> tuple[str, int]:
        """Start the /metrics HTTP endpoint on every address `host` means; returns (host, port bound)."""
        if self._servers:
            raise RuntimeError("metrics endpoint already started")
        for h in listen.hosts(host):
            try:
                server, _ = start_http_server(port, addr=h, registry=self.registry)
            except OSError as e:
                raise listen.bind_error("--metrics", f"{host}:{port}", listen.hostport(h, port), e) from None
            self._servers.append(server)
            port = server.server_port
            self.addresses.append(listen.hostport(h, port))
        return host, port

    def close(self, timeout_s: float = 5.0) -> None:
        """Push a last OTLP export, stop the endpoint. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._provider.shutdown(timeout_millis=timeout_s * 1000)
        for server in self._servers:
            server.shutdown()
            server.server_close()


_SELF_COUNTERS = (
    ("spans_received", None, "Spans accepted from senders"),
    ("spans_exported", "target", "Spans an export target took"),
    ("spans_dropped", "reason", "Spans given up on, by reason"),
    ("spans_rejected", "reason", "Spans refused at intake, by reason"),
    ("requests_refused", "reason", "Requests answered with an error, by reason"),
    ("requests_throttled", "target", "Requests answered with retry-later, by the full queue"),
    ("export_retries", "target", "Export attempts retried"),
    ("broken_parent_links", None, "Parent links cut: cycles, duplicate span ids, self-parents"),
    (
        "calls_billed_in_parent",
        None,
        "Model calls that arrived after a parent call priced with their usage: not billed again",
    ),
    (
        "duplicate_calls",
        None,
        "Second copies of a model call's span (same span id, a sender's retry): not billed again",
    ),
    (
        "call_twins",
        "reason",
        "Other libraries' spans of a model call billed on another span (duplicate_call), by whether their usage agreed",
    ),
    ("spans_rejected_by_backend", "target", "Spans a target refused in a partial-success answer"),
    (
        "export_requests_split",
        "target",
        "Export requests a target refused as too large, split in halves and sent again",
    ),
    (
        "spans_replayed_not_exported",
        None,
        "Spans replayed from --queue-dir to the ledger only (the export had finished them)",
    ),
    ("spans_tags_from_root", None, "Spans whose parent never arrived that took the trace root's tags"),
    (
        "web_searches_unattributed",
        None,
        "Web searches a span above several model calls counts that no call below it does: in no call's cost",
    ),
    ("tags_untrusted", "service", "Tags a service may not set (tagging.trust), ignored"),
    ("spans_replayed", None, "Spans read back from --queue-dir at start"),
    ("spans_kept_for_restart", "target", "Spans left in --queue-dir at a stop, sent after the next start"),
)


def _otlp_reader(endpoint: str, protocol: str, interval_s: float) -> PeriodicExportingMetricReader:
    exporter: MetricExporter
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcExporter

        exporter = GrpcExporter(endpoint=endpoint, insecure=not endpoint.startswith("https"))
    elif protocol in ("http", "http/protobuf"):
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpExporter

        url = endpoint if endpoint.rstrip("/").endswith("/v1/metrics") else endpoint.rstrip("/") + "/v1/metrics"
        exporter = HttpExporter(endpoint=url)
    else:
        raise ConfigError(f"OTLP metrics protocol must be grpc or http, not {protocol!r}")
    return PeriodicExportingMetricReader(exporter, export_interval_millis=interval_s * 1000)
