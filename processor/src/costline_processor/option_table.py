"""The option table of docs/configuration.md, generated from the declarations in config.py.

One table per stage: each setting's YAML name, its flag, its default and what it means,
all read from the fields (config_options.py), so the page cannot say something the code
does not do. A test (tests/processor/test_option_table.py) regenerates the page in memory
and fails when the committed one differs; to rewrite it, from the repository root:

    python -m costline_processor.option_table            # writes docs/configuration.md
    python -m costline_processor.option_table --check    # exit 1 when it is not current
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from dataclasses import MISSING
from pathlib import Path
from typing import Any

from costline_processor.config import Config
from costline_processor.config_options import Setting, settings, stages
from costline_processor.process_flags import PROCESS_FLAGS

PAGE = "docs/configuration.md"
COMMAND = "python -m costline_processor.option_table"

_INTRO = f"""\
# Configuration

<!-- Generated from processor/src/costline_processor/config.py by `{COMMAND}`.
     Edit the fields there, not this page: a test fails when the two differ. -->

`costline serve` takes each setting from the last of these that gives it:

1. the default below;
2. the YAML file named by `--config`, else by `$COSTLINE_CONFIG` (one block per stage, as the
   names below are dotted; unknown keys are refused);
3. the setting's environment variable (last column): a flag's value as text, a repeatable
   flag's values comma-separated (`COSTLINE_EXPORT_GRPC=tempo:4317,jaeger:4317`), `off` where
   the flag takes `off`; a blank variable is not given;
4. the flag.

When none of them names an export target, the standard `OTEL_EXPORTER_OTLP_*` variables do
(endpoint, protocol, headers, compression). The ledger commands (`costline report`, `top`,
`alerts`...) read the same file and variables, for the tagging contract and the ledger.
`costline config check [FILE]` prints the settings a file and the environment give, secrets
masked. A `COSTLINE_*` variable that names nothing costline reads (service links and the app
side's variables aside) is logged once at start and otherwise ignored.
"""

_HEADER = "| Setting | Flag | Default | Meaning | Variable |\n|---|---|---|---|---|"


def render(config_class: type = Config) -> str:
    """The whole page, as docs/configuration.md holds it."""
    parts = [_INTRO, _process_section()]
    for path, cls in stages(config_class):
        own = [s for s in settings(config_class) if s.path[:-1] == path]
        if not own:
            continue
        parts.append(_section(".".join(path) or "Top level", cls, own))
        for setting in own:
            items = setting.option.items  # a list of mappings (export.targets): its fields below the stage
            if items:
                item_path = (*setting.path[:-1], f"{setting.path[-1]}[]")
                parts.append(_section(".".join(item_path), items, list(settings(items, item_path)), level=3))
    return "\n".join(parts)


def _section(title: str, cls: type, own: list[Setting], level: int = 2) -> str:
    rows = [_row(s) for s in own]
    return f"{'#' * level} {title}\n\n{inspect.cleandoc(cls.__doc__ or '')}\n\n{_HEADER}\n" + "\n".join(rows) + "\n"


def _row(setting: Setting) -> str:
    flags = ", ".join(
        f"`{f.name} {f.metavar}`" + (" (repeatable)" if f.repeatable else "") for f in setting.option.flags
    )
    variables = ", ".join(f"`{f.variable}`" for f in setting.option.flags)
    return _cells([f"`{setting.name}`", flags, _default(setting.default()), setting.doc, variables])


def _cells(cells: list[str]) -> str:
    """A table row, the cells' own bars escaped."""
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _process_section() -> str:
    """serve's flags that are not settings (process_flags.py), with their variables."""
    rows = [_cells([f"`{' '.join(f.spec.split())}`", f"`{f.variable}`", f.help]) for f in PROCESS_FLAGS]
    return (
        "## Process\n\n`costline serve`'s flags that are not settings: they name the file and shape the process.\n\n"
        "| Flag | Variable | Meaning |\n|---|---|---|\n" + "\n".join(rows) + "\n"
    )


def _default(value: Any) -> str:
    """A default as it would be written in the YAML file."""
    if value is MISSING:
        return "(required)"
    text = json.dumps(value) if not isinstance(value, str) else value
    if isinstance(value, int) and not isinstance(value, bool):
        for shift, unit in ((30, "GiB"), (20, "MiB")):
            if value >= 1 << shift and value % (1 << shift) == 0:
                return f"`{text}` ({value >> shift} {unit})"
    return f"`{text}`"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="Write the option table generated from config.py.")
    parser.add_argument("page", nargs="?", default=PAGE, help=f"where to write it (default {PAGE})")
    parser.add_argument("--check", action="store_true", help="only compare: exit 1 when the page is not current")
    args = parser.parse_args(argv)
    page, text = Path(args.page), render()
    if args.check:
        current = page.is_file() and page.read_text(encoding="utf-8") == text
        if not current:
            print(f"{page} is not current: run `{COMMAND}` from the repository root", file=sys.stderr)
        return 0 if current else 1
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
