"""The three output formats of `costline lint`.

- text: `path:line:col: CL001 untagged model call: <call> (<why>)`, the form editors and
  CI log parsers read;
- json: a list of objects (path, line, column, end_line, code, message, call, missing);
- github: workflow commands, `::error file=path,line=N,col=N,endLine=N,title=CL001::message`,
  which GitHub Actions turns into annotations on the PR's diff. Values are escaped as the
  runner expects (`%`, CR, LF; and `:` `,` in properties).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

from costline_processor.lint.check import Finding

FORMATS = ("text", "json", "github")


def _escape(value: str, property_: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if property_ else value


def write(findings: Iterable[Finding], fmt: str, out: TextIO) -> None:
    findings = list(findings)
    if fmt == "json":
        rows = [
            {
                "path": f.path,
                "line": f.line,
                "column": f.col,
                "end_line": f.end_line,
                "code": f.code,
                "message": f.message,
                "call": f.call,
                "missing": list(f.missing),
            }
            for f in findings
        ]
        out.write(json.dumps(rows, indent=2) + "\n")
        return
    for f in findings:
        if fmt == "github":
            props = f"file={_escape(f.path, True)},line={f.line},col={f.col},endLine={f.end_line},title={f.code}"
            out.write(f"::error {props}::{_escape(f.message)}\n")
        else:
            out.write(f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}\n")
