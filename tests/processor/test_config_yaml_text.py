"""YAML 1.1 reads a bare off/no/yes as a bool: a text setting given one is an error, never a silent default,
and a quoted "off" means what the flag's `off` means."""

from __future__ import annotations

import subprocess
import sys

import pytest

from costline_processor.config import ConfigError
from costline_processor.config_sources import load_config

COSTLINE = [sys.executable, "-m", "costline_processor.cli"]


@pytest.mark.parametrize(("text", "where"), [("ledger: off\n", "ledger"), ("receive:\n  grpc: no\n", "receive.grpc")])
def test_a_bare_off_is_refused_with_the_quoting_hint(tmp_path, text, where):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"c\.yaml\.{where} must be text, not false: quote it"):
        load_config(str(path))


def test_a_quoted_off_disables_a_receiver_as_the_flag_does(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text('receive:\n  grpc: "off"\nledger: "off"\n')
    config = load_config(str(path))
    assert config.receive.grpc is None and config.ledger == "off"
    config.validate()


def test_a_report_over_a_bare_off_ledger_exits_2_and_writes_no_default_ledger(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("ledger: off\n")
    r = subprocess.run(
        [*COSTLINE, "report", "--config", str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2 and "quote it" in r.stderr
    assert not (tmp_path / "costline-ledger.db").exists()
