"""The Kubernetes manifests of deploy/kubernetes/, rendered as `kubectl apply -k` renders them,
and read the way the kubelet and costline read them: `started_config` is costline's Config as
`costline serve` builds it in the container, from the container's args, environment and
mounted files (laid out under a test's folder, with sample Secret values).

Rendering is kustomize's own (`kubectl kustomize`, or a standalone `kustomize build`): the
generated ConfigMap names, the patches and the namespace are what a cluster would get, not
what a re-implementation guesses. The tests skip when neither binary is installed.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.deploy.support import ROOT

KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = {name: KUBERNETES / "overlays" / name for name in ("single", "scale-out")}
WORKLOADS = ("StatefulSet", "Deployment")
# The Secrets the docs tell users to create, (name, key) -> a sample value (the token as
# `kubectl create secret --from-file` of a text file would hold it: with its newline).
SECRETS = {
    ("costline-token", "token"): "k8s-test-token\n",
    ("costline-ledger", "url"): "postgresql://u:p@db:5432/costline",
}


def kustomize_command() -> list[str] | None:
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    return None


@functools.cache
def rendered_text(overlay: str) -> str:
    command = kustomize_command()
    assert command, "neither kubectl nor kustomize is installed"
    r = subprocess.run([*command, str(OVERLAYS[overlay])], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


class Manifests:
    """The objects of one rendered overlay."""

    def __init__(self, overlay: str):
        self.overlay = overlay
        self.objects: list[dict] = [d for d in yaml.safe_load_all(rendered_text(overlay)) if d]

    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> dict:
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.overlay}: {len(found)} {kind} named {name}"
        return found[0]

    def workloads(self) -> list[dict]:
        return [o for o in self.objects if o["kind"] in WORKLOADS]

    def workload_of(self, container: str) -> dict:
        found = [w for w in self.workloads() if any(c["name"] == container for c in pod(w)["containers"])]
        assert len(found) == 1, f"{self.overlay}: {len(found)} workloads run a container {container}"
        return found[0]

    def services_selecting(self, workload: dict) -> list[dict]:
        labels = workload["spec"]["template"]["metadata"]["labels"]
        return [s for s in self.of_kind("Service") if selects(s["spec"].get("selector"), labels)]

    def mounted_file(self, workload: dict, container: dict, path: str) -> str:
        """The text a container reads at `path` from a ConfigMap volume of this overlay."""
        volume, sub = volume_at(workload, container, path)
        assert "configMap" in volume, f"{path} is not in a ConfigMap volume"
        data = self.get("ConfigMap", volume["configMap"]["name"])["data"]
        return data[sub]


def pod(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def container(workload: dict, name: str) -> dict:
    return next(c for c in pod(workload)["containers"] if c["name"] == name)


def selects(selector: dict | None, labels: dict) -> bool:
    """Whether a label selector (a Service's map, or matchLabels/matchExpressions) picks `labels`."""
    if not selector:
        return False
    match = selector.get("matchLabels", selector if "matchExpressions" not in selector else {})
    if any(labels.get(k) != v for k, v in match.items()):
        return False
    for e in selector.get("matchExpressions", []):
        present, value = e["key"] in labels, labels.get(e["key"])
        ok = {
            "In": present and value in e.get("values", []),
            "NotIn": value not in e.get("values", []),
            "Exists": present,
            "DoesNotExist": not present,
        }[e["operator"]]
        if not ok:
            return False
    return True


def port_number(container: dict, port) -> int:
    """A probe's or Service's target port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p["name"] == port)


def volume_at(workload: dict, container: dict, path: str) -> tuple[dict, str]:
    """(the volume, the path inside it) a container reaches `path` through; claim templates count as volumes."""
    mounts = sorted(container.get("volumeMounts", []), key=lambda m: -len(m["mountPath"]))
    for m in mounts:
        root = m["mountPath"].rstrip("/") + "/"
        if path == m["mountPath"] or path.startswith(root):
            volumes = {v["name"]: v for v in pod(workload).get("volumes", [])}
            claims = {t["metadata"]["name"]: {"claim": t} for t in workload["spec"].get("volumeClaimTemplates", [])}
            return {**claims, **volumes}[m["name"]] | {"mount": m}, path[len(root) :]
    raise AssertionError(f"{path} is on the container's root filesystem")


def quantity_bytes(q: str) -> int:
    """A Kubernetes memory or storage quantity (binary and decimal suffixes) in bytes."""
    units = {
        "Ki": 1 << 10,
        "Mi": 1 << 20,
        "Gi": 1 << 30,
        "Ti": 1 << 40,
        "k": 10**3,
        "M": 10**6,
        "G": 10**9,
        "T": 10**12,
    }
    for suffix, factor in sorted(units.items(), key=lambda kv: -len(kv[0])):
        if str(q).endswith(suffix):
            return int(float(str(q)[: -len(suffix)]) * factor)
    return int(q)


def flag(argv: list[str], name: str) -> list[str]:
    """Every value of `--name VALUE` / `--name=VALUE` in a container's args."""
    out = []
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            out.append(argv[i + 1])
        elif a.startswith(name + "="):
            out.append(a.split("=", 1)[1])
    return out


# -- costline's container, as costline reads it ----------------------------------------------
def costline(m: Manifests) -> tuple[dict, dict]:
    """(the workload, its `costline` container)."""
    workload = m.workload_of("costline")
    return workload, container(workload, "costline")


def container_env(c: dict) -> dict[str, str]:
    out = {}
    for e in c.get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        out[e["name"]] = SECRETS[(ref["name"], ref["key"])] if ref else e["value"]
    return out


def started_config(m: Manifests, root: Path):
    """(args, Config) of `costline serve` in the container (commands/serve.build_config: parsed by
    costline's parser, loaded and validated, the token file read), its mounted files under root."""
    from costline_processor.cli import build_parser
    from costline_processor.commands.serve import build_config

    workload, c = costline(m)
    args = build_parser().parse_args(c["args"])
    assert args.command == "serve"
    for attr, path in (("config", args.config), ("bearer_token_file", args.bearer_token_file)):
        volume, sub = volume_at(workload, c, path)
        local = root / path.lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        if "configMap" in volume:
            local.write_text(m.mounted_file(workload, c, path))
        else:
            local.write_text(SECRETS[(volume["secret"]["secretName"], sub)])
        setattr(args, attr, str(local))
    return args, build_config(args, container_env(c))
