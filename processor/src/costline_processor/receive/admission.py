"""Who gets in, decided from a request's headers before a byte of its body is read.

Both receivers ask the one Admission at the start of every export request: a missing or
wrong bearer token is refused (UNAUTHENTICATED / 401), and a request beyond
`receive.max_concurrent_requests` in flight is throttled (UNAVAILABLE with RetryInfo /
503 with Retry-After, so senders retry). Neither has its body read: it costs the
transport's flow-control window, not the body. An admitted request holds its slot until
it is answered, so the bodies costline holds at once are bounded by
max_concurrent_requests x max_request_bytes however many senders connect, and an
unauthenticated sender costs nothing of that.

Why not gRPC's own `maximum_concurrent_rpcs`: it answers RESOURCE_EXHAUSTED without
RetryInfo, which an OTLP sender must not retry (the Collector and the Go SDK drop the
data). One count for both receivers, since what it bounds is the process's memory; the
event loop is single-threaded, so a plain integer needs no lock.
"""

from __future__ import annotations

from costline_processor.receive.errors import Throttled
from costline_processor.receive.security import ReceiverSecurity


class Admission:
    def __init__(self, security: ReceiverSecurity | None, max_in_flight: int, retry_after_s: float, stats):
        self.security = security  # also read by the receivers for TLS
        self.max_in_flight = max_in_flight  # 0: no cap
        self.retry_after_s = retry_after_s
        self.stats = stats
        self.in_flight = 0
        self.needs_token = security is not None and security.token is not None
        self._check = security.check if security is not None and self.needs_token else None

    def enter(self, authorization: str | None) -> None:
        """Admit a request (the caller must `leave()` once it is answered), or raise
        Unauthenticated / Throttled; nothing is held then."""
        if self._check is not None:
            self._check(authorization)
        if self.max_in_flight and self.in_flight >= self.max_in_flight:
            self.stats.add("requests_throttled", 1, "max_concurrent_requests")
            raise Throttled(
                f"{self.in_flight} requests in flight, receive.max_concurrent_requests is "
                f"{self.max_in_flight}; retry later",
                self.retry_after_s,
            )
        self.in_flight += 1

    def leave(self) -> None:
        self.in_flight -= 1
