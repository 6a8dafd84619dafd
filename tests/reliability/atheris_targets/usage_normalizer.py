"""Fuzz target: attribute dicts through the usage normaliser (normalize_span) and pricing.

The fuzzer's bytes choose keys (every key a dialect reads, some prefixed and unknown
ones), value types (int, float with NaN and infinities, str, bool, bytes, arrays) and
span name, scope and kind. Nothing may raise. Checked on every recognised call: token
counts are non-negative ints and the subsets stay inside their totals (Usage's contract:
input includes the cache, output includes reasoning, the 1-hour cache writes are cache
writes); a price, when there is one, is finite and not negative.
"""

from __future__ import annotations

import math
import sys

import atheris

with atheris.instrument_imports(include=["costline"]):
    from costline_processor.config import Config
    from costline_processor.normalize import INTERESTING_KEYS, INTERESTING_PREFIXES, normalize_span
    from costline_processor.pricing import Pricer
    from costline_processor.records import Cost

_PRICER = Pricer(Config().pricing)
KEYS = (
    sorted(INTERESTING_KEYS)
    + [p + s for p in INTERESTING_PREFIXES for s in ("input_tokens", "total", "x")]
    + ["gen_ai.agent.name", "costline.feature", "random.key"]
)
STRINGS = [
    "gpt-4o",
    "gpt-4o-mini",
    "claude-sonnet-4-5",
    "gemini-2.5-pro",
    "openai",
    "anthropic",
    "aws.bedrock",
    "azure",
    "chat",
    "LLM",
    "AGENT",
    "embeddings",
    "1000",
    "-5",
    "1e3",
    "NaN",
    "inf",
    "",
    "true",
    "priority",
    "batch",
    "api.openai.com",
    '{"input_tokens": 3}',
    "0.25",
]
SCOPES = [
    "",
    "openinference.instrumentation.openai",
    "opentelemetry.instrumentation.openai_v2",
    "openlit.otel.tracing",
    "ai",
    "pydantic-ai",
    "logfire",
    "langsmith",
    "opentelemetry.instrumentation.anthropic",
]


def _value(fdp: atheris.FuzzedDataProvider, depth: int = 0):
    kind = fdp.ConsumeIntInRange(0, 9)
    if kind == 0:
        return fdp.ConsumeIntInRange(-(2**63), 2**63 - 1)
    if kind in (1, 2):
        return fdp.ConsumeIntInRange(-10, 1_000_000)
    if kind == 3:
        return fdp.ConsumeFloat()
    if kind in (4, 5):
        return fdp.PickValueInList(STRINGS)
    if kind == 6:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 24))
    if kind == 7:
        return fdp.ConsumeBool()
    if kind == 8:
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 8))
    if depth:
        return None
    return [_value(fdp, 1) for _ in range(fdp.ConsumeIntInRange(0, 3))]


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    attrs = {}
    for _ in range(fdp.ConsumeIntInRange(0, 12)):
        attrs[fdp.PickValueInList(KEYS)] = _value(fdp)
    call = normalize_span(
        attrs,
        scope_name=fdp.PickValueInList(SCOPES),
        scope_version=fdp.PickValueInList(["", "0.1.13", "1.0"]),
        span_name=fdp.PickValueInList(["", "chat gpt-4o", "ChatOpenAI", "ai.generateText"]),
        span_kind=fdp.ConsumeIntInRange(0, 5),
    )
    if call is None:
        return
    u = call.usage
    if u is not None:
        counts = (
            u.input_tokens,
            u.output_tokens,
            u.cache_read_tokens,
            u.cache_write_tokens,
            u.cache_write_1h_tokens,
            u.reasoning_tokens,
        )
        assert all(type(n) is int and n >= 0 for n in counts), (attrs, u)
        if call.status is None:
            assert u.cache_read_tokens + u.cache_write_tokens <= u.input_tokens, (attrs, u)
            assert u.reasoning_tokens <= u.output_tokens, (attrs, u)
            assert u.cache_write_1h_tokens <= u.cache_write_tokens, (attrs, u)
    result = _PRICER.price(call, 1_763_900_000_000_000_000, 1_000_000_000)
    if type(result) is Cost:
        total = float(result.total_usd)
        assert math.isfinite(total) and total >= 0, (attrs, call, result)


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
