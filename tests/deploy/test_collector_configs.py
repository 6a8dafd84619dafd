"""collector-config/: every config parses, names only components it defines, uses the
pinned release's current names, and puts its stages in the order costline needs."""

from __future__ import annotations

import re

import pytest

from tests.deploy import collector_model as cm
from tests.deploy.support import (
    COLLECTOR_CONFIGS,
    COSTLINE_YAML,
    GATEWAY_DNS,
    GATEWAY_STATIC,
    SINGLE_NODE,
    compose,
    host_port,
    load,
)

CONFIGS = {p.relative_to(p.parents[2]).as_posix(): p for p in COLLECTOR_CONFIGS}


@pytest.fixture(params=sorted(CONFIGS), ids=lambda k: k)
def config(request) -> dict:
    return load(CONFIGS[request.param])


def to_costline(config: dict) -> set[str]:
    """Exporters that send raw spans to costline: the load balancer, or an OTLP exporter
    whose endpoint host is the costline service."""
    out = set()
    for cid, body in (config.get("exporters") or {}).items():
        if cm.component_type(cid) == "load_balancing" or (
            body and "endpoint" in body and host_port(body["endpoint"])[0] == "costline"
        ):
            out.add(cid)
    return out


def receiver_port(config: dict, receiver: str, protocol: str = "grpc") -> int:
    return host_port(config["receivers"][receiver]["protocols"][protocol]["endpoint"])[1]


def test_every_config_passes_the_collector_rules(config):
    assert cm.check(config) == []


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda c: c["service"]["pipelines"]["traces/enriched"]["exporters"].append("otlp_grpc/zipkin"), "not defined"),
        (lambda c: c["service"]["pipelines"]["traces/ingest"]["processors"].append("batch/missing"), "not defined"),
        (lambda c: c["exporters"]["otlp_grpc/jaeger"].update(retry_on_faliure={}), "invalid key 'retry_on_faliure'"),
        (lambda c: c["exporters"].update(otlphttp={"endpoint": "http://x:4318"}), "deprecated name 'otlphttp'"),
        (lambda c: c["exporters"].update({"otlp/old": {"endpoint": "x:4317"}}), "deprecated name 'otlp'"),
        (lambda c: c["processors"]["batch"].update(timeout="1 second"), "not a duration"),
        (
            lambda c: c["service"]["pipelines"].update({"spans": c["service"]["pipelines"]["traces/ingest"]}),
            "unknown signal",
        ),
        (lambda c: c["service"].update(extensions=["pprof"]), "'pprof' is not defined"),
    ],
)
def test_the_checker_refuses_broken_configs(mutate, expected):
    c = load(SINGLE_NODE)
    mutate(c)
    problems = cm.check(c)
    assert any(expected in p for p in problems), problems


def test_the_checker_refuses_a_load_balancer_with_two_resolvers_or_a_bad_key():
    c = load(GATEWAY_DNS)
    lb = c["exporters"]["load_balancing/costline"]
    lb["resolver"]["static"] = {"hostnames": ["a:4317"]}
    assert any("exactly one of" in p for p in cm.check(c))
    c = load(GATEWAY_DNS)
    c["exporters"]["load_balancing/costline"]["routing_key"] = "traceId"
    assert any("routing_key" in p for p in cm.check(c))
    c = load(GATEWAY_DNS)
    c["exporters"]["loadbalancing"] = c["exporters"].pop("load_balancing/costline")
    assert any("deprecated name 'loadbalancing'" in p for p in cm.check(c))


def test_every_defined_component_is_used(config):
    for kind in ("receivers", "processors", "exporters"):
        assert set(config.get(kind) or {}) == cm.used(config, kind), kind


def test_memory_limiter_comes_first_in_every_pipeline(config):
    for pid, p in config["service"]["pipelines"].items():
        assert p.get("processors", [])[:1] == ["memory_limiter"], pid
    ml = config["processors"]["memory_limiter"]
    assert 0 < ml["spike_limit_mib"] < ml["limit_mib"]


def test_memory_limiter_fits_the_container_compose_gives_it():
    svc = compose()["services"]["otel-collector"]
    limit = int(re.fullmatch(r"(\d+)m", svc["mem_limit"]).group(1))
    gomemlimit = int(re.fullmatch(r"(\d+)MiB", svc["environment"]["GOMEMLIMIT"]).group(1))
    for path in CONFIGS.values():
        ml = load(path)["processors"]["memory_limiter"]
        assert ml["limit_mib"] <= gomemlimit < limit, path


