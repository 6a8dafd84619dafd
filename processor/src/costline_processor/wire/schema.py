"""The lazy schema: OTLP trace messages with the parts costline does not read left as bytes.

LazyTraceRequest has ExportTraceServiceRequest's field numbers, but `resource`, `scope`
and each span are `bytes`, so upb splits a request into span byte strings in C without
looking inside them. Only used on bodies that already parsed as a real
ExportTraceServiceRequest (the receivers check them).

SpanView reads a Span's name, kind, times and attributes, each attribute left as its
KeyValue bytes (keyvalue.py decodes them); the other fields are skipped. Same values
as Span for any valid Span bytes.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _build():
    """The two message classes, from a descriptor built here (no generated module)."""
    fdp = descriptor_pb2.FileDescriptorProto(name="costline/lazy_trace.proto", package="costline.lazy", syntax="proto3")
    ss = fdp.message_type.add(name="ScopeSpans")
    ss.field.add(name="scope", number=1, type=_F.TYPE_BYTES, label=_F.LABEL_OPTIONAL)
    ss.field.add(name="spans", number=2, type=_F.TYPE_BYTES, label=_F.LABEL_REPEATED)
    ss.field.add(name="schema_url", number=3, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    rs = fdp.message_type.add(name="ResourceSpans")
    rs.field.add(name="resource", number=1, type=_F.TYPE_BYTES, label=_F.LABEL_OPTIONAL)
    rs.field.add(
        name="scope_spans",
        number=2,
        type=_F.TYPE_MESSAGE,
        label=_F.LABEL_REPEATED,
        type_name=".costline.lazy.ScopeSpans",
    )
    rs.field.add(name="schema_url", number=3, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    rq = fdp.message_type.add(name="ExportTraceServiceRequest")
    rq.field.add(
        name="resource_spans",
        number=1,
        type=_F.TYPE_MESSAGE,
        label=_F.LABEL_REPEATED,
        type_name=".costline.lazy.ResourceSpans",
    )
    sv = fdp.message_type.add(name="SpanView")
    sv.field.add(name="name", number=5, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    sv.field.add(name="kind", number=6, type=_F.TYPE_INT32, label=_F.LABEL_OPTIONAL)
    sv.field.add(name="start_time_unix_nano", number=7, type=_F.TYPE_FIXED64, label=_F.LABEL_OPTIONAL)
    sv.field.add(name="end_time_unix_nano", number=8, type=_F.TYPE_FIXED64, label=_F.LABEL_OPTIONAL)
    sv.field.add(name="attributes", number=9, type=_F.TYPE_BYTES, label=_F.LABEL_REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return (
        message_factory.GetMessageClass(pool.FindMessageTypeByName("costline.lazy.ExportTraceServiceRequest")),
        message_factory.GetMessageClass(pool.FindMessageTypeByName("costline.lazy.SpanView")),
    )


LazyTraceRequest, SpanView = _build()
