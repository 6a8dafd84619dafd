"""`costline demo`: the whole product in a minute, on this machine.

A fake LLM provider (OpenAI and Anthropic wire formats), `costline serve` with a
SQLite ledger, and an instrumented app run by `opentelemetry-instrument` with the
real SDKs; then the reports finance asks for, and the cost explorer page (`costline ui`)
on the demo's ledger until Ctrl-C (`--no-ui`: stop after the reports).
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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from costline_processor.demo.fake_provider import FakeProvider
    from costline_processor.stats import Stats


def register(sub) -> None:
    p = sub.add_parser(
        "demo", help="run a realistic workload through costline and print the reports", description=__doc__
    )
    p.add_argument("--requests", type=int, default=60, help="app requests to send (default 60)")
    p.add_argument(
        "--ledger", metavar="PATH", help="keep the demo ledger here (default: a temporary file, removed at the end)"
    )
    p.add_argument(
        "--export-grpc", metavar="HOST:PORT", action="append", default=[], help="also export enriched spans here"
    )
    p.add_argument("--no-ui", action="store_true", help="stop after the reports instead of serving the page")
    p.set_defaults(func=run)


def _say(step: int, text: str) -> None:
    print(f"[{step}/4] {text}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """The demo in a temporary folder (its config, and its ledger unless --ledger names one), removed at the end."""
    launcher = _launcher()
    workdir = Path(tempfile.mkdtemp(prefix="costline-demo-"))
    try:
        return _run(args, launcher, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(args: argparse.Namespace, launcher: str, workdir: Path) -> int:
    from costline_processor.demo.fake_provider import FakeProvider

    ledger_path = args.ledger or str(workdir / "ledger.db")
    config_path = workdir / "costline.yaml"  # what a team would pass to serve and the reports alike
    config_path.write_text(
        "tagging:\n  required: [feature, customer_id]\n  default: untagged\n  owner: platform-team\n"
    )

    with FakeProvider() as provider:
        _say(1, f"fake LLM provider (OpenAI + Anthropic wire formats) on {provider.base_url}")
        serving = _Serving(config_path, ledger_path, args.export_grpc)
        endpoint = serving.start()
        _say(2, f"costline serve: OTLP/gRPC on {endpoint}, ledger {ledger_path}")
        cmd = [launcher, sys.executable, "-m", "costline_processor.demo.workload", "--requests", str(args.requests)]
        _say(3, "instrumented app: opentelemetry-instrument python -m costline_processor.demo.workload")
        started = time.monotonic()
        result = subprocess.run(cmd, env=_app_env(endpoint, provider))
        if result.returncode != 0:
            print(f"costline demo: the app exited with {result.returncode}", file=sys.stderr)
            return 1
        stats = serving.drain()
        print(
            f"  costline: {stats.get('spans_received')} spans received, {stats.get('llm_calls', 'priced')} LLM calls "
            f"priced in {time.monotonic() - started:.1f}s",
            file=sys.stderr,
        )

    _say(4, "reports (the same commands work on any ledger: costline report --help)")
    _print_reports(ledger_path, config_path)
    print(
        f"\nledger kept at {ledger_path}"
        if args.ledger
        else "\n(the demo's ledger was temporary: pass --ledger PATH to keep one)"
    )
    if not args.no_ui:
        _serve_page(ledger_path, config_path)
    return 0


def _serve_page(ledger_path: str, config_path: Path) -> None:
    """The cost explorer over the demo's ledger until Ctrl-C (localhost:4390, or a free port when that is taken)."""
    from costline_processor.commands.ui import open_page
    from costline_processor.config import ConfigError
    from costline_processor.config_sources import load_config

    try:
        page = open_page(load_config(str(config_path)), ledger_path, None, None)
    except ConfigError:  # 4390 in use
        page = open_page(load_config(str(config_path)), ledger_path, "localhost:0", None)
    page.serve(lambda url: print(f"\ncost explorer: {url}  (Ctrl-C stops; --no-ui skips it)", flush=True))


def _launcher() -> str:
    """The `opentelemetry-instrument` beside this Python, or a one-line refusal naming the install."""
    from costline_processor.config import ConfigError

    launcher = shutil.which("opentelemetry-instrument") or str(
        Path(sys.executable).with_name("opentelemetry-instrument")
    )
    if not os.path.exists(launcher):
        raise ConfigError(
            "the demo needs opentelemetry-distro, openai and anthropic: pip install 'costline[processor,test]'"
        )
    return launcher


class _Serving:
    """`costline serve` in this process, on its own event-loop thread: loopback gRPC, the demo ledger."""

    def __init__(self, config_path: Path, ledger_path: str, export_grpc: list[str]) -> None:
        import asyncio

        from costline_processor.config import ExportTarget
        from costline_processor.config_sources import load_config
        from costline_processor.ledger import open_ledger
        from costline_processor.server import Server

        self.config = config = load_config(str(config_path))
        config.receive.grpc = "127.0.0.1:0"
        config.receive.http = None
        config.assembly.trace_wait_s = 1.0
        config.export.targets = [ExportTarget("grpc", e) for e in export_grpc]
        ledger = open_ledger(ledger_path, flush_interval_s=0.2)
        self.server = Server(config, sinks=[ledger])
        self.loop = asyncio.new_event_loop()

    def start(self) -> str:
        """Start serving; the OTLP/gRPC endpoint it listens on."""
        import asyncio
        import threading

        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(30)
        assert self.server.grpc is not None  # the config above always asks for gRPC
        return f"127.0.0.1:{self.server.grpc.port}"

    def drain(self) -> Stats:
        """Let the last traces go quiet, drain everything into the ledger, stop; the pipeline's stats."""
        import asyncio

        time.sleep(self.config.assembly.trace_wait_s + 0.5)
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        return self.server.pipeline.stats


def _app_env(endpoint: str, provider: FakeProvider) -> dict[str, str]:
    """The instrumented app's environment: OTLP/gRPC to costline, both SDKs at the fake provider."""
    return {
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


def _print_reports(ledger_path: str, config_path: Path) -> None:
    """The reports finance asks for, each through the CLI as a user would type it."""
    from costline_processor.cli import main as cli

    for title, argv in (
        ("Spend by feature", ["report", "--by", "feature"]),
        ("Top customers", ["top", "customers", "-n", "5"]),
        ("Spend by model and provider", ["report", "--by", "provider,model"]),
        ("Agent steps (research-agent)", ["report", "--by", "agent", "--where", "feature=research-agent"]),
        ("Cost per active user, by plan", ["report", "--by", "plan", "--per-user"]),
        ("Untagged bucket", ["report", "--by", "feature", "--untagged"]),
    ):
        print(f"\n## {title}  (costline {' '.join(argv)})")
        sys.stdout.flush()
        cli([*argv, "--ledger", ledger_path, "--since", "1d", "--config", str(config_path)])
