"""Builders for OTLP requests in tests: spans with attributes, parent links, services."""

from __future__ import annotations

import itertools
import os

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

_ids = itertools.count(1)


def new_trace_id() -> bytes:
    return os.urandom(16)


def new_span_id() -> bytes:
    return next(_ids).to_bytes(8, "big")


def span(
    trace_id: bytes,
    name: str,
    parent: Span | None = None,
    span_id: bytes | None = None,
    start: int = 1_763_900_000_000_000_000,
    duration: int = 1_000_000_000,
    **attrs,
) -> Span:
    s = Span(
        trace_id=trace_id,
        span_id=span_id or new_span_id(),
        name=name,
        start_time_unix_nano=start,
        end_time_unix_nano=start + duration,
    )
    if parent is not None:
        s.parent_span_id = parent.span_id
    for k, v in attrs.items():
        set_value(s.attributes.add(key=k.replace("__", ".")), v)
    return s


def set_value(kv, v) -> None:
    """Set a KeyValue's AnyValue from a Python value (None leaves it empty)."""
    if v is None:
        return
    if isinstance(v, bool):
        kv.value.bool_value = v
    elif isinstance(v, int):
        kv.value.int_value = v
    elif isinstance(v, float):
        kv.value.double_value = v
    elif isinstance(v, list):
        for x in v:
            kv.value.array_value.values.add().string_value = x
    elif isinstance(v, bytes):
        kv.value.bytes_value = v
    else:
        kv.value.string_value = v if isinstance(v, str) else str(v)


def request(spans: list[Span], service: str = "checkout", scope: str = "test") -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add(key="service.name")
    kv.value.string_value = service
    ss = rs.scope_spans.add()
    ss.scope.name = scope
    ss.spans.extend(spans)
    return req


def llm(
    trace_id: bytes,
    parent: Span | None,
    model: str = "gpt-4o",
    input_tokens: int = 1000,
    output_tokens: int = 100,
    provider: str = "openai",
    **extra,
) -> Span:
    return span(
        trace_id,
        f"chat {model}",
        parent,
        gen_ai__operation__name="chat",
        gen_ai__provider__name=provider,
        gen_ai__request__model=model,
        gen_ai__response__model=model,
        gen_ai__usage__input_tokens=input_tokens,
        gen_ai__usage__output_tokens=output_tokens,
        **extra,
    )
