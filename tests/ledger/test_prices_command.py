"""`costline prices show|check`: the rate card a model gets, and how a ledger's models were priced."""

from __future__ import annotations

import json

from costline_processor.cli import main
from costline_processor.ledger import open_ledger
from tests.ledger.factory import make_row


def test_show_prints_each_component_with_its_tiers_and_source(capsys):
    assert main(["prices", "show", "claude-sonnet-4-5", "--provider", "anthropic", "--at", "2026-01-01"]) == 0
    out = capsys.readouterr().out
    assert "claude-sonnet-4-5 -> claude-sonnet-4-5 (anthropic) at 2026-01-01T00:00:00Z" in out
    assert "source: genai-prices " in out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.split()}
    assert lines["input"] == ["$3", "$6"] and lines["output"] == ["$15", "$22.5"]  # base, above 200k
    assert lines["cache_write_1h"] == ["$6", "$12"]
    assert "per web search: $0.01" in out  # Anthropic: $10 per 1,000 searches


def test_show_says_when_a_model_has_no_search_price(capsys):
    assert main(["prices", "show", "claude-3-haiku-20240307", "--provider", "anthropic", "--at", "2026-01-01"]) == 0
    assert "per web search: none listed (caveat web_searches_unpriced)" in capsys.readouterr().out


def test_show_names_the_correction_and_its_page(capsys):
    assert main(["prices", "show", "deepseek-reasoner", "--at", "2025-09-10"]) == 0
    out = capsys.readouterr().out
    assert "source: corrections.yaml" in out and "https://api-docs.deepseek.com/quick_start/pricing" in out
    assert "$0.56" in out and "$1.68" in out


def test_show_resolves_routes_and_deployments(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("pricing:\n  deployments: {prod-4o: gpt-4o}\n")
    assert main(["prices", "show", "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0", "--at", "2026-01-01"]) == 0
    assert "(aws)" in capsys.readouterr().out
    assert main(["prices", "show", "prod-4o", "--provider", "azure", "--config", str(config)]) == 0
    assert "-> gpt-4o (azure)" in capsys.readouterr().out


def test_show_of_an_unknown_model_says_why(capsys):
    assert main(["prices", "show", "no-such-model-xyz"]) == 1
    assert "unknown_model" in capsys.readouterr().out


def test_check_lists_models_by_how_they_were_priced(tmp_path, capsys):
    url = str(tmp_path / "ledger.db")
    rows = [
        make_row("0.01", model="gpt-4o", provider="openai"),
        make_row("0.01", model="gpt-4o", provider="openai"),
        make_row("0.02", model="deepseek-chat", provider="deepseek"),
        make_row(None, model="us.anthropic.claude-sonnet-4-5-20250929-v1:0", provider=None, status="unknown_model"),
        make_row(None, model="house-llm", provider="vllm", status="unknown_model"),
    ]
    for r in rows[:2]:
        r.price_source = "genai-prices 0.2.3"
    rows[2].price_source = "corrections.yaml"
    w = open_ledger(url, flush_interval_s=0.05)
    w.write(rows)
    w.close(10)
    assert main(["prices", "check", "--ledger", url, "--format", "json"]) == 0
    got = {(r["model"], r["priced_by"]): r for r in json.loads(capsys.readouterr().out)}
    assert got[("gpt-4o", "rule (genai-prices 0.2.3)")]["calls"] == 2
    assert got[("deepseek-chat", "correction")]["calls"] == 1
    bedrock = got[("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "not priced")]
    assert bedrock["status"] == "unknown_model" and bedrock["now"].startswith("priced by genai-prices")
    assert got[("house-llm", "not priced")]["now"] == "unknown_model"
