"""From OTLP request bytes to buffered spans grouped by trace.

Intake does the least it can while a request waits for its answer: the request is
split into span byte strings (wire.request: a lazy schema, so nothing inside a span
is parsed), each span's IDs are checked, and the span is buffered as `(wire bytes,
Origin)` (records.BufferedSpan): no per-span message, dict or object. Its attributes
are read later, once, when its trace is assembled (assembly/reader.py).

An Origin, the resource and scope a span came with, is decoded once per distinct
(resource, scope) and shared by every span sent with them.
"""

from __future__ import annotations

from costline_processor.records import BufferedSpan, Origin
from costline_processor.wire.request import by_trace, scopes
from costline_processor.wire.span import message, trace_id

_ORIGINS_MAX = 4096  # resources are few per sender, but senders come and go


class Intake:
    """Turns requests into (trace_id, span) pairs; rejects spans with bad IDs."""

    def __init__(self):
        self._origins: dict[tuple, Origin] = {}

    # -- the pipeline's path: request bytes in, spans grouped by trace out ----------------
    def group(self, body: bytes) -> tuple[dict[bytes, list], int, int, str]:
        """({trace_id: [(span bytes, Origin), ...]}, accepted, rejected, first rejection message).

        `body` must already have parsed as an ExportTraceServiceRequest (the receivers
        check it), so the lazy parse cannot fail on it.
        """
        grouped, accepted, rejected, first = by_trace(body, self._origin)
        return grouped, accepted, rejected, _rejection(first) if first is not None else ""

    def _origin(self, resource: bytes, resource_schema: str, scope: bytes, scope_schema: str) -> Origin:
        key = (resource, resource_schema, scope, scope_schema)
        origin = self._origins.get(key)
        if origin is None:
            from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
            from opentelemetry.proto.resource.v1.resource_pb2 import Resource

            service = ""
            for kv in Resource.FromString(resource).attributes:
                if kv.key == "service.name":
                    service = kv.value.string_value
                    break
            sc = InstrumentationScope.FromString(scope)
            if len(self._origins) >= _ORIGINS_MAX:
                self._origins.clear()
            origin = self._origins[key] = (resource, resource_schema, scope, scope_schema, service, sc.name, sc.version)
        return origin

    # -- for tests and tools: a decoded request in, (trace_id, BufferedSpan) pairs out --------
    def spans(self, request) -> tuple[list[tuple[bytes, BufferedSpan]], int, str]:
        """(accepted spans in request order, rejected count, first rejection message)."""
        out: list[tuple[bytes, BufferedSpan]] = []
        rejected, reason = 0, ""
        for resource, resource_schema, scope, scope_schema, spans in scopes(request.SerializeToString()):
            origin = self._origin(resource, resource_schema, scope, scope_schema)
            for d in spans:
                tid = trace_id(d)
                if tid is None:
                    rejected += 1
                    reason = reason or _rejection(d)
                    continue
                out.append((tid, BufferedSpan(d, origin)))
        return out, rejected, reason


def _rejection(d: bytes) -> str:
    """What the sender hears about a span with an invalid ID (OTLP partial_success)."""
    return f"span {message(d).name!r} has an invalid trace or span ID"
