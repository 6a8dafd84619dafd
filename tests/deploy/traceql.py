"""A small TraceQL checker for the queries the dashboard and docs ship.

Tempo cannot run here, so this is a stand-in for its parser, covering the subset these
files use: spansets `{ ... }` joined by `&&` / `||`, conditions on scoped attributes
(`span.x`, `resource.x`) and intrinsics, comparisons, parentheses, and pipeline stages
`| select(...)` and `| count()/sum()/avg()/min()/max() <op> <number>`. Anything else is
reported as an error rather than assumed valid. It returns the attributes a query
reads, so the tests can check that costline really writes them (and with which type).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?:ns|us|ms|s|m|h)?)
  | (?P<op>&&|\|\||=~|!~|!=|>=|<=|=|>|<|\||\{|\}|\(|\)|,)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.:]*)
""",
    re.X,
)
INTRINSICS = {
    "name",
    "status",
    "kind",
    "duration",
    "statusMessage",
    "rootName",
    "rootServiceName",
    "traceDuration",
    "nestedSetParent",
    "nestedSetLeft",
    "nestedSetRight",
    "span:name",
    "span:status",
    "span:kind",
    "span:duration",
    "span:id",
    "span:parentID",
    "trace:rootName",
    "trace:rootService",
    "trace:duration",
    "trace:id",
    "event:name",
    "link:traceID",
}
LITERALS = {"nil", "true", "false", "ok", "error", "unset", "server", "client", "internal", "producer", "consumer"}
COMPARE = {"=", "!=", ">", "<", ">=", "<=", "=~", "!~"}
AGGREGATES = {"count", "sum", "avg", "min", "max"}


class TraceQLError(ValueError):
    pass


@dataclass
class Parsed:
    attributes: dict[str, set[str]] = field(default_factory=dict)  # attribute -> kinds of literal compared to it

    def use(self, attr: str, kind: str) -> None:
        self.attributes.setdefault(attr, set()).add(kind)


def tokens(query: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(query):
        m = TOKEN.match(query, pos)
        if not m:
            raise TraceQLError(f"unexpected character {query[pos]!r} at {pos} in {query!r}")
        pos = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
    return out


class _Parser:
    def __init__(self, query: str):
        self.toks = tokens(query)
        self.i = 0
        self.query = query
        self.result = Parsed()

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None, kind: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value) or (kind is not None and tok[0] != kind):
            raise TraceQLError(f"expected {value or kind} at token {self.i} in {self.query!r}, got {tok}")
        self.i += 1
        return tok

    def query_(self) -> Parsed:
        self.spansets()
        while self.peek() == ("op", "|"):
            self.take("|")
            self.stage()
        if self.peek() is not None:
            raise TraceQLError(f"trailing tokens {self.toks[self.i :]} in {self.query!r}")
        return self.result

    def spansets(self) -> None:
        self.spanset()
        while self.peek() in (("op", "&&"), ("op", "||")):
            self.take()
            self.spanset()

    def spanset(self) -> None:
        self.take("{")
        if self.peek() != ("op", "}"):
            self.condition()
        self.take("}")

    def condition(self) -> None:
        self.term()
        while self.peek() in (("op", "&&"), ("op", "||")):
            self.take()
            self.term()

    def term(self) -> None:
        if self.peek() == ("op", "("):
            self.take("(")
            self.condition()
            self.take(")")
            return
        attr = self.field()
        op = self.take(kind="op")[1]
        if op not in COMPARE:
            raise TraceQLError(f"{op!r} is not a comparison in {self.query!r}")
        kind, value = self.take()
        if kind == "string":
            lit = "string"
        elif kind == "number":
            lit = "duration" if value[-1].isalpha() else "number"
        elif kind == "name" and value in LITERALS:
            lit = "nil" if value == "nil" else "enum"
        else:
            raise TraceQLError(f"{value!r} is not a literal in {self.query!r}")
        if op in ("=~", "!~") and lit != "string":
            raise TraceQLError(f"regex match needs a string in {self.query!r}")
        if attr is not None:
            self.result.use(attr, lit)

    def field(self) -> str | None:
        kind, value = self.take(kind="name")
        if value in INTRINSICS:
            return None
        scope, _, rest = value.partition(".")
        if scope not in ("span", "resource") or not rest:
            raise TraceQLError(
                f"{value!r} is neither a scoped attribute (span./resource.) nor an intrinsic in {self.query!r}"
            )
        return value

    def stage(self) -> None:
        kind, name = self.take(kind="name")
        self.take("(")
        if name == "select":
            while True:
                attr = self.field()
                if attr:
                    self.result.use(attr, "select")
                if self.peek() == ("op", ","):
                    self.take(",")
                    continue
                break
            self.take(")")
            return
        if name not in AGGREGATES:
            raise TraceQLError(f"unknown pipeline stage {name!r} in {self.query!r}")
        if name != "count":
            attr = self.field()
            if attr:
                self.result.use(attr, "number")
        self.take(")")
        op = self.take(kind="op")[1]
        if op not in COMPARE - {"=~", "!~"}:
            raise TraceQLError(f"{op!r} after {name}() in {self.query!r}")
        self.take(kind="number")


def parse(query: str) -> Parsed:
    return _Parser(query).query_()
