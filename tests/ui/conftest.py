"""The page in a real headless Chromium (Debian's `chromium`, driven by Playwright from PyPI).

`costline ui` runs as a subprocess over a ledger of known calls (ledger_rows.py), with a
bearer token; each test gets a signed-in browser page whose console errors, failed requests
and dialogs are collected and must stay empty. `cli_json` runs `costline report/top/trace
--format json` as a subprocess on the same ledger: the numbers the page must show. Skipped,
saying why, when Chromium or Playwright is missing (./dev test installs both).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from costline_processor.ledger import open_ledger
from tests.ui.ledger_rows import rows

CHROMIUM = os.environ.get("TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "ui-test-token-0123456789"
TRACE_URL = "http://localhost:16686/trace/{trace_id}"
DOCS = Path(__file__).resolve().parents[2] / "docs"
_URL = re.compile(r"costline ui: (http://\S+)")


@pytest.fixture(scope="session")
def ledger(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    path = root / "ledger.db"
    w = open_ledger(str(path), flush_interval_s=0.05)
    w.write(rows())
    w.close(10)
    config = root / "costline.yaml"
    config.write_text(
        "tagging:\n  required: [feature, customer_id]\n  owner: platform-team\n"
        f'ui:\n  trace_url: "{TRACE_URL}"\n'
        "budgets:\n"
        "  - {scope: {feature: search}, period: month, amount_usd: 5}\n"
        '  - {scope: {customer_id: "*"}, period: month, amount_usd: 2.5, name: per customer}\n'
    )
    token = root / "token"
    token.write_text(TOKEN + "\n")
    return {"path": str(path), "config": str(config), "token": str(token)}


def start_ui(argv: list[str]) -> tuple[subprocess.Popen, str]:
    """`costline ui ARGV` on a free port; the process and the page's URL it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "costline_processor.cli", "ui", "--listen", "127.0.0.1:0", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = _URL.search(line)
    if not found:
        proc.kill()
        raise AssertionError(f"costline ui did not start: {line}{proc.stderr.read() if proc.stderr else ''}")
    return proc, found.group(1)


@pytest.fixture(scope="session")
def server(ledger):
    proc, url = start_ui(
        ["--ledger", ledger["path"], "--config", ledger["config"], "--bearer-token-file", ledger["token"]]
    )
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (./dev test installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is missing: pip install 'costline[test]'")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Watched:
    """A signed-in page and what went wrong on it: console errors, page errors, failed requests, dialogs."""

    def __init__(self, page, base: str) -> None:
        self.page, self.base = page, base.rstrip("/")
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", self._failed)
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def open(self, hash_: str, ready: str) -> None:
        """Go to `hash_` and wait until its view is drawn (not a view drawn before: the flag is taken down first)."""
        self.page.evaluate("delete document.body.dataset.ready")
        self.page.goto(f"{self.base}/{hash_}")
        self.wait(ready)

    def _failed(self, request) -> None:
        if request.failure != "net::ERR_ABORTED":  # a request the test's own navigation cut short
            self.problems.append(f"request failed: {request.url} {request.failure}")

    def act(self, action, ready: str) -> None:
        """Do `action` (which moves the page to another view or question) and wait for that view to be drawn."""
        self.page.evaluate("delete document.body.dataset.ready")
        action()
        self.wait(ready)

    def wait(self, ready: str) -> None:
        self.page.wait_for_selector(f"body[data-ready='{ready}']", timeout=20_000)

    def screenshot(self, name: str) -> None:
        DOCS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(DOCS / name), full_page=True)


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True)
    p = context.new_page()
    p.goto(f"{server}login")
    p.fill("input[name=token]", TOKEN)
    p.click("button[type=submit]")
    p.wait_for_url(f"{server}")
    watched = Watched(p, server)
    watched.wait("overview")  # the view the sign-in lands on, drawn: nothing of it is still coming when a test moves on
    yield watched
    context.close()
    assert watched.problems == [], watched.problems
    assert watched.dialogs == [], watched.dialogs


@pytest.fixture
def cli_json(ledger):
    def run(*argv: str):
        r = subprocess.run(
            [sys.executable, "-m", "costline_processor.cli", *argv, "--format", "json", "--ledger", ledger["path"]]
            + (["--config", ledger["config"]] if argv[0] != "trace" else []),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0 or (argv[0] == "budgets" and r.returncode == 1), r.stderr  # 1: a budget is over
        return json.loads(r.stdout)

    return run


def cli_text(ledger, *argv: str, check: bool = True) -> str:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "costline_processor.cli",
            *argv,
            "--ledger",
            ledger["path"],
            "--config",
            ledger["config"],
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 or not check, r.stderr
    return r.stdout
