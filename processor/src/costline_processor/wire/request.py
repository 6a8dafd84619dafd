"""A trace request's spans, as byte strings grouped by trace, without decoding a span.

upb splits the request with the lazy schema (schema.py) into span byte strings in C;
each span's IDs are checked at their usual offsets (span.py) and the span joins its
trace's list as `(span bytes, origin)`, the origin being whatever `origin_of` makes of
its resource and scope (intake's Origin tuple). Spans laid out unusually are checked
with the protobuf runtime instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from costline_processor.wire.schema import LazyTraceRequest
from costline_processor.wire.span import (
    SPAN_ID_HEAD,
    SPAN_ID_HEAD_AT,
    TRACE_ID,
    TRACE_ID_HEAD,
    ZERO_SPAN_ID,
    ZERO_TRACE_ID,
    trace_id,
)

OriginOf = Callable[[bytes, str, bytes, str], tuple]  # (resource, its schema_url, scope, its schema_url) -> origin


def by_trace(body: bytes, origin_of: OriginOf) -> tuple[dict[bytes, list], int, int, bytes | None]:
    """({trace_id: [(span bytes, origin), ...]}, spans accepted, spans rejected, the first
    rejected span's bytes or None). A span is rejected when its trace or span ID is invalid
    (not 16 / 8 bytes, or all zero).

    The per-span loop of intake, fused on purpose (one pass, no call per span): spans of a
    trace often come together, so a span that starts like the previous one (`run`: its
    trace ID framed by the trace and span ID heads) joins the same list without a lookup.
    `body` must already have parsed as an ExportTraceServiceRequest.
    """
    grouped: dict[bytes, list] = {}
    get = grouped.get
    accepted = rejected = 0
    first_rejected = None
    for rs in LazyTraceRequest.FromString(body).resource_spans:
        for ss in rs.scope_spans:
            origin = origin_of(rs.resource, rs.schema_url, ss.scope, ss.schema_url)
            spans = ss.spans
            run: bytes | None = None
            group: Any = None  # the list of the trace `run` names
            for d in spans:
                if run is not None and d.startswith(run) and not d.startswith(ZERO_SPAN_ID, 20):
                    group.append((d, origin))
                    continue
                if (
                    d.startswith(SPAN_ID_HEAD, SPAN_ID_HEAD_AT)
                    and d.startswith(TRACE_ID_HEAD)
                    and not d.startswith(ZERO_SPAN_ID, 20)
                ):
                    tid = d[TRACE_ID]
                    if tid == ZERO_TRACE_ID:
                        tid = None
                else:
                    tid = trace_id(d)
                if tid is None:
                    rejected += 1
                    if first_rejected is None:
                        first_rejected = d
                    continue
                group = get(tid)
                if group is None:
                    group = grouped[tid] = [(d, origin)]
                else:
                    group.append((d, origin))
                run = TRACE_ID_HEAD + tid + SPAN_ID_HEAD
            accepted += len(spans)
    return grouped, accepted - rejected, rejected, first_rejected


def scopes(body: bytes) -> Iterator[tuple[bytes, str, bytes, str, list[bytes]]]:
    """(resource, its schema_url, scope, its schema_url, [span bytes]) per ScopeSpans of a
    request, in request order."""
    for rs in LazyTraceRequest.FromString(body).resource_spans:
        for ss in rs.scope_spans:
            yield rs.resource, rs.schema_url, ss.scope, ss.schema_url, ss.spans
