"""Tag trust and tag privacy, end to end: real OTel SDK exporters from two services, a running
costline, a loopback OTLP backend and a SQLite ledger.

What is checked where it lands: the attributes and the bytes the backend receives, the
ledger rows, costline's counters and its log. Hashes are recomputed here with `hmac`.
"""

import hashlib
import hmac
import json
import logging
import sqlite3
from decimal import Decimal

from opentelemetry import trace

from costline_processor.pipeline import Pipeline
from costline_processor.server import open_sinks
from tests.fakes.otlp_sink import OtlpSink
from tests.processor.harness import RunningServer, loopback_config, sdk_tracer

KEY = b"0123456789abcdef-tag-trust-test-key"
GPT_4O_MINI = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.usage.input_tokens": 10_000,
    "gen_ai.usage.output_tokens": 1_000,
}
# Published list price of gpt-4o-mini: $0.15 / $0.60 per million tokens.
GPT_4O_MINI_USD = (10_000 * Decimal("0.15") + 1_000 * Decimal("0.60")) / 1_000_000


def hashed(value: str) -> str:
    return "h:" + hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()[:16]


def ledger_rows(path) -> dict[str, dict]:
    """span name -> row (tags decoded), read with plain sqlite3."""
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        return {
            r["span_name"]: {**dict(r), "tags": json.loads(r["tags"])}
            for r in db.execute("SELECT * FROM costline_calls")
        }
    finally:
        db.close()


def attribute_keys(span) -> list[str]:
    """Every attribute key the backend got on a span, duplicates included."""
    return [kv.key for kv in span.raw.attributes]


def run(tmp_path, configure, send, expect_spans: int, trace_wait: float = 0.3):
    """costline on loopback with `configure(cfg)` applied and a SQLite ledger; `send(endpoint)`
    sends spans. Returns (exported spans by name, costline's Stats, ledger rows by span name)."""
    ledger = tmp_path / "ledger.db"
    with OtlpSink() as sink:
        cfg = loopback_config(sink, trace_wait=trace_wait)
        cfg.ledger = str(ledger)
        configure(cfg)
        with RunningServer(cfg, sinks=open_sinks(cfg)) as srv:
            send(srv.grpc_endpoint)
            spans = {s.name: s for s in sink.wait_for_spans(expect_spans, timeout=15)}
            stats = srv.stats
    return spans, stats, ledger_rows(ledger)


def test_untrusted_service_cannot_charge_another_customer(tmp_path, caplog):
    def configure(cfg):
        cfg.tagging.trust = {"gateway": ["*"], "*": ["feature"]}

    def send(endpoint):
        gateway = sdk_tracer(endpoint, service="gateway")
        plugin = sdk_tracer(endpoint, service="plugin")
        g, p = gateway.get_tracer("gw"), plugin.get_tracer("plugin")
        root = g.start_span("POST /search", attributes={"costline.customer_id": "acme", "costline.feature": "search"})
        ctx = trace.set_span_in_context(root)
        g.start_span("gateway llm", context=ctx, attributes={**GPT_4O_MINI, "costline.customer_id": "globex"}).end()
        p.start_span(
            "plugin llm",
            context=ctx,
            attributes={
                **GPT_4O_MINI,
                "costline.customer_id": "victim",
                "costline.feature": "summarize",
                "user.id": "u-plugin",
            },
        ).end()
        root.end()
        # A trace the plugin starts on its own: nothing to inherit, so the required tag is defaulted.
        p.start_span("plugin alone", attributes={**GPT_4O_MINI, "costline.customer_id": "victim"}).end()
        gateway.shutdown()
        plugin.shutdown()

    with caplog.at_level(logging.WARNING, logger="costline"):
        spans, stats, rows = run(tmp_path, configure, send, 4, trace_wait=0.5)

    # The trusted service sets what it likes, on itself and (inherited) below it.
    assert rows["gateway llm"]["tags"]["customer_id"] == "globex"
    assert spans["gateway llm"].attributes["costline.customer_id"] == "globex"
    # The plugin's customer_id is ignored: its call is charged to the customer it inherits...
    row = rows["plugin llm"]
    assert row["tags"]["customer_id"] == "acme" and row["service"] == "plugin"
    assert Decimal(row["cost_usd"]) == GPT_4O_MINI_USD
    assert row["tags"]["feature"] == "summarize"  # a tag it may set is adopted
    assert "user_id" not in row["tags"]  # an alias is a claim like any other
    # ...and the exported span says the same, once: the claimed value is gone from its bytes.
    exported = spans["plugin llm"]
    assert exported.attributes["costline.customer_id"] == "acme"
    assert attribute_keys(exported).count("costline.customer_id") == 1
    assert b"victim" not in exported.raw.SerializeToString()
    assert exported.attributes["costline.feature"] == "summarize"
    assert exported.attributes["user.id"] == "u-plugin"  # another library's attribute is kept as sent
    assert "costline.user_id" not in exported.attributes
    # Alone, the plugin's call is untagged, in the ledger and on the span.
    assert rows["plugin alone"]["tags"]["customer_id"] == "untagged"
    assert spans["plugin alone"].attributes["costline.customer_id"] == "untagged"
    assert b"victim" not in spans["plugin alone"].raw.SerializeToString()

    # Counted per span and tag, labelled by service; logged once per (service, tag).
    assert stats.get("tags_untrusted", "plugin") == 3  # customer_id + user_id, then customer_id
    assert stats.get("tags_untrusted") == 3
    warnings = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "tagging.trust" in r.getMessage()
    ]
    assert sorted(warnings) == [
        "service 'plugin' may not set tag 'customer_id' (tagging.trust): ignored, counted in tags_untrusted",
        "service 'plugin' may not set tag 'user_id' (tagging.trust): ignored, counted in tags_untrusted",
    ]


