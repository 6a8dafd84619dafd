"""Config: YAML merging, env-derived export targets, validation sentences."""

import argparse

import pytest

from costline_processor.commands.serve import build_config
from costline_processor.config import Config, ConfigError
from costline_processor.config_sources import merge_yaml, targets_from_env


def args(**kw):
    base = dict(
        config=None,
        grpc=None,
        http=None,
        trace_wait=None,
        prices=None,
        ledger=None,
        metrics=None,
        export_grpc=[],
        export_http=[],
    )
    return argparse.Namespace(**{**base, **kw})


def test_env_variables_decide_exporters_when_no_flag():
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317", "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=a, auth=b"}
    (t,) = build_config(args(), env=env).export.targets
    assert (t.protocol, t.endpoint, t.headers) == ("grpc", "jaeger:4317", {"x-tenant": "a", "auth": "b"})
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://tempo:4318/v1/traces",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    }
    (t,) = targets_from_env(env)
    assert (t.protocol, t.endpoint) == ("http", "http://tempo:4318/v1/traces")
    assert targets_from_env({}) == []


def test_flags_win_over_env_and_are_repeatable():
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317"}
    cfg = build_config(args(export_grpc=["a:4317", "b:4317"], export_http=["http://c:4318"]), env=env)
    assert [(t.protocol, t.endpoint) for t in cfg.export.targets] == [
        ("grpc", "a:4317"),
        ("grpc", "b:4317"),
        ("http", "http://c:4318"),
    ]


