"""Twelve-factor config: a variable per serve flag, COSTLINE_CONFIG, flag > env > file > default,
unknown COSTLINE_* variables harmless, and JSON log lines."""

import argparse
import json
import logging
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import pytest

from costline_processor.config import Config, ConfigError, ExportTarget
from costline_processor.config_options import Flag, all_flags, option, switch
from costline_processor.config_sources import CONFIG_ENV, apply_env, load_config, unknown_variables
from costline_processor.log_lines import JsonLines
from costline_processor.option_table import render
from costline_processor.process_flags import PROCESS_FLAGS
from tests.fakes.otlp_sink import OtlpSink
from tests.processor.harness import sdk_tracer
from tests.processor.test_config_options import serve_parser

# One row per kind of setting: (flag argv, variable, YAML, field getter, default, file's, env's, flag's value).
KINDS = {
    "text": (
        ["--ledger", "flag.db"],
        ("COSTLINE_LEDGER", "env.db"),
        "ledger: file.db\n",
        lambda c: c.ledger,
        None,
        "file.db",
        "env.db",
        "flag.db",
    ),
    "number": (
        ["--trace-wait", "3"],
        ("COSTLINE_TRACE_WAIT", "2.5"),
        "assembly: {trace_wait_s: 1}\n",
        lambda c: c.assembly.trace_wait_s,
        5.0,
        1.0,
        2.5,
        3.0,
    ),
    "repeatable list": (
        ["--export-grpc", "f:1"],
        ("COSTLINE_EXPORT_GRPC", "e:1, e:2"),
        "export: {targets: [{protocol: grpc, endpoint: 'y:1'}]}\n",
        lambda c: [t.endpoint for t in c.export.targets],
        [],
        ["y:1"],
        ["e:1", "e:2"],
        ["f:1"],
    ),
    "off": (
        ["--grpc", "127.0.0.1:7"],
        ("COSTLINE_GRPC", "off"),
        "receive: {grpc: '0.0.0.0:4317'}\n",
        lambda c: c.receive.grpc,
        "localhost:4317",
        "0.0.0.0:4317",
        None,
        "127.0.0.1:7",
    ),
}


@pytest.mark.parametrize("kind", KINDS)
def test_flag_over_env_over_file_over_default(kind, tmp_path):
    argv, (name, value), yaml, get, default, from_file, from_env, from_flag = KINDS[kind]
    f = tmp_path / "costline.yaml"
    f.write_text(yaml)
    bare = serve_parser().parse_args([])
    assert get(load_config(None, bare, {})) == default
    assert get(load_config(str(f), bare, {})) == from_file
    assert get(load_config(str(f), bare, {name: value})) == from_env
    assert get(load_config(str(f), serve_parser().parse_args(argv), {name: value})) == from_flag
    assert get(load_config(str(f), bare, {name: "  "})) == from_file  # a blank variable is not given


def test_the_off_variable_turns_the_receiver_off_and_the_flag_back_on():
    env = {"COSTLINE_GRPC": "off", "COSTLINE_HTTP": "off"}
    with pytest.raises(ConfigError, match="at least one receiver"):
        load_config(None, serve_parser().parse_args([]), env).validate()
    load_config(None, serve_parser().parse_args(["--http", "127.0.0.1:0"]), env).validate()


def test_a_switch_flag_and_its_variable():
    @dataclass
    class Stage:
        on: bool = field(default=True, metadata=option(Flag("--views on|off", "copy the ids", type=switch)))
        """Whether to."""

    parser = argparse.ArgumentParser()
    parser.add_argument("--views", type=switch)
    for value, expected in [("off", False), ("no", False), ("0", False), ("On", True), ("true", True)]:
        stage = Stage()
        apply_env(stage, {"COSTLINE_VIEWS": value})
        assert stage.on is expected
    with pytest.raises(ConfigError, match=r"COSTLINE_VIEWS must be what --views takes \(on\|off\), not 'maybe'"):
        apply_env(Stage(), {"COSTLINE_VIEWS": "maybe"})
    assert parser.parse_args(["--views", "off"]).views is False