def test_listing_services_without_a_star_entry_trusts_no_one_else(tmp_path):
    def configure(cfg):
        cfg.tagging.trust = {"gateway": ["customer_id"]}

    def send(endpoint):
        other = sdk_tracer(endpoint, service="unknown-sender")
        other.get_tracer("x").start_span(
            "call", attributes={**GPT_4O_MINI, "costline.customer_id": "acme", "costline.team": "red"}
        ).end()
        other.shutdown()

    spans, stats, rows = run(tmp_path, configure, send, 1)
    assert rows["call"]["tags"] == {"customer_id": "untagged", "feature": "untagged"}
    assert spans["call"].attributes["costline.customer_id"] == "untagged"
    assert "costline.team" not in spans["call"].attributes  # not adopted, nothing to replace it: removed
    assert stats.get("tags_untrusted", "unknown-sender") == 2


def test_hashed_and_dropped_tags_leave_no_clear_value(tmp_path):
    email = "alice@example.com"

    def configure(cfg):
        key_file = tmp_path / "tag.key"
        key_file.write_bytes(KEY + b"\n")  # surrounding whitespace is not part of the key
        cfg.tagging.hash = ["user_id", "customer_id"]
        cfg.tagging.drop = ["session_id"]
        cfg.tagging.hash_key_file = str(key_file)

    def send(endpoint):
        app = sdk_tracer(endpoint, service="app")
        t = app.get_tracer("app")
        root = t.start_span(
            "request",
            attributes={
                "costline.user_id": email,
                "costline.customer_id": "acme",
                "costline.feature": "chat",
                "costline.session_id": "sess-42",
            },
        )
        ctx = trace.set_span_in_context(root)
        t.start_span(
            "llm",
            context=ctx,
            attributes={
                **GPT_4O_MINI,
                "user.id": email,
                "enduser.id": email,
                "traceloop.association.properties.user_id": email,
                "session.id": "sess-42",
                "langfuse.session.id": "sess-42",
                "gen_ai.conversation.id": "sess-42",
            },
        ).end()
        t.start_span("db query", context=ctx, attributes={"db.system": "postgresql"}).end()
        root.end()
        # Another trace, the same user set only through an alias: the same hash.
        t.start_span("other llm", attributes={**GPT_4O_MINI, "enduser.id": email, "costline.customer_id": "acme"}).end()
        app.shutdown()

    spans, stats, rows = run(tmp_path, configure, send, 4)

    hidden_keys = {  # user.id comes back as the copy of the hashed tag, for backends' user views
        "enduser.id",
        "traceloop.association.properties.user_id",
        "session.id",
        "langfuse.session.id",
        "gen_ai.conversation.id",
        "costline.session_id",
    }
    for name, span in spans.items():
        raw = span.raw.SerializeToString()
        assert email.encode() not in raw and b"sess-42" not in raw and b"acme" not in raw, name
        keys = attribute_keys(span)
        assert not hidden_keys & set(keys), (name, keys)
        assert keys.count("costline.user_id") == 1 and keys.count("costline.customer_id") == 1, (name, keys)
        assert span.attributes["costline.user_id"] == hashed(email), name
        assert keys.count("user.id") == 1 and span.attributes["user.id"] == hashed(email), (name, keys)
        assert span.attributes["costline.customer_id"] == hashed("acme"), name
    assert spans["request"].attributes["costline.feature"] == "chat"  # other tags untouched
    assert spans["db query"].attributes["db.system"] == "postgresql"

    assert set(rows) == {"llm", "other llm"}
    assert rows["llm"]["tags"] == {"user_id": hashed(email), "customer_id": hashed("acme"), "feature": "chat"}
    assert rows["other llm"]["tags"] == {"user_id": hashed(email), "customer_id": hashed("acme"), "feature": "untagged"}
    for row in rows.values():
        assert Decimal(row["cost_usd"]) == GPT_4O_MINI_USD
    # Nothing in the database file carries the clear values either.
    data = (tmp_path / "ledger.db").read_bytes()
    assert email.encode() not in data and b"sess-42" not in data
    assert stats.get("tags_untrusted") == 0


