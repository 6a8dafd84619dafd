"""config_options: settings declared once on their fields; serve's flags and their copying generated."""

import argparse
from dataclasses import dataclass, field

import pytest

from costline_processor.cli import build_parser
from costline_processor.config import Config, ExportTarget
from costline_processor.config_options import Flag, add_flags, apply_flags, option, settings
from costline_processor.config_sources import load_config, merge_yaml

# Every flag `costline serve` had before its flags were generated, with its metavar.
SERVE_FLAGS = {
    "--grpc": "HOST:PORT",
    "--http": "HOST:PORT",
    "--export-grpc": "HOST:PORT",
    "--export-http": "URL",
    "--trace-wait": "SECONDS",
    "--prices": "FILE",
    "--config": "FILE",
    "--ledger": "PATH|URL",
    "--metrics": "HOST:PORT",
    "--workers": "N",
    "--tls-cert": "PEM",
    "--tls-key": "PEM",
    "--bearer-token-file": "FILE",
    "--queue-dir": "DIR",
    "--log-level": None,
    "--log-format": "text|json",  # added with its variable (issue 21)
    "--backend-user-attributes": "NAMES",  # backends' user and session views (issue 21)
}


def serve_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["serve"]


def test_serve_keeps_every_flag_and_metavar():
    actions = [a for a in serve_parser()._actions if a.option_strings != ["-h", "--help"]]
    assert {a.option_strings[0]: a.metavar for a in actions} == SERVE_FLAGS


def test_every_setting_is_a_yaml_name_the_file_accepts():
    names = [s.name for s in settings(Config)]
    assert len(names) == len(set(names)) and "receive.grpc" in names and "ledger" in names
    for s in settings(Config):
        data: dict = s.default()
        for key in reversed(s.path):
            data = {key: data}
        merge_yaml(Config(), data)  # an unknown or mistyped name would raise


def test_flags_given_win_flags_absent_leave_the_file(tmp_path):
    f = tmp_path / "costline.yaml"
    f.write_text("receive: {http: '0.0.0.0:4318'}\nassembly: {trace_wait_s: 2}\nledger: file.db\n")
    args = serve_parser().parse_args(["--grpc", "off", "--trace-wait", "0", "--prices", ""])
    cfg = load_config(str(f), args)
    assert cfg.receive.grpc is None and cfg.receive.http == "0.0.0.0:4318"  # 'off' disables; absent: the file's
    assert cfg.assembly.trace_wait_s == 0.0  # zero is given, not absent
    assert cfg.pricing.prices_file is None and cfg.ledger == "file.db"  # an empty flag is not given


def test_repeatable_flags_of_one_field_join_in_declaration_order():
    args = serve_parser().parse_args(["--export-http", "http://h:4318", "--export-grpc", "a:1", "--export-grpc", "b:2"])
    cfg = Config()
    apply_flags(cfg, args)
    assert cfg.export.targets == [
        ExportTarget("grpc", "a:1"),
        ExportTarget("grpc", "b:2"),
        ExportTarget("http", "http://h:4318"),
    ]


def test_a_namespace_without_some_flags_is_fine():
    cfg = Config()
    apply_flags(cfg, argparse.Namespace(metrics="127.0.0.1:9464"))
    assert cfg.metrics.listen == "127.0.0.1:9464" and cfg == Config(metrics=cfg.metrics)


def test_the_environment_names_a_target_only_when_nothing_else_does(tmp_path):
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317"}
    assert [t.endpoint for t in load_config(env=env).export.targets] == ["jaeger:4317"]
    args = serve_parser().parse_args(["--export-grpc", "a:1"])
    assert [t.endpoint for t in load_config(args=args, env=env).export.targets] == ["a:1"]
    assert load_config(args=args).export.targets == [ExportTarget("grpc", "a:1")]
    assert load_config().export.targets == []  # no env given (the ledger commands): none read


def test_every_setting_says_what_it_means():
    for s in settings(Config):
        assert len(s.doc) > 10, s.name
    for s in settings(ExportTarget):
        assert len(s.doc) > 5, s.name

    @dataclass
    class Stage:
        documented: int = 1
        """What it means."""
        forgotten: int = 2  # a comment is not a docstring

    documented, forgotten = settings(Stage)
    assert documented.doc == "What it means." and documented.option.flags == ()
    with pytest.raises(TypeError, match=r"Stage\.forgotten has no docstring saying what it means"):
        forgotten.doc  # noqa: B018


def test_a_stage_of_its_own_gets_its_flags():
    @dataclass
    class Stage:
        count: int = field(default=1, metadata=option(Flag("--count N", "how many", type=int)))
        """How many."""

    @dataclass
    class Whole:
        stage: Stage = field(default_factory=Stage)

    parser = argparse.ArgumentParser()
    add_flags(parser, Whole)
    whole = Whole()
    apply_flags(whole, parser.parse_args(["--count", "3"]))
    assert whole.stage.count == 3 and [s.name for s in settings(Whole)] == ["stage.count"]
    assert "--count N" in parser.format_help()
