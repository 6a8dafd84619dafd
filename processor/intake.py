"""From a decoded ExportTraceServiceRequest to buffered spans, in one pass.

Each span's attributes are scanned once; only the keys some stage reads (usage,
model, tags, agent steps) are decoded into a small dict. The span itself is kept as
its wire bytes (about a quarter of a parsed message's memory), and the resource and
scope it came with are shared by all its siblings.
"""

from __future__ import annotations

from dataclasses import dataclass

from costline.processor.assembly.steps import STEP_KEYS, step_name
from costline.processor.assembly.tags import OUTPUT_KEYS, OUTPUT_PREFIXES, TAG_PREFIX, TagReader
from costline.processor.normalize import INTERESTING_KEYS, INTERESTING_PREFIXES, normalize_span
from costline.processor.records import ModelCall


@dataclass(slots=True, frozen=True)
class Origin:
    """The resource and instrumentation scope a span was sent with (shared, encoded once)."""

    resource: bytes
    resource_schema: str
    scope: bytes
    scope_schema: str
    service: str
    scope_name: str


class BufferedSpan:
    """One span waiting for its trace: wire bytes plus what assembly needs to know."""

    __slots__ = ("data", "span_id", "parent_id", "origin", "start", "end", "name", "tags", "own_tags", "step", "call", "rewrite")

    def __init__(self, data, span_id, parent_id, origin, start, end, name, tags, own_tags, step, call, rewrite):
        self.data: bytes = data
        self.span_id: bytes = span_id
        self.parent_id: bytes = parent_id
        self.origin: Origin = origin
        self.start: int = start
        self.end: int = end
        self.name: str = name
        self.tags: dict[str, str] | None = tags
        self.own_tags: frozenset[str] = own_tags
        self.step: str | None = step
        self.call: ModelCall | None = call
        self.rewrite: bool = rewrite


def decode_value(v):
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [decode_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return None  # no stage reads maps
    return getattr(v, kind)


class Intake:
    """Turns requests into (trace_id, BufferedSpan) pairs; rejects spans with bad IDs."""

    def __init__(self, tag_reader: TagReader):
        self.tags = tag_reader
        self.keys = INTERESTING_KEYS | STEP_KEYS | tag_reader.keys | OUTPUT_KEYS
        self.prefixes = tuple(dict.fromkeys((*INTERESTING_PREFIXES, TAG_PREFIX, *tag_reader.prefixes)))

    def spans(self, request) -> tuple[list[tuple[bytes, BufferedSpan]], int, str]:
        """(accepted spans, rejected count, first rejection message)."""
        out: list[tuple[bytes, BufferedSpan]] = []
        rejected, message = 0, ""
        keys, prefixes = self.keys, self.prefixes
        for rs in request.resource_spans:
            resource = rs.resource
            service = ""
            for kv in resource.attributes:
                if kv.key == "service.name":
                    service = kv.value.string_value
                    break
            resource_bytes = resource.SerializeToString()
            for ss in rs.scope_spans:
                scope = ss.scope
                origin = Origin(resource_bytes, rs.schema_url, scope.SerializeToString(), ss.schema_url, service, scope.name)
                for span in ss.spans:
                    trace_id, span_id = span.trace_id, span.span_id
                    if len(trace_id) != 16 or trace_id == b"\0" * 16 or len(span_id) != 8 or span_id == b"\0" * 8:
                        rejected += 1
                        message = message or f"span {span.name!r} has an invalid trace or span ID"
                        continue
                    picked = {}
                    for kv in span.attributes:
                        key = kv.key
                        if key in keys or key.startswith(prefixes):
                            picked[key] = decode_value(kv.value)
                    out.append((trace_id, self._buffered(span, origin, scope, picked)))
        return out, rejected, message

    def _buffered(self, span, origin: Origin, scope, picked: dict) -> BufferedSpan:
        call = tags = step = None
        own: frozenset[str] = frozenset()
        rewrite = False
        if picked:
            call = normalize_span(
                picked, scope_name=scope.name, scope_version=scope.version, span_name=span.name, span_kind=span.kind
            )
            tags, own = self.tags.read(picked)
            step = step_name(picked, span.name)
            rewrite = any(k.startswith(OUTPUT_PREFIXES) or k in OUTPUT_KEYS for k in picked)
        parent = span.parent_span_id
        return BufferedSpan(
            span.SerializeToString(),
            span.span_id,
            parent if len(parent) == 8 else b"",
            origin,
            span.start_time_unix_nano,
            span.end_time_unix_nano,
            span.name,
            tags,
            own,
            step,
            call,
            rewrite,
        )
