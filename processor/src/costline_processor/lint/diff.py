"""`--diff BASE`: the lines changed since a git ref, from `git diff -U0 BASE`.

Only added or changed lines count (the `+c,d` side of each hunk header); a file deleted
or only losing lines has none. Paths are resolved against the repository's top level,
so findings (whatever path they were found under) are matched by absolute path. A
finding counts as changed when any line of its call changed.
"""

from __future__ import annotations

import os
import re
import subprocess

_FILE = re.compile(r"^\+\+\+ (?:b/)?(.*)$")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")

Changed = dict[str, set[int]]  # absolute path -> changed line numbers


def parse(diff: str, top: str) -> Changed:
    """Changed lines per file from the text of `git diff -U0`."""
    changed: Changed = {}
    lines: set[int] | None = None
    for row in diff.splitlines():
        if file := _FILE.match(row):
            name = file.group(1).strip()
            lines = (
                None if name == "/dev/null" else changed.setdefault(os.path.realpath(os.path.join(top, name)), set())
            )
        elif (hunk := _HUNK.match(row)) and lines is not None:
            start, count = int(hunk.group(1)), int(hunk.group(2) if hunk.group(2) is not None else 1)
            lines.update(range(start, start + count))
    return changed


def changed_since(base: str, cwd: str = ".") -> Changed:
    """Run git: the lines changed between `base` and the working tree."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout

    try:
        top = git("rev-parse", "--show-toplevel").strip()
        return parse(git("diff", "-U0", "--no-color", "--no-ext-diff", base, "--"), top)
    except subprocess.CalledProcessError as error:
        raise ValueError(f"git diff {base} failed: {error.stderr.strip() or error}") from None


def touches(changed: Changed, path: str, first: int, last: int) -> bool:
    lines = changed.get(os.path.realpath(path))
    return lines is not None and any(line in lines for line in range(first, last + 1))
