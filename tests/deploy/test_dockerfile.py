"""Dockerfile: its install step is the README's, it runs `costline serve`, and the build
context it gets (after .dockerignore) really builds a package whose `costline serve` runs.

Docker cannot run here. The build is reproduced instead: the context is assembled with
.dockerignore's rules, the `source` stage's COPY lines are applied to a temporary
folder, and pip builds the wheel from it with the project's build backend (hatchling);
the wheel is then unpacked, imported and run.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from costline_processor.cli import build_parser
from costline_processor.commands.serve import build_config
from tests.deploy.support import DOCKERFILE, DOCKERIGNORE, ROOT, command, compose, host_port


def stages() -> dict[str, list[tuple[str, str]]]:
    """stage name -> [(INSTRUCTION, arguments)], continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    out: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        op, _, args = line.partition(" ")
        if op.upper() == "FROM":
            m = re.fullmatch(r"(\S+)(?: AS (\S+))?", args.strip(), re.I)
            current = m.group(2) or f"stage{len(out)}"
            out[current] = [("FROM", m.group(1))]
        else:
            out[current].append((op.upper(), args.strip()))
    return out


def chain(name: str) -> list[tuple[str, str]]:
    """The instructions that make stage `name`, its parent stages' first."""
    all_stages = stages()
    ins = all_stages[name]
    base = ins[0][1]
    return (chain(base) if base in all_stages else []) + ins[1:]


def pip_installs(name: str) -> list[str]:
    """The requirement arguments of every `pip install` in stage `name` (with its parents)."""
    reqs = []
    for op, args in chain(name):
        if op == "RUN":
            for part in args.split("&&"):
                words = shlex.split(part)
                if words[:2] == ["pip", "install"]:
                    reqs += [w for w in words[2:] if not w.startswith("-")]
    return reqs


def extras(requirement: str) -> set[str]:
    m = re.fullmatch(r"[^\[]+\[([^\]]*)\]", requirement)
    return {e.strip() for e in m.group(1).split(",")} if m else set()


def exec_form(args: str) -> list[str]:
    import json

    return json.loads(args)


def test_final_stage_installs_with_the_readmes_step():
    names = list(stages())
    assert names[-1] == "costline", "the default build target (last stage) is the server"
    reqs = pip_installs("costline")
    assert reqs == [".[processor]"], reqs
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"pip install '(costline\[[^\]]+\])'", readme)
    assert m, "README.md should give the install step"
    assert extras(reqs[0]) == extras(m.group(1)) == {"processor"}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "processor" in project["optional-dependencies"]
    dev = re.search(r'pip" install -q -e "(\.\[[^\]]+\])"', (ROOT / "dev").read_text())
    assert dev and extras(reqs[0]) <= extras(dev.group(1)), "the dev script installs at least what the image installs"


def test_image_runs_costline_serve_with_explicit_wide_binds():
    ins = dict((op, args) for op, args in chain("costline"))
    argv = exec_form(ins["ENTRYPOINT"]) + exec_form(ins["CMD"])
    assert argv[:2] == ["costline", "serve"]
    assert (
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["costline"]
        == "costline_processor.cli:main"
    )
    args = build_parser().parse_args(argv[1:])
    cfg = build_config(args, env={})
    exposed = {int(p) for p in ins["EXPOSE"].split()}
    ports = {host_port(cfg.receive.grpc)[1], host_port(cfg.receive.http)[1], host_port(cfg.metrics.listen)[1]}
    assert exposed == ports
    assert {host_port(a)[0] for a in (cfg.receive.grpc, cfg.receive.http, cfg.metrics.listen)} == {"0.0.0.0"}
    assert ins["USER"] == "costline", "run as the unprivileged user"


def test_compose_builds_the_stages_it_runs():
    svcs = compose()["services"]
    all_stages = stages()
    assert svcs["costline"]["build"]["target"] == "costline" and command(svcs["costline"])[0] == "serve"
    for name in ("app", "fake-provider"):
        assert svcs[name]["build"]["target"] == "demo" and "demo" in all_stages
    copied = {args.split()[-1]: args.split()[0] for op, args in chain("demo") if op == "COPY"}
    script = command(svcs["app"])[2]
    assert command(svcs["app"])[:2] == ["opentelemetry-instrument", "python"]
    assert copied.get(script) == "deploy/demo_app.py" and (ROOT / copied[script]).is_file()
    # the demo image installs what `costline demo` asks for
    demo_hint = re.search(
        r"pip install '(costline\[[^\]]+\])'", (ROOT / "processor/src/costline_processor/commands/demo.py").read_text()
    ).group(1)
    assert extras(pip_installs("demo")[0]) == extras(demo_hint)


