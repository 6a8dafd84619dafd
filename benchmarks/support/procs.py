"""The processes of an end-to-end run, each in its own interpreter (multiprocessing spawn):

  load generator --gRPC--> target (costline serve | pass-through hop) --gRPC--> counting sink

All on 127.0.0.1. The load generator re-sends pre-built 1 000-span requests, stamping
each send with a unique number (support/wire.stamp), either as fast as the target
answers (a closed loop per connection) or at a fixed rate. The sink counts spans
without parsing them and, in latency mode, records when each send's spans arrived.
Every loop is bounded: it stops on its event or its deadline, whichever comes first.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
ROOT = Path(__file__).resolve().parents[2]
_MAX_MSG = 64 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def _run_loop(coro):
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def write_bodies(path: str, bodies: list[bytes]) -> None:
    with open(path, "wb") as f:
        for b in bodies:
            f.write(len(b).to_bytes(4, "big"))
            f.write(b)


def read_bodies(path: str) -> list[bytes]:
    data = Path(path).read_bytes()
    out, pos = [], 0
    while pos < len(data):
        n = int.from_bytes(data[pos : pos + 4], "big")
        out.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out


# ---------------------------------------------------------------------------------------------
# Process memory and CPU (Linux /proc; psutil when present for CPU times of a process tree)


def listening(pid: int, port: int) -> bool:
    """Whether process `pid` holds a socket listening on `port` (Linux /proc)."""
    inodes = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(path).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f[9])
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return True
    return False


def wait_listening(pids, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(listening(p, port) for p in pids()):
            return
        time.sleep(0.05)
    raise TimeoutError(f"not every process listens on {port} after {timeout}s")


def rss_bytes(pid: int) -> int:
    return _status_kb(pid, "VmRSS") * 1024


def peak_rss_bytes(pid: int) -> int:
    return _status_kb(pid, "VmHWM") * 1024


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (not their children)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (FileNotFoundError, IndexError):
            pass
    return total


def children_of(pid: int) -> list[int]:
    """Child processes, leaving out multiprocessing's resource tracker."""
    out = []
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    for k in kids:
        try:
            if b"resource_tracker" not in Path(f"/proc/{k}/cmdline").read_bytes():
                out.append(int(k))
        except FileNotFoundError:
            pass
    return out


# ---------------------------------------------------------------------------------------------
# Counting sink


class Sink:
    """A counting OTLP/gRPC trace sink in its own process."""

    def __init__(self, latency: bool = False):
        ctx = mp.get_context("spawn")
        self.port = free_port()
        self.spans = ctx.Value("q", 0)
        self.requests = ctx.Value("q", 0)
        self._stop = ctx.Event()
        self._ready = ctx.Event()
        self._parent_conn, child_conn = ctx.Pipe()
        self.proc = ctx.Process(
            target=_sink_main,
            args=(self.port, self.spans, self.requests, self._ready, self._stop, child_conn, latency),
            daemon=True,
        )

    def __enter__(self) -> Sink:
        self.proc.start()
        if not self._ready.wait(30):
            raise TimeoutError("sink did not start")
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def count(self) -> int:
        return self.spans.value

    def arrivals(self) -> list[tuple[float, dict[int, int]]]:
        """Latency mode: [(monotonic arrival time, {send number: spans})], and resets the record."""
        self._parent_conn.send("arrivals")
        return self._parent_conn.recv()

    def stop(self) -> None:
        if self.proc.is_alive():
            self._stop.set()
            self.proc.join(10)
            if self.proc.is_alive():
                self.proc.kill()


