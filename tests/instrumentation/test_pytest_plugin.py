"""The pytest plugin (entry point `pytest11: costline`) in a real pytest run, made with `pytester`."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SUITE = """
import openai
import pytest

import costline
from costline_processor.demo.fake_provider import FakeProvider

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def client():
    with FakeProvider() as fake:
        yield openai.OpenAI(base_url=fake.openai_base_url, api_key="k", max_retries=0)


def ask(client):
    return client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # ask


def test_tagged(client):
    with costline.attribution(feature="search", customer_id="acme"):
        ask(client)


def test_untagged(client):
    for _ in range(2):
        ask(client)


def test_partly_tagged(client):
    with costline.attribution(feature="search"):
        client.embeddings.create(model="text-embedding-3-small", input="x")  # embed
"""


def _line(marker: str) -> int:
    """The line of `marker` in test_app.py as written (makepyfile drops the leading newline)."""
    return next(n for n, line in enumerate(SUITE.strip("\n").splitlines(), 1) if line.endswith(marker))


ASK, EMBED = _line("# ask"), _line("# embed")


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("COSTLINE_REQUIRE_TAGS", raising=False)
    pytester.makepyfile(test_app=SUITE)
    return pytester


def test_the_plugin_is_registered_by_its_entry_point(suite):
    result = suite.runpytest("--help")
    result.stdout.fnmatch_lines(["*--costline-require-tags=TAGS*"])


def test_off_unless_enabled(suite):
    result = suite.runpytest("-p", "no:cacheprovider")
    assert result.ret == 0
    result.assert_outcomes(passed=3)
    assert "untagged model calls" not in result.stdout.str()


def test_fails_the_run_listing_each_call_site_once(suite):
    result = suite.runpytest("-p", "no:cacheprovider", "--costline-require-tags", "feature,customer_id")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*costline: untagged model calls*",
            "2 call site(s) made model calls without the required costline tags (feature, customer_id):",
            f"test_app.py:{ASK}: openai /chat/completions missing customer_id, feature (2 calls; test_app.py::test_untagged)",
            f"test_app.py:{EMBED}: openai /embeddings missing customer_id (1 call; test_app.py::test_partly_tagged)",
        ]
    )
    assert out.count(f"test_app.py:{ASK}:") == 1 and "test_tagged" not in out.split("untagged model calls")[1]


def test_enabled_by_the_environment(suite, monkeypatch):
    monkeypatch.setenv("COSTLINE_REQUIRE_TAGS", "feature")
    result = suite.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [f"test_app.py:{ASK}: openai /chat/completions missing feature (2 calls; *test_untagged)"]
    )
    assert f"test_app.py:{EMBED}" not in result.stdout.str()
