"""`costline lint`: find openai/anthropic model calls that no costline tagging encloses (CL001).

    costline lint [PATH...] [--format text|json|github] [--require-tags feature,customer_id] [--diff BASE]

The static third of keeping tags complete, for PR checks; the runtime check
(`COSTLINE_UNTAGGED`) and the pytest plugin (`pytest --costline-require-tags`) are the
other two. Standard library only (`ast`, `tokenize`, `git` for `--diff`), so it runs with
the app-side install, without the processor extra.

- which calls: `sdk_calls` (SDK clients made in the module, held on `self`, returned by a
  factory of the module, or parameters annotated with a client class);
- tagged or not: `tagging` (attribution blocks and decorators, `@costline.step`,
  `# costline: tagged-by-caller`, private helpers only called from tagged code);
- the rule: `check`; changed lines: `diff`; formats: `output`.

Limits, by nature: a static rule sees the source, not the context at run time. It cannot
see tags set by a middleware, by a caller in another module or another service, or by a
decorator or context manager wrapping `attribution` in another module (mark such code
`# costline: tagged-by-caller`); it cannot see clients built in another module and used
in one that never imports openai/anthropic, or reached through containers and dynamic
attributes; bindings are module-wide, not per scope. It can therefore both miss calls and
report calls that are tagged at run time. The pytest plugin is exact for the code the tests
run: it reads the context of each call as it is made.

Exit status: 1 when anything is reported, 0 when nothing, 2 on a usage error.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from costline_processor.lint import diff as _diff
from costline_processor.lint.check import CODE, Finding, check_source

__all__ = ["CODE", "Finding", "check_source", "lint", "python_files"]

_SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "env",
        "node_modules",
        "__pycache__",
        "build",
        "dist",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        "site-packages",
    }
)


def python_files(paths: Iterable[str]) -> Iterator[str]:
    """The `.py` files named or under the named directories (virtualenvs, caches, hidden dirs skipped)."""
    for path in paths:
        if os.path.isfile(path):
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
            yield from (os.path.join(root, f) for f in sorted(files) if f.endswith(".py"))


def lint(
    paths: Iterable[str], required: tuple[str, ...] = (), diff_base: str | None = None
) -> tuple[list[Finding], list[str]]:
    """(findings, files that could not be read or parsed, with the reason)."""
    changed = _diff.changed_since(diff_base) if diff_base else None
    findings: list[Finding] = []
    errors: list[str] = []
    for path in python_files(paths):
        shown = os.path.normpath(path)
        try:
            with open(path, encoding="utf-8") as f:
                found = check_source(f.read(), shown, required)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as error:
            errors.append(f"{shown}: {error}")
            continue
        if changed is not None:
            found = [f for f in found if _diff.touches(changed, path, f.line, f.end_line)]
        findings += found
    return findings, errors
