"""pytest plugin: fail the run when a model call made during the tests lacks a required costline tag.

    pytest --costline-require-tags feature,customer_id      # or COSTLINE_REQUIRE_TAGS=feature,customer_id

Registered through the `pytest11` entry point `costline`, so installing costline makes it
available everywhere; it does nothing (imports nothing beyond this module) unless one of
the two is set. Disable it outright with `-p no:costline`.

When enabled it observes every model request the openai and anthropic SDKs send in the
test process (`sdk_requests`: below any instrumentation, costline's on or off) and reads
the costline tags of the caller's context, exactly as the spans would get them. A call
lacking a required tag is recorded under its call site, the app's file:line (`call_sites`),
with the tests that made it (the running test's node id; calls made outside a test, e.g.
during collection, are listed as such). At the end the terminal summary has a section
"costline: untagged model calls", one line per call site, and a run that would have
passed exits with code 1 (tests failed).

Limits: only the test process is observed, not subprocesses the tests start; under
pytest-xdist the findings stay in the workers (run this check without `-n`); a call site
the tests never reach is not seen (`costline lint` is the static complement).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

ENV = "COSTLINE_REQUIRE_TAGS"
OUTSIDE = "(outside any test)"
_MAX_TESTS_SHOWN = 3


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("costline", "costline tagging discipline")
    group.addoption(
        "--costline-require-tags",
        metavar="TAGS",
        default=None,
        help="fail the run if a model call made through the openai or anthropic SDK lacks one of "
        f"these costline tags (comma-separated; default: ${ENV}, else off)",
    )


def pytest_configure(config: pytest.Config) -> None:
    raw = config.getoption("costline_require_tags") or os.environ.get(ENV, "")
    required = tuple(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))
    if required:
        config.pluginmanager.register(TagAudit(required), "costline-tag-audit")


@dataclass
class Finding:
    """The untagged calls from one call site."""

    site: Any  # call_sites.CallSite
    sdk: str
    path: str
    missing: set[str] = field(default_factory=set)
    calls: int = 0
    tests: list[str] = field(default_factory=list)

    def line(self) -> str:
        shown = ", ".join(self.tests[:_MAX_TESTS_SHOWN])
        more = len(self.tests) - _MAX_TESTS_SHOWN
        tests = shown + (f" and {more} more" if more > 0 else "")
        calls = f"{self.calls} call{'s' if self.calls != 1 else ''}"
        return f"{self.site}: {self.sdk} {self.path} missing {', '.join(sorted(self.missing))} ({calls}; {tests})"


class TagAudit:
    """The enabled plugin: observes the SDKs, records untagged calls, reports and fails the run."""

    def __init__(self, required: tuple[str, ...]) -> None:
        from opentelemetry import baggage

        from costline.instrumentation import sdk_requests
        from costline.instrumentation.attribution import baggage_key
        from costline.instrumentation.call_sites import call_site

        self.required = required
        self._keys = tuple((tag, baggage_key(tag)) for tag in required)
        self._tags, self._call_site = baggage.get_all, call_site
        self.findings: dict[Any, Finding] = {}
        self.test = OUTSIDE
        self._lock = threading.Lock()
        self._uninstall = sdk_requests.install(self.observe)

    def observe(self, sdk: str, path: str) -> None:
        entries = self._tags()
        missing = [tag for tag, key in self._keys if key not in entries]
        if not missing:
            return
        site, test = self._call_site(2), self.test
        with self._lock:
            finding = self.findings.setdefault(site, Finding(site, sdk, path))
            finding.missing.update(missing)
            finding.calls += 1
            if test not in finding.tests:
                finding.tests.append(test)

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.test = nodeid

    def pytest_runtest_logfinish(self) -> None:
        self.test = OUTSIDE

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.findings and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.findings:
            return
        terminalreporter.section("costline: untagged model calls", red=True)
        terminalreporter.write_line(
            f"{len(self.findings)} call site(s) made model calls without the required "
            f"costline tags ({', '.join(self.required)}):"
        )
        for finding in self.findings.values():
            terminalreporter.write_line(finding.line())

    def pytest_unconfigure(self) -> None:
        self._uninstall()
