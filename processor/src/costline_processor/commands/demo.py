"""`costline demo`: the whole product in a minute, on this machine.

A fake LLM provider (OpenAI and Anthropic wire formats), `costline serve` with a
SQLite ledger, and an instrumented app run by `opentelemetry-instrument` with the
real SDKs; then the reports finance asks for.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("demo", help="run a realistic workload through costline and print the reports", description=__doc__)
    p.add_argument("--requests", type=int, default=60, help="app requests to send (default 60)")
    p.add_argument("--ledger", metavar="PATH", help="keep the demo ledger here (default: a temporary file)")
    p.add_argument("--export-grpc", metavar="HOST:PORT", action="append", default=[], help="also export enriched spans here")
    p.set_defaults(func=run)


def _say(step: int, text: str) -> None:
    print(f"[{step}/4] {text}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import threading

    from costline_processor.cli import main as cli
    from costline_processor.config import Config, ConfigError, ExportTarget, load_yaml_file, merge_yaml
    from costline_processor.demo.fake_provider import FakeProvider
    from costline_processor.ledger import open_ledger
    from costline_processor.server import Server

    launcher = shutil.which("opentelemetry-instrument") or str(Path(sys.executable).with_name("opentelemetry-instrument"))
    if not os.path.exists(launcher):
        raise ConfigError("the demo needs opentelemetry-distro, openai and anthropic: pip install 'costline[processor,test]'")
    workdir = Path(tempfile.mkdtemp(prefix="costline-demo-"))
    ledger_path = args.ledger or str(workdir / "ledger.db")
    config_path = workdir / "costline.yaml"  # what a team would pass to serve and the reports alike
    config_path.write_text("tagging:\n  required: [feature, customer_id]\n  default: untagged\n  owner: platform-team\n")

    with FakeProvider() as provider:
        _say(1, f"fake LLM provider (OpenAI + Anthropic wire formats) on {provider.base_url}")
        config = Config()
        merge_yaml(config, load_yaml_file(str(config_path)))
        config.receive.grpc = "127.0.0.1:0"
        config.receive.http = None
        config.assembly.trace_wait_s = 1.0
        config.export.targets = [ExportTarget("grpc", e) for e in args.export_grpc]
        ledger = open_ledger(ledger_path, flush_interval_s=0.2)
        server = Server(config, sinks=[ledger])
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
        endpoint = f"127.0.0.1:{server.grpc.port}"
        _say(2, f"costline serve: OTLP/gRPC on {endpoint}, ledger {ledger_path}")
        env = {
            **os.environ,
            "OTEL_SERVICE_NAME": "demo-assistant",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{endpoint}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "OPENAI_BASE_URL": provider.openai_base_url,
            "OPENAI_API_KEY": "demo-key",
            "ANTHROPIC_BASE_URL": provider.base_url,
            "ANTHROPIC_API_KEY": "demo-key",
        }
        cmd = [launcher, sys.executable, "-m", "costline_processor.demo.workload", "--requests", str(args.requests)]
        _say(3, "instrumented app: opentelemetry-instrument python -m costline_processor.demo.workload")
        started = time.monotonic()
        result = subprocess.run(cmd, env=env)
        if result.returncode != 0:
            print(f"costline demo: the app exited with {result.returncode}", file=sys.stderr)
            return 1
        # let the last traces go quiet, then drain everything into the ledger
        time.sleep(config.assembly.trace_wait_s + 0.5)
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        stats = server.pipeline.stats
        print(f"  costline: {stats.get('spans_received')} spans received, {stats.get('llm_calls', 'priced')} LLM calls priced "
              f"in {time.monotonic() - started:.1f}s", file=sys.stderr)

    _say(4, "reports (the same commands work on any ledger: costline report --help)")
    for title, argv in (
        ("Spend by feature", ["report", "--by", "feature"]),
        ("Top customers", ["top", "customers", "-n", "5"]),
        ("Spend by model and provider", ["report", "--by", "provider,model"]),
        ("Agent steps (research-agent)", ["report", "--by", "agent"]),
        ("Cost per active user, by plan", ["report", "--by", "plan", "--per-user"]),
        ("Untagged bucket", ["report", "--by", "feature", "--untagged"]),
    ):
        print(f"\n## {title}  (costline {' '.join(argv)})")
        sys.stdout.flush()
        cli([*argv, "--ledger", ledger_path, "--since", "1d", "--config", str(config_path)])
    print(f"\nledger kept at {ledger_path}" if args.ledger else f"\n(ledger in {ledger_path}; pass --ledger to keep one)")
    return 0
