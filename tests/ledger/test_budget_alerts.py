"""`costline alerts` fires on budgets, and `--notify URL` posts one Slack-compatible message per alert to a real
HTTP receiver on loopback that records what it got; a receiver that fails, times out or is not there is one line
on stderr and exit 3."""

from __future__ import annotations

import http.server
import json
import threading
import time
from decimal import Decimal as D

import pytest

from costline_processor.cli import main
from costline_processor.ledger import notify, open_ledger, options
from tests.ledger.budget_data import NOW, ROWS, spent, write
from tests.ledger.conftest import free_port
from tests.ledger.factory import make_row, ts

CONFIG = """
budgets:
  - name: each customer daily
    scope: {customer_id: "*"}
    period: day
    amount_usd: 0.25
    warn_at: [0.3]
  - scope: {feature: search}
    amount_usd: 100
"""


class Receiver:
    """A webhook on 127.0.0.1: records each request (path, headers, JSON body) and answers `status`."""

    def __init__(self, status: int = 200, delay_s: float = 0.0):
        self.got: list[dict] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append({"path": self.path, "type": self.headers["Content-Type"], "body": json.loads(body)})
                time.sleep(delay_s)
                try:
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(b"ok")
                except BrokenPipeError:  # the slow receiver: costline stopped waiting, as it should
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/SECRET"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(**kwargs) -> Receiver:
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def ledger(ledger_url, tmp_path, monkeypatch):
    monkeypatch.setattr(options, "now_ns", lambda: ts(NOW))
    write(ledger_url)
    (tmp_path / "costline.yaml").write_text(CONFIG)
    return ledger_url, str(tmp_path / "costline.yaml")


def alerts(capsys, ledger, *argv) -> tuple[int, dict, str]:
    url, config = ledger
    code = main(["alerts", "--ledger", url, "--config", config, *argv])
    out = capsys.readouterr()
    return code, json.loads(out.out, parse_float=D), out.err


def test_budgets_are_alerts_and_each_is_posted_once(ledger, receiver, capsys):
    r = receiver()
    code, out, err = alerts(capsys, ledger, "--notify", r.url)
    assert code == 1 and err == "" and "budgets" in out["checked"]
    daily = {cu: spent(lambda f, c, cu=cu: c == cu, "2026-03-10") for cu in ("acme", "globex", "initech")}
    # initech $0.30 is over $0.25; acme $0.10 is 40% (warns at 30%); globex $0.02 is 8%: nothing
    want = {
        ("budget_over", "each customer daily: customer_id=initech"): (daily["initech"], D("0.25")),
        ("budget_warning", "each customer daily: customer_id=acme"): (daily["acme"], D("0.25") * D("0.3")),
    }
    got = {(a["alert"], a["subject"]): (a["value"], a["threshold"]) for a in out["alerts"]}
    assert got == want
    assert len(r.got) == len(want)
    for request, alert in zip(r.got, out["alerts"]):
        assert request["path"] == "/services/T000/B000/SECRET" and request["type"] == "application/json"
        assert alert["message"] in request["body"]["text"]
        (block,) = request["body"]["blocks"]
        assert block["type"] == "section" and block["text"]["type"] == "mrkdwn"
        assert alert["subject"] in block["text"]["text"]
    over = next(a for a in out["alerts"] if a["alert"] == "budget_over")["message"]
    assert "$0.30 spent this day" in over and "over its $0.25" in over and "forecast" in over


def test_nothing_fires_nothing_is_posted(ledger, receiver, tmp_path, capsys):
    r = receiver()
    url, _ = ledger
    (tmp_path / "calm.yaml").write_text("budgets: [{scope: {feature: search}, amount_usd: 100}]")
    code, out, _ = alerts(capsys, (url, str(tmp_path / "calm.yaml")), "--notify", r.url)
    assert code == 0 and out["ok"] is True and out["alerts"] == [] and r.got == []


