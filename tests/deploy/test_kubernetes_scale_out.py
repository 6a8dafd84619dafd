"""deploy/kubernetes/overlays/scale-out: the Collector gateway in front of the costline replicas.
Its config passes the Collector rules, its `load_balancing` exporter's `k8s` resolver watches the
headless Service of the costline pods (so every span of a trace reaches one replica), it may read
those endpoints and nothing else, it sends the token costline expects, and costline's output
comes back to its enriched pipeline. The objects are rendered and schema-checked with the other
overlay's in test_kubernetes.py.
"""

from __future__ import annotations

import re

import pytest
import yaml

from tests.deploy import collector_model as cm
from tests.deploy import manifests as mf
from tests.deploy.support import host_port

pytestmark = pytest.mark.skipif(mf.kustomize_command() is None, reason="needs kubectl (or kustomize) to render")

MiB = 1 << 20


@pytest.fixture(scope="module")
def scale_out() -> mf.Manifests:
    return mf.Manifests("scale-out")


def gateway_config(m: mf.Manifests) -> tuple[dict, dict, dict]:
    """(Deployment, its collector container, the Collector config it loads)."""
    workload = m.workload_of("otelcol")
    c = mf.container(workload, "otelcol")
    (path,) = mf.flag(c["args"], "--config")
    return workload, c, yaml.safe_load(m.mounted_file(workload, c, path))


def test_the_gateway_config_passes_the_collector_rules(scale_out):
    _, c, config = gateway_config(scale_out)
    assert cm.check(config) == []
    for kind in ("receivers", "processors", "exporters"):
        assert set(config.get(kind) or {}) == cm.used(config, kind), kind
    for pid, p in config["service"]["pipelines"].items():
        assert p["processors"][0] == "memory_limiter", pid
    limit = mf.quantity_bytes(c["resources"]["limits"]["memory"])
    assert config["processors"]["memory_limiter"]["limit_mib"] * MiB < limit


def test_the_k8s_resolver_watches_the_headless_service_of_the_costline_pods(scale_out, tmp_path):
    _, config = mf.started_config(scale_out, tmp_path)
    workload, _ = mf.costline(scale_out)
    _, _, collector = gateway_config(scale_out)
    lb = collector["exporters"]["load_balancing/costline"]
    assert lb["routing_key"] == "traceID"
    (resolver,) = lb["resolver"].items()
    assert resolver[0] == "k8s"
    name, namespace = resolver[1]["service"].split(".")
    headless = scale_out.get("Service", name)
    assert namespace == headless["metadata"]["namespace"] == workload["metadata"]["namespace"]
    assert headless["spec"]["clusterIP"] == "None" and name == workload["spec"]["serviceName"]
    assert mf.selects(headless["spec"]["selector"], workload["spec"]["template"]["metadata"]["labels"])
    assert resolver[1]["ports"] == [host_port(config.receive.grpc)[1]]
    assert host_port(config.receive.grpc)[1] in {p["port"] for p in headless["spec"]["ports"]}
    assert "otlp" in lb["protocol"], "the resolver's port is costline's OTLP/gRPC receiver"


def test_the_gateway_sends_the_token_costline_expects(scale_out):
    _, c, collector = gateway_config(scale_out)
    headers = collector["exporters"]["load_balancing/costline"]["protocol"]["otlp"]["headers"]
    (var,) = re.fullmatch(r"Bearer \$\{env:(\w+)\}", headers["authorization"]).groups()
    (env,) = [e for e in c["env"] if e["name"] == var]
    _, costline_c = mf.costline(scale_out)
    workload = scale_out.workload_of("costline")
    volume, key = mf.volume_at(workload, costline_c, mf.flag(costline_c["args"], "--bearer-token-file")[0])
    assert env["valueFrom"]["secretKeyRef"] == {"name": volume["secret"]["secretName"], "key": key}


def test_the_gateway_may_watch_endpoints_in_its_namespace(scale_out):
    workload, _, _ = gateway_config(scale_out)
    account = mf.pod(workload)["serviceAccountName"]
    namespace = workload["metadata"]["namespace"]
    (binding,) = [
        b
        for b in scale_out.of_kind("RoleBinding")
        if {"kind": "ServiceAccount", "name": account, "namespace": namespace} in b["subjects"]
    ]
    role = scale_out.get(binding["roleRef"]["kind"], binding["roleRef"]["name"])
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    for verb in ("get", "list", "watch"):
        assert ("discovery.k8s.io", "endpointslices", verb) in granted and ("", "endpoints", verb) in granted
    assert {v for _, _, v in granted} == {"get", "list", "watch"}, "read-only"
    assert scale_out.get("ServiceAccount", account)["metadata"]["namespace"] == namespace


def test_the_gateway_service_reaches_its_receivers_and_costline_exports_to_it(scale_out, tmp_path):
    _, config = mf.started_config(scale_out, tmp_path)
    workload, c, collector = gateway_config(scale_out)
    receivers = {
        (name, proto): host_port(body["protocols"][proto]["endpoint"])[1]
        for name, body in collector["receivers"].items()
        for proto in body["protocols"]
    }
    (service,) = scale_out.services_selecting(workload)
    by_port = {p["port"]: mf.port_number(c, p["targetPort"]) for p in service["spec"]["ports"]}
    assert by_port == {port: port for port in receivers.values()}
    (target,) = config.export.targets
    host, port = host_port(target.endpoint)
    assert (host, target.protocol) == (service["metadata"]["name"], "grpc")
    assert receivers[("otlp/enriched", "grpc")] == by_port[port], "costline's output reaches the enriched pipeline"
    probe = c["readinessProbe"]["httpGet"]
    assert mf.port_number(c, probe["port"]) == host_port(collector["extensions"]["health_check"]["endpoint"])[1]


def test_only_the_gateway_is_offered_to_apps_in_scale_out(scale_out):
    """A Service with a virtual IP in front of the replicas would spread a trace's spans over them."""
    workload, _ = mf.costline(scale_out)
    for s in scale_out.services_selecting(workload):
        assert s["spec"].get("clusterIP") == "None", s["metadata"]["name"]
