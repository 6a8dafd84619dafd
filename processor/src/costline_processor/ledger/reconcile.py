"""Reconciliation: attributed cost per day and model against a provider's cost export.

Accepted CSV exports (detected by their header; extra columns are ignored):

  OpenAI, Usage page > Export > Cost data (or the Costs API flattened), one row per
  day and line item:
      start_time       bucket start: unix seconds, or an ISO date/time (UTC)
      amount_value     cost in amount_currency (must be USD when present)
      line_item        "gpt-4o-2024-08-06, input": the model is the text before the comma
      (a `model` column, if present, is used instead of line_item)
  Anthropic, Console > Cost > Export, one row per day, model and token type:
      usage_date_utc   2026-03-02
      model            display name ("Claude Sonnet 4.5") or API id
      cost_usd         USD
  Any other provider, a plain file:
      date, model, cost_usd [, provider]

Which provider the export bills is read from its format, never guessed: OpenAI's and
Anthropic's layouts name theirs; a plain file names its provider in the `provider`
column (one value) or on the command line (`--provider`). A file whose header fits
more than one layout, or a plain file naming no provider or several, is refused with
one line (`invoice_provider`): comparing it against every provider's calls would
count other providers' spend as unbilled. A `--provider` that contradicts the layout
is refused too.

Models are compared by a key that ignores case, spaces, dots and a date suffix, so
"Claude Sonnet 4.5" meets "claude-sonnet-4-5-20250929" and "gpt-4o-2024-08-06" meets
"gpt-4o". Line items that are not model tokens (web search, storage) appear as
invoice-only rows: the gap they leave is real spend the ledger does not see.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from costline_processor.config import ConfigError
from costline_processor.ledger.periods import DAY_NS, NS, bucket
from costline_processor.records import LedgerRow

ZERO = Decimal(0)
_DATE_SUFFIX = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class InvoiceLine:
    day: str  # YYYY-MM-DD, UTC
    model: str  # comparison key
    cost_usd: Decimal


@dataclass(frozen=True)
class Invoice:
    provider: str | None  # "openai", "anthropic", or None for a plain file without one provider
    lines: list[InvoiceLine]
    named: list[str] = field(default_factory=list)  # a plain file's provider column values, when several


def invoice_provider(invoice: Invoice, asked: str | None, where: str = "invoice") -> str:
    """The one provider whose calls the invoice bills: the export's own, else `--provider`; or a one-line refusal."""
    asked = (asked or "").strip().lower() or None
    if invoice.provider and asked and asked != invoice.provider:
        raise ConfigError(f"{where} is {invoice.provider}'s cost export; --provider {asked} contradicts it")
    if invoice.provider:
        return invoice.provider
    if asked:
        return asked
    several = (
        f"names {len(invoice.named)} providers ({', '.join(invoice.named)})" if invoice.named else "names no provider"
    )
    raise ConfigError(f"{where} {several}: reconcile compares one provider's bill; pass --provider NAME")


def model_key(name: str | None) -> str:
    if not name:
        return "unknown"
    key = re.sub(r"[\s._]+", "-", name.strip().lower())
    key = key.removesuffix("-latest")
    key = _DATE_SUFFIX.sub("", key)
    return re.sub(r"-+", "-", key).strip("-") or "unknown"


def _layouts(header: set[str]) -> list[str]:
    """The export layouts `header` fits: "openai", "anthropic", "plain"."""
    fits = []
    if {"amount_value", "start_time"} <= header and header & {"line_item", "model"}:
        fits.append("openai")
    if {"usage_date_utc", "model", "cost_usd"} <= header:
        fits.append("anthropic")
    if {"date", "model", "cost_usd"} <= header:
        fits.append("plain")
    return fits


