"""An app that builds its own TracerProvider: `costline.install(provider)` makes spans carry
the tags; without it, one warning naming `costline.install`, however many requests are tagged.

Each case is a fresh process (the global tracer provider can be set once per process).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.instrumentation.launcher import APPS


def run(mode: str) -> dict:
    result = subprocess.run(
        [sys.executable, str(APPS / "hand_built_app.py"), mode], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def installed() -> dict:
    return run("install")


@pytest.fixture(scope="module")
def not_installed() -> dict:
    return run("no-install")


def test_install_is_public_and_lazy():
    code = (
        "import sys, costline; assert 'costline.instrumentation.configurator' not in sys.modules; "
        "from costline.instrumentation.configurator import install; assert costline.install is install"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_with_install_spans_carry_the_tags(installed):
    assert len(installed["spans"]) == 51
    assert installed["spans"][0] == {"costline.customer_id": "c0", "costline.feature": "search"}
    assert installed["spans"][49] == {"costline.customer_id": "c49", "costline.feature": "search"}
    assert installed["spans"][50] == {"costline.feature": "report"}
    assert installed["warnings"] == []


def test_without_install_one_warning_names_the_fix(not_installed):
    assert all(span == {} for span in not_installed["spans"])  # the tags went nowhere ...
    (warning,) = not_installed["warnings"]  # ... and 51 tagged requests said so once
    assert "costline.install(tracer_provider)" in warning
    assert "opentelemetry-instrument" in warning


def test_no_warning_without_an_sdk():
    assert run("no-sdk") == {"spans": [], "warnings": []}
