"""The differential corpus (benchmarks/support/differential.py) hashes to its reference digest.

Every exported byte, ledger row and counter of a fixed corpus through the pipeline: a change
meant to be only faster leaves it identical; a change of behaviour updates REFERENCE here and
says why in benchmarks/NOTES.md. Run in a child process: the script seeds os.urandom.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Session 5: twins (duplicate_call), orphans' root tags, and a twins case in the corpus.
REFERENCE = "3e468712e57fff592b9e5b3748d226a5b6a20f76b85b25258e2d6f6cd48c88e6"
PRICES_VERSION = "0.2.3"  # the digest prices the corpus with this genai-prices' data


def test_corpus_digest_is_the_reference():
    genai_prices = pytest.importorskip("genai_prices")
    version = getattr(genai_prices, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("genai-prices")
    if version != PRICES_VERSION:
        pytest.skip(f"reference digest taken with genai-prices {PRICES_VERSION}, {version} is installed")
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks/support/differential.py"), "--expect", REFERENCE],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
