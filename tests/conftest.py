"""Suite-wide policy: in CI a missing tool is a failure, never a silent skip.

Tests that need Debian's PostgreSQL or Prometheus, or Arize Phoenix, skip on a
developer machine that lacks them (with the install command in the reason). Under
CI=true (.ci/run) `./dev test` has installed them, so such a skip means the set-up
broke: it is reported as a failure.
"""

import os

import pytest

MISSING = "not installed"

# The suite runs costline with the settings each test gives it: a COSTLINE_* variable left
# in the developer's shell (a COSTLINE_GRPC, a COSTLINE_CONFIG) would change what a server
# started by a test listens on or reads, and makes it log the variables it ignores. Tests
# that want one pass it in the child's env. (The harness's own variables are TEST_*.)
for _name in [n for n in os.environ if n.startswith("COSTLINE_")]:
    del os.environ[_name]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI") and MISSING in str(report.longrepr):
        report.outcome = "failed"
        report.longrepr = f"CI must install what this test needs: {report.longrepr}"


# Figures the reliability tests measure (spans sent, received, lost...), shown at the end
# of every run, CI's included, not only under `-s`.
FIGURES: list[str] = []


@pytest.fixture
def figures():
    def report(line: str) -> None:
        FIGURES.append(line.strip())
        print("\n" + line.strip())

    return report


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("figures measured by the tests")
        for line in FIGURES:
            terminalreporter.write_line(line)