def test_hashing_applies_to_every_service_and_to_metric_labels(tmp_path):
    from prometheus_client import generate_latest

    from costline_processor.metrics import MetricsSink

    key_file = tmp_path / "tag.key"
    key_file.write_bytes(KEY)
    metrics = MetricsSink(["customer_id", "feature"], 50)
    with OtlpSink() as sink:
        cfg = loopback_config(sink, trace_wait=0.3)
        cfg.tagging.trust = {"*": ["feature"], "app": ["*"]}
        cfg.tagging.hash = ["customer_id"]
        cfg.tagging.hash_key_file = str(key_file)
        with RunningServer(cfg, sinks=[metrics]) as srv:
            app = sdk_tracer(srv.grpc_endpoint, service="app")
            ext = sdk_tracer(srv.grpc_endpoint, service="external")
            app.get_tracer("a").start_span("app llm", attributes={**GPT_4O_MINI, "costline.customer_id": "acme"}).end()
            ext.get_tracer("e").start_span(
                "ext llm", attributes={**GPT_4O_MINI, "costline.customer_id": "acme", "user.id": "u1"}
            ).end()
            app.shutdown()
            ext.shutdown()
            spans = {s.name: s for s in sink.wait_for_spans(2, timeout=15)}
            exposition = generate_latest(metrics.registry).decode()
            stats = srv.stats
    assert spans["app llm"].attributes["costline.customer_id"] == hashed("acme")
    assert spans["ext llm"].attributes["costline.customer_id"] == "untagged"
    assert b"acme" not in spans["ext llm"].raw.SerializeToString()
    assert spans["ext llm"].attributes["user.id"] == "u1"
    assert f'customer_id="{hashed("acme")}"' in exposition and 'customer_id="untagged"' in exposition
    assert "acme" not in exposition
    assert stats.get("tags_untrusted", "external") == 2


def test_default_config_has_no_policy_and_leaves_tags_alone(tmp_path):
    def send(endpoint):
        app = sdk_tracer(endpoint, service="anyone")
        app.get_tracer("a").start_span(
            "llm", attributes={**GPT_4O_MINI, "costline.customer_id": "acme", "user.id": "u1"}
        ).end()
        app.shutdown()

    policies = []
    spans, stats, rows = run(tmp_path, lambda cfg: policies.append(Pipeline(cfg, None).reader.policy), send, 1)
    assert policies == [None]
    assert rows["llm"]["tags"] == {"customer_id": "acme", "user_id": "u1", "feature": "untagged"}
    a = spans["llm"].attributes
    assert (a["costline.customer_id"], a["user.id"], a["costline.user_id"]) == ("acme", "u1", "u1")


# -- the policy on its own (pure) --------------------------------------------------------------


def _policy(**tagging):
    from costline_processor.assembly.tags import TagReader
    from costline_processor.config import TaggingConfig

    return TagReader(TaggingConfig(**tagging)).policy


def test_policy_leaves_allowed_tags_on_the_fast_path():
    p = _policy(trust={"billing": ["customer_id", "feature"], "*": []})
    tags = {"customer_id": "acme", "feature": "invoice"}
    own = frozenset(tags)
    assert p.apply(tags, own, "billing") == (tags, own, False)  # nothing rejected: no rewrite
    assert p.apply(tags, own, "someone") == (None, frozenset(), True)
    assert p.apply({"team": "red", "feature": "x"}, frozenset({"team"}), "billing") == (
        {"feature": "x"},
        frozenset(),
        True,
    )


def test_policy_hashes_consistently_and_once(tmp_path):
    key = tmp_path / "k"
    key.write_bytes(KEY)
    p = _policy(hash=["user_id"], hash_key_file=str(key))
    tags, own, rewrite = p.apply({"user_id": "bob", "feature": "f"}, frozenset({"user_id", "feature"}), "svc")
    assert tags == {"user_id": hashed("bob"), "feature": "f"} and own == frozenset({"feature"}) and rewrite
    again, _, _ = p.apply({"user_id": hashed("bob")}, frozenset({"user_id"}), "other")
    assert again == {"user_id": hashed("bob")}  # a value costline hashed upstream is not hashed twice
    assert p.hidden(
        [
            "user.id",
            "costline.user_id",
            "traceloop.association.properties.user_id",
            "costline.feature",
            "costline.cost.usd",
            "http.route",
        ],
        "svc",
        None,
    ) == {"user.id", "costline.user_id", "traceloop.association.properties.user_id"}


def test_untrusted_counts_are_bounded_by_service_labels_and_logged_once(caplog):
    from costline_processor.stats import Stats

    p = _policy(trust={"*": []})
    stats = Stats()
    with caplog.at_level(logging.WARNING, logger="costline"):
        for i in range(300):
            assert p.hidden(["costline.customer_id"], f"svc-{i}", stats) == {"costline.customer_id"}
        p.hidden(["costline.customer_id"], "svc-0", stats)
    labels = [k for k in stats.snapshot() if k.startswith("tags_untrusted{")]
    assert len(labels) == 257 and "tags_untrusted{other}" in labels  # 256 services by name, the rest as other
    assert stats.get("tags_untrusted") == 301 and stats.get("tags_untrusted", "svc-0") == 2
    assert sum("'svc-0'" in r.getMessage() for r in caplog.records) == 1
