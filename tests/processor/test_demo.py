"""`costline demo` (README's first command) runs end to end and prints the reports."""

import json
import os
import subprocess
import sys


def demo(tmp_path, *args):
    """`costline demo` with its own TMPDIR, which it must leave empty."""
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    r = subprocess.run(
        [sys.executable, "-m", "costline_processor.cli", "demo", "--no-ui", *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    assert list(tmp.iterdir()) == [], "the demo left its temporary folder behind"
    return r


def test_demo_runs_end_to_end(tmp_path):
    ledger = tmp_path / "demo.db"
    r = demo(tmp_path, "--requests", "8", "--ledger", str(ledger))
    assert r.returncode == 0, r.stderr[-3000:]
    # 8 requests cycle through 4 features: search makes 2 calls, support 1, summaries 1, the agent 4
    assert "16 LLM calls priced" in r.stderr, r.stderr[-2000:]
    for title in ("Spend by feature", "Top customers", "Agent steps", "Untagged bucket"):
        assert title in r.stdout
    j = subprocess.run(
        [
            sys.executable,
            "-m",
            "costline_processor.cli",
            "report",
            "--by",
            "agent",
            "--ledger",
            str(ledger),
            "--since",
            "1d",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert j.returncode == 0, j.stderr
    rows = {row["agent"]: row for row in json.loads(j.stdout)}
    assert {"research/plan", "research/search_web", "research/search_wiki", "research/write"} <= set(rows)
    assert all(row["calls"] == 2 for name, row in rows.items() if name.startswith("research/"))


def test_without_ledger_the_demo_keeps_nothing(tmp_path):
    r = demo(tmp_path, "--requests", "2")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Spend by feature" in r.stdout and "pass --ledger PATH to keep one" in r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"]  # no ledger in the working directory either
