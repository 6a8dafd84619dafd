"""`costline config check FILE`: serve's loader and checks, the effective settings printed, secrets masked."""

import subprocess
import sys

import yaml

from costline_processor import redaction
from costline_processor.cli import main

TOKEN = "s3cr3t-bearer-token-value"


def check(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "costline_processor.cli", "config", "check", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


def test_a_good_file_prints_the_effective_settings_with_secrets_masked(tmp_path):
    token = tmp_path / "token"
    token.write_text(TOKEN)
    f = tmp_path / "costline.yaml"
    f.write_text(
        "ledger: postgresql://costline:hunter2@db:5432/costline\n"
        f"receive: {{bearer_token_file: {token}}}\n"
        "export:\n  targets:\n"
        "    - {protocol: http, endpoint: 'https://user:pw@otlp.example.com', headers: {authorization: Bearer abc,"
        " x-honeycomb-team: key123, x-scope-orgid: tenant}}\n"
    )
    r = check(str(f), env={"COSTLINE_TRACE_WAIT": "2", "COSTLINE_GRCP": "typo"})
    assert r.returncode == 0, r.stderr
    for secret in ("hunter2", TOKEN, "abc", "key123", "tenant", "pw@"):
        assert secret not in r.stdout
    printed = yaml.safe_load(r.stdout)
    assert printed["ledger"] == "postgresql://costline:***@db:5432/costline"
    assert printed["receive"]["bearer_token_file"] == str(token)  # the path, never the contents
    (target,) = printed["export"]["targets"]
    assert target["headers"] == {"authorization": "***", "x-honeycomb-team": "***", "x-scope-orgid": "***"}
    assert target["endpoint"] == "https://user:***@otlp.example.com"
    assert printed["assembly"]["trace_wait_s"] == 2.0  # the environment applied, as serve applies it
    assert "# from the environment: COSTLINE_TRACE_WAIT" in r.stdout
    assert "ignored (no setting has that name): COSTLINE_GRCP" in r.stdout


def test_a_bad_file_is_one_line_and_exit_2(tmp_path):
    f = tmp_path / "costline.yaml"
    for text, fragment in [
        ("assembly:\n  trace_wiat_s: 3\n", "unknown setting costline.yaml.assembly.trace_wiat_s"),
        ("receive: {grpc: nonsense}\n", "--grpc must be HOST:PORT"),
        ("assembly: [1, 2\n", "not valid YAML"),
        ("receive: {bearer_token_file: /no/such/token}\n", "/no/such/token"),
    ]:
        f.write_text(text)
        r = check(str(f))
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and r.stdout == "" and len(lines) == 1 and fragment in lines[0], (text, r.stderr)
    assert check(str(tmp_path / "missing.yaml")).returncode == 2


def test_without_file_it_checks_costline_config(tmp_path, monkeypatch, capsys):
    f = tmp_path / "team.yaml"
    f.write_text("tagging: {default: nobody}\n")
    monkeypatch.setenv("COSTLINE_CONFIG", str(f))
    assert main(["config", "check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# {f}: valid") and yaml.safe_load(out)["tagging"]["default"] == "nobody"


def test_url_passwords_are_masked_wherever_they_are():
    cases = {
        "postgresql://u:pw@h/db": "postgresql://u:***@h/db",
        "postgresql://u:p@ss@h:5/db": "postgresql://u:***@h:5/db",
        "postgresql://h/db?user=u&password=pw&sslmode=require": "postgresql://h/db?user=u&password=***&sslmode=require",
        "postgresql://u@h/db": "postgresql://u@h/db",
        "http://localhost:4318/v1/traces": "http://localhost:4318/v1/traces",
        "ledger.db": "ledger.db",
    }
    for given, shown in cases.items():
        assert redaction.url(given) == shown
