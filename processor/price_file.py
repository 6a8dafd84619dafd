"""The user price file (`--prices FILE`): negotiated, private and self-hosted prices.

Entries here win over genai-prices. The file is YAML with two optional lists:

    models:                       # override or add a model's prices; first match wins
      - provider: openai          # optional: genai-prices id or the span's provider name
        model: ft:gpt-4o:acme     # the exact model name (case-insensitive), or instead
        # match: {starts_with: "ft:gpt-4o"}   # exactly one of starts_with / contains / equals
        input: 3.75               # USD per million uncached input tokens
        output: 15                # USD per million output tokens (reasoning included)
        cache_read: 1.875         # per million cache-read tokens (absent: billed as input)
        cache_write: 4.5          # per million cache-write tokens (absent: billed as input)
        cache_write_1h: 7.5       # per million 1-hour cache writes (absent: cache_write rate)
        per_call: 0.001           # USD per call, on top of any token price
        per_second: 0.0004        # USD per second of span duration (self-hosted), or
        gpu_hour: 2.49            # USD per GPU-hour x gpus x span duration
        gpus: 4                   # with gpu_hour only; default 1
    discounts:                    # negotiated discount on genai-prices' prices
      - provider: anthropic       # required
        model: claude-sonnet-4-5  # optional (or match:); a model discount beats a provider one
        discount: 0.15            # fraction off, 0 <= discount < 1

Rates absent from a model entry cost nothing, so an entry must name at least one.
A file price applies whatever the call's service tier or batch flag; a discount
applies to genai-prices' price for that tier, never to a file price.
Every problem is a ConfigError naming the file and the entry. Numbers become
Decimal through their text, so 0.1 stays 0.1 (numeric strings such as "4e-4",
which PyYAML does not read as numbers, are accepted).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .config import ConfigError

TOKEN_RATES = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
OTHER_RATES = ("per_call", "per_second", "gpu_hour")
_MODEL_KEYS = frozenset({"provider", "model", "match", "gpus", *TOKEN_RATES, *OTHER_RATES})
_DISCOUNT_KEYS = frozenset({"provider", "model", "match", "discount"})
_MATCH_KINDS = ("equals", "starts_with", "contains")


@dataclass(frozen=True, slots=True)
class ModelMatch:
    """How an entry names its model: kind is equals, starts_with or contains."""

    kind: str
    text: str  # lower-case

    def matches(self, name: str) -> bool:
        name = name.lower()
        if self.kind == "equals":
            return name == self.text
        if self.kind == "starts_with":
            return name.startswith(self.text)
        return self.text in name


@dataclass(frozen=True, slots=True)
class PriceEntry:
    """One `models:` entry; token rates are USD per million tokens, None when absent."""

    index: int
    provider: str | None
    match: ModelMatch
    model: str | None  # the exact name when given, used as the Cost's model id
    input: Decimal | None = None
    output: Decimal | None = None
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None
    per_call: Decimal | None = None
    per_second: Decimal | None = None
    gpu_hour: Decimal | None = None
    gpus: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class Discount:
    index: int
    provider: str
    match: ModelMatch | None  # None: every model of the provider
    fraction: Decimal


@dataclass(frozen=True, slots=True)
class PriceFile:
    path: str
    name: str  # the file's base name, used as the price source
    models: tuple[PriceEntry, ...]
    discounts: tuple[Discount, ...]


def load_price_file(path: str) -> PriceFile:
    """Read and validate the price file at `path`."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"price file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"price file {path} cannot be read: {e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"price file {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"price file {path} must hold a mapping with `models` and/or `discounts`")
    unknown = sorted(str(k) for k in set(data) - {"models", "discounts"})
    if unknown:
        raise ConfigError(f"price file {path} has an unknown top-level key {unknown[0]!r} (use models or discounts)")
    models = tuple(_model(path, i, raw) for i, raw in enumerate(_list(path, data, "models")))
    discounts = tuple(_discount(path, i, raw) for i, raw in enumerate(_list(path, data, "discounts")))
    return PriceFile(path, os.path.basename(path), models, discounts)


