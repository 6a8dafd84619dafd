"""`costline lint`: CL001 on the sample apps, the formats (GitHub annotations parsed back), --diff, exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap

import pytest

from costline_processor.cli import main
from costline_processor.lint import check_source
from tests.instrumentation.tagging_markers import APPS, marked, where

APP = APPS / "tagging_app.py"
STARLETTE = APPS / "tagging_starlette.py"
# ::error file=...,line=...,col=...,endLine=...,title=...::message  (GitHub's workflow-command grammar)
ANNOTATION = re.compile(r"^::(error|warning) ((?:[a-zA-Z]+=[^,:]*)(?:,[a-zA-Z]+=[^,:]*)*)::(.+)$")


def _run(capsys, *args: str) -> tuple[int, str]:
    code = main(["lint", *args])
    return code, capsys.readouterr().out


def test_sample_apps_report_exactly_the_marked_lines(capsys):
    code, out = _run(capsys, str(APP), str(STARLETTE), "--require-tags", "feature,customer_id")
    assert code == 1
    found = set()
    for line in out.splitlines():
        path, row, col, rest = line.split(":", 3)
        assert rest.startswith(" CL001 untagged model call") and int(col) >= 1
        found.add(where(path, int(row)))
    assert found == marked(APP, "CL001")
    assert len(out.splitlines()) == len(found)  # once each


def test_without_required_tags_any_attribution_counts(capsys):
    code, out = _run(capsys, str(APP))
    assert code == 1
    embed = next(f for f in check_source(APP.read_text(), "a.py", ("feature", "customer_id")) if "embeddings" in f.call)
    assert embed.missing == ("customer_id",)
    assert f":{embed.line}:" not in out  # inside attribution(feature=...): fine when nothing is required
    assert len(out.splitlines()) == len(marked(APP, "CL001")) - 1


def test_github_format_parses_as_annotations(capsys):
    code, out = _run(capsys, str(APP), "--format", "github", "--require-tags", "feature,customer_id")
    assert code == 1
    rows = out.splitlines()
    assert rows
    lines = set()
    for row in rows:
        match = ANNOTATION.match(row)
        assert match, row
        props = dict(p.split("=", 1) for p in match.group(2).split(","))
        assert set(props) == {"file", "line", "col", "endLine", "title"} and props["title"] == "CL001"
        assert match.group(3).startswith("untagged model call: ")
        lines.add(where(props["file"], int(props["line"])))
    assert lines == marked(APP, "CL001")


def test_json_format(capsys):
    code, out = _run(capsys, str(APP), "--format", "json")
    rows = json.loads(out)
    assert (
        code == 1
        and rows
        and {"path", "line", "column", "end_line", "code", "message", "call", "missing"} <= set(rows[0])
    )


def test_clean_tree_exits_0(capsys, tmp_path):
    (tmp_path / "ok.py").write_text(
        "import openai\nimport costline\n\nc = openai.OpenAI()\n\n"
        "with costline.attribution(feature='f'):\n    c.chat.completions.create(model='m')\n"
    )
    assert _run(capsys, str(tmp_path)) == (0, "")


CASES = {
    "factory and with_options": (
        """
        from openai import AsyncOpenAI
        def make():
            return AsyncOpenAI()
        async def go():
            await make().with_options(timeout=1).chat.completions.with_raw_response.create(model="m")
        """,
        [5],
    ),
    "annotated parameter, module without tags": (
        """
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from anthropic import Anthropic
        def ask(client: "Anthropic"):
            return client.messages.create(model="m", max_tokens=1, messages=[])
        """,
        [5],
    ),
    "image generation is a model call": (
        """
        from openai import OpenAI
        client = OpenAI()
        def draw(prompt):
            return client.images.generate(model="gpt-image-1", prompt=prompt)
        """,
        [4],
    ),
    "another SDK's messages.create is not a model call": (
        """
        import anthropic
        from twilio.rest import Client
        sms = Client()
        sms.messages.create(to="+1", body="hi")
        """,
        [],
    ),
    "no SDK import, unknown receiver: nothing": (
        """
        def send(client):
            client.messages.create(to="x")
        """,
        [],
    ),
    "decorated step, attribution variable, marked class": (
        """
        import costline
        from openai import OpenAI
        c = OpenAI()
        tags = costline.attribution(feature="f", customer_id="x")
        @costline.step("s")
        def a():
            c.responses.create(model="m")
        def b():
            with tags:
                c.responses.create(model="m")
        # costline: tagged-by-caller
        class Worker:
            def run(self):
                c.embeddings.create(model="m", input="x")
        def d():
            c.embeddings.create(model="m", input="x")
        """,
        [16],
    ),
    "**tags names every tag; a helper reached from untagged code is reported": (
        """
        from costline import attribution
        import openai
        def _helper():
            openai.chat.completions.create(model="m", messages=[])
        def tagged(t):
            with attribution(**t):
                _helper()
        handler = _helper
        """,
        [4],
    ),
    "a function of the module returning an attribution": (
        """
        import costline, openai
        def tagged(label):
            return costline.attribution(call=label, feature="f", customer_id="c")
        with tagged("x"):
            openai.embeddings.create(model="m", input="x")
        """,
        [],
    ),
    "ignore comment for this code only": (
        """
        import openai
        openai.completions.create(model="m", prompt="x")  # costline: ignore[CL002]
        openai.completions.create(model="m", prompt="x")  # costline: ignore
        """,
        [2],
    ),
}


@pytest.mark.parametrize("source, lines", CASES.values(), ids=CASES.keys())
def test_cases(source, lines):
    found = check_source(textwrap.dedent(source).strip("\n"), "m.py", ("feature", "customer_id"))
    assert [f.line for f in found] == lines


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_diff_reports_only_changed_lines(capsys, tmp_path, monkeypatch):
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "root")
    src = tmp_path / "pkg" / "app.py"
    src.parent.mkdir()
    src.write_text("import openai\nc = openai.OpenAI()\nc.chat.completions.create(model='old')\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "old call")
    src.write_text(src.read_text() + "\n\nc.embeddings.create(\n    model='new',\n)\n")
    monkeypatch.chdir(tmp_path / "pkg")
    code, out = _run(capsys, ".", "--diff", "HEAD")
    assert (
        code == 1
        and out == "app.py:6:1: CL001 untagged model call: c.embeddings.create (not inside costline.attribution(...))\n"
    )
    code, out = _run(capsys, ".")
    assert code == 1 and len(out.splitlines()) == 2
    assert main(["lint", ".", "--diff", "no-such-ref"]) == 2
