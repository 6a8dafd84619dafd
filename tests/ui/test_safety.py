"""What senders chose is shown as text, and the page answers only whom it should.

A tag value `<img src=x onerror=alert(1)>` renders as those characters (in tables, chart labels,
tag lists) and runs nothing; the CSP forbids inline script and eval; the CSV download is the
CLI's CSV of the same rows (a formula-looking value starts with '); a request without the token
or its session is refused, as is one naming a host other than localhost.
"""

from __future__ import annotations

import csv
import io
import urllib.error
import urllib.request

import pytest

from tests.ui.conftest import TOKEN, cli_text
from tests.ui.ledger_rows import FORMULA, HOSTILE


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def test_a_hostile_tag_value_renders_as_text_and_runs_nothing(page):
    page.page.add_init_script("window.__ran = []; window.alert = (m) => window.__ran.push(String(m));")
    page.page.reload()
    page.act(lambda: page.page.goto(f"{page.base}/#explore?by=customer_id"), "explore")
    cells = page.page.eval_on_selector_all("td[data-column=customer_id]", "tds => tds.map(td => td.textContent)")
    assert HOSTILE in cells
    assert page.page.locator("main img").count() == 0
    page.page.wait_for_selector("#explore-chart[data-drawn='1']")
    ticks = page.page.eval_on_selector_all("#explore-chart .xtick text", "ts => ts.map(t => t.textContent)")
    assert HOSTILE in ticks
    assert page.page.locator("#explore-chart image, #explore-chart img").count() == 0
    page.act(lambda: page.page.goto(f"{page.base}/#traces"), "traces")
    tags = page.page.eval_on_selector_all("td[data-column=tags]", "tds => tds.map(td => td.textContent)")
    assert any(f"customer_id={HOSTILE}" in t for t in tags)
    page.act(lambda: page.page.goto(f"{page.base}/#overview"), "overview")
    customers = page.page.eval_on_selector_all(
        "section[data-loaded='customers'] td[data-column=customer_id]", "tds => tds.map(td => td.textContent)"
    )
    assert HOSTILE in customers
    page.page.wait_for_selector("#customers-chart[data-drawn='1']")
    assert HOSTILE in page.page.eval_on_selector_all("#customers-chart .xtick text", "ts => ts.map(t => t.textContent)")
    assert page.page.locator("main img").count() == 0
    assert page.page.evaluate("window.__ran") == []


def test_every_answer_carries_a_policy_without_inline_script_or_eval(server):
    for path in ("", "api/meta", "static/main.js", "login"):
        _, headers, _ = fetch(server + path, {"Authorization": f"Bearer {TOKEN}"})
        policy = headers["Content-Security-Policy"]
        script = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
        assert script.split() == ["script-src", "'self'"], policy
        assert "unsafe-eval" not in policy and "frame-ancestors 'none'" in policy
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_the_csv_download_is_the_clis_csv_of_the_shown_rows(page, ledger):
    page.open("#explore?by=feature&since=30d&sort=calls", "explore")
    shown = page.page.eval_on_selector_all("thead th", "ths => ths.map(th => th.dataset.column)")
    with page.page.expect_download() as info:
        page.page.click("#csv")
    with open(info.value.path(), encoding="utf-8") as f:
        got = list(csv.DictReader(f))
    assert list(got[0]) == shown
    cli = list(
        csv.DictReader(
            io.StringIO(
                cli_text(ledger, "report", "--by", "feature", "--since", "30d", "--sort", "calls", "--format", "csv")
            )
        )
    )
    assert got == [{c: row[c] for c in shown} for row in cli]
    features = [row["feature"] for row in got]
    assert "'" + FORMULA in features and FORMULA not in features
    table = page.page.eval_on_selector_all("td[data-column=feature]", "tds => tds.map(td => td.textContent)")
    assert table == [f.removeprefix("'") for f in features]


@pytest.mark.parametrize("path", ["", "api/explore?by=feature", "api/trace/" + "a1" * 16, "static/main.js"])
def test_a_request_without_the_token_is_refused(server, path):
    status, _, body = fetch(server + path)
    assert status == 401
    assert "Sign in" in body if not path.startswith("api/") else '"error"' in body
    status, _, _ = fetch(server + path, {"Authorization": "Bearer not-the-token"})
    assert status == 401
    status, _, _ = fetch(server + path, {"Cookie": "costline_session=0123"})
    assert status == 401
    status, _, _ = fetch(server + path, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200


def test_a_wrong_token_at_sign_in_is_refused(server):
    req = urllib.request.Request(server + "login", data=b"token=nope", method="POST")
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("signed in with a wrong token")
    except urllib.error.HTTPError as e:
        assert e.code == 401
        assert "costline_session" not in (e.headers.get("Set-Cookie") or "")


def test_another_host_name_is_refused(server):
    status, _, _ = fetch(server + "api/meta", {"Authorization": f"Bearer {TOKEN}", "Host": "evil.example:80"})
    assert status == 421
