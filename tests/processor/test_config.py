"""Config: YAML merging, env-derived export targets, validation sentences."""

import argparse

import pytest

from costline.processor.commands.serve import build_config
from costline.processor.config import Config, ConfigError, merge_yaml, targets_from_env


def args(**kw):
    base = dict(config=None, grpc=None, http=None, trace_wait=None, prices=None, ledger=None, metrics=None,
                export_grpc=[], export_http=[])
    return argparse.Namespace(**{**base, **kw})


def test_env_variables_decide_exporters_when_no_flag():
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317", "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=a, auth=b"}
    (t,) = build_config(args(), env=env).export.targets
    assert (t.protocol, t.endpoint, t.headers) == ("grpc", "jaeger:4317", {"x-tenant": "a", "auth": "b"})
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://tempo:4318/v1/traces", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
    (t,) = targets_from_env(env)
    assert (t.protocol, t.endpoint) == ("http", "http://tempo:4318/v1/traces")
    assert targets_from_env({}) == []


def test_flags_win_over_env_and_are_repeatable():
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317"}
    cfg = build_config(args(export_grpc=["a:4317", "b:4317"], export_http=["http://c:4318"]), env=env)
    assert [(t.protocol, t.endpoint) for t in cfg.export.targets] == [("grpc", "a:4317"), ("grpc", "b:4317"), ("http", "http://c:4318")]


def test_yaml_merges_per_stage(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("assembly: {trace_wait_s: 2, max_traces: 10}\n"
                 "export: {targets: [{protocol: http, endpoint: 'http://x:4318', compression: gzip}], queue_batches: 5}\n"
                 "tagging: {required: [team], default: nobody, owner: finops}\n"
                 "metrics: {listen: '127.0.0.1:9464', dimensions: [feature, model], max_label_values: 5}\n")
    cfg = build_config(args(config=str(f), trace_wait=3.0), env={})
    assert cfg.assembly.trace_wait_s == 3.0 and cfg.assembly.max_traces == 10  # flag wins over file
    assert cfg.export.targets[0].compression == "gzip" and cfg.export.queue_batches == 5
    assert cfg.tagging.required == ["team"] and cfg.tagging.owner == "finops"
    assert cfg.metrics.dimensions == ["feature", "model"] and cfg.metrics.listen == "127.0.0.1:9464"


@pytest.mark.parametrize("doc,message", [
    ({"assembly": {"trace_wait_s": "soon"}}, "assembly.trace_wait_s must be a number"),
    ({"pricing": {"allow_network_updates": "yes"}}, "must be true or false"),
    ({"nonsense": 1}, "unknown setting config.nonsense"),
    ({"export": {"targets": [{"protocol": "grpc"}]}}, "each target needs protocol and endpoint"),
    ({"tagging": {"required": "feature"}}, "must be a list"),
])
def test_bad_yaml_values(doc, message):
    with pytest.raises(ConfigError, match=message):
        merge_yaml(Config(), doc)


def test_validate_rejects_bad_targets():
    cfg = Config()
    merge_yaml(cfg, {"export": {"targets": [{"protocol": "kafka", "endpoint": "x:1"}]}})
    with pytest.raises(ConfigError, match="export protocol must be grpc or http"):
        cfg.validate()
