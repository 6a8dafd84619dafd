"""Where settings come from: the defaults, the YAML file, the environment, the flags.

`load_config` is the one loader, shared by `costline serve`, the ledger commands and the demo.
Each setting takes the last of these that gives it (twelve-factor: one image, configured by
its environment, a flag still winning for a one-off run):

    Config()  ->  YAML file (--config, else $COSTLINE_CONFIG; unknown keys refused)
              ->  COSTLINE_* variables (one per flag, config_options.Flag.variable)  ->  flags
              ->  OTEL_EXPORTER_OTLP_* (only when nothing named an export target)

A COSTLINE_* variable that names no setting is not an error: the same environment often
holds the app side's variables (COSTLINE_UNTAGGED...) and an orchestrator's (a Kubernetes
Service named costline injects COSTLINE_SERVICE_HOST, COSTLINE_PORT...). `unknown_variables`
names the rest, which `costline serve` warns about once: most likely a misspelt setting
(COSTLINE_GRCP) that would otherwise be silently ignored.

What each setting means, its default and its flag live in config.py; this module only merges.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any

from costline_processor.config import Config, ConfigError, ExportTarget, budgets_from
from costline_processor.config_options import OPTION_KEY, Flag, all_flags, apply_flags, flag_value, settings
from costline_processor.process_flags import PROCESS_FLAGS

CONFIG_ENV = "COSTLINE_CONFIG"  # names the YAML file when --config does not


def targets_from_env(env: Mapping[str, str]) -> list[ExportTarget]:
    """The standard OTEL_EXPORTER_OTLP_* variables, used when no export flag is given."""
    endpoint = _otlp_variable(env, "ENDPOINT")
    if not endpoint:
        return []
    protocol = _otlp_variable(env, "PROTOCOL") or "grpc"
    headers = _parse_headers(_otlp_variable(env, "HEADERS") or "")
    compression = _otlp_variable(env, "COMPRESSION")
    if protocol == "grpc":
        hostport = endpoint.split("://", 1)[-1].rstrip("/")
        insecure = not endpoint.startswith("https")
        return [ExportTarget("grpc", hostport, headers, insecure=insecure, compression=compression)]
    if protocol.startswith("http"):
        return [ExportTarget("http", endpoint, headers, compression=compression)]
    raise ConfigError(f"OTEL_EXPORTER_OTLP_PROTOCOL must be grpc, http/protobuf or http/json, not {protocol!r}")


def _otlp_variable(env: Mapping[str, str], name: str) -> str | None:
    """OTEL_EXPORTER_OTLP_TRACES_<name>, else OTEL_EXPORTER_OTLP_<name>."""
    return env.get(f"OTEL_EXPORTER_OTLP_TRACES_{name}") or env.get(f"OTEL_EXPORTER_OTLP_{name}")


def _parse_headers(raw: str) -> dict[str, str]:
    out = {}
    for part in raw.split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def merge_yaml(config: Any, data: dict[str, Any], where: str = "config") -> None:
    """Apply a YAML mapping onto `config` (a Config, or one of its stages); unknown keys are an
    error, not ignored."""
    for key, value in data.items():
        if key == "export" and isinstance(value, dict) and "targets" in value:
            value = dict(value)
            targets = value.pop("targets") or []
            config.export.targets = [_target(t, f"{where}.export.targets") for t in targets]
        if key == "budgets" and isinstance(config, Config):
            config.budgets = budgets_from(value, f"{where}.budgets")
            continue
        if not hasattr(config, key) or key.startswith("_"):
            raise ConfigError(f"unknown setting {where}.{key}")
        current = getattr(config, key)
        if is_dataclass(current) and isinstance(value, dict):
            merge_yaml(current, value, f"{where}.{key}")
        else:
            if isinstance(value, bool) and _is_text(config, key):
                # YAML 1.1 reads a bare off/no/yes as a bool: `ledger: off` must not silently mean the default file.
                raise ConfigError(f'{where}.{key} must be text, not {str(value).lower()}: quote it ("off")')
            setattr(config, key, _coerce(current, _as_flag_would(config, key, value), f"{where}.{key}"))


def _as_flag_would(config: Any, key: str, value: Any) -> Any:
    """A text value the field's flag converts (`grpc: "off"` disables, as `--grpc off` does)."""
    if not isinstance(value, str):
        return value
    for f in fields(config):
        if f.name == key and (declared := f.metadata.get(OPTION_KEY)):
            for flag in declared.flags:
                if flag.to_field is not None and not flag.repeatable:
                    return flag.to_field(value)
    return value


