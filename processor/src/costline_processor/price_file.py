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
        web_search: 0.01          # USD per web search the provider ran for a call (beside other prices)
        file_search: 0.0025       # USD per file (vector store) search, likewise
        web_search_preview: 0.025 # USD per search by OpenAI's web_search_preview tool, likewise
        per_second: 0.0004        # USD per second of span duration (self-hosted), or
        gpu_hour: 2.49            # USD per GPU-hour x gpus x span duration
        gpus: 4                   # with gpu_hour only; default 1
    discounts:                    # negotiated discount on genai-prices' prices
      - provider: anthropic       # required
        model: claude-sonnet-4-5  # optional (or match:); a model discount beats a provider one
        discount: 0.15            # fraction off, 0 <= discount < 1

Every model entry may also say when it applies and how long prompts are billed:

        from: 2025-09-05T16:00:00Z    # effective from (a date is UTC midnight); absent: always
        until: 2025-09-29             # effective until, exclusive; absent: no end
        tiers:                        # rates for a whole call once its input passes `above` tokens
          - {above: 200000, input: 6, output: 22.5, cache_read: 0.6}
        source: https://...           # where the price is published (required in corrections)
    discounts:
      - provider: anthropic
        discount: 0.15
        via: [aws, google]            # also on Anthropic's models billed by Bedrock and Vertex

Partial entries (pricing.py checks them against genai-prices when the file is
loaded): a component an entry leaves out comes from the list price of the model it
names (for `match:` entries, of the model each span resolves to); for a model
genai-prices does not know, an entry that prices input but not output (or output but
not input), or gives cache_write without cache_write_1h, is refused; cache reads and
writes it leaves out are billed at its input rate.
A file price applies whatever the call's service tier or batch flag (and marks a call in a
non-standard tier tier_unpriced:TIER: pricing.py); a discount
applies to genai-prices' price (and to corrections) for that tier, never to a file price.
Every problem is a ConfigError naming the file, the entry and the key. Numbers become
Decimal through their text, so 0.1 stays 0.1 (numeric strings such as "4e-4",
which PyYAML does not read as numbers, are accepted).

The shipped corrections file (processor/prices/corrections.yaml) has the same format,
`kind="corrections file"`: every entry needs provider, model, from and source; no discounts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from costline_processor.config import ConfigError

TOKEN_RATES = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
OTHER_RATES = ("per_call", "per_second", "gpu_hour")
FEE_RATES = (
    "web_search",
    "file_search",
    "web_search_preview",
)  # a price per unit of something else than the call: never a call's only price
_MODEL_KEYS = frozenset(
    {"provider", "model", "match", "gpus", "from", "until", "tiers", "source", *TOKEN_RATES, *OTHER_RATES, *FEE_RATES}
)
_TIER_KEYS = frozenset({"above", *TOKEN_RATES})
_DISCOUNT_KEYS = frozenset({"provider", "model", "match", "discount", "via"})
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
    web_search: Decimal | None = None
    file_search: Decimal | None = None
    web_search_preview: Decimal | None = None
    per_second: Decimal | None = None
    gpu_hour: Decimal | None = None
    gpus: Decimal = Decimal(1)
    start_ns: int | None = None  # `from`, ns since the epoch; None: always
    end_ns: int | None = None  # `until` (exclusive)
    tiers: tuple[tuple[int, dict], ...] = ()  # (above, {rate key: Decimal}), highest first
    source: str | None = None
    where: str = ""  # "price file F: models[i] (name)", for errors found later

    def active(self, t_ns: int) -> bool:
        return (self.start_ns is None or t_ns >= self.start_ns) and (self.end_ns is None or t_ns < self.end_ns)

    def has(self, key: str) -> bool:
        return getattr(self, key) is not None


@dataclass(frozen=True, slots=True)
class Discount:
    index: int
    provider: str
    match: ModelMatch | None  # None: every model of the provider
    fraction: Decimal
    via: tuple[str, ...] = ()  # resellers whose bills for this provider's models it also covers
    where: str = ""


@dataclass(frozen=True, slots=True)
class PriceFile:
    path: str
    name: str  # the file's base name, used as the price source
    models: tuple[PriceEntry, ...]
    discounts: tuple[Discount, ...]


def load_price_file(path: str, kind: str = "price file") -> PriceFile:
    """Read and validate the price file at `path` (kind "corrections file": the shipped corrections)."""
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
    label = f"{kind} {path}"
    models = tuple(_model(label, i, raw) for i, raw in enumerate(_list(path, data, "models")))
    discounts = tuple(_discount(label, i, raw) for i, raw in enumerate(_list(path, data, "discounts")))
    if kind == "corrections file":
        _check_corrections(path, models, discounts)
    return PriceFile(path, os.path.basename(path), models, discounts)