def test_an_export_variable_replaces_the_file_list_and_skips_otel(tmp_path):
    env = {"COSTLINE_EXPORT_HTTP": "http://tempo:4318", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317"}
    cfg = load_config(None, serve_parser().parse_args([]), env)
    assert cfg.export.targets == [ExportTarget("http", "http://tempo:4318")]
    otel_only = load_config(None, serve_parser().parse_args([]), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317"})
    assert [t.endpoint for t in otel_only.export.targets] == ["jaeger:4317"]


def test_a_bad_variable_is_one_sentence_naming_it():
    refusal = r"COSTLINE_TRACE_WAIT must be what --trace-wait takes \(SECONDS\), not 'soon'"
    with pytest.raises(ConfigError, match=refusal):
        load_config(None, None, {"COSTLINE_TRACE_WAIT": "soon"})


def test_costline_config_names_the_file_and_the_flag_wins(tmp_path):
    (tmp_path / "env.yaml").write_text("ledger: from-env-file.db\n")
    (tmp_path / "flag.yaml").write_text("ledger: from-flag-file.db\n")
    env = {CONFIG_ENV: str(tmp_path / "env.yaml")}
    assert load_config(None, None, env).ledger == "from-env-file.db"
    assert load_config(str(tmp_path / "flag.yaml"), None, env).ledger == "from-flag-file.db"
    args = serve_parser().parse_args(["--config", str(tmp_path / "flag.yaml")])
    assert load_config(args.config, args, env).ledger == "from-flag-file.db"
    assert load_config().ledger is None  # no env given: no variable is read


def test_every_serve_flag_has_its_own_variable_on_the_page():
    flags = [*all_flags(Config), *PROCESS_FLAGS]
    names = [f.variable for f in flags]
    assert len(names) == len(set(names)) and all(n.startswith("COSTLINE_") for n in names)
    assert {"COSTLINE_GRPC", "COSTLINE_LEDGER", "COSTLINE_EXPORT_GRPC", "COSTLINE_CONFIG"} <= set(names)
    page = render()
    for flag in flags:
        assert f"`{flag.variable}`" in page
    actions = {a.option_strings[0] for a in serve_parser()._actions if a.option_strings != ["-h", "--help"]}
    assert actions == {f.name for f in flags}  # every flag of serve, none without its variable
    assert PROCESS_FLAGS[0].variable == CONFIG_ENV


def test_process_flags_take_their_variable_as_default():
    from costline_processor.commands import serve

    def parse(argv, env):
        parser = argparse.ArgumentParser()
        serve.register(parser.add_subparsers(), env)
        return parser.parse_args(["serve", *argv])

    env = {"COSTLINE_WORKERS": "3", "COSTLINE_LOG_LEVEL": "debug", "COSTLINE_LOG_FORMAT": "json"}
    args = parse([], env)
    assert (args.workers, args.log_level, args.log_format) == (3, "debug", "json")
    args = parse(["--workers", "2", "--log-format", "text"], env)
    assert (args.workers, args.log_format) == (2, "text")
    args = parse([], {})
    assert (args.workers, args.log_level, args.log_format, args.config) == (1, "INFO", "text", None)
    with pytest.raises(SystemExit):  # argparse's usage error, as for the flag
        parse([], {"COSTLINE_WORKERS": "many"})


def test_unknown_variables_are_named_service_links_and_app_side_ones_are_not():
    env = {
        "COSTLINE_GRCP": "0.0.0.0:4317",  # a typo: named
        "COSTLINE_SERVICE_HOST": "10.0.0.1",  # a Service named costline (enableServiceLinks)
        "COSTLINE_SERVICE_PORT_OTLP_GRPC": "4317",
        "COSTLINE_PORT": "tcp://10.0.0.1:4317",
        "COSTLINE_PORT_4317_TCP_ADDR": "10.0.0.1",
        "COSTLINE_METRICS_SERVICE_HOST": "10.0.0.2",  # a Service named costline-metrics
        "COSTLINE_UNTAGGED": "warn",  # the app side's
        "COSTLINE_REQUIRE_TAGS": "feature",
        "COSTLINE_GRPC": "0.0.0.0:4317",  # serve's
        "PATH": "/bin",
    }
    assert unknown_variables(env) == ["COSTLINE_GRCP"]
    load_config(None, None, env)  # and none of them is an error


def test_json_log_lines_carry_the_fields_and_the_traceback():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("costline.x", logging.ERROR, __file__, 1, "two\nlines %s", ("é",), sys.exc_info())
    line = JsonLines(worker=2).format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "two\nlines é" and parsed["level"] == "ERROR" and parsed["logger"] == "costline.x"
    assert parsed["worker"] == 2 and "RuntimeError: boom" in parsed["exception"] and parsed["time"].endswith("Z")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_configured_by_its_environment_logs_json_lines(tmp_path):
    """A real `costline serve` with no flag at all: every setting from COSTLINE_*, its stderr JSON."""
    port = _free_port()
    (tmp_path / "costline.yaml").write_text("tagging:\n  required: [feature]\n  default: from-the-file\n")
    with OtlpSink() as sink:
        env = {
            "PATH": "/usr/bin:/bin",
            "COSTLINE_CONFIG": str(tmp_path / "costline.yaml"),
            "COSTLINE_GRPC": f"127.0.0.1:{port}",
            "COSTLINE_HTTP": "off",
            "COSTLINE_EXPORT_GRPC": sink.grpc_endpoint,
            "COSTLINE_TRACE_WAIT": "0.2",
            "COSTLINE_LEDGER": str(tmp_path / "ledger.db"),
            "COSTLINE_LOG_FORMAT": "json",
            "COSTLINE_GRCP": "typo",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "costline_processor.cli", "serve"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.1)
            provider = sdk_tracer(f"127.0.0.1:{port}")
            tracer = provider.get_tracer("app")
            with tracer.start_as_current_span("req"):
                tracer.start_span(
                    "chat gpt-4o-mini",
                    attributes={
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": "gpt-4o-mini",
                        "gen_ai.usage.input_tokens": 1000,
                    },
                ).end()
            provider.shutdown()
            deadline = time.monotonic() + 20
            while len(sink.spans()) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        spans = sink.spans()
    assert proc.returncode == 0, err
    (call,) = [s for s in spans if s.name == "chat gpt-4o-mini"]
    assert call.attributes["costline.feature"] == "from-the-file"  # COSTLINE_CONFIG was read
    assert (tmp_path / "ledger.db").exists()
    lines = [json.loads(line) for line in err.splitlines()]  # every line of stderr is one JSON object
    assert lines and all(set(line) >= {"time", "level", "logger", "message"} for line in lines)
    warned = [line for line in lines if "COSTLINE_GRCP" in line["message"]]
    assert len(warned) == 1 and warned[0]["level"] == "WARNING"
    assert any(line["message"].startswith("stopped:") for line in lines)


def test_the_ledger_commands_read_the_same_file_and_variables(tmp_path, monkeypatch):
    from costline_processor.ledger import options, resolve_location

    f = tmp_path / "costline.yaml"
    f.write_text("ledger: file.db\ntagging: {owner: platform}\n")
    monkeypatch.delenv("COSTLINE_LEDGER", raising=False)
    monkeypatch.setenv("COSTLINE_CONFIG", str(f))
    args = argparse.Namespace(config=None, ledger=None)
    config = options.load_config(args)
    assert config.tagging.owner == "platform" and resolve_location(args.ledger, config.ledger) == "file.db"
    monkeypatch.setenv("COSTLINE_LEDGER", "env.db")  # the variable over the file, as for serve
    assert resolve_location(args.ledger, options.load_config(args).ledger) == "env.db"
    assert resolve_location("flag.db", options.load_config(args).ledger) == "flag.db"