def _is_text(config: Any, key: str) -> bool:
    """Whether the dataclass field `key` of `config` holds text (its annotation names str, not bool)."""
    for f in fields(config):
        if f.name == key:
            kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            return "str" in kind and "bool" not in kind
    return False


def _target(raw: Any, where: str) -> ExportTarget:
    if not isinstance(raw, dict) or "endpoint" not in raw:
        raise ConfigError(f"{where}: each target needs protocol and endpoint")
    names = {f.name for f in fields(ExportTarget)}
    unknown = set(raw) - names
    if unknown:
        raise ConfigError(f"unknown setting {where}.{sorted(unknown)[0]}")
    return ExportTarget(**{"protocol": "grpc", **raw})


def _coerce(current: Any, value: Any, where: str) -> Any:
    if current is None or value is None:
        return value
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false")
        return value
    if isinstance(current, (int, float)) and not isinstance(current, bool):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number")
        return type(current)(value)
    if isinstance(current, list) and not isinstance(value, list):
        raise ConfigError(f"{where} must be a list")
    if isinstance(current, dict) and not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping")
    return value


def load_yaml_file(path: str) -> dict[str, Any]:
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


def load_config(
    path: str | None = None, args: argparse.Namespace | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """The one loader: the defaults, then the YAML file at `path` (else at $COSTLINE_CONFIG), then
    the COSTLINE_* variables of `env`, then the flags declared in config.py that `args` gives, then
    (when none of them named an export target) the standard OTEL_EXPORTER_OTLP_* variables of `env`.
    Without `env` no variable is read. Not validated: the caller asks `validate()` when it will serve."""
    config = Config()
    path = path or (env or {}).get(CONFIG_ENV, "").strip()
    if path:
        merge_yaml(config, load_yaml_file(path), where=os.path.basename(path))
    if env is not None:
        apply_env(config, env)
    if args is not None:
        apply_flags(config, args)
    if env is not None and not config.export.targets:
        config.export.targets = targets_from_env(env)
    return config


def apply_env(config: Config, env: Mapping[str, str]) -> None:
    """Copy each flag's variable that `env` sets onto its field, as the flag would be: a blank
    variable is not given, a repeatable flag's values are comma-separated."""
    for setting in settings(type(config)):
        given, value = flag_value(setting.option.flags, lambda flag: variable_value(flag, env))
        if given:
            setting.set(config, value)


def variable_value(flag: Flag, env: Mapping[str, str]) -> Any:
    """The flag's variable in `env`, converted as argparse converts the flag (a list when it is
    repeatable); None when not set. A value the flag's type refuses is a ConfigError."""
    raw = env.get(flag.variable, "").strip()
    if not raw:
        return None
    values = [part.strip() for part in raw.split(",") if part.strip()] if flag.repeatable else [raw]
    try:
        converted = [flag.type(value) for value in values] if flag.type else values
    except (ValueError, TypeError, argparse.ArgumentTypeError):
        raise ConfigError(f"{flag.variable} must be what {flag.name} takes ({flag.metavar}), not {raw!r}") from None
    return converted if flag.repeatable else converted[0]


# The variables a Kubernetes Service whose name starts with costline injects (unless the pod
# sets enableServiceLinks: false): COSTLINE_SERVICE_HOST, COSTLINE_PORT_4317_TCP_ADDR...
_SERVICE_LINK = re.compile(
    r"COSTLINE(_\w+?)?_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)"
)


def known_variables() -> frozenset[str]:
    """Every COSTLINE_* variable costline reads: serve's (one per flag) and the app side's."""
    from costline.instrumentation import settings as app_side

    serve = {flag.variable for flag in (*all_flags(Config), *PROCESS_FLAGS)}
    app = {value for value in vars(app_side).values() if isinstance(value, str) and value.startswith("COSTLINE_")}
    return frozenset(serve | app)


def unknown_variables(env: Mapping[str, str]) -> list[str]:
    """The COSTLINE_* variables of `env` that name nothing costline reads, service links aside."""
    known = known_variables()
    return sorted(
        name for name in env if name.startswith("COSTLINE_") and name not in known and not _SERVICE_LINK.fullmatch(name)
    )
