"""The processes of the overload test (tests/reliability/test_overload.py), each run as
`python -m tests.reliability.overload_procs sink|grpc-sender|http-sender ...`.

sink    A slow OTLP/gRPC backend: it takes at most `--rate` spans/s (one lock, a sleep
        per request in proportion to its spans), answers every `--fail-every`-th request
        UNAVAILABLE without keeping it (so costline's export retries run too), and keeps
        the span ID of every span it takes. On SIGTERM it writes them to `--out`. With
        `--down` it answers every request UNAVAILABLE until it gets SIGUSR1 (a backend
        that is down, then back).
senders Push unique spans as fast as costline takes them for `--duration` seconds; a
        throttling answer (UNAVAILABLE with RetryInfo, HTTP 503 with Retry-After) is
        honoured and the same request sent again until it is accepted. Every span ID
        acknowledged goes to `--out`, the counts to `--out`.json. `--span-bytes N` pads
        each span with an N-byte attribute, `--traces N` sets the traces per request.

Span IDs are `sender index (2 bytes) | counter (6 bytes)`, so every process makes its
own and a span seen at the sink tells which sender made it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import struct
import sys
import threading
import time
from concurrent import futures

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
PRICED_KEY = b"\x11costline.cost.usd"  # the key's length prefix and bytes: exact match in a span's attributes
TRACES_PER_REQUEST = 50
SPANS_PER_TRACE = 6  # root, agent step, two tools, two model calls: a third are model calls
LLM_PER_TRACE = 2


# -- the request template ---------------------------------------------------------------------


class Template:
    """One serialised ExportTraceServiceRequest whose IDs are random markers; `make` patches
    fresh IDs in at the markers' offsets (same lengths, so nothing is re-encoded): a sender
    spends ~1 µs per span instead of building messages, and costline stays the one busy."""

    def __init__(self, index: int, traces: int = TRACES_PER_REQUEST, span_bytes: int = 0):
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        from tests.processor.spans import set_value

        rnd = random.Random(index)
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        for k, v in (("service.name", f"overload-{index}"), ("telemetry.sdk.name", "opentelemetry")):
            set_value(rs.resource.attributes.add(key=k), v)
        ss = rs.scope_spans.add()
        ss.scope.name = "overload"
        self.trace_markers: list[bytes] = []
        self.span_markers: list[bytes] = []
        start = 1_763_900_000_000_000_000
        for t in range(traces):
            tid = rnd.randbytes(16)
            self.trace_markers.append(tid)
            ids = [rnd.randbytes(8) for _ in range(SPANS_PER_TRACE)]
            self.span_markers.extend(ids)
            root, step, tool1, llm1, llm2, tool2 = ids
            shape = [
                (root, None, "POST /answer", {"costline.feature": "support-bot", "costline.customer_id": f"c{t % 7}"}),
                (
                    step,
                    root,
                    "invoke_agent triage",
                    {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "triage"},
                ),
                (
                    tool1,
                    step,
                    "execute_tool search",
                    {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"},
                ),
                (llm1, step, "chat gpt-4o-mini", _usage("gpt-4o-mini", 1200 + t, 80 + t)),
                (llm2, step, "chat gpt-4o", _usage("gpt-4o", 900 + t, 150)),
                (
                    tool2,
                    root,
                    "execute_tool reply",
                    {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "reply"},
                ),
            ]
            for i, (sid, parent, name, attrs) in enumerate(shape):
                s = ss.spans.add(
                    trace_id=tid,
                    span_id=sid,
                    name=name,
                    kind=1,
                    start_time_unix_nano=start + i * 1000,
                    end_time_unix_nano=start + 1_000_000 + i,
                )
                if parent is not None:
                    s.parent_span_id = parent
                for k, v in attrs.items():
                    set_value(s.attributes.add(key=k), v)
                if span_bytes:
                    set_value(s.attributes.add(key="payload"), "x" * span_bytes)
        self.body = bytearray(req.SerializeToString())
        # (offset, index into fresh span IDs) for every span_id and parent_span_id occurrence
        self.span_at = [(o, i) for i, m in enumerate(self.span_markers) for o in _find_all(self.body, m)]
        self.trace_at = [(o, i) for i, m in enumerate(self.trace_markers) for o in _find_all(self.body, m)]
        assert len(self.trace_at) == traces * SPANS_PER_TRACE, "a trace marker is not unique"
        assert len(self.span_at) == traces * (2 * SPANS_PER_TRACE - 1), "a span marker is not unique"
        self.traces = traces
        self.prefix = index << 48
        self.counter = 1
        self.spans = len(self.span_markers)

    def make(self) -> tuple[bytes, bytes]:
        """(request body, its span IDs concatenated)."""
        first = self.prefix | self.counter
        self.counter += self.spans
        ids = [struct.pack(">Q", first + i) for i in range(self.spans)]
        traces = os.urandom(16 * self.traces)
        body = self.body
        for o, i in self.span_at:
            body[o : o + 8] = ids[i]
        for o, i in self.trace_at:
            body[o : o + 16] = traces[16 * i : 16 * i + 16]
        return bytes(body), b"".join(ids)


def _usage(model: str, inp: int, out: int) -> dict:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        "gen_ai.response.model": model,
        "gen_ai.usage.input_tokens": inp,
        "gen_ai.usage.output_tokens": out,
    }


def _find_all(data: bytearray, marker: bytes) -> list[int]:
    out, at = [], data.find(marker)
    while at >= 0:
        out.append(at)
        at = data.find(marker, at + 1)
    return out


# -- senders ----------------------------------------------------------------------------------


class Tally:
    def __init__(self):
        self.acked = bytearray()  # 8-byte span IDs, in acknowledgement order
        self.requests = 0  # attempts, retries included
        self.throttled = 0  # answers that asked to retry later (with a hint)
        self.retried_other = 0  # transport failures retried (connection reset, timeout)
        self.errors: list[str] = []  # answers that are neither success nor throttling
        self.max_retry_wait = 0.0

    def write(self, out: str, started: float) -> None:
        with open(out, "wb") as f:
            f.write(self.acked)
        doc = {
            "acked": len(self.acked) // 8,
            "llm_acked": len(self.acked) // 8 * LLM_PER_TRACE // SPANS_PER_TRACE,
            "requests": self.requests,
            "throttled": self.throttled,
            "retried_other": self.retried_other,
            "errors": self.errors[:20],
            "error_count": len(self.errors),
            "seconds": time.monotonic() - started,
            "max_retry_wait": self.max_retry_wait,
        }
        with open(out + ".json", "w") as f:
            json.dump(doc, f)


def _send_until_taken(send, tally: Tally, give_up_at: float) -> bool:
    """`send()` returns None when the request was taken, else the seconds to wait (a retry)."""
    while True:
        tally.requests += 1
        wait = send()
        if wait is None:
            return True
        if time.monotonic() + wait > give_up_at:
            tally.errors.append("gave up retrying: costline never took the request")
            return False
        tally.max_retry_wait = max(tally.max_retry_wait, wait)
        time.sleep(wait)


def grpc_sender(args) -> None:
    import grpc
    from google.rpc import error_details_pb2

    tpl = Template(args.index, args.traces, args.span_bytes)
    channel = grpc.insecure_channel(args.target, options=[("grpc.max_send_message_length", 64 << 20)])
    export = channel.unary_unary(EXPORT)  # bytes in, bytes out
    tally = Tally()

    def send_one(body: bytes):
        def send():
            try:
                answer = export(body, timeout=30)
            except grpc.RpcError as e:
                code = e.code()
                if code == grpc.StatusCode.UNAVAILABLE:
                    hint = _grpc_retry_hint(e.trailing_metadata() or (), error_details_pb2)
                    if hint is not None:
                        tally.throttled += 1
                        return hint
                    tally.retried_other += 1  # not listening yet, connection reset: retry soon
                    return 0.2
                if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                    tally.retried_other += 1  # may have been taken: a duplicate, which the sink counts
                    return 0.0
                tally.errors.append(f"{code.name}: {e.details()}")
                return None
            if answer:
                tally.errors.append(f"partial success: {answer!r}")
            return None

        return send

    _run(args, tpl, send_one, tally)
    channel.close()


def _grpc_retry_hint(trailers, error_details_pb2) -> float | None:
    for key, value in trailers:
        if key == "google.rpc.retryinfo-bin":
            d = error_details_pb2.RetryInfo.FromString(value).retry_delay
            return d.seconds + d.nanos / 1e9
    return None


def http_sender(args) -> None:
    tpl = Template(args.index, args.traces, args.span_bytes)
    host, port = args.target.rsplit(":", 1)
    tally = Tally()
    conn: list[http.client.HTTPConnection | None] = [None]

    def send_one(body: bytes):
        def send():
            try:
                if conn[0] is None:
                    conn[0] = http.client.HTTPConnection(host, int(port), timeout=30)
                conn[0].request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
                r = conn[0].getresponse()
                answer = r.read()
            except (OSError, http.client.HTTPException):
                if conn[0] is not None:
                    conn[0].close()
                conn[0] = None
                tally.retried_other += 1
                return 0.2
            if r.status == 200:
                if answer:
                    tally.errors.append(f"partial success: {answer!r}")
                return None
            if r.status in (429, 503) and r.getheader("Retry-After"):
                tally.throttled += 1
                return float(r.getheader("Retry-After"))
            tally.errors.append(f"HTTP {r.status}: {answer[:200]!r}")
            return None

        return send

    _run(args, tpl, send_one, tally)


def _run(args, tpl: Template, send_one, tally: Tally) -> None:
    started = time.monotonic()
    end = started + args.duration
    give_up_at = end + args.finish_s  # the request in flight at `end` is still retried until taken
    while time.monotonic() < end:
        body, ids = tpl.make()
        errors = len(tally.errors)
        if not _send_until_taken(send_one(body), tally, give_up_at):
            break
        if len(tally.errors) == errors:
            tally.acked += ids
    tally.write(args.out, started)


# -- the slow sink ----------------------------------------------------------------------------


def sink(args) -> None:
    import grpc
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    received = bytearray()
    counts = {"requests": 0, "failed_on_purpose": 0, "priced": 0, "refused_while_down": 0}
    up = threading.Event()
    if not args.down:
        up.set()
    signal.signal(signal.SIGUSR1, lambda *_: up.set())
    lock = threading.Lock()
    count_lock = threading.Lock()

    def export(body: bytes, context) -> bytes:
        if not up.is_set():
            with count_lock:
                counts["refused_while_down"] += 1
            context.abort(grpc.StatusCode.UNAVAILABLE, "the backend is down")
        with count_lock:
            counts["requests"] += 1
            fail = args.fail_every and counts["requests"] % args.fail_every == 0
            if fail:
                counts["failed_on_purpose"] += 1
        if fail:
            context.abort(grpc.StatusCode.UNAVAILABLE, "sink fails this one on purpose")
        req = ExportTraceServiceRequest.FromString(body)
        ids = b"".join(s.span_id for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans)
        with lock:  # the capacity: one request at a time, n / rate seconds each
            if args.rate:
                time.sleep(len(ids) // 8 / args.rate)
            received.extend(ids)
            counts["priced"] += body.count(PRICED_KEY)
        return b""

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8), options=[("grpc.max_receive_message_length", 64 << 20)]
    )
    handler = grpc.unary_unary_rpc_method_handler(export)
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "opentelemetry.proto.collector.trace.v1.TraceService", {"Export": handler}
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(port))
    os.replace(args.port_file + ".tmp", args.port_file)
    stop.wait()
    server.stop(5).wait()
    with lock:
        with open(args.out, "wb") as f:
            f.write(received)
        with open(args.out + ".json", "w") as f:
            json.dump({**counts, "spans": len(received) // 8}, f)


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sink")
    s.add_argument("--port-file", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--rate", type=float, default=0, help="spans/s the sink takes at most (0: no limit)")
    s.add_argument("--fail-every", type=int, default=0)
    s.add_argument("--down", action="store_true", help="answer UNAVAILABLE until SIGUSR1")
    for name in ("grpc-sender", "http-sender"):
        s = sub.add_parser(name)
        s.add_argument("--target", required=True, help="HOST:PORT")
        s.add_argument("--index", type=int, required=True)
        s.add_argument("--duration", type=float, required=True)
        s.add_argument("--finish-s", type=float, default=60)
        s.add_argument("--out", required=True)
        s.add_argument("--traces", type=int, default=TRACES_PER_REQUEST, help="traces per request")
        s.add_argument("--span-bytes", type=int, default=0, help="pad each span with an attribute this long")
    args = p.parse_args(argv)
    {"sink": sink, "grpc-sender": grpc_sender, "http-sender": http_sender}[args.cmd](args)


if __name__ == "__main__":
    main(sys.argv[1:])
