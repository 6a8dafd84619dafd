"""Run a Python app the way users do: `opentelemetry-instrument python app.py`, exporting to a sink."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

APPS = Path(__file__).parent / "apps"
BIN = Path(sys.executable).parent
LAUNCHER = str(BIN / "opentelemetry-instrument")


def app_env(sink, service: str, protocol: str = "grpc", **extra: str) -> dict[str, str]:
    """A clean environment: no inherited OTEL_/COSTLINE_ settings, traces over OTLP to `sink`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "COSTLINE_"))}
    endpoint = f"http://{sink.grpc_endpoint}" if protocol == "grpc" else sink.http_endpoint
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        OTEL_SERVICE_NAME=service,
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_BSP_SCHEDULE_DELAY="50",
        # the official openai-v2 is installed in the test environment; choose costline's spans
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="openai",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def command(app: str) -> list[str]:
    return [LAUNCHER, sys.executable, str(APPS / app)]


def run_app(app: str, env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess:
    result = subprocess.run(command(app), env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{app} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def start_app(app: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(command(app), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
