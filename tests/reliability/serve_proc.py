"""A real `costline serve` process on loopback for the receive-side reliability tests.

`ServeProcess(tmp_path, *flags)` starts `python -m costline_processor.cli serve` on
127.0.0.1 ports the OS picks, waits until both receivers log their address, and stops it
on exit (SIGTERM, then SIGKILL). `peak_rss()` samples VmRSS from /proc while a load runs.

TEST_SERVE_ROOT=/path/to/tree runs the server from another checkout of this repo
(e.g. `git worktree add /tmp/pre14-recv 0c19959`): a test written after a fix is run
against the code before it, to show that it fails there. The tests themselves, the
senders and the fake backend stay this tree's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MIB = 1 << 20

# Runs the CLI of the tree in argv[1] with the rest of argv. A tree with the src/ layout
# goes ahead on sys.path; an older tree (one import package `costline` mapped onto three
# folders) is mapped by a finder ahead of the editable install's path entries.
_BOOT = """\
import os, sys, runpy
from importlib.util import spec_from_file_location
root = sys.argv.pop(1)
sys.argv[0] = "costline"
if os.path.isdir(root + "/processor/src"):
    sys.path[:0] = [root + "/instrumentation/src", root + "/processor/src"]
    runpy.run_module("costline_processor.cli", run_name="__main__", alter_sys=True)
    raise SystemExit(0)
dirs = {"costline": root + "/costline", "costline.processor": root + "/processor",
        "costline.instrumentation": root + "/instrumentation"}
class Tree:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name in dirs:
            return spec_from_file_location(name, dirs[name] + "/__init__.py",
                                           submodule_search_locations=[dirs[name]])
        return None
sys.meta_path.insert(0, Tree)
runpy.run_module("costline.processor.cli", run_name="__main__", alter_sys=True)
"""


def serve_command(*flags: str) -> list[str]:
    root = os.environ.get("TEST_SERVE_ROOT")
    if root:
        return [sys.executable, "-c", _BOOT, root, "serve", *flags]
    return [sys.executable, "-m", "costline_processor.cli", "serve", *flags]


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class ServeProcess:
    """`with ServeProcess(tmp_path, "--export-grpc", addr) as srv:` -> srv.grpc, srv.http, srv.pid."""

    def __init__(self, tmp_path: Path, *flags: str):
        self.log = tmp_path / "costline.log"
        self.flags = ("--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0", "--ledger", "off", *flags)
        self.cwd = tmp_path
        self.proc: subprocess.Popen | None = None
        self.grpc = self.http = ""

    def __enter__(self) -> ServeProcess:
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(serve_command(*self.flags), cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT)
        self.grpc = self._wait_for("OTLP/gRPC receiver on ")
        self.http = self._wait_for("OTLP/HTTP receiver on ")
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 30) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc and self.proc.returncode
        self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def _wait_for(self, marker: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.text().splitlines():
                if marker in line:
                    return line.rsplit(" ", 1)[1]
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"costline serve did not log {marker!r}:\n{self.text()[-3000:]}")


class PeakRss(threading.Thread):
    """`with PeakRss(pid) as rss: ...` then rss.baseline, rss.peak (bytes), sampled every `every` s."""

    def __init__(self, pid: int, every: float = 0.02):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.baseline = self.peak = rss_bytes(pid)
        self._done = threading.Event()

    def __enter__(self) -> PeakRss:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop sampling, with one last sample if the process is still there."""
        self._done.set()
        self.join(5)
        try:
            self.peak = max(self.peak, rss_bytes(self.pid))
        except (FileNotFoundError, ProcessLookupError):
            pass

    def run(self) -> None:
        while not self._done.wait(self.every):
            try:
                self.peak = max(self.peak, rss_bytes(self.pid))
            except (FileNotFoundError, ProcessLookupError):
                return
