"""Print report rows as a table (people), CSV (spreadsheets) or JSON (scripts).

CSV keeps exact decimals; JSON writes numbers (doubles: exact to far below a cent);
the table rounds for reading, money with its sign in front (`-$0.0057`: `money`, which
every command's footer uses too): cells to four decimals, totals to cents, and either with
more when an amount is smaller than that, so a nonzero cost never reads as $0.00
(`amount`). Column names are the row keys in every format. Text cells (tag values,
models: what senders chose) pass through `safe_cells` on the way out: no formula reaches
a spreadsheet, no control character a terminal; numbers are written as they are.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import IO, Any

from costline_processor.ledger.safe_cells import csv_text, terminal_text

FORMATS = ("table", "csv", "json")
_MONEY_SUFFIXES = ("_usd",)


def render(
    rows: list[dict], fmt: str, out: IO[str], columns: list[str] | None = None, footer: Sequence[str] = ()
) -> None:
    columns = columns or (list(rows[0]) if rows else [])
    if fmt == "json":
        json.dump([{c: plain(r.get(c)) for c in columns} for r in rows], out, indent=2)
        out.write("\n")
    elif fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([csv_text(v) if isinstance(v := r.get(c), str) else exact(v) for c in columns])
    else:
        table(rows, columns, out)
        for line in footer:
            out.write(terminal_text(line) + "\n")


def render_object(obj: dict, out: IO[str]) -> None:
    json.dump(plain(obj), out, indent=2)
    out.write("\n")


def plain(v: Any) -> Any:
    """JSON-ready: Decimal -> number, containers recursively."""
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() and abs(v) < 2**53 else float(v)
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [plain(x) for x in v]
    return v


def exact(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, Decimal):  # every digit: normalize() in the default context rounded to 28 of them
        return format(v.normalize(_EVERY_DIGIT), "f") if v else "0"
    return str(v)


_EVERY_DIGIT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


def cell(column: str, v: Any) -> str:
    if v is None:
        return "-"
    if column == "share":
        return f"{v * 100:.1f}%"
    if column.endswith("_pct"):
        return f"{v:+.1f}%"
    if isinstance(v, Decimal) or column.endswith(_MONEY_SUFFIXES) or column.startswith("cost_per"):
        return amount(v, 4)
    if isinstance(v, int):
        return f"{v:,}"
    return terminal_text(str(v))


def money(v: Any, places: int = 4, *, sign: bool = False) -> str:
    """USD for people: the sign before the dollar (`-$0.0057`, never `$-0.0057`); `sign` adds `+` to gains."""
    d = Decimal(v)
    text = f"${abs(d):,.{places}f}"
    if d < 0 and text.strip("$0.,"):  # a negative amount that rounds to zero prints unsigned
        return "-" + text
    return "+" + text if sign and text.strip("$0.,") else text


def amount(v: Any, places: int, *, sign: bool = False) -> str:
    """USD with `places` decimals, or more where that would hide a nonzero amount: then two significant
    digits (`$0.0057`, `$0.00000012`), so no cost that is there ever reads as zero."""
    d = Decimal(v)
    if d and d.is_finite():
        places = min(max(places, 1 - d.adjusted()), 18)
    return money(d, places, sign=sign)


def total_money(v: Any, *, sign: bool = False) -> str:
    """A total for a footer: cents (`$1,234.57`), more decimals only when it is less than that."""
    return amount(v, 2, sign=sign)


def table(rows: list[dict], columns: list[str], out: IO[str]) -> None:
    cells = [[cell(c, r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    numeric = [bool(rows) and not isinstance(rows[0].get(c), str) for c in columns]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    out.write(line([terminal_text(c) for c in columns]) + "\n")
    for row in cells:
        out.write(line(row) + "\n")
    if not rows:
        out.write("(no calls in this window)\n")
