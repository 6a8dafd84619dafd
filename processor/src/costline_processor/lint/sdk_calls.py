"""Which calls in a module are openai/anthropic SDK model calls, statically.

A model call is `<receiver>.<resource>.<method>(...)` with one of the `CHAINS` (optionally
through `.with_raw_response` / `.with_streaming_response`). What decides it is the receiver:

- an SDK client: `openai.OpenAI(...)`, `AsyncOpenAI(...)`, `anthropic.AsyncAnthropic(...)`
  and the Azure/Bedrock/Vertex variants; the `openai` module itself (its module-level
  client); a name, `self.<attr>` / `cls.<attr>` or `with ... as name` bound to one anywhere
  in the module; a parameter annotated with a client class; a call of a function, method
  or property of the module that returns one (a factory), `.with_options(...)` of one;
- something else: a name or attribute bound to a constructor of another class (a class of
  the module, or a capitalised name imported from another package), e.g. Twilio's
  `client.messages.create`: never reported;
- unknown (a parameter without annotation, a client from another module): reported only
  in a module that imports openai or anthropic, since that is where such clients are used.

Bindings are collected module-wide, not per scope, and resolved to a fixed point (a factory
may return a name bound to another factory's result).
"""

from __future__ import annotations

import ast
import re

SDK_PACKAGES = frozenset({"openai", "anthropic"})
CLIENT_CLASS = re.compile(r"^(Async)?(Azure)?OpenAI$|^(Async)?Anthropic(Bedrock|Vertex|Foundry)?$")
# resource path -> methods that send a model request
CHAINS: dict[tuple[str, ...], frozenset[str]] = {
    ("beta", "chat", "completions"): frozenset({"create", "parse", "stream"}),
    ("chat", "completions"): frozenset({"create", "parse", "stream"}),
    ("responses",): frozenset({"create", "parse", "stream"}),
    ("embeddings",): frozenset({"create"}),
    ("completions",): frozenset({"create"}),
    ("images",): frozenset({"generate", "edit"}),  # gpt-image-1: $0.04 an image, the costliest calls of many apps
    ("beta", "messages"): frozenset({"create", "parse", "stream"}),
    ("messages",): frozenset({"create", "parse", "stream"}),
}
_RAW = frozenset({"with_raw_response", "with_streaming_response"})
_SAME_CLIENT = frozenset({"with_options", "copy"})
SDK, OTHER, UNKNOWN = "sdk", "other", "unknown"


