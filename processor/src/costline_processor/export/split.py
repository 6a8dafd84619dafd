"""Splitting an OTLP export request in two, at the wire level, when a backend says "too large".

costline frames export requests to `export.max_request_bytes`, but a backend may take
less (a Collector or Tempo configured lower, a proxy's body limit) and answer gRPC
RESOURCE_EXHAUSTED or HTTP 413. Such a refusal is about the request, not the data, so
the request is cut in halves and each is sent again (halves of a refused half are cut
again), down to a single item: only a lone span larger than the backend takes is dropped.

The three OTLP export requests share one shape, so one splitter serves traces, metrics
and logs without decoding any span, data point or record:

    Export*ServiceRequest   1: Resource{Spans,Metrics,Logs}  (repeated)
    Resource*               1: resource   2: Scope*  (repeated)   3: schema_url
    Scope*                  1: scope      2: span / metric / log record  (repeated)   3: schema_url

Every field other than the repeated field 2 (the resource, the scope, schema URLs, any
field unknown here) is copied into both halves; the items (field 2 of a Scope*) are cut
at the middle of their count, keeping their order. It runs only after a refusal, never
on the per-span path.
"""

from __future__ import annotations

from costline_processor.export.encode import varint

_ITEMS = 2  # Resource*.scope_* and Scope*.spans / metrics / log_records
_LEN = 2  # wire type of length-delimited fields


def halves(body: bytes) -> tuple[tuple[bytes, int], tuple[bytes, int]] | None:
    """((first half, its items), (second half, its items)) of an export request; None
    when it holds fewer than two items (spans, metrics or log records)."""
    resources = [_resource(r) for r in _fields(body, 1)]
    items = sum(len(leaves) for _, scopes in resources for _, leaves in scopes)
    if items < 2:
        return None
    cut = items // 2
    first, second = [], []
    for head, scopes in resources:
        a, b = [], []
        for scope_head, leaves in scopes:
            k = max(0, min(len(leaves), cut))
            cut -= k
            if k:
                a.append((scope_head, leaves[:k]))
            if k < len(leaves):
                b.append((scope_head, leaves[k:]))
        if a:
            first.append((head, a))
        if b:
            second.append((head, b))
    return (_request(first), items // 2), (_request(second), items - items // 2)


def count(body: bytes) -> int:
    """The items (spans, metrics or log records) of an export request."""
    return sum(len(leaves) for r in _fields(body, 1) for _, leaves in _resource(r)[1])


# -- wire reading and writing ----------------------------------------------------------------


def _resource(data: bytes) -> tuple[bytes, list[tuple[bytes, list[bytes]]]]:
    """(the fields other than 2, as bytes; [(scope's other fields, its items)])."""
    head, scopes = _split_field(data, _ITEMS)
    return head, [_split_field(s, _ITEMS) for s in scopes]


def _request(resources: list) -> bytes:
    out = []
    for head, scopes in resources:
        body = [head]
        for scope_head, leaves in scopes:
            body.append(_frame(_ITEMS, scope_head + b"".join(_frame(_ITEMS, x) for x in leaves)))
        out.append(_frame(1, b"".join(body)))
    return b"".join(out)


def _frame(field: int, payload: bytes) -> bytes:
    return varint(field << 3 | _LEN) + varint(len(payload)) + payload


def _fields(data: bytes, number: int) -> list[bytes]:
    return _split_field(data, number)[1]


def _split_field(data: bytes, number: int) -> tuple[bytes, list[bytes]]:
    """(every field but `number`, re-joined as wire bytes; the payloads of field `number`)."""
    other, found = [], []
    pos, end = 0, len(data)
    while pos < end:
        start = pos
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == _LEN:
            n, pos = _varint(data, pos)
            if key >> 3 == number:
                found.append(data[pos:pos + n])
                pos += n
                continue
            pos += n
        else:
            raise ValueError(f"unsupported wire type {wire} in an export request")
        if pos > end:
            raise ValueError("truncated export request")
        other.append(data[start:pos])
    return b"".join(other), found


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint in an export request")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, pos
        shift += 7
