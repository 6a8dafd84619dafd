"""Coverage-guided fuzzing (atheris, libFuzzer) of what a sender controls: short runs in the suite.

Each target in tests/reliability/atheris_targets/ (seeds.py has their seed corpora) runs in its own process for
TEST_FUZZ_S seconds (default 4) from a seed corpus of valid inputs, and must end
without a crash (exit code 0). A crash leaves the input as `crash-*` beside the corpus;
the assertion message has libFuzzer's report. A longer run of one target by hand:

    .venv/bin/python -m tests.reliability.atheris_targets.protobuf_request -max_total_time=600 CORPUS_DIR
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.atheris_targets import seeds

ROOT = Path(__file__).resolve().parents[2]
FUZZ_S = int(os.environ.get("TEST_FUZZ_S", "4"))
TARGETS = ["protobuf_request", "otlp_json", "usage_normalizer"]

WHEELS = sys.platform == "linux" and platform.machine() == "x86_64"  # where PyPI has atheris wheels

try:
    import atheris
except ImportError:
    atheris = None


@pytest.mark.skipif(atheris is None and not WHEELS, reason="atheris has no wheel for this platform")
@pytest.mark.skipif(atheris is None and WHEELS, reason="atheris not installed: .venv/bin/pip install -e '.[test]'")
@pytest.mark.parametrize("target", TARGETS)
def test_coverage_guided_fuzzing_finds_no_crash(target, tmp_path, figures):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, seed in enumerate(getattr(seeds, f"{target}_seeds")()):
        (corpus / f"seed-{i}").write_bytes(seed)
    flags = []
    dictionary = getattr(seeds, f"{target}_dictionary", None)
    if dictionary:
        tokens = tmp_path / "tokens.dict"
        tokens.write_text("".join(f'"{_escape(t)}"\n' for t in dictionary()))
        flags.append(f"-dict={tokens}")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            f"tests.reliability.atheris_targets.{target}",
            f"-max_total_time={FUZZ_S}",
            "-timeout=20",
            "-rss_limit_mb=2048",
            "-print_final_stats=1",
            f"-artifact_prefix={tmp_path}/",
            *flags,
            str(corpus),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=FUZZ_S + 120,
    )
    report = r.stderr[-6000:]
    assert r.returncode == 0, f"{target}: libFuzzer found a crash\n{report}"
    runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", r.stderr)
    coverage = re.findall(r"cov: (\d+)", r.stderr)
    assert runs and int(runs.group(1)) > 100, report
    figures(
        f"atheris {target}: {runs.group(1)} inputs in {FUZZ_S}s, {coverage[-1] if coverage else '?'} edges covered, "
        f"corpus {len(list(corpus.iterdir()))} inputs"
    )


def _escape(token: bytes) -> str:
    """A libFuzzer dictionary entry: printable ASCII as is, the rest (and quote, backslash) as \\xNN."""
    return "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\x{b:02x}" for b in token)
