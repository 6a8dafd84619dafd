"""CL001: the model calls of one module that no costline tagging encloses.

One walk over the module's AST carries the `tagging.Scope` down (attributions add tags,
markers and `@costline.step` hand the duty to the caller) and collects the SDK model calls
(`sdk_calls`) with their scope, and every use of the module's private functions with the
scope of the use. A call whose scope is not complete is a finding unless it sits in a
private helper all of whose uses are tagged calls (worked out after the walk, recursively,
a cycle counting as untagged), or its line says `# costline: ignore[CL001]`.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass

from costline_processor.lint import tagging
from costline_processor.lint.sdk_calls import Clients

CODE = "CL001"
_IGNORE = re.compile(r"#\s*costline:\s*ignore(?:\[([A-Za-z0-9_, ]*)\])?")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    col: int  # 1-based, as editors count
    end_line: int
    call: str  # the called expression, e.g. `self.client.chat.completions.create`
    missing: tuple[str, ...]  # required tags no enclosing attribution sets (empty: none encloses it)
    code: str = CODE

    @property
    def message(self) -> str:
        detail = f"missing tag(s) {', '.join(self.missing)}" if self.missing else "not inside costline.attribution(...)"
        return f"untagged model call: {self.call} ({detail})"


def _add(tags: frozenset[str] | None, more: frozenset[str]) -> frozenset[str]:
    return more if tags is None else tags | more


class _Walk(ast.NodeVisitor):
    def __init__(self, tree: ast.Module, notes: dict[int, tuple[str, bool]]) -> None:
        self.costline = tagging.Costline.of(tree)
        self.clients = Clients(tree)
        self.notes = notes
        self.private = {
            n.name
            for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.name.startswith("_")
            and not n.name.endswith("__")
        }
        self.scope = tagging.Scope(by_caller=tagging.module_marked(tree, notes))
        self.calls: list[tuple[ast.Call, tagging.Scope]] = []
        self.uses: dict[str, list[tagging.Scope | None]] = defaultdict(list)  # None: not a call (passed around)
        self._called: set[int] = set()
        self.visit(tree)

    def _inside(self, scope: tagging.Scope, body: list[ast.stmt]) -> None:
        outer, self.scope = self.scope, scope
        for stmt in body:
            self.visit(stmt)
        self.scope = outer

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        tags, by_caller = self.scope.tags, self.scope.by_caller or tagging.marked(node, self.notes)
        for decorator in node.decorator_list:
            self.visit(decorator)
            by_caller |= self.costline.is_step(decorator)
            if (more := self.costline.tags_of(decorator)) is not None:
                tags = _add(tags, more)
        self._inside(tagging.Scope(tags, by_caller, node.name), node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        by_caller = self.scope.by_caller or tagging.marked(node, self.notes)
        self._inside(tagging.Scope(self.scope.tags, by_caller, self.scope.function), node.body)

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        tags = self.scope.tags
        for item in node.items:
            self.visit(item)
            if (more := self.costline.tags_of(item.context_expr)) is not None:
                tags = _add(tags, more)
        self._inside(tagging.Scope(tags, self.scope.by_caller, self.scope.function), node.body)

    visit_AsyncWith = visit_With

    def visit_Call(self, node: ast.Call) -> None:
        if self.clients.model_call(node) is not None:
            self.calls.append((node, self.scope))
        name = _name(node.func)
        if name in self.private:
            self.uses[name].append(self.scope)
            self._called.add(id(node.func))
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in self.private and id(node) not in self._called:
            self.uses[node.id].append(None)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in self.private and id(node) not in self._called:
            self.uses[node.attr].append(None)
        self.generic_visit(node)


def _name(func: ast.expr) -> str | None:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


class _Helpers:
    """Which private functions are only ever called from tagged code."""

    def __init__(self, walk: _Walk, required: tuple[str, ...]) -> None:
        self.walk, self.required = walk, required
        self.known: dict[str, bool] = {}

    def ok(self, scope: tagging.Scope, seen: frozenset[str] = frozenset()) -> bool:
        if scope.complete(self.required):
            return True
        name = scope.function
        return name is not None and name in self.walk.private and self.tagged(name, seen)

    def tagged(self, name: str, seen: frozenset[str]) -> bool:
        if name in self.known:
            return self.known[name]
        if name in seen:
            return False  # a cycle: nothing outside vouches for it
        uses = self.walk.uses.get(name, [])
        result = bool(uses) and all(use is not None and self.ok(use, seen | {name}) for use in uses)
        if not seen:
            self.known[name] = result
        return result


def _ignored(notes: dict[int, tuple[str, bool]], line: int) -> bool:
    match = _IGNORE.search(notes.get(line, ("", False))[0])
    return match is not None and (match.group(1) is None or CODE in match.group(1).replace(" ", "").split(","))


def check_source(source: str, path: str, required: tuple[str, ...] = ()) -> list[Finding]:
    """The CL001 findings of one module's source (raises SyntaxError if it does not parse)."""
    tree = ast.parse(source, filename=path)
    notes = tagging.comments(source)
    walk = _Walk(tree, notes)
    helpers = _Helpers(walk, required)
    found = []
    for call, scope in walk.calls:
        if helpers.ok(scope) or _ignored(notes, call.lineno):
            continue
        missing = tuple(scope.missing(required)) if scope.tags is not None else ()
        found.append(
            Finding(
                path, call.lineno, call.col_offset + 1, call.end_lineno or call.lineno, ast.unparse(call.func), missing
            )
        )
    return found
