"""Untagged model calls at run time: the pytest plugin's observer and COSTLINE_UNTAGGED, on the sample apps.

Real SDKs against the fake provider. Each app line marked `untagged` must be reported
once (however often it runs), with its file:line, and no other line ever.
"""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from starlette.testclient import TestClient

import costline
from costline.instrumentation import untagged
from costline.instrumentation.pytest_plugin import TagAudit
from tests.instrumentation.apps import tagging_app, tagging_starlette
from tests.instrumentation.tagging_markers import APPS, marked, where

APP = APPS / "tagging_app.py"
STARLETTE = APPS / "tagging_starlette.py"
REQUIRED = ("feature", "customer_id")


@pytest.fixture
def audit():
    found = TagAudit(REQUIRED)
    yield found
    found.pytest_unconfigure()


@pytest.fixture
def app(fake):
    return tagging_app.App(fake.openai_base_url, fake.base_url)


@pytest.fixture
def both_instrumented(instrument_openai, instrument_anthropic):
    def again() -> None:
        instrument_openai()
        instrument_anthropic()

    return again


def _sites(audit: TagAudit) -> dict[tuple[str, int], object]:
    return {where(f.site.path, f.site.line): f for f in audit.findings.values()}


@pytest.mark.parametrize("instrumented", [False, True], ids=["bare-sdk", "costline-instrumented"])
def test_plugin_reports_each_untagged_site_once(request, audit, app, instrumented):
    if instrumented:
        request.getfixturevalue("both_instrumented")
    audit.test = "t::x"
    tagging_app.run(app, times=2)
    sites = _sites(audit)
    assert set(sites) == marked(APP, "untagged")
    for finding in sites.values():
        assert finding.tests == ["t::x"] and finding.calls == 2
    partly = sites[where(str(APP), _line_of(APP, 'embeddings.create(model="text-embedding-3-small", input="x")'))]
    assert partly.missing == {"customer_id"} and partly.path.endswith("/embeddings")


def test_plugin_sees_the_middleware_tags(audit, fake):
    with TestClient(tagging_starlette.build(fake.openai_base_url)) as client:  # one event loop for all requests
        assert client.post("/ask", headers={"x-feature": "f", "x-customer": "c"}).status_code == 200
        assert audit.findings == {}
        client.post("/ask", headers={"x-feature": "f"})
        client.post("/ask")
    (finding,) = audit.findings.values()
    assert {where(finding.site.path, finding.site.line)} == marked(STARLETTE, "untagged")
    assert finding.missing == {"customer_id", "feature"} and finding.calls == 2


def test_plugin_uninstalls(fake, app):
    found = TagAudit(REQUIRED)
    found.pytest_unconfigure()
    app.chat_untagged()
    assert found.findings == {}


@pytest.fixture
def counted(monkeypatch):
    """COSTLINE_UNTAGGED's counter on a private MeterProvider; warnings forgotten between tests."""
    reader = InMemoryMetricReader()
    counter = MeterProvider(metric_readers=[reader]).get_meter("t").create_counter(untagged.COUNTER)
    monkeypatch.setattr(untagged, "_counter", [counter])
    monkeypatch.setattr(untagged, "_warned", set())

    def points() -> dict[tuple[str, int], int]:
        data = reader.get_metrics_data()
        out: dict[tuple[str, int], int] = {}
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    for p in metric.data.data_points:
                        out[where(p.attributes["code.file.path"], p.attributes["code.line.number"])] = p.value
        return out

    return points


def test_warn_logs_once_per_site_and_counts(monkeypatch, caplog, counted, both_instrumented, app):
    monkeypatch.setenv("COSTLINE_UNTAGGED", "warn")
    both_instrumented()  # the mode is read when the wrappers are made
    with caplog.at_level(logging.WARNING, logger=untagged.__name__):
        tagging_app.run(app, times=2)
    warnings = [r.getMessage() for r in caplog.records if r.name == untagged.__name__]
    expected = marked(APP, "untagged")
    assert len(warnings) == len(expected)
    assert {_site_of(w) for w in warnings} == expected
    assert counted() == {site: 2 for site in expected}


def test_error_raises_before_the_request_is_sent(monkeypatch, counted, both_instrumented, app, fake):
    monkeypatch.setenv("COSTLINE_UNTAGGED", "error")
    monkeypatch.setenv("COSTLINE_REQUIRE_TAGS", "customer_id")
    both_instrumented()
    fake.clear()
    with pytest.raises(costline.UntaggedCallError) as raised:
        app.chat_untagged()
    assert fake.requests == []
    assert where(raised.value.site.path, raised.value.site.line) == where(
        str(APP), _line_of(APP, "def chat_untagged") + 1
    )
    assert raised.value.missing == ("customer_id",)
    app.chat_tagged()
    with costline.attribution(customer_id="acme"):
        app.embed_partly_tagged()  # feature is not required here
    with pytest.raises(costline.UntaggedCallError):
        with app.claude.messages.stream(model="claude-fake-1", max_tokens=8, messages=tagging_app.MESSAGES):
            pass
    assert len(fake.requests) == 2
    assert sum(counted().values()) == 2


def test_ignore_is_the_default_and_unknown_modes_are_ignored(monkeypatch, caplog):
    assert untagged.checker({}) is None
    assert untagged.checker({"COSTLINE_UNTAGGED": "ignore"}) is None
    with caplog.at_level(logging.WARNING):
        assert untagged.checker({"COSTLINE_UNTAGGED": "warning"}) is None
    assert "COSTLINE_UNTAGGED='warning'" in caplog.text
    assert untagged.checker({"COSTLINE_UNTAGGED": "WARN"}) is not None


def _site_of(message: str) -> tuple[str, int]:
    path, line = message.split(" at ", 1)[1].split(":", 2)[:2]
    return where(path, int(line))


def _line_of(path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)
