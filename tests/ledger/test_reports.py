"""Reports checked against sums the test computes from its own data set."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

from costline_processor.cli import main
from costline_processor.ledger import open_ledger, reports
from tests.ledger import dataset
from tests.ledger.dataset import SPEC, TOTAL, cost_where
from tests.ledger.factory import make_row

WINDOW = ["--since", "2026-03-01", "--until", "2026-03-10"]


@pytest.fixture
def filled(ledger_url):
    w = open_ledger(ledger_url, flush_interval_s=0.05)
    w.write(dataset.rows())
    w.close(10)
    return ledger_url


def run_json(capsys, *argv):
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out, parse_float=Decimal)


def test_report_by_feature_json(filled, capsys):
    out = run_json(capsys, "report", "--by", "feature", *WINDOW, "--format", "json", "--ledger", filled)
    by = {r["feature"]: r for r in out}
    assert set(by) == {"chat", "summarize", "search", "untagged"}
    for feature in by:
        want = cost_where(lambda s: (s[2] or "untagged") == feature)
        assert abs(by[feature]["cost_usd"] - want) < Decimal("1e-12")
        assert by[feature]["calls"] == sum(1 for s in SPEC if (s[2] or "untagged") == feature)
        assert abs(by[feature]["share"] - want / TOTAL) < Decimal("1e-12")
    chat_priced = [s for s in SPEC if s[2] == "chat" and s[0]]
    assert by["chat"]["unpriced_calls"] == 1
    assert abs(by["chat"]["avg_cost_usd"] - cost_where(lambda s: s[2] == "chat") / len(chat_priced)) < Decimal("1e-12")
    assert [r["feature"] for r in out][0] == "summarize"  # costliest first
    assert by["chat"]["input_tokens"] == sum(1000 + i for i, s in enumerate(SPEC) if s[2] == "chat")


def test_report_two_dimensions_and_csv_is_exact(filled, capsys):
    assert main(["report", "--by", "customer_id,model", *WINDOW, "--format", "csv", "--ledger", filled]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    got = {(r["customer_id"], r["model"]): Decimal(r["cost_usd"]) for r in rows}
    want = {}
    for s in SPEC:
        k = (s[3] or "untagged", s[5])
        want[k] = want.get(k, Decimal(0)) + (Decimal(s[0]) if s[0] else 0)
    assert got == want


def test_report_by_day_week_month_and_time_window(filled, capsys):
    out = run_json(
        capsys,
        "report",
        "--by",
        "day",
        "--since",
        "2026-03-03",
        "--until",
        "2026-03-05",
        "--format",
        "json",
        "--ledger",
        filled,
    )
    assert [r["day"] for r in out] == ["2026-03-03", "2026-03-04"]
    assert out[0]["cost_usd"] == cost_where(lambda s: s[1].startswith("2026-03-03"))
    weeks = run_json(capsys, "report", "--by", "week", *WINDOW, "--format", "json", "--ledger", filled)
    assert [(w["week"], w["cost_usd"]) for w in weeks] == [
        ("2026-W10", cost_where(lambda s: s[1] < "2026-03-09")),
        ("2026-W11", cost_where(lambda s: s[1] >= "2026-03-09")),
    ]
    months = run_json(capsys, "report", "--by", "month", *WINDOW, "--format", "json", "--ledger", filled)
    assert months == [{**months[0], "month": "2026-03", "cost_usd": TOTAL}]


def test_per_user_and_per_outcome(filled, capsys):
    out = run_json(
        capsys,
        "report",
        "--by",
        "feature",
        *WINDOW,
        "--per-user",
        "--outcome",
        "accepted",
        "--format",
        "json",
        "--ledger",
        filled,
    )
    chat = next(r for r in out if r["feature"] == "chat")
    users = {s[4] for s in SPEC if s[2] == "chat"}
    assert chat["active_users"] == len(users)
    assert abs(chat["cost_per_user"] - cost_where(lambda s: s[2] == "chat") / len(users)) < Decimal("1e-12")
    # chat's accepted outcome sits on a call of the two-call trace: one unit of value
    assert chat["outcomes"] == 1 and abs(chat["cost_per_outcome"] - cost_where(lambda s: s[2] == "chat")) < Decimal(
        "1e-12"
    )
    month = run_json(capsys, "report", "--by", "month", *WINDOW, "--per-user", "--format", "json", "--ledger", filled)[
        0
    ]
    all_users = {s[4] for s in SPEC if s[4]}
    assert month["active_users"] == len(all_users)
    assert abs(month["cost_per_user"] - TOTAL / len(all_users)) < Decimal("1e-12")


def test_compare_with_previous_period(filled, capsys):
    out = run_json(
        capsys,
        "report",
        "--by",
        "feature",
        "--since",
        "2026-03-04",
        "--until",
        "2026-03-06",
        "--compare",
        "--format",
        "json",
        "--ledger",
        filled,
    )
    by = {r["feature"]: r for r in out}
    now = lambda f: cost_where(lambda s: (s[2] or "untagged") == f and "2026-03-04" <= s[1] < "2026-03-06")
    before = lambda f: cost_where(lambda s: (s[2] or "untagged") == f and "2026-03-02" <= s[1] < "2026-03-04")
    for f in ("chat", "summarize", "search", "untagged"):
        assert by[f]["cost_usd"] == now(f) and by[f]["prev_cost_usd"] == before(f)
        assert by[f]["change_usd"] == now(f) - before(f)
    assert abs(
        by["summarize"]["change_pct"] - (Decimal("2.000") - Decimal("1.500")) / Decimal("1.500") * 100
    ) < Decimal("1e-9")
    assert by["untagged"]["change_pct"] is None  # nothing before: no percentage


def test_untagged_bucket_with_owner(filled, capsys, tmp_path):
    cfg = tmp_path / "costline.yaml"
    cfg.write_text("tagging:\n  required: [feature, customer_id]\n  owner: platform-team\n")
    out = run_json(
        capsys, "report", "--untagged", *WINDOW, "--format", "json", "--ledger", filled, "--config", str(cfg)
    )
    assert out["owner"] == "platform-team"
    assert out["cost_usd"] == cost_where(lambda s: not s[2] or not s[3])
    assert out["calls"] == 1 and out["missing"] == {"feature": 1, "customer_id": 1}
    assert main(["report", "--by", "feature", *WINDOW, "--ledger", filled, "--config", str(cfg)]) == 0
    table = capsys.readouterr().out
    assert "owner: platform-team" in table and "summarize" in table


def test_top_customers_and_calls(filled, capsys):
    out = run_json(capsys, "top", "customers", "-n", "2", *WINDOW, "--format", "json", "--ledger", filled)
    costs = {}
    for s in SPEC:
        costs[s[3] or "untagged"] = costs.get(s[3] or "untagged", Decimal(0)) + (Decimal(s[0]) if s[0] else 0)
    want = sorted(costs.items(), key=lambda kv: -kv[1])[:2]
    assert [(r["customer_id"], r["cost_usd"]) for r in out] == want
    calls = run_json(capsys, "top", "calls", "-n", "3", *WINDOW, "--format", "json", "--ledger", filled)
    assert [c["cost_usd"] for c in calls] == sorted((Decimal(s[0]) for s in SPEC if s[0]), reverse=True)[:3]
    feats = run_json(capsys, "top", "features", *WINDOW, "--format", "json", "--ledger", filled)
    assert feats[0]["feature"] == "summarize"


def test_trace_by_agent_step(filled, capsys):
    out = run_json(capsys, "trace", dataset.TRACE, "--format", "json", "--ledger", filled)
    assert out["cost_usd"] == Decimal("0.150") and out["calls"] == 2
    assert [(s["agent"], s["cost_usd"]) for s in out["steps"]] == [
        ("support/answer", Decimal("0.120")),
        ("support/triage", Decimal("0.030")),
    ]
    assert main(["trace", dataset.TRACE, "--ledger", filled]) == 0
    assert "support/answer" in capsys.readouterr().out


def test_errors_are_one_line_and_nonzero(filled, capsys):
    assert main(["trace", "nothex", "--ledger", filled]) == 2
    assert main(["trace", "cd" * 16, "--ledger", filled]) == 2
    assert main(["report", "--since", "yesterday-ish", "--ledger", filled]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("costline: ") for line in err)


def test_table_renders_every_column():
    rows = [make_row("0.5", tags={"feature": "a"}), make_row(None, tags={"feature": "b"})]
    groups, total = reports.aggregate(rows, ["feature"])
    out = reports.report_rows(groups, ["feature"], total)
    buf = io.StringIO()
    from costline_processor.ledger.render import render

    render(out, "table", buf)
    text = buf.getvalue()
    assert "cost_usd" in text and "$0.5000" in text and "100.0%" in text and "0.0%" in text


def test_top_label_values_seed():
    rows = [
        make_row("3", tags={"customer_id": "a"}),
        make_row("1", tags={"customer_id": "b"}),
        make_row("2", tags={"customer_id": "c"}),
    ]
    assert reports.top_label_values(rows, ["customer_id"], 2) == {"customer_id": ["a", "c"]}
