"""A lazy view of ExportTraceServiceRequest: resources, scopes and spans left as bytes.

Same field numbers as OTLP, but `resource`, `scope` and each span are `bytes`, so upb
splits a request into span byte strings in C without looking inside them. Only
used on bodies that already parsed as a real ExportTraceServiceRequest.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _build():
    fdp = descriptor_pb2.FileDescriptorProto(name="costline/lazy_trace.proto", package="costline.lazy", syntax="proto3")
    ss = fdp.message_type.add(name="ScopeSpans")
    ss.field.add(name="scope", number=1, type=_F.TYPE_BYTES, label=_F.LABEL_OPTIONAL)
    ss.field.add(name="spans", number=2, type=_F.TYPE_BYTES, label=_F.LABEL_REPEATED)
    ss.field.add(name="schema_url", number=3, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    rs = fdp.message_type.add(name="ResourceSpans")
    rs.field.add(name="resource", number=1, type=_F.TYPE_BYTES, label=_F.LABEL_OPTIONAL)
    rs.field.add(name="scope_spans", number=2, type=_F.TYPE_MESSAGE, label=_F.LABEL_REPEATED,
                 type_name=".costline.lazy.ScopeSpans")
    rs.field.add(name="schema_url", number=3, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    rq = fdp.message_type.add(name="ExportTraceServiceRequest")
    rq.field.add(name="resource_spans", number=1, type=_F.TYPE_MESSAGE, label=_F.LABEL_REPEATED,
                 type_name=".costline.lazy.ResourceSpans")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("costline.lazy.ExportTraceServiceRequest"))


LazyTraceRequest = _build()
