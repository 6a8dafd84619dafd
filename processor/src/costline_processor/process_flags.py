"""`costline serve`'s flags that are not settings: which file, how many processes, which log lines.

They are declared like the settings' flags (config_options.Flag), so each has its variable
too (`--workers` is COSTLINE_WORKERS) and the option table lists them, but they belong to the
process, not to a stage: a config file cannot name itself, and the workers and the log lines
exist before any stage does. commands/serve.py adds them, each variable as the default the
flag overrides.
"""

from __future__ import annotations

from argparse import ArgumentTypeError

from costline_processor.config_options import Flag

LOG_FORMATS = ("text", "json")


def whole_number(value: str) -> int:
    """A count flag's conversion (argparse shows the refusal as a usage error)."""
    try:
        return int(value)
    except ValueError:
        raise ArgumentTypeError(f"a whole number, not {value!r}") from None


PROCESS_FLAGS = (
    Flag("--config FILE", "YAML file with these settings and the tagging contract"),
    Flag(
        "--workers N",
        "serve from N processes sharing the receiver ports (SO_REUSEPORT; default 1). Each process "
        "assembles the traces its connections bring: use when whole traces arrive over one connection",
        type=whole_number,
    ),
    Flag("--log-level", "DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO)"),
    Flag("--log-format text|json", "text lines (default), or one JSON object per line: time, level, logger, message"),
)
# What each is when neither it nor its variable is given (text: argparse converts it by the flag's type).
PROCESS_DEFAULTS = {"--config": None, "--workers": "1", "--log-level": "INFO", "--log-format": "text"}
