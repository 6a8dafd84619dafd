"""docker-compose.yml (and the scale-out override): images pinned, files mounted exist,
and every host name and port agrees between compose, the Collector configs, costline's
own defaults and command line, Tempo, Prometheus and Grafana."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from costline_processor import config as costline_config
from costline_processor.cli import build_parser
from costline_processor.commands.serve import build_config
from tests.deploy.support import (
    COMPOSE,
    DASHBOARD_PROVIDERS,
    DATASOURCES,
    DOCKERFILE,
    PROMETHEUS_YAML,
    ROOT,
    SCALE_OUT,
    command,
    compose,
    flag,
    host_port,
    load,
    merged_compose,
    mounted_file,
    mounts,
    pinned_versions_in_doc,
)

COLLECTOR_CONFIG_PATH = "/etc/otelcol-contrib/config.yaml"


def services(merged: bool = False) -> dict:
    return (merged_compose() if merged else compose())["services"]


def collector_config(merged: bool = False) -> dict:
    svc = services(merged)["otel-collector"]
    assert flag(command(svc), "--config") == COLLECTOR_CONFIG_PATH
    return load(mounted_file(svc, COLLECTOR_CONFIG_PATH))


def costline_args(merged: bool = False):
    """The costline service's command, parsed by costline's own CLI and turned into its
    Config exactly as `costline serve` does (the --config path read from the repo)."""
    svc = services(merged)["costline"]
    argv = command(svc)
    cfg_path = flag(argv, "--config")
    argv[argv.index(cfg_path)] = str(mounted_file(svc, cfg_path))
    args = build_parser().parse_args(argv)
    assert args.command == "serve"
    return args, build_config(args, env={})


def default_port(default: str) -> int:
    return host_port(default)[1]


@pytest.mark.parametrize("merged", [False, True], ids=["single-node", "scale-out"])
def test_every_image_is_pinned_and_listed_in_the_docs(merged):
    doc = pinned_versions_in_doc()
    for name, svc in services(merged).items():
        image = svc.get("image")
        assert image, f"{name} has no image"
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", f"{name}: {image} is not pinned"
        if "build" in svc:
            assert tag == "dev", f"{name} is built from this repo and tagged :dev, not {image}"
            continue
        assert re.search(r"\d+\.\d+", tag), f"{name}: {image} should pin a version"
        assert doc.get(repo) == tag, f"docs/deploy.md lists {repo}:{doc.get(repo)}, compose runs {image}"
    base = re.search(r"^FROM (\S+):(\S+) AS source$", DOCKERFILE.read_text(), re.M)
    assert doc.get(base.group(1)) == base.group(2), "docs/deploy.md should list the Dockerfile's base image"


@pytest.mark.parametrize("merged", [False, True], ids=["single-node", "scale-out"])
def test_every_mounted_file_exists(merged):
    for name, svc in services(merged).items():
        for target, source in mounts(svc).items():
            assert (ROOT / source).exists(), f"{name}: {source} (mounted at {target}) is missing"


def test_published_ports_are_loopback_only():
    for name, svc in services().items():
        for p in svc.get("ports", []):
            assert p.startswith("127.0.0.1:"), f"{name} publishes {p} on every host interface"
    assert "ports" not in services()["costline"], "costline scales with --scale: it must not publish fixed host ports"
    assert "container_name" not in services()["costline"]


def test_costline_command_is_a_valid_serve_with_explicit_wide_binds():
    args, cfg = costline_args()
    assert host_port(cfg.receive.grpc) == ("0.0.0.0", default_port(costline_config.DEFAULT_GRPC))
    assert host_port(cfg.receive.http) == ("0.0.0.0", default_port(costline_config.DEFAULT_HTTP))
    assert host_port(cfg.metrics.listen)[0] == "0.0.0.0"
    assert cfg.ledger and cfg.ledger.startswith("/var/lib/costline/")
    assert "/var/lib/costline" in [v.split(":")[1] for v in services()["costline"]["volumes"]]
    # the dashboards' variables and cohort panels need these labels
    assert {"feature", "customer_id", "plan", "model", "provider", "environment", "team", "agent", "service"} <= set(
        cfg.metrics.dimensions
    )


def test_apps_send_to_the_collector_which_listens_there():
    app, col = services()["app"], collector_config()
    env = app["environment"]
    host, port = host_port(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert host == "otel-collector" and env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"
    assert host_port(col["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"])[1] == port
    published = {int(p.split(":")[-1]) for p in services()["otel-collector"]["ports"]}
    http_port = host_port(col["receivers"]["otlp"]["protocols"]["http"]["endpoint"])[1]
    assert {port, http_port} <= published
    assert (port, http_port) == (
        default_port(costline_config.DEFAULT_GRPC),
        default_port(costline_config.DEFAULT_HTTP),
    ), "the Collector takes over the OTLP default ports apps (and costline's defaults) use"


@pytest.mark.parametrize("merged", [False, True], ids=["single-node", "scale-out"])
def test_collector_exporters_reach_services_on_their_listening_ports(merged):
    col, svcs = collector_config(merged), services(merged)
    _, cfg = costline_args(merged)
    tempo = load(mounted_file(svcs["tempo"], flag(command(svcs["tempo"]), "-config.file")))
    tempo_receivers = tempo["distributor"]["receivers"]["otlp"]["protocols"]
    assert all(host_port(v["endpoint"])[0] == "0.0.0.0" for v in tempo_receivers.values())
    tempo_ports = {proto: host_port(v["endpoint"])[1] for proto, v in tempo_receivers.items()}
    for cid, body in col["exporters"].items():
        kind = cid.split("/")[0]
        if kind == "load_balancing":
            resolver = body["resolver"]
            assert list(resolver) == ["dns"], "compose's scale-out uses the DNS resolver"
            host, port = resolver["dns"]["hostname"], int(resolver["dns"]["port"])
        else:
            host, port = host_port(body["endpoint"])
        assert host in svcs and host != "otel-collector", f"{cid} -> {host}, not another compose service"
        if host == "costline":
            assert port == host_port(cfg.receive.grpc)[1] and kind in ("otlp_grpc", "load_balancing")
        elif host == "tempo":
            assert port == tempo_ports["http" if kind == "otlp_http" else "grpc"], cid
        elif host == "jaeger":
            # Jaeger v2's built-in all-in-one config: OTLP gRPC on 4317, bound by JAEGER_LISTEN_HOST
            assert port == 4317 and svcs["jaeger"]["environment"]["JAEGER_LISTEN_HOST"] == "0.0.0.0"
        else:
            raise AssertionError(f"{cid}: unexpected target {host}")


@pytest.mark.parametrize("merged", [False, True], ids=["single-node", "scale-out"])
def test_costline_exports_back_to_the_collectors_enriched_receiver(merged):
    col = collector_config(merged)
    _, cfg = costline_args(merged)
    assert [t.protocol for t in cfg.export.targets] == ["grpc"]
    host, port = host_port(cfg.export.targets[0].endpoint)
    assert host == "otel-collector"
    assert host_port(col["receivers"]["otlp/enriched"]["protocols"]["grpc"]["endpoint"])[1] == port


def test_demo_app_reaches_the_fake_provider():
    svcs = services()
    argv = command(svcs["fake-provider"])
    assert argv[:3] == ["python", "-m", "costline_processor.demo.fake_provider"]
    assert flag(argv, "--host") == "0.0.0.0"
    port = int(flag(argv, "--port"))
    env = svcs["app"]["environment"]
    assert host_port(env["OPENAI_BASE_URL"]) == ("fake-provider", port) and env["OPENAI_BASE_URL"].endswith("/v1")
    assert host_port(env["ANTHROPIC_BASE_URL"]) == ("fake-provider", port)
    assert set(svcs["app"]["depends_on"]) >= {"otel-collector", "fake-provider"}


@pytest.mark.parametrize("merged", [False, True], ids=["single-node", "scale-out"])
def test_prometheus_scrapes_every_costline_and_the_collector(merged):
    svcs = services(merged)
    prom = svcs["prometheus"]
    cfg_file = mounted_file(prom, flag(command(prom), "--config.file"))
    assert cfg_file == PROMETHEUS_YAML
    p = load(cfg_file)
    _, cfg = costline_args(merged)
    jobs = {j["job_name"]: j for j in p["scrape_configs"]}
    sd = jobs["costline"]["dns_sd_configs"][0]
    assert sd["names"] == ["costline"] and "costline" in svcs and sd["type"] == "A"
    assert sd["port"] == host_port(cfg.metrics.listen)[1]
    reader = collector_config(merged)["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]
    assert jobs["otel-collector"]["static_configs"][0]["targets"] == [f"otel-collector:{reader['port']}"]
    for rule in p["rule_files"]:
        assert (cfg_file.parent / rule).is_file(), rule


def test_prometheus_config_passes_promtool():
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool missing: ./dev test installs Debian's prometheus")
        pytest.skip("promtool is not installed: apt-get install prometheus")
    r = subprocess.run([promtool, "check", "config", str(PROMETHEUS_YAML)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 1 rule files found" in r.stdout


def test_grafana_datasources_point_at_the_services():
    svcs = services()
    ds = {d["uid"]: d for d in load(DATASOURCES)["datasources"]}
    assert set(ds) == {"prometheus", "tempo", "jaeger"}
    prom_port = host_port(flag(command(svcs["prometheus"]), "--web.listen-address"))[1]
    tempo = load(mounted_file(svcs["tempo"], flag(command(svcs["tempo"]), "-config.file")))
    expected = {
        "prometheus": ("prometheus", prom_port),
        "tempo": ("tempo", tempo["server"]["http_listen_port"]),
        "jaeger": ("jaeger", 16686),
    }
    for uid, (host, port) in expected.items():
        assert host_port(ds[uid]["url"]) == (host, port), uid
    assert "127.0.0.1:16686:16686" in svcs["jaeger"]["ports"]
    scrape = load(PROMETHEUS_YAML)["global"]["scrape_interval"]
    assert ds["prometheus"]["jsonData"]["timeInterval"] == scrape


def test_grafana_loads_the_provisioned_dashboards():
    grafana = services()["grafana"]
    m = mounts(grafana)
    assert m["/etc/grafana/provisioning"] == "./dashboards/grafana/provisioning"
    provider = load(DASHBOARD_PROVIDERS)["providers"][0]
    assert m[provider["options"]["path"]] == "./dashboards/grafana/dashboards"
    assert list((ROOT / "dashboards/grafana/dashboards").glob("*.json"))


def test_scale_out_override_runs_the_gateway_and_shares_a_postgres_ledger():
    svcs = services(merged=True)
    assert mounted_file(svcs["otel-collector"], COLLECTOR_CONFIG_PATH).name == "gateway-dns.yaml"
    lb = collector_config(merged=True)["exporters"]["load_balancing/costline"]
    assert lb["resolver"]["dns"]["hostname"] == "costline"
    _, cfg = costline_args(merged=True)
    assert cfg.ledger.startswith("postgresql://")
    host, port = host_port(cfg.ledger.split("@", 1)[1].split("/", 1)[0])
    pg = svcs["postgres"]
    assert host == "postgres" and port == 5432
    user, password = cfg.ledger.split("://", 1)[1].split("@", 1)[0].split(":")
    db = cfg.ledger.rsplit("/", 1)[1]
    assert (
        pg["environment"]["POSTGRES_USER"],
        pg["environment"]["POSTGRES_PASSWORD"],
        pg["environment"]["POSTGRES_DB"],
    ) == (user, password, db)
    assert "postgres" in svcs["costline"]["depends_on"]
    assert "deploy/compose.scale-out.yml" in COMPOSE.read_text() and SCALE_OUT.exists()