def test_no_batching_before_costline_and_batching_after_it(config):
    costline = to_costline(config)
    assert len(costline) == 1
    for pid, p in config["service"]["pipelines"].items():
        batches = [x for x in p.get("processors", []) if cm.component_type(x) == "batch"]
        if costline & set(p["exporters"]):
            assert not batches, f"{pid}: batching before costline (a trace-aware stage)"
            assert set(p["exporters"]) == costline, f"{pid}: raw spans must only go to costline"
        else:
            assert batches, f"{pid}: the pipeline after costline should batch for the backends"


def test_costline_output_comes_back_on_its_own_receiver(config):
    """costline exports to the port in deploy/costline.yaml; that receiver feeds only
    pipelines that do not lead back to costline (no loop), and the apps' receiver feeds
    only the pipeline to costline (no raw span reaches a backend)."""
    target = load(COSTLINE_YAML)["export"]["targets"]
    assert len(target) == 1
    host, port = host_port(target[0]["endpoint"])
    assert host == "otel-collector"
    back = [r for r in config["receivers"] if receiver_port(config, r) == port]
    assert len(back) == 1, back
    costline = to_costline(config)
    for pid, p in config["service"]["pipelines"].items():
        if back[0] in p["receivers"]:
            assert not costline & set(p["exporters"]), f"{pid} would loop spans back into costline"
        else:
            assert set(p["exporters"]) <= costline, f"{pid} sends raw spans past costline"


def test_receivers_listen_on_distinct_ports_on_all_interfaces(config):
    seen = []
    for rid, body in config["receivers"].items():
        for proto, pbody in body["protocols"].items():
            host, port = host_port(pbody["endpoint"])
            assert host == "0.0.0.0", f"{rid}/{proto} must bind all interfaces inside a container"
            seen.append(port)
    assert len(seen) == len(set(seen)), seen


def test_every_exporter_sets_its_queue_and_retry_deliberately(config):
    for cid, body in config["exporters"].items():
        assert body["sending_queue"]["enabled"] is True, cid
        assert body["sending_queue"]["sizer"] == "items", cid
        assert body["retry_on_failure"]["enabled"] is True, cid
        assert "timeout" in body, cid
    for cid in to_costline(config):
        # the money hop: retry until costline accepts, never drop on a timer
        assert config["exporters"][cid]["retry_on_failure"]["max_elapsed_time"] in (0, "0", "0s"), cid
    for cid, body in config["exporters"].items():
        if cid not in to_costline(config):
            assert body["retry_on_failure"]["max_elapsed_time"] not in (0, "0", "0s"), f"{cid}: backends may give up"


def test_the_gateway_routes_by_trace_id_with_queue_and_retry_on_the_balancer():
    for path in (GATEWAY_DNS, GATEWAY_STATIC):
        lb = load(path)["exporters"]["load_balancing/costline"]
        assert lb["routing_key"] == "traceID"
        otlp = lb["protocol"]["otlp"]
        assert "endpoint" not in otlp  # the balancer sets it per replica
        assert otlp["sending_queue"]["enabled"] is False and otlp["retry_on_failure"]["enabled"] is False
        assert otlp["tls"]["insecure"] is True
    dns = load(GATEWAY_DNS)["exporters"]["load_balancing/costline"]["resolver"]["dns"]
    assert dns["hostname"] == "costline" and int(dns["port"]) == 4317
    static = load(GATEWAY_STATIC)["exporters"]["load_balancing/costline"]["resolver"]["static"]["hostnames"]
    assert len(static) >= 2 and all(host_port(h)[1] == 4317 for h in static)


def test_the_two_gateways_differ_only_in_the_resolver():
    dns, static = load(GATEWAY_DNS), load(GATEWAY_STATIC)
    for c in (dns, static):
        c["exporters"]["load_balancing/costline"].pop("resolver")
    assert dns == static


def test_gateway_and_single_node_share_everything_but_the_costline_exporter():
    single, gateway = load(SINGLE_NODE), load(GATEWAY_DNS)
    single["exporters"].pop("otlp_grpc/costline")
    gateway["exporters"].pop("load_balancing/costline")
    for c in (single, gateway):
        c["service"]["pipelines"]["traces/ingest"].pop("exporters")
    assert single == gateway


def test_each_config_names_the_release_compose_pins():
    image = compose()["services"]["otel-collector"]["image"]
    assert image == f"otel/opentelemetry-collector-contrib:{cm.RELEASE}"
    for path in CONFIGS.values():
        assert f"opentelemetry-collector-contrib:{cm.RELEASE}" in path.read_text(), path


def test_configs_use_no_deprecated_component_name_anywhere():
    for path in CONFIGS.values():
        c = load(path)
        for kind in ("receivers", "processors", "exporters", "extensions"):
            for cid in c.get(kind) or {}:
                assert (kind, cm.component_type(cid)) not in cm.DEPRECATED, (path, cid)
