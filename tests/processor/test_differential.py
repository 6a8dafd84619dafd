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
# Issue 15 items 2-3: LedgerRow gained audio_input/output/cache_read_tokens and price_caveat (every row's repr
# changes), and the corpus' gpt-4o `service_tier=priority` call, dated before genai-prices lists priority prices,
# now says `costline.price.caveat=tier_unpriced:priority` (span and row; its cost is unchanged). With caveats
# suppressed and the four fields left out of repr the digest is still the previous one, 3e468712...c88e6.
# Issue 15 item 7: LedgerRow gained list_usd and skus (every row's repr changes; no span attribute, cost or counter
# does): with those two fields left out of repr the digest is still the previous one, 6a3789c7...7aef0.
# Issue 21 item 3: spans carrying costline.user_id / costline.session_id also carry user.id / session.id
# (tagging.backend_user_attributes, on by default), which changes the exported bytes of the corpus' tagged traces
# and nothing else (no row, no counter); with the copies off the digest is still the previous one, OFF_REFERENCE.
# Schema 7: LedgerRow gained tier and cache_write_1h_tokens (every row's repr changes; no span, cost or counter does):
# with those two fields left out of repr both digests are still the previous ones, a3af8fa1...e7f6d and 162aaaf3...bd07.
# Schema 8: LedgerRow gained web_searches and the three image counts (every row's repr changes; the corpus has no
# search and no image, so no span, cost or counter does; audio_cost.py became modality_cost.py): with the four left
# out of repr both digests are still the previous ones, 6f212905...12ba3 and 29935bc9...a608.
# Schema 9: LedgerRow gained file_searches (every row's repr changes; the corpus has no file search, so no span,
# cost or counter does): with it left out of repr both digests are still the previous ones, 2d681054...c2b8 and
# 477e1cc6...f016.
# Schema 10: LedgerRow gained preview_web_searches (every row's repr changes; the corpus has no preview search, so no
# span, cost or counter does): with it left out of repr both digests are still the previous ones, ac3d40ff...83 and
# 98778ac3...15.
REFERENCE = "ef3af4cc68be87b3b5cb871d8d05b42c4e033c9d7f09be225aefe842fc5abcd8"
OFF_REFERENCE = "1c6ff01dd04fa42a5b4fe220718fa3ec15277e206a3352130458bf120c687b91"
PRICES_VERSION = "0.2.3"  # the digest prices the corpus with this genai-prices' data


@pytest.mark.parametrize(
    "args, reference",
    [([], REFERENCE), (["--backend-user-attributes", "off"], OFF_REFERENCE)],
    ids=["default", "backend-user-attributes-off"],
)
def test_corpus_digest_is_the_reference(args, reference):
    genai_prices = pytest.importorskip("genai_prices")
    version = getattr(genai_prices, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("genai-prices")
    if version != PRICES_VERSION:
        pytest.skip(f"reference digest taken with genai-prices {PRICES_VERSION}, {version} is installed")
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/support/differential.py"), "--expect", reference, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
