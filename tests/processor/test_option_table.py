"""docs/configuration.md is the option table generated from config.py, and is current."""

import difflib
from pathlib import Path

import pytest

from costline_processor.config import Config
from costline_processor.config_options import settings
from costline_processor.option_table import COMMAND, PAGE, main, render

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_option_table_is_current():
    committed = (ROOT / PAGE).read_text(encoding="utf-8") if (ROOT / PAGE).is_file() else ""
    generated = render()
    if committed != generated:
        diff = difflib.unified_diff(committed.splitlines(), generated.splitlines(), PAGE, "generated", lineterm="")
        pytest.fail(f"{PAGE} is not current: run `{COMMAND}` from the repository root\n" + "\n".join(list(diff)[:30]))


def test_every_setting_and_flag_has_its_row():
    page = render()
    for s in settings(Config):
        row = next(line for line in page.splitlines() if line.startswith(f"| `{s.name}` |"))
        assert s.doc.replace("|", "\\|") in row
        for flag in s.option.flags:
            assert f"`{flag.name} {flag.metavar.replace('|', chr(92) + '|')}`" in row
    assert "| `export.targets[].endpoint` |  | (required) |" in page
    assert "| `receive.grpc` | `--grpc HOST:PORT` | `localhost:4317` |" in page


def test_check_answers_whether_the_page_is_current(tmp_path, capsys):
    page = tmp_path / "configuration.md"
    assert main([str(page), "--check"]) == 1 and "is not current" in capsys.readouterr().err
    assert main([str(page)]) == 0 and page.read_text() == render()
    assert main([str(page), "--check"]) == 0
