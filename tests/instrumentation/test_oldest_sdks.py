"""costline's instrumentation on the oldest openai and anthropic SDKs it is tested against (oldest_sdks.txt).

Before openai 1.6x, `openai.resources.chat.completions` was a module, not the package costline wrapped
(`...chat.completions.completions`), and `beta.chat.completions.parse` (the structured-output call of those
versions) posted its request itself: on those SDKs no chat call had a span and each was billed $0, silently.
anthropic 0.40 (the lowest costline allows) likewise had `resources.messages` as a module: no call had a span.
The app runs in a child process with .sdk-oldest/ first on its path (./dev test installs it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MISSING
from tests.instrumentation import expected_usage as expect

ROOT = Path(__file__).resolve().parents[2]
APP = Path(__file__).parent / "apps" / "oldest_sdk_calls.py"
W = expect.words("what does the fox say")


@pytest.fixture(scope="module")
def calls() -> dict:
    oldest = os.environ.get("TEST_OLDEST_SDKS") or str(ROOT / ".sdk-oldest")
    if not os.path.isdir(os.path.join(oldest, "openai")):
        pytest.skip(
            f"the oldest SDKs are {MISSING} (./dev test puts tests/instrumentation/oldest_sdks.txt in .sdk-oldest)"
        )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([oldest, str(ROOT)])}
    done = subprocess.run([sys.executable, str(APP)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_old_sdks_are_the_ones_run(calls):
    assert (calls["version"], calls["anthropic_version"]) == ("1.60.0", "0.40.0")


@pytest.mark.parametrize("label", ["create", "stream", "beta_parse", "beta_stream"])
def test_each_chat_call_has_one_span_with_its_usage(calls, label):
    """A chat call on openai 1.60: gpt-4o, 10 + W input (W cached), 6 output."""
    (span,) = calls[label]
    assert span["name"] == "chat gpt-4o"
    assert expect.usage_of(span) == expect.openai_chat(W)


def test_embeddings(calls):
    (span,) = calls["embeddings"]
    assert expect.usage_of(span) == expect.openai_embeddings(W)


@pytest.mark.parametrize("label", ["create", "stream", "helper", "prompt_caching"])
def test_each_anthropic_call_has_one_span_with_its_usage(calls, label):
    """On anthropic 0.40 `resources.messages` was a module and caching a beta of its own: none of these had a span.
    Its `usage.cache_creation` is a plain dict (the SDK predates the 1-hour cache): the 1-hour writes are read."""
    (span,) = calls["anthropic_" + label]
    assert span["name"] == "chat claude-sonnet-4-5"
    assert expect.usage_of(span) == expect.anthropic_messages(W, one_hour=True)
