"""`costline serve` starting against the world, as real processes (issue 14, item 10).

A port in use (a Collector on 4317, or only its IPv4 side), a bad flag: one line on
stderr, a non-zero exit, and no file created (the default ledger is ./costline-ledger.db,
so each run has its own empty working directory). `localhost` binds both loopback
families and says so. A stop while `--workers` are still starting is a clean stop.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

COSTLINE = [sys.executable, "-m", "costline_processor.cli"]


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


IPV6 = _has_ipv6_loopback()


def _free_port() -> int:
    """A port free on 127.0.0.1 and (where it exists) ::1."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not IPV6:
            return port
        with socket.socket(socket.AF_INET6) as s6:
            try:
                s6.bind(("::1", port))
                return port
            except OSError:
                continue
    raise AssertionError("no port free on both loopbacks")


@contextlib.contextmanager
def _occupied(port: int, *hosts: str):
    """Real listeners on `port`, as a local Collector would hold it."""
    socks = []
    try:
        for host in hosts:
            s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            s.listen()
            socks.append(s)
        yield
    finally:
        for s in socks:
            s.close()


def _start_fails(cwd, *args: str, timeout: float = 20) -> tuple[int, list[str], float]:
    """Run serve until it exits (killed after `timeout`: it did not fail): (exit code, stderr lines, seconds)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [*COSTLINE, "serve", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        raise AssertionError(f"costline serve {' '.join(args)} kept running:\n{err[-2000:]}") from None
    return proc.returncode, err.strip().splitlines(), time.monotonic() - t0


@pytest.mark.parametrize("case", ["collector-on-4317", "ipv4-only", "http", "metrics"])
def test_a_port_in_use_is_one_line_and_no_file(case, tmp_path, figures):
    if case == "collector-on-4317":  # the defaults, as a first run beside a local Collector
        if _port_busy(4317) or _port_busy(4318):
            pytest.skip("4317 or 4318 is in use on this machine already")
        port, hosts, args = 4317, ("127.0.0.1", "::1") if IPV6 else ("127.0.0.1",), []
    else:
        port = _free_port()
        hosts = ("127.0.0.1",)  # IPv4 only: costline must not settle for [::1] alone
        args = {
            "ipv4-only": ["--grpc", f"localhost:{port}", "--http", "off"],
            "http": ["--grpc", "off", "--http", f"localhost:{port}"],
            "metrics": ["--grpc", f"127.0.0.1:{_free_port()}", "--http", "off", "--metrics", f"localhost:{port}"],
        }[case]
    with _occupied(port, *hosts):
        code, lines, seconds = _start_fails(tmp_path, *args)
    assert code != 0
    assert len(lines) == 1, "\n".join(lines)
    assert f"127.0.0.1:{port} is already in use" in lines[0] and lines[0].startswith("costline: "), lines[0]
    assert list(tmp_path.iterdir()) == [], "a failed start left files behind"
    figures(
        f"startup, port in use ({case}): exit {code} in {seconds:.2f} s, {len(lines)} stderr line, "
        f"{len(list(tmp_path.iterdir()))} files created: {lines[0]}"
    )


def _port_busy(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return False
        except OSError:
            return True


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--log-level", "LOUD"], "--log-level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'LOUD'"),
        (["--grpc", "localhost:99999"], "--grpc must be HOST:PORT"),
    ],
)
def test_bad_flags_are_one_line_before_any_file(args, fragment, tmp_path):
    code, lines, _ = _start_fails(tmp_path, "--grpc", f"127.0.0.1:{_free_port()}", "--http", "off", *args)
    assert code == 2 and len(lines) == 1 and fragment in lines[0], lines
    assert list(tmp_path.iterdir()) == []


def test_version():
    r = subprocess.run([*COSTLINE, "--version"], capture_output=True, text=True, timeout=30)
    from costline import __version__

    assert r.returncode == 0 and r.stdout.strip() == f"costline {__version__}", (r.stdout, r.stderr)


def test_localhost_binds_both_loopbacks_and_logs_them(tmp_path, figures):
    gport, hport, mport = _free_port(), _free_port(), _free_port()
    log = tmp_path / "costline.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                *COSTLINE,
                "serve",
                "--grpc",
                f"localhost:{gport}",
                "--http",
                f"localhost:{hport}",
                "--metrics",
                f"localhost:{mport}",
                "--ledger",
                "off",
            ],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "OTLP/HTTP receiver on" not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        text = log.read_text()
        loopbacks = ["127.0.0.1", "[::1]"] if IPV6 else ["127.0.0.1"]
        for kind, port in (("gRPC", gport), ("HTTP", hport)):
            want = ", ".join(f"{h}:{port}" for h in loopbacks)
            assert f"OTLP/{kind} receiver on {want}\n" in text, text
        assert "Prometheus metrics on " + ", ".join(f"http://{h}:{mport}/metrics" for h in loopbacks) in text, text
        reached = []
        for host in loopbacks:
            with socket.create_connection((host.strip("[]"), gport), timeout=5):
                reached.append(f"grpc {host}")
            with urllib.request.urlopen(f"http://{host}:{hport}/healthz", timeout=5) as resp:
                assert resp.status == 200
                reached.append(f"http {host}")
            with urllib.request.urlopen(f"http://{host}:{mport}/metrics", timeout=5) as resp:
                assert resp.status == 200
                reached.append(f"metrics {host}")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0
    figures(f"startup, localhost: bound and reached {', '.join(reached)}")


def test_sigterm_while_workers_start_is_a_clean_stop(tmp_path, figures):
    """SIGTERM at several moments of start-up (workers spawning, importing, binding): exit 0 each time."""
    codes = []
    for delay in (0.0, 0.1, 0.3, 0.6, 1.0, 1.5):
        gport, hport = _free_port(), _free_port()
        proc = subprocess.Popen(
            [
                *COSTLINE,
                "serve",
                "--workers",
                "2",
                "--grpc",
                f"127.0.0.1:{gport}",
                "--http",
                f"127.0.0.1:{hport}",
                "--ledger",
                "off",
            ],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            for line in proc.stdout:  # the supervisor has spawned its workers; they are importing now
                if "serving from 2 worker processes" in line:
                    break
            time.sleep(delay)
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        codes.append(proc.returncode)
        assert proc.returncode == 0, (
            f"SIGTERM {delay} s after the workers were spawned: exit {proc.returncode}\n{out[-3000:]}"
        )
    figures(f"startup, SIGTERM while 2 workers start, at +0 to +1.5 s: exit codes {codes}")


def test_a_port_taken_after_the_check_is_still_one_error(tmp_path):
    """The race the preflight leaves: the receivers' own bind fails as a ConfigError (one line), and the
    receiver that did start is stopped, not left serving."""
    import asyncio

    from costline_processor.config import Config, ConfigError
    from costline_processor.server import serve_forever

    gport, hport = _free_port(), _free_port()
    config = Config()
    config.receive.grpc, config.receive.http = f"127.0.0.1:{gport}", f"localhost:{hport}"
    config.ledger = "off"
    with _occupied(hport, "::1" if IPV6 else "127.0.0.1"):
        with pytest.raises(ConfigError) as e:
            asyncio.run(serve_forever(config))
    assert f"cannot listen on --http localhost:{hport}:" in str(e.value) and "\n" not in str(e.value)
    with socket.socket() as s:  # the gRPC receiver that had started is closed again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", gport))
