"""Export requests: framed to export.max_request_bytes, split in halves on "too large" (split.py)."""

from __future__ import annotations

import os
import random

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from costline_processor.config import Config, ConfigError, ExportTarget
from costline_processor.export import split
from costline_processor.export.batches import encode_requests
from tests.processor.spans import request, span


def _names(body: bytes) -> list[tuple]:
    r = ExportTraceServiceRequest.FromString(body)
    return [
        (rs.resource.SerializeToString(), rs.schema_url, ss.scope.name, ss.schema_url, s.name)
        for rs in r.resource_spans
        for ss in rs.scope_spans
        for s in ss.spans
    ]


def test_halves_keep_every_span_its_resource_and_scope_in_order():
    t = os.urandom(16)
    req = request([span(t, f"a{i}") for i in range(5)])
    rs = req.resource_spans.add(schema_url="https://schema/1")
    rs.resource.attributes.add(key="service.name").value.string_value = "other"
    ss = rs.scope_spans.add(schema_url="s")
    ss.scope.name = "lib"
    ss.spans.extend([span(t, f"b{i}") for i in range(4)])
    body = req.SerializeToString()
    (first, n1), (second, n2) = split.halves(body)
    assert (n1, n2) == (4, 5) and split.count(first) == 4 and split.count(second) == 5
    assert _names(first) + _names(second) == _names(body)
    assert split.halves(request([span(t, "alone")]).SerializeToString()) is None


def test_byte_bounded_batches_stay_under_the_bound_and_count_segments_exactly():
    rng = random.Random(7)

    def origin(i):
        res = Resource()
        res.attributes.add(key="service.name").value.string_value = f"svc{i}" * (40 * i + 1)
        scope = InstrumentationScope(name=f"scope{i}").SerializeToString()
        return (res.SerializeToString(), "https://ü" if i % 2 else "", scope, "s" * i, "svc", "scope", "")

    origins = [origin(i) for i in range(4)]
    for _ in range(100):
        traces, sent, held = [], 0, {}
        for _ in range(rng.randint(1, 5)):
            n = rng.randint(1, 30)
            spans = [
                (span(os.urandom(16), "x" * rng.choice([10, 900, 3000, 9000])).SerializeToString(), rng.choice(origins))
                for _ in range(n)
            ]
            runs, left = [], n
            while left:
                k = rng.randint(1, left)
                seg = rng.randint(1, 3)
                runs.append([seg, k])
                held[seg] = held.get(seg, 0) + k
                left -= k
            traces.append((spans, [b""] * n, runs))
            sent += n
        max_bytes, batch_spans = rng.choice([1024, 6000, 30000]), rng.choice([3, 2048])
        got, released = 0, {}
        for final in (False, True):
            for body, n, segments in encode_requests(traces, batch_spans, final, max_bytes):
                assert len(_names(body)) == n <= batch_spans
                assert len(body) <= max_bytes or n == 1
                got += n
                for seg, k in segments.items():
                    released[seg] = released.get(seg, 0) + k
        assert got == sent and released == held


def test_max_request_bytes_is_validated_and_the_smallest_target_frames():
    c = Config()
    assert c.export.max_request_bytes == 4 << 20 and c.export.request_bytes() == 4 << 20
    c.export.targets = [ExportTarget("grpc", "a:1"), ExportTarget("grpc", "b:1", max_request_bytes=1 << 20)]
    assert c.export.request_bytes() == 1 << 20
    c.validate()
    c.export.targets[1].max_request_bytes = 10
    with pytest.raises(ConfigError, match="max_request_bytes of b:1"):
        c.validate()
