"""End to end against a real OTLP backend: costline exports to Arize Phoenix, costs read back.

Phoenix runs from its own venv (./dev test installs it) so its pins never meet
costline's runtime dependencies. Spans and attributes come back from its REST API.
"""

import math
import os
import shutil
import socket
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from tests.processor.harness import RunningServer, loopback_config, sdk_tracer

pytestmark = pytest.mark.phoenix
ROOT = Path(__file__).resolve().parents[2]


def _phoenix_binary() -> str | None:
    for candidate in (
        os.environ.get("TEST_PHOENIX_BIN"),
        str(ROOT / ".venv-phoenix/bin/phoenix"),
        shutil.which("phoenix"),
    ):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory):
    binary = _phoenix_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("Arize Phoenix is not installed: ./dev test installs it into .venv-phoenix")
        pytest.skip("Arize Phoenix not installed (run ./dev test, which installs it)")
    http_port, grpc_port = _free_port(), _free_port()
    workdir = tmp_path_factory.mktemp("phoenix")
    env = {
        **os.environ,
        "PHOENIX_PORT": str(http_port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_WORKING_DIR": str(workdir),
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
        "PHOENIX_ALLOWED_SANDBOX_PROVIDERS": "NONE",
    }
    log = open(workdir / "phoenix.log", "w")
    proc = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    base = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"phoenix did not start: {(workdir / 'phoenix.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield {"http": base, "grpc": f"127.0.0.1:{grpc_port}"}
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _phoenix_spans(base: str, trace_id: str, n: int) -> dict:
    deadline = time.monotonic() + 30
    while True:
        r = requests.get(
            f"{base}/v1/projects/default/spans/otlpv1", params={"trace_id": trace_id, "limit": 100}, timeout=10
        )
        r.raise_for_status()
        data = r.json()["data"]
        if len(data) >= n or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    out = {}
    for s in data:
        attrs = {}
        for kv in s["attributes"] or []:
            v = kv["value"]
            attrs[kv["key"]] = next(
                (x for x in (v["string_value"], v["double_value"], v["int_value"], v["bool_value"]) if x is not None),
                None,
            )
        out[s["name"]] = attrs
    return out


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_costs_read_back_from_phoenix(phoenix, protocol):
    from costline_processor.config import ExportTarget

    cfg = loopback_config(None, trace_wait=0.2)
    endpoint = phoenix["grpc"] if protocol == "grpc" else phoenix["http"]
    cfg.export.targets = [ExportTarget(protocol, endpoint)]
    with RunningServer(cfg) as srv:
        provider = sdk_tracer(srv.grpc_endpoint, service="support-bot")
        tracer = provider.get_tracer("app")
        with tracer.start_as_current_span(
            "POST /chat", attributes={"costline.feature": "support", "costline.customer_id": "acme"}
        ) as root:
            trace_id = format(root.get_span_context().trace_id, "032x")
            with tracer.start_as_current_span(
                "invoke_agent planner",
                attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"},
            ):
                tracer.start_span(
                    "chat gpt-4o",
                    attributes={
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": "gpt-4o",
                        "gen_ai.usage.input_tokens": 12_000,
                        "gen_ai.usage.cache_read.input_tokens": 2_000,
                        "gen_ai.usage.output_tokens": 800,
                    },
                ).end()
                tracer.start_span(
                    "chat claude-sonnet-4-5",
                    attributes={
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "anthropic",
                        "gen_ai.request.model": "claude-sonnet-4-5",
                        "gen_ai.usage.input_tokens": 5_000,
                        "gen_ai.usage.output_tokens": 1_000,
                    },
                ).end()
        provider.shutdown()
    # published prices, USD per million tokens: gpt-4o 2.50 / 1.25 cached / 10; sonnet 4.5 3 / 15
    gpt = (Decimal(10_000) * Decimal("2.50") + 2_000 * Decimal("1.25") + 800 * 10) / 1_000_000
    claude = (Decimal(5_000) * 3 + 1_000 * 15) / 1_000_000
    spans = _phoenix_spans(phoenix["http"], trace_id, 4)
    assert set(spans) == {"POST /chat", "invoke_agent planner", "chat gpt-4o", "chat claude-sonnet-4-5"}
    assert math.isclose(spans["chat gpt-4o"]["costline.cost.usd"], float(gpt), abs_tol=1e-12)
    assert math.isclose(spans["chat claude-sonnet-4-5"]["costline.cost.usd"], float(claude), abs_tol=1e-12)
    assert spans["chat gpt-4o"]["costline.agent.path"] == "planner"
    assert spans["chat claude-sonnet-4-5"]["costline.customer_id"] == "acme"
    assert math.isclose(spans["POST /chat"]["costline.rollup.cost_usd"], float(gpt + claude), abs_tol=1e-12)
    assert spans["invoke_agent planner"]["costline.rollup.llm_calls"] == 2


def _phoenix_sessions(base: str, session_id: str) -> dict | None:
    """Phoenix's session `session_id` of the default project, as its GraphQL API lists it (None: not listed)."""
    query = """{ projects { edges { node { name sessions(first: 100) { edges { node {
        sessionId userId numTraces traces(first: 10) { edges { node { traceId } } } } } } } } } }"""
    deadline = time.monotonic() + 30
    while True:
        r = requests.post(f"{base}/graphql", json={"query": query}, timeout=10)
        r.raise_for_status()
        body = r.json()
        assert not body.get("errors"), body["errors"]
        for project in body["data"]["projects"]["edges"]:
            for edge in project["node"]["sessions"]["edges"]:
                if edge["node"]["sessionId"] == session_id:
                    return edge["node"]
        if time.monotonic() > deadline:
            return None
        time.sleep(0.5)


def test_phoenix_lists_the_session_and_user_costline_tagged(phoenix):
    """Issue 21 item 3: the app tags the root only (costline.user_id, costline.session_id); Phoenix's
    Sessions view groups by `session.id` and shows a session's `user.id`, both written by costline
    on every span of the trace, beside the costs."""
    from costline_processor.config import ExportTarget

    cfg = loopback_config(None, trace_wait=0.2)
    cfg.export.targets = [ExportTarget("grpc", phoenix["grpc"])]
    session = f"conv-{time.monotonic_ns()}"
    trace_ids = []
    with RunningServer(cfg) as srv:
        provider = sdk_tracer(srv.grpc_endpoint, service="support-bot")
        tracer = provider.get_tracer("app")
        for turn in range(2):  # two turns of one conversation: two traces, one session
            tags = {"costline.user_id": "alice", "costline.session_id": session, "costline.feature": "support"}
            with tracer.start_as_current_span(f"POST /chat {turn}", attributes=tags) as root:
                trace_ids.append(format(root.get_span_context().trace_id, "032x"))
                tracer.start_span(
                    f"chat gpt-4o-mini {turn}",
                    attributes={
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": "gpt-4o-mini",
                        "gen_ai.usage.input_tokens": 10_000,
                        "gen_ai.usage.output_tokens": 1_000,
                    },
                ).end()
        provider.shutdown()
    found = _phoenix_sessions(phoenix["http"], session)
    assert found is not None, f"Phoenix lists no session {session}"
    assert found["userId"] == "alice" and found["numTraces"] == 2
    assert {e["node"]["traceId"] for e in found["traces"]["edges"]} == set(trace_ids)
    # gpt-4o-mini's published prices: $0.15 / $0.60 per million tokens
    call = _phoenix_spans(phoenix["http"], trace_ids[0], 2)["chat gpt-4o-mini 0"]
    assert call["user.id"] == "alice" and call["session.id"] == session
    assert math.isclose(call["costline.cost.usd"], (10_000 * 0.15 + 1_000 * 0.60) / 1e6, abs_tol=1e-12)
