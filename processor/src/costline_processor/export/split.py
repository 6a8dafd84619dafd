"""Splitting an OTLP export request in two when a backend says "too large".

costline frames export requests to `export.max_request_bytes`, but a backend may take
less (a Collector or Tempo configured lower, a proxy's body limit) and answer gRPC
RESOURCE_EXHAUSTED or HTTP 413. Such a refusal is about the request, not the data, so
the request is cut in halves and each is sent again (halves of a refused half are cut
again), down to a single item: only a lone span larger than the backend takes is dropped.

The three OTLP export requests share one shape (wire/framing.py), so one splitter
serves traces, metrics and logs without decoding any span, data point or record.
Every field of a resource and a scope other than their items (the resource, the scope,
schema URLs, any field unknown here) is copied into both halves; the items (spans,
metrics or log records) are cut at the middle of their count, keeping their order. It
runs only after a refusal, never on the per-span path.
"""

from __future__ import annotations

from costline_processor.wire.framing import put_together, take_apart


def halves(body: bytes) -> tuple[tuple[bytes, int], tuple[bytes, int]] | None:
    """((first half, its items), (second half, its items)) of an export request; None
    when it holds fewer than two items (spans, metrics or log records). ValueError when
    the request is malformed."""
    resources = take_apart(body)
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
    return (put_together(first), items // 2), (put_together(second), items - items // 2)


def count(body: bytes) -> int:
    """The items (spans, metrics or log records) of an export request."""
    return sum(len(leaves) for _, scopes in take_apart(body) for _, leaves in scopes)
