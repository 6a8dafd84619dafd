"""Whether a spot in a module runs with costline tags, as far as its source shows.

A model call counts as tagged when, lexically:

- it is inside `with costline.attribution(...)` (or `async with`, `with name:` where
  `name = costline.attribution(...)` in the module, or `with tagged(...):` where a function
  `tagged` of the module ends in `return costline.attribution(...)`), or a function decorated with
  `@costline.attribution(...)`: these tags add up, nested ones to outer ones;
- it is inside a function decorated with `@costline.step(...)`, or a function, class or
  module marked `# costline: tagged-by-caller` (its callers are responsible);
- it is in a private function (`_name`) of the module all of whose uses are calls made
  where a model call would count as tagged (a helper only ever called from tagged code).

With required tags (`--require-tags`), the tags of the enclosing attributions must name
all of them (a `**tags` argument counts as naming every tag); without, one enclosing
attribution is enough. Tags a middleware, a caller in another module or another service
sets are invisible here: mark such code `# costline: tagged-by-caller`.

Markers: `# costline: tagged-by-caller` at the end of a `def`/`class` line (or on its own
line just above it, or above its decorators); on its own line anywhere else at module level
it marks the module. `# costline: ignore[CL001]` (or bare `# costline: ignore`) on the
reported line suppresses that finding (`lint.check_source`).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field

TAGGED_BY_CALLER = re.compile(r"#\s*costline:\s*tagged-by-caller\b")
ALL = frozenset({"*"})  # a `**tags` argument: any tag may be there
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(frozen=True)
class Scope:
    """What encloses one spot: the tags of the enclosing attributions, and whether a caller vouches."""

    tags: frozenset[str] | None = None  # None: no attribution encloses it
    by_caller: bool = False
    function: str | None = None  # the innermost enclosing function's name

    def complete(self, required: tuple[str, ...]) -> bool:
        if self.by_caller:
            return True
        if self.tags is None:
            return False
        return self.tags is ALL or "*" in self.tags or set(required) <= self.tags

    def missing(self, required: tuple[str, ...]) -> list[str]:
        have = self.tags or frozenset()
        return [] if "*" in have else [tag for tag in required if tag not in have]


def comments(source: str) -> dict[int, tuple[str, bool]]:
    """line -> (comment text, alone on its line)."""
    out: dict[int, tuple[str, bool]] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                out[token.start[0]] = (token.string, not token.line[: token.start[1]].strip())
    except (tokenize.TokenError, SyntaxError):
        pass
    return out


@dataclass
class Costline:
    """The names under which the module sees costline's `attribution` and `step`."""

    modules: set[str] = field(default_factory=set)
    attribution: set[str] = field(default_factory=set)
    step: set[str] = field(default_factory=set)
    variables: dict[str, frozenset[str]] = field(default_factory=dict)  # name = costline.attribution(...)
    makers: dict[str, frozenset[str]] = field(default_factory=dict)  # def name(...): return costline.attribution(...)

    @classmethod
    def of(cls, tree: ast.Module) -> Costline:
        found = cls()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.modules |= {a.asname or a.name for a in node.names if a.name == "costline"}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("costline"):
                for alias in node.names:
                    {"attribution": found.attribution, "step": found.step}.get(alias.name, set()).add(
                        alias.asname or alias.name
                    )
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and (tags := found.tags_of(node.value)) is not None:
                found.variables.update({t.id: tags for t in node.targets if isinstance(t, ast.Name)})
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
                last = node.body[-1]
                if isinstance(last, ast.Return) and last.value is not None and (tags := found.tags_of(last.value)):
                    found.makers[node.name] = tags
        return found

    def _is(self, func: ast.expr, names: set[str], attr: str) -> bool:
        if isinstance(func, ast.Name):
            return func.id in names
        return (
            isinstance(func, ast.Attribute)
            and func.attr == attr
            and ast.unparse(func.value)
            in (*self.modules, "costline.instrumentation.attribution", "costline.instrumentation.steps")
        )

    def tags_of(self, node: ast.expr) -> frozenset[str] | None:
        """The tag names `costline.attribution(...)` (or a variable holding one) sets; None if it is not one."""
        if isinstance(node, ast.Name):
            return self.variables.get(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in self.makers:
            return self.makers[node.func.id]
        if not (isinstance(node, ast.Call) and self._is(node.func, self.attribution, "attribution")):
            return None
        if any(kw.arg is None for kw in node.keywords):
            return ALL
        return frozenset(kw.arg for kw in node.keywords if kw.arg)

    def is_step(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Call) and self._is(node.func, self.step, "step")


def marked(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, notes: dict[int, tuple[str, bool]]) -> bool:
    """Whether a def/class carries `# costline: tagged-by-caller` on its header or just above it."""
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    header_end = max(node.lineno, node.body[0].lineno - 1)
    for line in range(first - 1, header_end + 1):
        text, alone = notes.get(line, ("", False))
        if TAGGED_BY_CALLER.search(text) and (line >= first or alone):
            return True
    return False


def module_marked(tree: ast.Module, notes: dict[int, tuple[str, bool]]) -> bool:
    """A `# costline: tagged-by-caller` line of its own outside every top-level def/class (and their lead-in line)."""
    spans = [
        (min([n.lineno, *(d.lineno for d in getattr(n, "decorator_list", []))]) - 1, n.end_lineno or n.lineno)
        for n in tree.body
        if isinstance(n, (*_FUNCTIONS, ast.ClassDef))
    ]
    return any(
        alone and TAGGED_BY_CALLER.search(text) and not any(a <= line <= b for a, b in spans)
        for line, (text, alone) in notes.items()
    )
