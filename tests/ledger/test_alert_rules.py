"""The shipped Prometheus alert rules are valid and pass their promtool unit tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

RULES_DIR = Path(__file__).resolve().parents[2] / "dashboards" / "prometheus"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed: apt-get install prometheus")


@needs_promtool
def test_rules_are_valid():
    rules = sorted(str(p) for p in RULES_DIR.glob("*.yml"))
    assert rules
    res = subprocess.run([PROMTOOL, "check", "rules", *rules], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


@needs_promtool
def test_promtool_unit_tests_pass():
    tests = sorted(str(p) for p in (RULES_DIR / "tests").glob("*.test.yml"))
    assert len(tests) >= 2
    res = subprocess.run(
        [PROMTOOL, "test", "rules", *tests], capture_output=True, text=True, cwd=RULES_DIR, timeout=300
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("SUCCESS") == len(tests)


def test_every_field_alert_has_a_rule():
    text = (RULES_DIR / "costline-alerts.yml").read_text()
    for name in (
        "CostlineDailySpendHigh",
        "CostlineCustomerDailySpendHigh",
        "CostlineUserDailySpendHigh",
        "CostlineCostPerCustomerTrendingUp",
        "CostlineFeatureCostOutpacingUsage",
        "CostlineUntaggedSpendShareHigh",
    ):
        assert f"alert: {name}" in text


def test_costline_health_has_rules_on_the_metrics_it_exposes():
    from costline_processor.metrics import _SELF_COUNTERS

    text = (RULES_DIR / "costline-alerts.yml").read_text()
    exposed = {f"costline_{name}_total" for name, _, _ in _SELF_COUNTERS}
    for name, metric in (
        ("CostlineSpansDropped", "costline_spans_dropped_total"),
        ("CostlineThrottlingSenders", "costline_requests_throttled_total"),
        ("CostlineUntrustedTags", "costline_tags_untrusted_total"),
    ):
        assert f"alert: {name}" in text and metric in text and metric in exposed