def test_a_sender_chosen_subject_cannot_ping_the_channel(ledger_url, tmp_path, receiver, monkeypatch, capsys):
    monkeypatch.setattr(options, "now_ns", lambda: ts(NOW))
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write([make_row("5", at="2026-03-10T08:00", tags={"customer_id": "<!channel> & co"})])
    w.close(10)
    (tmp_path / "c.yaml").write_text('budgets: [{scope: {customer_id: "*"}, period: day, amount_usd: 1}]')
    r = receiver()
    code, _, _ = alerts(capsys, (ledger_url, str(tmp_path / "c.yaml")), "--notify", r.url)
    assert code == 1
    (request,) = r.got
    for text in (request["body"]["text"], request["body"]["blocks"][0]["text"]["text"]):
        assert "<!channel>" not in text and "&lt;!channel&gt; &amp; co" in text


@pytest.mark.parametrize("status", [500, 404])
def test_a_failing_webhook_is_one_line_and_exit_3(ledger, receiver, capsys, status):
    r = receiver(status=status)
    code, out, err = alerts(capsys, ledger, "--notify", r.url)
    assert code == 3 and len(out["alerts"]) == 2 and len(r.got) == 2
    line = err.strip()
    assert "\n" not in line and "could not post 2 of 2 alert messages to http://127.0.0.1:" in line
    assert f"HTTP {status}" in line and "SECRET" not in line  # the webhook's path is its credential


def test_a_webhook_not_there_or_too_slow_is_one_line_and_exit_3(ledger, receiver, capsys, monkeypatch):
    gone = f"http://127.0.0.1:{free_port()}/hook"
    code, _, err = alerts(capsys, ledger, "--notify", gone)
    assert code == 3 and err.count("\n") == 1 and "could not post 2 of 2" in err and "refused" in err.lower()
    monkeypatch.setattr(notify, "TIMEOUT_S", 0.3)
    slow = receiver(delay_s=2)
    started = time.monotonic()
    code, _, err = alerts(capsys, ledger, "--notify", slow.url)
    assert code == 3 and err.count("\n") == 1 and "timed out" in err
    assert time.monotonic() - started < 1.8  # the second alert is not tried against a webhook that did not answer


def test_a_url_that_is_no_webhook_is_a_usage_error(ledger, capsys):
    url, config = ledger
    assert main(["alerts", "--ledger", url, "--config", config, "--notify", "ftp://example.com/x"]) == 2
    assert "--notify needs an http:// or https:// webhook URL" in capsys.readouterr().err


def test_thresholds_and_budgets_together(ledger, capsys):
    code, out, _ = alerts(capsys, ledger, "--daily-spend", "0.1", "--at", NOW)
    assert code == 1 and out["checked"] == ["daily_spend_usd", "budgets"]
    assert {a["alert"] for a in out["alerts"]} == {"daily_spend", "budget_over", "budget_warning"}


def test_at_a_midnight_the_budgets_are_those_of_the_day_that_ended(ledger, capsys):
    """`--at 2026-03-11` checks the day that ended (as the thresholds do): its daily budgets too. Before, they were
    the new day's, $0 spent at its first instant, so a cron job at midnight never saw a daily budget over: here
    acme ($0.50 on March 10) and initech ($0.30) over $0.25, and nothing fired."""
    code, out, _ = alerts(capsys, ledger, "--at", "2026-03-11")
    day = {
        cu: sum((D(c) for c, at, f, who in ROWS if who == cu and at.startswith("2026-03-10")), D(0))
        for cu in ("acme", "initech")
    }
    assert day == {"acme": D("0.50"), "initech": D("0.30")}
    got = {(a["alert"], a["subject"]): a["value"] for a in out["alerts"]}
    assert code == 1 and got == {
        ("budget_over", "each customer daily: customer_id=acme"): day["acme"],
        ("budget_over", "each customer daily: customer_id=initech"): day["initech"],
    }
    over = next(a for a in out["alerts"] if "acme" in a["subject"])["message"]
    assert "since 2026-03-10T00:00:00Z" in over and "forecast $0.50 by 2026-03-11T00:00:00Z" in over
