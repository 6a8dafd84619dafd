"""deploy/kubernetes/: every overlay renders with kustomize, every object passes the Kubernetes
OpenAPI schemas (strict, offline: kubernetes-validate), and each promise of the manifests
holds against costline itself: its own parser reads the container's args, its own loader the
mounted config, and a real `costline serve` started from them answers the probes.
"""

from __future__ import annotations

import copy
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.deploy import manifests as mf
from tests.deploy.support import DEPLOY_DOC, DOCKERFILE, free_port, host_port, pinned_versions_in_doc, wait_port

kv = pytest.importorskip("kubernetes_validate")  # the `test` extra installs it
pytestmark = pytest.mark.skipif(mf.kustomize_command() is None, reason="needs kubectl (or kustomize) to render")

MiB = 1 << 20
STARTUP_MIB = 75  # costline's RSS before any telemetry (README, Reliability: "start-up size (~75 MiB)")
MARGIN_MIB = 256  # container memory limit - memory.limit_mib (deploy/kubernetes/base/costline.yaml says why)
OLDEST, NEWEST = "1.25", kv.latest_version()  # the schema releases the validator ships, first and last


@pytest.fixture(params=sorted(mf.OVERLAYS), scope="module")
def m(request) -> mf.Manifests:
    return mf.Manifests(request.param)


# -- rendering and the schemas ---------------------------------------------------------------
def test_every_overlay_renders_the_objects_it_promises(m):
    kinds = sorted(o["kind"] for o in m.objects)
    expected = ["ConfigMap", "PodDisruptionBudget", "Service", "Service", "StatefulSet"]
    if m.overlay == "scale-out":
        expected += ["ConfigMap", "Deployment", "PodDisruptionBudget", "Role", "RoleBinding", "ServiceAccount"]
    assert kinds == sorted(expected)
    assert {o["metadata"]["namespace"] for o in m.objects} == {"costline"}


def test_every_object_passes_the_kubernetes_schemas(m):
    for o in m.objects:
        where = f"{m.overlay} {o['kind']}/{o['metadata']['name']}"
        for version in (OLDEST, NEWEST):
            try:
                kv.validate(o, version, strict=True)
            except kv.ValidationError as e:
                raise AssertionError(f"{where} (Kubernetes {version}): {e}") from None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s["spec"]["template"]["spec"]["containers"][0]["securityContext"].update(readOnlyRootFileSystem=True),
        lambda s: s["spec"]["template"]["spec"].update(terminationGracePeriodSeconds="45s"),
        lambda s: s["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"].pop("port"),
    ],
    ids=["misspelt key", "wrong type", "missing required"],
)
def test_the_schema_check_refuses_a_broken_object(mutate):
    broken = copy.deepcopy(mf.Manifests("single").get("StatefulSet", "costline"))
    mutate(broken)
    with pytest.raises(kv.ValidationError):
        kv.validate(broken, NEWEST, strict=True)


def test_the_image_is_the_one_this_checkout_builds():
    from costline import __version__

    name = re.search(r"docker build -t (\S+?)(?::\S+)? \.", DOCKERFILE.read_text()).group(1)
    pinned = pinned_versions_in_doc()
    for overlay in mf.OVERLAYS:
        _, c = mf.costline(mf.Manifests(overlay))
        assert c["image"] == f"{name}:{__version__}"
        for w in mf.Manifests(overlay).workloads():
            for other in mf.pod(w)["containers"]:
                image, tag = other["image"].rsplit(":", 1)
                assert image == name or pinned.get(image) == tag, f"{other['image']} is not a pinned version"


# -- costline's flags, ports and Services ----------------------------------------------------
def test_costline_starts_from_the_args_and_config_it_is_given(m, tmp_path):
    args, config = mf.started_config(m, tmp_path)
    for address in (config.receive.grpc, config.receive.http, config.metrics.listen):
        assert address.startswith("0.0.0.0:"), "costline binds localhost unless told otherwise"
    assert args.workers == 1
    assert config.receive.bearer_token_file and config.export.queue_dir == "/var/lib/costline/queue"


def test_container_ports_and_services_match_costline_flags(m, tmp_path):
    _, config = mf.started_config(m, tmp_path)
    workload, c = mf.costline(m)
    flags = {"otlp-grpc": config.receive.grpc, "otlp-http": config.receive.http, "metrics": config.metrics.listen}
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {name: host_port(address)[1] for name, address in flags.items()}
    services = m.services_selecting(workload)
    assert {s["metadata"]["name"] for s in services} >= {workload["spec"]["serviceName"]}
    for s in services:
        for p in s["spec"]["ports"]:
            assert mf.port_number(c, p["targetPort"]) == ports[p["name"]], (s["metadata"]["name"], p)