def _sink_main(port, spans, requests, ready, stop, conn, latency) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import grpc

    from support.wire import count_spans, send_numbers

    record: list = []

    async def main():
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", _MAX_MSG)])

        async def export(body: bytes, context) -> bytes:
            if latency:
                now = time.monotonic()
                sends = send_numbers(body)
                record.append((now, sends))
                n = sum(sends.values())
            else:
                n = count_spans(body)
            with spans.get_lock():
                spans.value += n
            with requests.get_lock():
                requests.value += 1
            return b""

        handler = grpc.unary_unary_rpc_method_handler(export, request_deserializer=None, response_serializer=None)
        server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    "opentelemetry.proto.collector.trace.v1.TraceService", {"Export": handler}
                )
            ]
        )
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        ready.set()
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            if await loop.run_in_executor(None, conn.poll, 0.1):
                conn.recv()
                conn.send(list(record))
                record.clear()
        await server.stop(0.5)

    _run_loop(main())


# ---------------------------------------------------------------------------------------------
# Load generator


class LoadGen:
    """Sends stamped copies of `bodies_path`'s requests to `target` until stopped or `duration` passes.

    rate=0: as fast as the target answers, `inflight` requests in flight per connection.
    rate>0: spans/s, one request every 1000/rate seconds (open loop, bounded in-flight).
    """

    def __init__(
        self,
        target: str,
        bodies_path: str,
        *,
        connections: int = 8,
        inflight: int = 2,
        rate: float = 0,
        duration: float = 120.0,
        max_sends: int = 0,
        first: int = 1,
    ):
        """`first`: the first send number (trace IDs are unique per send number: several load
        generators against one target must not overlap)."""
        ctx = mp.get_context("spawn")
        self.sent = ctx.Value("q", 0)  # spans the target accepted
        self.throttled = ctx.Value("q", 0)
        self.failed = ctx.Value("q", 0)
        self._stop = ctx.Event()
        self._sent_at: dict | None = None
        self._parent_conn, child_conn = ctx.Pipe()
        self.proc = ctx.Process(
            target=_loadgen_main,
            args=(
                target,
                bodies_path,
                connections,
                inflight,
                rate,
                duration,
                max_sends,
                self.sent,
                self.throttled,
                self.failed,
                self._stop,
                child_conn,
                first,
            ),
            daemon=True,
        )

    def __enter__(self) -> LoadGen:
        self.proc.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> dict[int, float]:
        """Stop sending; returns {send number: monotonic send time} (filled in rate mode)."""
        if self._sent_at is not None:
            return self._sent_at
        self._stop.set()
        sent_at = {}
        if self.proc.pid is not None:
            try:
                if self._parent_conn.poll(60):
                    sent_at = self._parent_conn.recv()
            except (EOFError, OSError):
                pass
            self.proc.join(10)
            if self.proc.is_alive():
                self.proc.kill()
        self._sent_at = sent_at
        return sent_at


def _loadgen_main(
    target, bodies_path, connections, inflight, rate, duration, max_sends, sent, throttled, failed, stop, conn, first=1
):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import grpc

    from support.wire import count_spans, stamp

    bodies = read_bodies(bodies_path)
    spans_of = [count_spans(b) for b in bodies]
    sent_at: dict[int, float] = {}
    counter = iter(range(first, 1 << 62))

    async def main():
        deadline = time.monotonic() + duration
        channels = [
            grpc.aio.insecure_channel(
                target,
                options=[
                    ("grpc.max_send_message_length", _MAX_MSG),
                    ("grpc.use_local_subchannel_pool", 1),
                    ("costline.bench.connection", i),
                ],
            )
            for i in range(connections)
        ]
        calls = [ch.unary_unary(EXPORT, request_serializer=None, response_deserializer=None) for ch in channels]

        started = [0]

        def done() -> bool:
            return stop.is_set() or time.monotonic() > deadline or (max_sends and started[0] >= max_sends)

        async def send_one(call) -> None:
            started[0] += 1
            n = next(counter)
            i = n % len(bodies)
            body = stamp(bodies[i], n)
            if rate:
                sent_at[n] = time.monotonic()
            try:
                await call(body, timeout=60)
            except grpc.aio.AioRpcError as e:
                sent_at.pop(n, None)
                if e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED):
                    with throttled.get_lock():
                        throttled.value += 1
                    await asyncio.sleep(0.05)
                else:
                    with failed.get_lock():
                        failed.value += 1
                    await asyncio.sleep(0.2)
                return
            with sent.get_lock():
                sent.value += spans_of[i]

        async def closed_loop(call) -> None:
            while not done():
                await send_one(call)

        async def open_loop() -> None:
            interval = (sum(spans_of) / len(spans_of)) / rate
            tasks: set = set()
            k = 0
            next_t = time.monotonic()
            while not done():
                now = time.monotonic()
                if next_t > now:
                    await asyncio.sleep(next_t - now)
                next_t += interval
                if len(tasks) < 64:
                    t = asyncio.ensure_future(send_one(calls[k % len(calls)]))
                    k += 1
                    tasks.add(t)
                    t.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.wait(tasks, timeout=30)

        if rate:
            await open_loop()
        else:
            await asyncio.gather(*(closed_loop(c) for c in calls for _ in range(inflight)))
        for ch in channels:
            await ch.close()

    _run_loop(main())
    conn.send(sent_at)