def _chain(call: ast.Call) -> tuple[ast.expr, str] | None:
    """(receiver, "resource.method") if the call has the shape of a model call."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return None
    method, node = func.attr, func.value
    while isinstance(node, ast.Attribute) and node.attr in _RAW:
        node = node.value
    for path, methods in CHAINS.items():
        if method not in methods:
            continue
        cursor: ast.expr = node
        for name in reversed(path):
            if not (isinstance(cursor, ast.Attribute) and cursor.attr == name):
                break
            cursor = cursor.value
        else:
            return cursor, ".".join((*path, method))
    return None


class Clients:
    """What the names, attributes and functions of one module hold, as far as SDK clients go."""

    def __init__(self, tree: ast.Module) -> None:
        self.sdk_modules: set[str] = set()  # names bound to the openai/anthropic modules
        self.client_classes: set[str] = set()  # names bound to an SDK client class
        self.other_classes: set[str] = set()  # classes of the module, capitalised imports from elsewhere
        self.imports_sdk = False
        self._imports(tree)
        self.names: dict[str, str] = {}
        self.attrs: dict[str, str] = {}
        self.factories: set[str] = set()  # functions and methods (by name) that return a client
        self._bindings(tree)

    def _imports(self, tree: ast.Module) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.partition(".")[0] in SDK_PACKAGES:
                        self.imports_sdk = True
                        if alias.name in SDK_PACKAGES:
                            self.sdk_modules.add(alias.asname or alias.name)
            elif isinstance(node, ast.ImportFrom) and node.module:
                sdk = node.module.partition(".")[0] in SDK_PACKAGES
                self.imports_sdk |= sdk
                for alias in node.names:
                    name = alias.asname or alias.name
                    if sdk and CLIENT_CLASS.match(alias.name):
                        self.client_classes.add(name)
                    elif not sdk and alias.name[:1].isupper():
                        self.other_classes.add(name)
            elif isinstance(node, ast.ClassDef):
                self.other_classes.add(node.name)

    def kind(self, node: ast.expr) -> str:
        """SDK, OTHER or UNKNOWN for an expression."""
        if isinstance(node, ast.Await):
            return self.kind(node.value)
        if isinstance(node, ast.Name):
            if node.id in self.sdk_modules:
                return SDK
            return self.names.get(node.id, UNKNOWN)
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                return self.attrs.get(node.attr, SDK if node.attr in self.factories else UNKNOWN)
            return UNKNOWN
        if isinstance(node, ast.Call):
            return self._call_kind(node.func)
        return UNKNOWN

    def _call_kind(self, func: ast.expr) -> str:
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name is None:
            return UNKNOWN
        if isinstance(func, ast.Attribute) and name in _SAME_CLIENT:
            return self.kind(func.value)
        if name in self.client_classes or (
            isinstance(func, ast.Attribute)
            and CLIENT_CLASS.match(name)
            and isinstance(func.value, ast.Name)
            and func.value.id in self.sdk_modules
        ):
            return SDK
        if name in self.factories and (isinstance(func, ast.Name) or self._on_self(func)):
            return SDK
        if isinstance(func, ast.Name) and name in self.other_classes:
            return OTHER
        return UNKNOWN

    @staticmethod
    def _on_self(func: ast.expr) -> bool:
        return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in ("self", "cls")

    def _annotated(self, annotation: ast.expr | None) -> bool:
        if annotation is None:
            return False
        text = annotation.value if isinstance(annotation, ast.Constant) else ast.unparse(annotation)
        return any(CLIENT_CLASS.match(part) for part in re.split(r"[^A-Za-z0-9_]+", str(text)))

    def _bindings(self, tree: ast.Module) -> None:
        pairs: list[tuple[ast.expr, ast.expr]] = []  # (target, value)
        returns: list[tuple[str, ast.expr]] = []  # (function name, returned value)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                pairs += [(target, node.value) for target in node.targets]
            elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                pairs.append((node.target, node.value))
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                pairs.append((node.optional_vars, node.context_expr))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs):
                    if self._annotated(arg.annotation):
                        self.names[arg.arg] = SDK
                if self._annotated(node.returns):
                    self.factories.add(node.name)
                returns += [(node.name, n.value) for n in ast.walk(node) if isinstance(n, ast.Return) and n.value]
        for _ in range(4):  # to a fixed point: factories and names feed each other
            before = (dict(self.names), dict(self.attrs), set(self.factories))
            for target, value in pairs:
                self._bind(target, self.kind(value))
            self.factories |= {name for name, value in returns if self.kind(value) == SDK}
            if before == (self.names, self.attrs, self.factories):
                break

    def _bind(self, target: ast.expr, kind: str) -> None:
        if isinstance(target, ast.Name):
            table, key = self.names, target.id
        elif (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id in ("self", "cls")
        ):
            table, key = self.attrs, target.attr
        else:
            return
        # one SDK binding makes it a client; UNKNOWN beats OTHER (either may be a client)
        if table.get(key) == SDK or kind == SDK:
            table[key] = SDK
        elif table.get(key) == UNKNOWN or kind == UNKNOWN:
            table[key] = UNKNOWN
        else:
            table[key] = OTHER

    def model_call(self, call: ast.Call) -> str | None:
        """The call's "resource.method" if it is (or may be) an SDK model call, else None."""
        found = _chain(call)
        if found is None:
            return None
        receiver, chain = found
        kind = self.kind(receiver)
        if kind == SDK or (kind == UNKNOWN and self.imports_sdk):
            return chain
        return None
