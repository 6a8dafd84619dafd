"""A stand-in for the Collector's `load_balancing` exporter with `routing_key: traceID`.

The Collector cannot run in these tests, so this reproduces the part of the contrib
exporter that decides where a span goes (exporter/loadbalancingexporter:
consistent_hashing.go, trace_exporter.go, resolver_static.go, as read for this work):

* the static resolver sorts its host names; the ring is built from those exact strings;
* every endpoint gets 100 points on a ring of 36,000 positions: point i is
  CRC-32 (IEEE) of the endpoint string followed by the byte i, modulo 36,000; a position
  already taken by an earlier endpoint is skipped;
* an incoming batch is split per trace; a trace goes to the endpoint owning the first
  point at or after CRC-32(the 16 trace-ID bytes) modulo 36,000, wrapping around.

What it does not reproduce: the exporter's queues, retries, per-endpoint OTLP
clients, DNS re-resolution and metrics. It answers "which replica gets this trace",
which is what rollup correctness depends on.
"""

from __future__ import annotations

import bisect
import zlib

MAX_POSITIONS = 36_000
POINTS_PER_ENDPOINT = 100


class HashRing:
    def __init__(self, endpoints: list[str]):
        if not endpoints:
            raise ValueError("a ring needs at least one endpoint")
        owner: dict[int, str] = {}
        for endpoint in sorted(endpoints):  # the static resolver sorts; DNS answers are sorted too
            for i in range(POINTS_PER_ENDPOINT):
                pos = zlib.crc32(endpoint.encode() + bytes([i])) % MAX_POSITIONS
                owner.setdefault(pos, endpoint)
        self.positions = sorted(owner)
        self.owners = [owner[p] for p in self.positions]

    def endpoint_for(self, trace_id: bytes) -> str:
        pos = zlib.crc32(trace_id) % MAX_POSITIONS
        i = bisect.bisect_left(self.positions, pos)
        return self.owners[i if i < len(self.positions) else 0]


def split_by_trace(spans: list) -> dict[bytes, list]:
    """What the exporter does to every batch before routing it (batchpersignal.SplitTraces)."""
    out: dict[bytes, list] = {}
    for s in spans:
        out.setdefault(bytes(s.trace_id), []).append(s)
    return out
