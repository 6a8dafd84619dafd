"""Shared helpers for tests/deploy: the repository's deployment files, parsed.

Docker and the OpenTelemetry Collector cannot run on the test machines, so these tests
check what can be checked for real: the files parse, names and ports agree across
them, and the commands they contain run here with loopback addresses.
"""

from __future__ import annotations

import re
import shlex
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SCALE_OUT = ROOT / "deploy" / "compose.scale-out.yml"
SINGLE_NODE = ROOT / "collector-config" / "single-node" / "collector.yaml"
GATEWAY_DNS = ROOT / "collector-config" / "scale-out" / "gateway-dns.yaml"
GATEWAY_STATIC = ROOT / "collector-config" / "scale-out" / "gateway-static.yaml"
COLLECTOR_CONFIGS = [SINGLE_NODE, GATEWAY_DNS, GATEWAY_STATIC]
COSTLINE_YAML = ROOT / "deploy" / "costline.yaml"
TEMPO_YAML = ROOT / "deploy" / "tempo.yaml"
PROMETHEUS_YAML = ROOT / "dashboards" / "prometheus" / "prometheus.yaml"
DASHBOARD = ROOT / "dashboards" / "grafana" / "dashboards" / "costline-spend.json"
DATASOURCES = ROOT / "dashboards" / "grafana" / "provisioning" / "datasources" / "datasources.yaml"
DASHBOARD_PROVIDERS = ROOT / "dashboards" / "grafana" / "provisioning" / "dashboards" / "dashboards.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"


def load(path: Path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def compose() -> dict:
    return load(COMPOSE)


def merged_compose() -> dict:
    """docker-compose.yml with deploy/compose.scale-out.yml applied the way Compose does
    for the keys the override uses: mappings merge, `command` is replaced, volumes are
    merged by container path, depends_on lists are joined."""
    base, over = compose(), load(SCALE_OUT)
    out = {**base, "services": {k: dict(v) for k, v in base["services"].items()}}
    for name, svc in over["services"].items():
        cur = out["services"].setdefault(name, {})
        for key, value in svc.items():
            if key == "volumes" and key in cur:
                by_target = {v.split(":")[1]: v for v in cur[key]}
                by_target.update({v.split(":")[1]: v for v in value})
                cur[key] = list(by_target.values())
            elif key == "depends_on" and key in cur:
                cur[key] = list(dict.fromkeys([*cur[key], *value]))
            else:
                cur[key] = value
    out["volumes"] = {**(base.get("volumes") or {}), **(over.get("volumes") or {})}
    return out


def command(service: dict) -> list[str]:
    cmd = service.get("command", [])
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def flag(argv: list[str], name: str) -> str | None:
    """The value of `--name VALUE` or `--name=VALUE` (also single-dash `-name=VALUE`)."""
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def mounts(service: dict) -> dict[str, str]:
    """container path -> host path (relative to the repository) of bind mounts."""
    out = {}
    for v in service.get("volumes", []):
        parts = v.split(":")
        if parts[0].startswith("."):
            out[parts[1]] = parts[0]
    return out


def mounted_file(service: dict, container_path: str) -> Path:
    """The repository file a container sees at `container_path` (file or folder mounts)."""
    for target, source in sorted(mounts(service).items(), key=lambda kv: -len(kv[0])):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return ROOT / source / container_path[len(target) :].lstrip("/")
    raise AssertionError(f"{container_path} is not mounted from the repository: {service.get('volumes')}")


def host_port(endpoint: str) -> tuple[str, int]:
    """HOST:PORT or scheme://HOST:PORT[/path] -> (host, port)."""
    if "://" in endpoint:
        u = urlsplit(endpoint)
        return u.hostname or "", u.port or (443 if u.scheme == "https" else 80)
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]"), int(port)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc=None, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc is not None:
            assert proc.poll() is None, f"process exited early with {proc.returncode}"
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def pinned_versions_in_doc() -> dict[str, str]:
    """image -> tag from the version table in docs/deploy.md (rows like `| ... | `image:tag` |`)."""
    out: dict[str, str] = {}
    for line in DEPLOY_DOC.read_text().splitlines():
        if line.startswith("|"):
            for image, tag in re.findall(r"`([a-z0-9._/-]+):([A-Za-z0-9._-]+)`", line):
                assert out.setdefault(image, tag) == tag, f"docs/deploy.md lists {image} twice"
    return out
