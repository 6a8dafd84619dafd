"""`costline demo` ends by serving the page over its ledger and printing its address.

The README's screenshot of the Overview is taken here, from the demo's own ledger; Ctrl-C
(SIGINT) stops the page and the demo still leaves its temporary folder empty.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

from tests.ui.conftest import Watched

ADDRESS = re.compile(r"cost explorer: (http://\S+)")


def test_the_demo_ends_by_serving_the_page(tmp_path, browser):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "costline_processor.cli", "demo", "--requests", "24"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    try:
        url = _address(proc)
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        page = Watched(context.new_page(), url)
        page.open("#overview", "overview")
        page.page.wait_for_selector("#series-chart[data-drawn='1']")
        assert page.page.locator(".error").count() == 0
        assert page.problems == []
        page.screenshot("ui-demo-overview.png")
        context.close()
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
    assert code == 0
    assert list(tmp.iterdir()) == [], "the demo left its temporary folder behind"


def _address(proc: subprocess.Popen) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"the demo ended ({proc.wait()}) without serving the page")
        found = ADDRESS.search(line)
        if found:
            return found.group(1)
    raise AssertionError("the demo printed no page address in 240 s")
