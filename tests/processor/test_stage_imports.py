"""No stage imports another: the processor's import rule, read from the source with `ast`.

The stages of `costline serve` (receive -> intake -> assembly -> export, with pricing
applied by assembly and the ledger, metrics and journal as sinks) hand each other
records, never calls: only `pipeline.py` (the one place that knows the order) and the
entry points (`server.py`, `cli.py`, `commands/`, and `ui/`, the page `costline ui` serves
over the ledger) import stages. A stage imports:

  - its own modules;
  - the foundation: `records` (the types that flow between stages), `config`, `wire`
    (the OTLP bytes, behind their wall);
  - the shared modules: every other module (normalize, the price sheets' modules, stats,
    memory, listen...), which holds vocabulary and pure functions and imports no stage.

`wire` imports nothing of costline_processor but itself, and `records` nothing but wire.
Function-level imports count; relative imports are resolved first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "processor" / "src"
PACKAGE = "costline_processor"
STAGES = {"receive", "intake", "assembly", "export", "pricing", "ledger", "journal", "metrics"}
ENTRY = {"pipeline", "server", "cli", "commands", "ui", "__main__"}  # may import any stage
FOUNDATION = {"records", "config", "wire"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(module: str, path: Path) -> set[str]:
    """The costline_processor modules `module` imports, anywhere in it."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # `from package import module` imports the module
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}


def _group(module: str) -> str:
    """The stage, foundation part or entry point a module belongs to, else "shared"."""
    top = module.split(".")[1] if "." in module else ""
    if top in STAGES or top in FOUNDATION or top in ENTRY:
        return top
    return "shared"


def _arrows() -> list[tuple[str, str]]:
    return [(m, imported) for m, path in MODULES.items() for imported in sorted(_imports(m, path)) if imported != m]


def _broken(arrow: tuple[str, str]) -> str | None:
    """Why an import breaks the rule, or None."""
    importer, imported = (_group(m) for m in arrow)
    if importer in ENTRY or importer == imported:
        return None
    if imported == PACKAGE or imported == "":
        return "imports the package itself (import its modules by name)"
    if importer == "wire":
        return "wire imports nothing of costline_processor but wire"
    if importer == "records" and imported != "wire":
        return "records imports nothing but wire"
    if imported in STAGES:
        who = f"the stage {importer}" if importer in STAGES else f"a {importer} module"
        return f"{who} imports the stage {imported}"
    if imported in ENTRY:
        return f"imports the entry point {imported}"
    return None


def test_the_rule_knows_every_stage_and_entry_point():
    tops = {m.split(".")[1] for m in MODULES if "." in m}
    assert STAGES | FOUNDATION | (ENTRY - {"__main__"}) <= tops  # a stage renamed or gone: update the rule


def test_no_stage_imports_another():
    broken = [f"{a} -> {b}: {why}" for a, b in _arrows() if (why := _broken((a, b))) is not None]
    assert broken == []


@pytest.mark.parametrize(
    ("arrow", "why"),
    [
        (
            ("costline_processor.assembly.rollup", "costline_processor.intake"),
            "stage assembly imports the stage intake",
        ),
        (("costline_processor.normalize", "costline_processor.pricing"), "a shared module imports the stage pricing"),
        (("costline_processor.wire.span", "costline_processor.records"), "wire imports nothing of costline_processor"),
        (("costline_processor.records", "costline_processor.config"), "records imports nothing but wire"),
        (("costline_processor.intake", "costline_processor.pipeline"), "imports the entry point pipeline"),
    ],
)
def test_the_rule_catches_what_it_forbids(arrow, why):
    assert why in (_broken(arrow) or "")


@pytest.mark.parametrize(
    "arrow",
    [
        ("costline_processor.pipeline", "costline_processor.assembly.rollup"),
        ("costline_processor.assembly.reader", "costline_processor.normalize"),
        ("costline_processor.assembly.rollup", "costline_processor.wire.attributes"),
        ("costline_processor.ledger.skus", "costline_processor.sku_cost"),
        ("costline_processor.export.split", "costline_processor.wire.framing"),
    ],
)
def test_the_rule_allows_what_it_allows(arrow):
    assert _broken(arrow) is None
