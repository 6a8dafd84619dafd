"""`costline lint [PATH...]`: model calls without costline tags (CL001), for editors and PR checks.

Argument parsing only; the rule is `costline_processor.lint` (standard library only, so
the command works without the processor extra).
"""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "lint", help="find openai/anthropic model calls made outside costline.attribution (CL001)"
    )
    p.add_argument("paths", nargs="*", default=["."], metavar="PATH", help="files or directories (default: .)")
    p.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="text (path:line:col: CL001 ...), json, or github (workflow annotations)",
    )
    p.add_argument(
        "--require-tags",
        metavar="TAGS",
        default="",
        help="comma-separated tags the enclosing attributions must set (default: any attribution)",
    )
    p.add_argument("--diff", metavar="BASE", help="report only calls on lines changed since this git ref")
    p.set_defaults(func=run)


def run(args) -> int:
    from costline_processor.lint import lint
    from costline_processor.lint.output import write

    required = tuple(dict.fromkeys(t.strip() for t in args.require_tags.split(",") if t.strip()))
    try:
        findings, errors = lint(args.paths, required, args.diff)
    except ValueError as error:
        print(f"costline lint: {error}", file=sys.stderr)
        return 2
    for skipped in errors:
        print(f"costline lint: skipped {skipped}", file=sys.stderr)
    write(findings, args.format, sys.stdout)
    return 1 if findings else 0