# -- the build context, rebuilt -------------------------------------------------------------
def dockerignore_rules() -> list[tuple[bool, re.Pattern]]:
    rules = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pat = line.lstrip("!").strip("/")
        rx = "".join(
            ".*" if tok == "**" else "[^/]*" if tok == "*" else "[^/]" if tok == "?" else re.escape(tok)
            for tok in re.split(r"(\*\*|\*|\?)", pat)
        )
        rx = rx.replace(".*/", "(.*/)?")
        rules.append((negate, re.compile(rx + r"\Z")))
    return rules


def ignored(rel: str, rules) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent folders wins."""
    parts = rel.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    result = False
    for negate, rx in rules:
        if any(rx.match(c) for c in candidates):
            result = not negate
    return result


def build_context(dest: Path) -> Path:
    rules = dockerignore_rules()
    # a folder is only walked if some allow rule could reach into it
    allow_prefixes = [rx.pattern for neg, rx in rules if neg]
    for path in sorted(ROOT.iterdir()):
        rel = path.name
        if path.is_dir() and ignored(rel, rules) and not any(p.startswith(re.escape(rel)) for p in allow_prefixes):
            continue
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for f in files:
            r = f.relative_to(ROOT).as_posix()
            if not ignored(r, rules):
                (dest / r).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, dest / r)
    return dest


def test_dockerignore_rules_behave_like_docker():
    rules = dockerignore_rules()
    assert ignored(".venv/bin/python", rules) and ignored("tests/deploy/support.py", rules)
    assert ignored("processor/src/costline_processor/__pycache__/cli.cpython-311.pyc", rules)
    assert not ignored("processor/src/costline_processor/cli.py", rules) and not ignored("deploy/demo_app.py", rules)
    assert ignored("deploy/costline.yaml", rules)


def test_build_context_builds_a_package_that_runs_costline_serve(tmp_path):
    pytest.importorskip(
        "hatchling", reason="hatchling is not installed: pip install hatchling (pyproject's build backend)"
    )
    context = build_context(tmp_path / "context")
    assert not (context / "tests").exists() and not (context / ".venv").exists()
    workdir = tmp_path / "src"
    workdir.mkdir()
    for op, args in chain("source"):
        if op != "COPY":
            continue
        *sources, target = args.split()
        assert not target.startswith("/"), "the source stage copies into WORKDIR"
        for src in sources:
            s = context / src.rstrip("/")
            assert s.exists(), f"COPY {src}: not in the build context (.dockerignore?)"
            if s.is_dir():
                shutil.copytree(s, workdir / target.rstrip("/"), dirs_exist_ok=True)
            else:
                shutil.copy2(s, workdir / (s.name if target in ("./", ".") else target))
    assert (context / "deploy" / "demo_app.py").is_file(), "the demo stage copies deploy/demo_app.py"
    project = tomllib.loads((workdir / "pyproject.toml").read_text())["project"]
    assert (workdir / project["readme"]).is_file(), "pyproject.toml's readme must be copied (package metadata)"
    wheels = tmp_path / "wheels"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(workdir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel,) = wheels.glob("costline-*.whl")
    built = tmp_path / "lib"
    zipfile.ZipFile(wheel).extractall(built)
    assert (built / "costline_processor" / "prices" / "corrections.yaml").is_file(), "package data in the wheel"
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import costline_processor.cli as cli, costline.instrumentation, costline_processor.demo.fake_provider\n"
        "assert cli.__file__.startswith(sys.argv[1]), cli.__file__\n"
        "sys.argv = ['costline', 'serve', '--help']\n"
        "cli.main()\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", probe, str(built)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "--grpc HOST:PORT" in r.stdout and "--metrics HOST:PORT" in r.stdout
