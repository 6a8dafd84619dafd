"""The OTLP protobuf wire format, behind one wall.

Everything costline knows about the bytes of OTLP messages is here: the lazy schema that
splits a request into span byte strings, where a span's IDs sit, how a KeyValue is laid
out, how attributes are appended to a span's own bytes, how spans are framed into a
request and how a request is cut apart again. Spans are never rebuilt on the way
through: they stay their own bytes from intake to export.

The stages outside (intake, assembly, export, the pipeline) call these functions and
join the bytes they return; they hold no field tag, length or offset themselves (the
fused per-span loops bind the names they use: span.SPAN_ID, span.PARENT_HEAD...).
Nothing here imports the rest of costline_processor.

    varint.py      varints (encoded, the small ones from a table; decoded) and LEN fields
    schema.py      the lazy schema: a request's spans and a span's attributes left as bytes
    span.py        a span's bytes: where its IDs sit; its attributes removed (the rewrite path)
    request.py     a trace request's spans grouped by trace, IDs checked at their offsets
    keyvalue.py    an attribute's KeyValue bytes decoded; keys searched for in a span's bytes
    attributes.py  attributes encoded to append to a span's bytes
    framing.py     spans framed into an export request; any export request taken apart and framed again

Every hand-written fast path here is checked against the protobuf runtime
(tests/processor/wire/, tests/processor/test_fastpath.py).
"""
