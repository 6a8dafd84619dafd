"""Text from spans made safe for spreadsheets and terminals. Pure; used by every report.

Tag values, model names and agent paths come from whoever sends spans, and reports put
them in CSV files (opened in Excel or Sheets) and on terminals. Two rules, applied to
text cells only (numbers are written as numbers, so a credit of -1.50 stays -1.50):

* CSV (OWASP "CSV Injection"): a text cell starting with `=`, `+`, `-`, `@`, tab or
  carriage return gets a leading `'`, so a spreadsheet shows it as text instead of
  evaluating it as a formula.
* Terminal and CSV: control characters (C0, DEL, C1: ESC starts terminal escape
  sequences, `\\x9b` is the one-byte CSI) are shown as visible escapes in the notation
  `--format json` uses (`\\u001b`, `\\r`); tables also escape tab and LF (`\\t`, `\\n`),
  which would break the columns, while CSV keeps them (the csv module quotes a cell
  with LF; it would not quote one with a lone CR, which is therefore escaped).
  Inside FOCUS's Tags column (JSON text) the escape is a valid JSON escape of the same
  character.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CONTROLS = [*range(0x20), 0x7F, *range(0x80, 0xA0)]
_SHORT = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
_TERMINAL = {c: _SHORT.get(c, f"\\u{c:04x}") for c in _CONTROLS}
_CSV = {c: e for c, e in _TERMINAL.items() if c not in (0x09, 0x0A)}


def terminal_text(text: str) -> str:
    """`text` with every control character shown as an escape: nothing reaches the terminal raw."""
    return text.translate(_TERMINAL)


def csv_text(text: str) -> str:
    """A CSV text cell no spreadsheet evaluates and no terminal interprets."""
    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    return text.translate(_CSV)
