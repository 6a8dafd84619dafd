"""Where in the app a model call was made: the first frame outside the SDKs, costline and wrapt.

Used by the untagged-call check (`untagged`) and the pytest plugin (`pytest_plugin`), and
only once a call has been found untagged: walking the stack costs a few µs, so a tagged
call never pays it.

The walk skips frames whose module belongs to a package in `SKIPPED` (the SDKs, costline,
wrapt, OpenTelemetry's own instrumentations, the HTTP clients the SDKs use): what is left
is the app's line that called the SDK method, or the helper of the app that did. Async
calls walk the chain of awaiting coroutines, so an awaited call finds the `await` line.
The line is the one Python reports for the frame: the first line of a call that spans
lines, except for a chain broken over lines (`client\\n.chat...`), where it is the line of
the called attribute.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from types import FrameType

SKIPPED = frozenset({"openai", "anthropic", "costline", "wrapt", "opentelemetry", "httpx", "httpx2", "httpcore"})

_shown: dict[str, str] = {}  # co_filename -> the path shown (relative to the working directory when under it)


@dataclass(frozen=True, slots=True)
class CallSite:
    path: str  # as shown: relative to the working directory when the file is under it
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


def _show(filename: str) -> str:
    shown = _shown.get(filename)
    if shown is None:
        try:
            relative = os.path.relpath(filename)
        except ValueError:  # another drive (Windows)
            relative = filename
        shown = filename if relative.startswith("..") else relative
        _shown[filename] = shown
    return shown


def call_site(skip: int = 1) -> CallSite:
    """The app's frame that made the current model call (`skip`: frames of the caller to pass first)."""
    frame: FrameType | None = sys._getframe(skip)
    while frame is not None:
        module = frame.f_globals.get("__name__") or ""
        if module.partition(".")[0] not in SKIPPED:
            return CallSite(_show(frame.f_code.co_filename), frame.f_lineno)
        frame = frame.f_back
    return CallSite("<unknown>", 0)