def _list(path: str, data: dict, key: str) -> list:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ConfigError(f"price file {path}: `{key}` must be a list of entries")
    return value


def _model(path: str, index: int, raw: Any) -> PriceEntry:
    where = _where(path, "models", index, raw)
    fields = _fields(where, raw, _MODEL_KEYS)
    model, match = _model_name(where, fields, required=True)
    rates = {key: _number(where, key, fields[key]) for key in (*TOKEN_RATES, *OTHER_RATES) if key in fields}
    if not rates:
        raise ConfigError(f"{where} names no price (give input/output, per_call, per_second or gpu_hour)")
    if "per_second" in rates and "gpu_hour" in rates:
        raise ConfigError(f"{where} gives both per_second and gpu_hour; keep one")
    gpus = Decimal(1)
    if "gpus" in fields:
        if "gpu_hour" not in rates:
            raise ConfigError(f"{where} gives gpus without gpu_hour")
        gpus = _number(where, "gpus", fields["gpus"])
        if gpus == 0:
            raise ConfigError(f"{where}: gpus must be more than zero")
    return PriceEntry(index, _provider(where, fields, required=False), match, model, gpus=gpus, **rates)


def _discount(path: str, index: int, raw: Any) -> Discount:
    where = _where(path, "discounts", index, raw)
    fields = _fields(where, raw, _DISCOUNT_KEYS)
    _, match = _model_name(where, fields, required=False)
    if "discount" not in fields:
        raise ConfigError(f"{where} has no `discount` (a fraction such as 0.15)")
    fraction = _number(where, "discount", fields["discount"])
    if fraction >= 1:
        raise ConfigError(f"{where}: discount must be a fraction below 1, not {fields['discount']!r}")
    return Discount(index, _provider(where, fields, required=True), match, fraction)


def _where(path: str, section: str, index: int, raw: Any) -> str:
    label = ""
    if isinstance(raw, dict):
        name = raw.get("model") or raw.get("provider")
        label = f" ({name})" if isinstance(name, str) else ""
    return f"price file {path}: {section}[{index}]{label}"


def _fields(where: str, raw: Any, allowed: frozenset[str]) -> dict:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping")
    unknown = sorted(str(k) for k in set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{where} has an unknown key {unknown[0]!r}")
    return raw


def _model_name(where: str, fields: dict, *, required: bool) -> tuple[str | None, ModelMatch | None]:
    if "model" in fields and "match" in fields:
        raise ConfigError(f"{where} gives both model and match; keep one")
    if "model" in fields:
        name = fields["model"]
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}: model must be a non-empty string")
        return name.strip(), ModelMatch("equals", name.strip().lower())
    if "match" in fields:
        clause = fields["match"]
        if not isinstance(clause, dict) or len(clause) != 1 or next(iter(clause)) not in _MATCH_KINDS:
            raise ConfigError(f"{where}: match must be one of {{starts_with|contains|equals: TEXT}}")
        kind, text = next(iter(clause.items()))
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{where}: match.{kind} must be a non-empty string")
        return None, ModelMatch(kind, text.strip().lower())
    if required:
        raise ConfigError(f"{where} needs a model (or a match)")
    return None, None


def _provider(where: str, fields: dict, *, required: bool) -> str | None:
    value = fields.get("provider")
    if value is None:
        if required:
            raise ConfigError(f"{where} needs a provider")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: provider must be a non-empty string")
    return value.strip().lower()


def _number(where: str, key: str, value: Any) -> Decimal:
    # PyYAML reads `4e-4` (no dot) as a string, so numeric strings are accepted too.
    number = None
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            number = Decimal(str(value).strip())
        except ArithmeticError:
            number = None
    if number is None:
        raise ConfigError(f"{where}: {key} must be a number, not {value!r}")
    if not number.is_finite() or number < 0:
        raise ConfigError(f"{where}: {key} must be zero or more, not {value!r}")
    return number
