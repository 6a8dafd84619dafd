"""Why a request was refused, and the one table that turns that into gRPC and HTTP answers.

Like the Collector's otlpreceiver internal/errors: permanent errors are not retried
by a conformant client (INVALID_ARGUMENT / 400, 413, 415); throttling is retryable
(UNAVAILABLE / 503 with a retry hint).
"""

from __future__ import annotations

import grpc


class RequestError(Exception):
    """A request costline refuses; `http_status` and `grpc_code` say how to answer."""

    http_status = 400
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "bad_request"


class Undecodable(RequestError):
    reason = "undecodable"


class UnsupportedMediaType(RequestError):
    http_status = 415
    reason = "unsupported_media_type"


class TooLarge(RequestError):
    http_status = 413
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "too_large"


class Unauthenticated(RequestError):
    """Auth is on and the request did not carry the right bearer token."""

    http_status = 401
    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    reason = "unauthenticated"


class Throttled(RequestError):
    """Buffers or export queues are full: the sender should retry after a while."""

    http_status = 503
    grpc_code = grpc.StatusCode.UNAVAILABLE
    reason = "throttled"

    def __init__(self, message: str, retry_after_s: float):
        super().__init__(message)
        self.retry_after_s = retry_after_s