def test_yaml_merges_per_stage(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text(
        "assembly: {trace_wait_s: 2, max_traces: 10}\n"
        "export: {targets: [{protocol: http, endpoint: 'http://x:4318', compression: gzip}], queue_batches: 5}\n"
        "tagging: {required: [team], default: nobody, owner: finops}\n"
        "metrics: {listen: '127.0.0.1:9464', dimensions: [feature, model], max_label_values: 5}\n"
    )
    cfg = build_config(args(config=str(f), trace_wait=3.0), env={})
    assert cfg.assembly.trace_wait_s == 3.0 and cfg.assembly.max_traces == 10  # flag wins over file
    assert cfg.export.targets[0].compression == "gzip" and cfg.export.queue_batches == 5
    assert cfg.tagging.required == ["team"] and cfg.tagging.owner == "finops"
    assert cfg.metrics.dimensions == ["feature", "model"] and cfg.metrics.listen == "127.0.0.1:9464"


@pytest.mark.parametrize(
    "doc,message",
    [
        ({"assembly": {"trace_wait_s": "soon"}}, "assembly.trace_wait_s must be a number"),
        ({"pricing": {"allow_network_updates": "yes"}}, "must be true or false"),
        ({"nonsense": 1}, "unknown setting config.nonsense"),
        ({"export": {"targets": [{"protocol": "grpc"}]}}, "each target needs protocol and endpoint"),
        ({"tagging": {"required": "feature"}}, "must be a list"),
    ],
)
def test_bad_yaml_values(doc, message):
    with pytest.raises(ConfigError, match=message):
        merge_yaml(Config(), doc)


def test_validate_rejects_bad_targets():
    cfg = Config()
    merge_yaml(cfg, {"export": {"targets": [{"protocol": "kafka", "endpoint": "x:1"}]}})
    with pytest.raises(ConfigError, match="export protocol must be grpc or http"):
        cfg.validate()


def test_tag_policy_from_yaml(tmp_path):
    key = tmp_path / "tag.key"
    key.write_text("a-secret-of-enough-length\n")
    f = tmp_path / "c.yaml"
    f.write_text(
        "tagging:\n"
        "  trust: {gateway: ['*'], billing-worker: [customer_id, feature], '*': [feature]}\n"
        "  hash: [user_id]\n"
        "  drop: [session_id]\n"
        f"  hash_key_file: {key}\n"
    )
    cfg = build_config(args(config=str(f)), env={})
    t = cfg.tagging
    assert t.trust == {"gateway": ["*"], "billing-worker": ["customer_id", "feature"], "*": ["feature"]}
    assert (t.hash, t.drop, t.hash_key_file) == (["user_id"], ["session_id"], str(key))
    assert Config().tagging.trust == {"*": ["*"]}  # the default trusts every service with every tag


@pytest.mark.parametrize(
    "tagging,message",
    [
        ({"hash": ["user_id"]}, "tagging.hash needs tagging.hash_key_file"),
        (
            {"hash": ["user_id"], "hash_key_file": "/nonexistent/tag.key"},
            "tagging.hash_key_file not found: /nonexistent/tag.key",
        ),
        ({"hash": ["user_id"], "hash_key_file": "SHORT"}, "must hold a secret of at least 16 bytes"),
        (
            {"hash": ["user_id"], "drop": ["user_id"], "hash_key_file": "KEY"},
            "'user_id' cannot be both hashed and dropped",
        ),
        ({"drop": ["customer_id"]}, "tagging.drop cannot name the required tag 'customer_id'"),
        ({"drop": "user_id"}, "must be a list"),
        ({"trust": {"gateway": "*"}}, r'tagging.trust.gateway must be a list of tag names, or \["\*"\] for all'),
        ({"trust": {"gateway": [1]}}, "tagging.trust.gateway must be a list of tag names"),
        ({"trust": ["gateway"]}, "must be a mapping"),
        ({"ignore": "langgraph_*"}, "tagging.ignore must be a list"),
        (
            {"ignore": ["ls_*", ""]},
            r'tagging.ignore must be a list of tag-name patterns, e.g. \["langgraph_\*", "ls_\*"\]',
        ),
        ({"ignore": [3]}, "tagging.ignore must be a list of tag-name patterns"),
        ({"ignores": ["ls_*"]}, "unknown setting config.tagging.ignores"),
    ],
)
def test_tag_policy_validation(tmp_path, tagging, message):
    (tmp_path / "SHORT").write_text("too short\n")
    (tmp_path / "KEY").write_text("0123456789abcdef0123\n")
    if tagging.get("hash_key_file") in ("SHORT", "KEY"):  # files made here
        tagging = {**tagging, "hash_key_file": str(tmp_path / tagging["hash_key_file"])}
    cfg = Config()
    with pytest.raises(ConfigError, match=message):
        merge_yaml(cfg, {"tagging": tagging})
        cfg.validate()


def test_tagging_ignore_from_yaml(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("tagging:\n  ignore: [run_attempt, 'graph_*']\n")
    assert build_config(args(config=str(f)), env={}).tagging.ignore == ["run_attempt", "graph_*"]
    assert Config().tagging.ignore == []  # the built-in framework patterns apply without it


def test_a_missing_hash_key_stops_the_pipeline_even_without_validate(tmp_path):
    from costline_processor.pipeline import Pipeline

    cfg = Config()
    cfg.tagging.hash = ["user_id"]
    cfg.tagging.hash_key_file = str(tmp_path / "gone.key")
    with pytest.raises(ConfigError, match="tagging.hash_key_file not found"):
        Pipeline(cfg, pricer=None)


def test_every_yaml_example_in_the_readme_names_real_settings():
    """The README's configuration examples are what users copy: each must merge cleanly."""
    import re
    from pathlib import Path

    import yaml

    from costline_processor.config import Config
    from costline_processor.config_sources import merge_yaml

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if re.match(r"\w+:", b)]
    merged = 0
    for block in blocks:
        data = yaml.safe_load(block)
        if not set(data) <= {f for f in Config.__dataclass_fields__}:
            continue  # a Prometheus or Collector snippet, not costline's
        config = Config()
        merge_yaml(config, data, where="README")
        merged += 1
    assert merged >= 2  # the configuration file section and the security example
