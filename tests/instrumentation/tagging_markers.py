"""The lines a sample app marks `untagged` or `CL001` (end-of-line comments), as absolute path:line."""

from __future__ import annotations

import os
from pathlib import Path

from costline_processor.lint.tagging import comments

APPS = Path(__file__).parent / "apps"


def marked(path: Path, marker: str) -> set[tuple[str, int]]:
    notes = comments(path.read_text())
    return {
        (str(path.resolve()), line)
        for line, (text, alone) in notes.items()
        if not alone and marker in text.replace("#", " ").replace("[", " ").split()
    }


def where(path: str, line: int) -> tuple[str, int]:
    return os.path.realpath(path), line