def test_probes_hit_healthz_on_the_otlp_http_receiver(m, tmp_path):
    _, config = mf.started_config(m, tmp_path)
    _, c = mf.costline(m)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] == "/healthz" and get.get("scheme", "HTTP") == "HTTP", probe
        assert mf.port_number(c, get["port"]) == host_port(config.receive.http)[1], probe


def local_argv(argv: list[str], root: Path, ports: dict[int, int]) -> list[str]:
    """The container's args on this machine: wide binds on loopback ports, absolute paths under root."""
    out = []
    for a in argv:
        if a.startswith("0.0.0.0:"):
            out.append(f"127.0.0.1:{ports[int(a.rsplit(':', 1)[1])]}")
        else:
            out.append(str(root / a.lstrip("/")) if a.startswith("/") else a)
    return out


def test_the_single_overlay_runs_and_its_probe_needs_no_token(tmp_path):
    """A real `costline serve` from the container's args and mounted files: the probe's GET answers
    200 without the token, an export without it is refused, SIGTERM ends it well inside the grace period."""
    m = mf.Manifests("single")
    workload, c = mf.costline(m)
    mf.started_config(m, tmp_path)  # lays the config and token files out under tmp_path
    (tmp_path / "var/lib/costline").mkdir(parents=True)
    ports = {p["containerPort"]: free_port() for p in c["ports"]}
    argv = local_argv(c["args"], tmp_path, ports)
    env = {**os.environ, **mf.container_env(c)}
    with open(tmp_path / "costline.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "costline_processor.cli", *argv],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        probe = c["readinessProbe"]["httpGet"]
        port = ports[mf.port_number(c, probe["port"])]
        wait_port(port, proc, timeout=60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{probe['path']}", timeout=10) as r:
            assert r.status == 200
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(
                urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/traces", b"{}", {"Content-Type": "application/json"}
                ),
                timeout=10,
            )
        assert refused.value.code == 401
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        assert time.monotonic() - started < pod_spec_grace(workload)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (tmp_path / "var/lib/costline/ledger.db").exists() and (tmp_path / "var/lib/costline/queue").is_dir()


def pod_spec_grace(workload: dict) -> int:
    return mf.pod(workload)["terminationGracePeriodSeconds"]


# -- the promises ----------------------------------------------------------------------------
def every_container(m: mf.Manifests):
    for w in m.workloads():
        for c in mf.pod(w)["containers"]:
            yield w, c


def test_every_container_runs_as_non_root_on_a_read_only_root_filesystem(m):
    for w, c in every_container(m):
        pod_ctx, ctx = mf.pod(w).get("securityContext", {}), c.get("securityContext", {})
        merged = {**pod_ctx, **ctx}
        assert merged.get("runAsNonRoot") is True and merged.get("runAsUser", 0) != 0, c["name"]
        assert ctx.get("readOnlyRootFilesystem") is True, c["name"]
        assert ctx.get("allowPrivilegeEscalation") is False and ctx.get("capabilities", {}).get("drop") == ["ALL"]
        assert merged.get("seccompProfile", {}).get("type") == "RuntimeDefault", c["name"]


def test_the_image_user_is_the_one_the_pods_run_as(m):
    uid = int(re.search(r"useradd [^\n]*--uid (\d+)", DOCKERFILE.read_text()).group(1))
    workload, _ = mf.costline(m)
    assert mf.pod(workload)["securityContext"]["runAsUser"] == uid
    assert mf.pod(workload)["securityContext"]["fsGroup"] == uid  # the volume is writable by it


def test_costline_writes_only_to_its_volume(m, tmp_path):
    """Measured (strace of `costline serve` with these flags, a trace priced and recorded, SIGTERM):
    it creates and writes only the ledger's files and the queue directory's, so /var/lib/costline
    is the one writable mount; no /tmp is needed."""
    _, config = mf.started_config(m, tmp_path)
    workload, c = mf.costline(m)
    writable = [mnt for mnt in c["volumeMounts"] if not mnt.get("readOnly")]
    assert [mnt["mountPath"] for mnt in writable] == ["/var/lib/costline"]
    volume, _ = mf.volume_at(workload, c, config.export.queue_dir)
    assert "claim" in volume, "the queue directory outlives the pod: a claim per replica"
    ledger = mf.flag(c["args"], "--ledger")
    if m.overlay == "single":
        assert ledger == ["/var/lib/costline/ledger.db"] and "claim" in mf.volume_at(workload, c, ledger[0])[0]
    for _, other in every_container(m):
        for mnt in other.get("volumeMounts", []):
            assert mnt.get("readOnly") or mnt["mountPath"] == "/var/lib/costline", (other["name"], mnt)


def test_the_ledger_of_the_scale_out_replicas_comes_from_a_secret_not_argv(tmp_path):
    from costline_processor.ledger import resolve_location

    m = mf.Manifests("scale-out")
    _, c = mf.costline(m)
    assert not mf.flag(c["args"], "--ledger"), "a URL with a password in argv is visible in every ps"
    (env,) = [e for e in c["env"] if e["name"] == "COSTLINE_LEDGER"]
    assert env["valueFrom"]["secretKeyRef"] == {"name": "costline-ledger", "key": "url"}
    _, config = mf.started_config(m, tmp_path)
    assert resolve_location(None, config.ledger, mf.container_env(c)) == mf.SECRETS[("costline-ledger", "url")]


def test_the_bearer_token_is_a_file_from_a_secret(m, tmp_path):
    _, config = mf.started_config(m, tmp_path)
    workload, c = mf.costline(m)
    (path,) = mf.flag(c["args"], "--bearer-token-file")
    volume, key = mf.volume_at(workload, c, path)
    assert volume["secret"]["secretName"] == "costline-token" and volume["mount"]["readOnly"]
    assert {"key": key, "path": key} in volume["secret"]["items"]
    from costline_processor.receive.security import load_security

    assert load_security(config.receive) is not None  # read as costline reads it (trailing newline and all)


def test_the_disruption_budget_selects_the_pods_and_lets_one_go(m):
    for w in m.workloads():
        labels = w["spec"]["template"]["metadata"]["labels"]
        budgets = [b for b in m.of_kind("PodDisruptionBudget") if mf.selects(b["spec"]["selector"], labels)]
        assert len(budgets) == 1, w["metadata"]["name"]
        assert budgets[0]["spec"] == {"maxUnavailable": 1, "selector": budgets[0]["spec"]["selector"]}
        assert mf.selects(w["spec"]["selector"], labels)


def test_sigterm_drain_fits_in_the_grace_period(m, tmp_path):
    _, config = mf.started_config(m, tmp_path)
    workload, c = mf.costline(m)
    pause = int(c["lifecycle"]["preStop"]["exec"]["command"][-1])  # ["sleep", "5"]
    assert c["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
    assert pod_spec_grace(workload) >= pause + config.export.drain_timeout_s + 5, (
        "the kubelet would SIGKILL costline before its drain deadline"
    )


def test_the_memory_limit_is_memory_limit_mib_plus_the_margin(m, tmp_path):
    _, config = mf.started_config(m, tmp_path)
    _, c = mf.costline(m)
    resources = c["resources"]
    limit = mf.quantity_bytes(resources["limits"]["memory"])
    assert mf.quantity_bytes(resources["requests"]["memory"]) == limit, "requested = limit: never evicted for memory"
    assert config.memory.limit_mib, "an explicit bound (the default would be half the cgroup's)"
    assert limit == (config.memory.limit_mib + MARGIN_MIB) * MiB
    in_flight = 2 * config.receive.max_concurrent_requests * config.receive.max_request_bytes  # (a gzip body inflated)
    assert STARTUP_MIB * MiB + in_flight <= MARGIN_MIB * MiB, "what the budget does not count must fit in the margin"


def test_the_volume_holds_the_queue_directory_at_its_bound(m, tmp_path):
    _, config = mf.started_config(m, tmp_path)
    workload, _ = mf.costline(m)
    (claim,) = workload["spec"]["volumeClaimTemplates"]
    assert mf.quantity_bytes(claim["spec"]["resources"]["requests"]["storage"]) >= 2 * config.export.queue_max_bytes
    assert config.export.queue_max_bytes > 0


# -- the docs --------------------------------------------------------------------------------
def test_the_docs_give_the_commands_for_every_overlay_and_secret():
    doc = DEPLOY_DOC.read_text()
    for overlay in mf.OVERLAYS:
        assert f"kubectl apply -k deploy/kubernetes/overlays/{overlay}" in doc
    refs = set()
    for overlay in mf.OVERLAYS:
        for _, c in every_container(mf.Manifests(overlay)):
            refs |= {
                (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
                for e in c.get("env", [])
                if "secretKeyRef" in e.get("valueFrom", {})
            }
        workload, c = mf.costline(mf.Manifests(overlay))
        refs |= {
            (v["secret"]["secretName"], item["key"])
            for v in mf.pod(workload)["volumes"]
            if "secret" in v
            for item in v["secret"]["items"]
        }
    assert refs == set(mf.SECRETS)
    for name, key in refs:
        assert re.search(rf"create secret generic {name} --from-literal={key}=", doc), (name, key)
    assert "kubectl -n costline scale statefulset costline --replicas=" in doc