def parse_invoice(text: str, where: str = "invoice") -> Invoice:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = {h.strip().lower() for h in (reader.fieldnames or []) if h}
    rows = [{(k or "").strip().lower(): (v or "").strip() for k, v in r.items()} for r in reader]
    rows = [r for r in rows if any(r.values())]
    layouts = _layouts(header)
    if len(layouts) > 1:
        raise ConfigError(
            f"{where}: ambiguous cost export: its header fits {' and '.join(layouts)} layouts; "
            f"remove the other layout's columns"
        )
    if layouts == ["openai"]:
        return Invoice("openai", [_openai_line(r, where, i) for i, r in enumerate(rows, 2)])
    if layouts == ["anthropic"]:
        return Invoice(
            "anthropic",
            [_line(r["usage_date_utc"], r["model"], r["cost_usd"], where, i) for i, r in enumerate(rows, 2)],
        )
    if layouts == ["plain"]:
        providers = {r.get("provider", "").lower() for r in rows} - {""}
        provider = providers.pop() if len(providers) == 1 else None
        return Invoice(
            provider,
            [_line(r["date"], r["model"], r["cost_usd"], where, i) for i, r in enumerate(rows, 2)],
            sorted(providers),
        )
    raise ConfigError(
        f"{where}: not a cost export I know; need OpenAI's start_time/amount_value/line_item, Anthropic's "
        f"usage_date_utc/model/cost_usd, or date/model/cost_usd "
        f"(got: {', '.join(reader.fieldnames or []) or 'no header'})"
    )


def _openai_line(r: dict, where: str, lineno: int) -> InvoiceLine:
    currency = r.get("amount_currency", "usd").lower() or "usd"
    if currency != "usd":
        raise ConfigError(f"{where} line {lineno}: amount_currency is {currency!r}; only USD is supported")
    model = r.get("model") or r.get("line_item", "").split(",")[0]
    return _line(r["start_time"], model, r["amount_value"], where, lineno)


def _line(when: str, model: str, cost: str, where: str, lineno: int) -> InvoiceLine:
    try:
        amount = Decimal(cost or "0")
    except InvalidOperation:
        raise ConfigError(f"{where} line {lineno}: cost {cost!r} is not a number") from None
    return InvoiceLine(_day(when, where, lineno), model_key(model), amount)


def _day(when: str, where: str, lineno: int) -> str:
    try:
        if re.fullmatch(r"\d{9,11}(\.\d+)?", when):
            return bucket(int(Decimal(when)) * NS, "day")
        dt = datetime.fromisoformat(when.replace("Z", "+00:00").replace(" UTC", ""))
    except (ValueError, InvalidOperation):
        raise ConfigError(f"{where} line {lineno}: {when!r} is not a date") from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%d")


def window(invoice: Invoice) -> tuple[int, int]:
    """The UTC days the invoice covers, as [start, end) nanoseconds."""
    if not invoice.lines:
        raise ConfigError("the invoice has no rows")
    days = sorted({line.day for line in invoice.lines})
    start = int(datetime.fromisoformat(days[0]).replace(tzinfo=UTC).timestamp()) * NS
    end = int(datetime.fromisoformat(days[-1]).replace(tzinfo=UTC).timestamp()) * NS + DAY_NS
    return start, end


def compare(invoice: Invoice, rows: Iterable[LedgerRow], by: list[str], provider: str | None) -> list[dict]:
    """One row per (day and/or model): invoice, attributed, gap (attributed - invoice)."""
    groups: dict[tuple, dict] = {}

    def group(day: str, model: str) -> dict:
        k = tuple({"day": day, "model": model}[d] for d in by)
        return groups.setdefault(
            k, {**dict(zip(by, k)), "invoice_usd": ZERO, "attributed_usd": ZERO, "calls": 0, "unpriced_calls": 0}
        )

    for line in invoice.lines:
        group(line.day, line.model)["invoice_usd"] += line.cost_usd
    for r in rows:
        if provider and (r.provider or "").lower() != provider:
            continue
        g = group(bucket(r.start_unix_nano, "day"), model_key(r.model or r.request_model))
        g["calls"] += 1
        if r.cost_usd is None:
            g["unpriced_calls"] += 1
        else:
            g["attributed_usd"] += r.cost_usd
    out = []
    for g in groups.values():
        g["gap_usd"] = g["attributed_usd"] - g["invoice_usd"]
        g["gap_pct"] = g["gap_usd"] * 100 / g["invoice_usd"] if g["invoice_usd"] else None
        out.append(g)
    out.sort(key=lambda g: tuple(g[d] for d in by))
    return out


def totals(rows: list[dict]) -> dict:
    inv = sum((r["invoice_usd"] for r in rows), ZERO)
    att = sum((r["attributed_usd"] for r in rows), ZERO)
    return {
        "invoice_usd": inv,
        "attributed_usd": att,
        "gap_usd": att - inv,
        "gap_pct": (att - inv) * 100 / inv if inv else None,
        "calls": sum(r["calls"] for r in rows),
        "unpriced_calls": sum(r["unpriced_calls"] for r in rows),
    }