def _check_corrections(path: str, models: tuple[PriceEntry, ...], discounts: tuple) -> None:
    if discounts:
        raise ConfigError(f"corrections file {path}: discounts belong in your price file, not in corrections")
    for e in models:
        for key, value in (("provider", e.provider), ("model", e.model), ("from", e.start_ns), ("source", e.source)):
            if value is None:
                raise ConfigError(f"{e.where} has no `{key}` (every correction names provider, model, from and source)")


def _list(path: str, data: dict, key: str) -> list:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ConfigError(f"price file {path}: `{key}` must be a list of entries")
    return value


def _model(path: str, index: int, raw: Any) -> PriceEntry:
    where = _where(path, "models", index, raw)
    fields = _fields(where, raw, _MODEL_KEYS)
    model, match = _model_name(where, fields, required=True)
    assert match is not None  # required: no name raised above
    rates = {key: _number(where, key, fields[key]) for key in (*TOKEN_RATES, *OTHER_RATES) if key in fields}
    if not rates:
        raise ConfigError(f"{where} names no price (give input/output, per_call, per_second or gpu_hour)")
    rates.update({key: _number(where, key, fields[key]) for key in FEE_RATES if key in fields})
    if "per_second" in rates and "gpu_hour" in rates:
        raise ConfigError(f"{where} gives both per_second and gpu_hour; keep one")
    gpus = Decimal(1)
    if "gpus" in fields:
        if "gpu_hour" not in rates:
            raise ConfigError(f"{where} gives gpus without gpu_hour")
        gpus = _number(where, "gpus", fields["gpus"])
        if gpus == 0:
            raise ConfigError(f"{where}: gpus must be more than zero")
    start, end = _when(where, fields, "from"), _when(where, fields, "until")
    if start is not None and end is not None and end <= start:
        raise ConfigError(f"{where}: until must be later than from")
    tiers = _tiers(where, fields.get("tiers"), rates)
    source = fields.get("source")
    if source is not None and (not isinstance(source, str) or not source.strip()):
        raise ConfigError(f"{where}: source must be a non-empty string (the page the price is published on)")
    return PriceEntry(
        index,
        _provider(where, fields, required=False),
        match,
        model,
        gpus=gpus,
        start_ns=start,
        end_ns=end,
        tiers=tiers,
        source=source,
        where=where,
        **rates,
    )


def _when(where: str, fields: dict, key: str) -> int | None:
    """`from`/`until` as ns since the epoch: a date is UTC midnight, a naive time is UTC."""
    value = fields.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            value = None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise ConfigError(
            f"{where}: {key} must be a date (2025-09-05) or a time (2025-09-05T16:00:00Z), not {fields[key]!r}"
        )
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp()) * 1_000_000_000 + value.microsecond * 1000


def _tiers(where: str, raw: Any, rates: dict) -> tuple[tuple[int, dict], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: tiers must be a list such as [{{above: 200000, input: 6, output: 22.5}}]")
    tiers = []
    for i, tier in enumerate(raw):
        at = f"{where}: tiers[{i}]"
        fields = _fields(at, tier, _TIER_KEYS)
        above = fields.get("above")
        if isinstance(above, bool) or not isinstance(above, int) or above < 1:
            raise ConfigError(f"{at}: above must be a whole number of input tokens")
        prices = {key: _number(at, key, fields[key]) for key in TOKEN_RATES if key in fields}
        if not prices:
            raise ConfigError(f"{at} names no price (give input, output, cache_read...)")
        missing = sorted(set(prices) - set(rates))
        if missing:
            raise ConfigError(f"{at} prices {missing[0]} above {above} tokens but the entry has no base {missing[0]}")
        tiers.append((above, prices))
    if len({a for a, _ in tiers}) != len(tiers):
        raise ConfigError(f"{where}: two tiers start at the same `above`")
    return tuple(sorted(tiers, key=lambda t: -t[0]))


def _discount(path: str, index: int, raw: Any) -> Discount:
    where = _where(path, "discounts", index, raw)
    fields = _fields(where, raw, _DISCOUNT_KEYS)
    _, match = _model_name(where, fields, required=False)
    if "discount" not in fields:
        raise ConfigError(f"{where} has no `discount` (a fraction such as 0.15)")
    fraction = _number(where, "discount", fields["discount"])
    if fraction >= 1:
        raise ConfigError(f"{where}: discount must be a fraction below 1, not {fields['discount']!r}")
    via = fields.get("via", [])
    if isinstance(via, str):
        via = [via]
    if not isinstance(via, list) or not all(isinstance(v, str) and v.strip() for v in via):
        raise ConfigError(f"{where}: via must be a list of providers, e.g. [aws, google]")
    provider = _provider(where, fields, required=True)
    assert provider is not None  # required: no provider raised above
    return Discount(index, provider, match, fraction, tuple(v.strip().lower() for v in via), where)


def _where(path: str, section: str, index: int, raw: Any) -> str:
    label = ""
    if isinstance(raw, dict):
        name = raw.get("model") or raw.get("provider")
        label = f" ({name})" if isinstance(name, str) else ""
    return f"{path}: {section}[{index}]{label}"


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