# ---------------------------------------------------------------------------------------------
# Targets


def start_costline(port: int, sink_endpoint: str, *extra: str, env: dict | None = None) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "costline_processor.cli",
        "serve",
        "--grpc",
        f"127.0.0.1:{port}",
        "--export-grpc",
        sink_endpoint,
        "--log-level",
        "WARNING",
        *extra,
    ]
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    wait_port(port, proc=proc)
    return proc


def stop_process(proc: subprocess.Popen, timeout: float = 60) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class PassThroughHop:
    """A plain OTLP/gRPC hop from the same libraries: parse the request, forward it, no processing."""

    def __init__(self, sink_endpoint: str):
        ctx = mp.get_context("spawn")
        self.port = free_port()
        self._stop = ctx.Event()
        self._ready = ctx.Event()
        self.proc = ctx.Process(target=_hop_main, args=(self.port, sink_endpoint, self._ready, self._stop), daemon=True)

    def __enter__(self) -> PassThroughHop:
        self.proc.start()
        if not self._ready.wait(30):
            raise TimeoutError("hop did not start")
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.is_alive():
            self._stop.set()
            self.proc.join(10)
            if self.proc.is_alive():
                self.proc.kill()

    @property
    def pid(self) -> int:
        return self.proc.pid


def _hop_main(port, sink_endpoint, ready, stop) -> None:
    import grpc
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )

    async def main():
        channel = grpc.aio.insecure_channel(sink_endpoint, options=[("grpc.max_send_message_length", -1)])
        forward = channel.unary_unary(
            EXPORT,
            request_serializer=ExportTraceServiceRequest.SerializeToString,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", _MAX_MSG)])

        async def export(request, context):
            return await forward(request, timeout=30)

        handler = grpc.unary_unary_rpc_method_handler(
            export,
            request_deserializer=ExportTraceServiceRequest.FromString,
            response_serializer=ExportTraceServiceResponse.SerializeToString,
        )
        server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    "opentelemetry.proto.collector.trace.v1.TraceService", {"Export": handler}
                )
            ]
        )
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await server.stop(0.5)
        await channel.close()

    _run_loop(main())


def steady_rate(sink: Sink, port: int, bodies_path: str, seconds: float, settle: float = 0.0) -> float:
    """Spans/s reaching `sink` while a closed-loop load generator drives the target on `port`:
    counted over `seconds`, after the first export and `settle` more seconds."""
    with LoadGen(f"127.0.0.1:{port}", bodies_path, duration=seconds + settle + 30) as lg:
        while sink.count() == 0:
            time.sleep(0.05)
        time.sleep(settle)
        c0, t0 = sink.count(), time.monotonic()
        time.sleep(seconds)
        rate = (sink.count() - c0) / (time.monotonic() - t0)
        lg.stop()
    return rate
