"""The values that flow between the processor's stages.

receive -> intake -> assemble (normalize, price) -> export. Each stage depends only on
these types, on `config`, on `wire` (the OTLP bytes) and on the shared modules that
import no stage (normalize, the price sheets' modules, stats, memory...), never on
another stage: only pipeline.py and the entry points import stages
(tests/processor/test_stage_imports.py). Money stays `Decimal` until it becomes an
OTLP attribute; "unpriced" is a reason string, never a zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter

from costline_processor.wire.span import message as _span_message

# Origin: the resource and instrumentation scope a span was sent with, shared by its
# siblings. A plain tuple of str and bytes on purpose: the garbage collector stops
# tracking such tuples, and so the (bytes, origin) tuples of buffered spans, so a
# million buffered spans cost it nothing.
#   (resource bytes, resource schema_url, scope bytes, scope schema_url, service.name, scope name, scope version)
Origin = tuple
SERVICE, SCOPE_NAME, SCOPE_VERSION = 4, 5, 6


class BufferedSpan(tuple):
    """One span waiting for its trace: `(wire bytes, Origin)`.

    The pipeline buffers plain tuples of the same shape; this class only adds
    read-only names for tests and tools.
    """

    __slots__ = ()
    data = property(itemgetter(0))
    origin = property(itemgetter(1))

    def __new__(cls, data: bytes, origin: Origin):
        return tuple.__new__(cls, (data, origin))

    @property
    def name(self) -> str:
        return _span_message(self[0]).name

    @property
    def span_id(self) -> bytes:
        return _span_message(self[0]).span_id


# An OTLP attribute value once decoded from AnyValue.
AttrValue = str | bool | int | float | bytes | list | None

# Reasons a model-call span carries instead of a cost (`costline.cost.status`).
UNKNOWN_MODEL = "unknown_model"
NO_USAGE = "no_usage"
INVALID_USAGE = "invalid_usage"
NO_MODEL = "no_model"
AGGREGATE = "aggregate_usage"  # usage repeated on an agent/parent span: not billed twice
BILLED_IN_PARENT = "billed_in_parent"  # a call arriving after its parent call was billed with its usage
DUPLICATE = "duplicate_span"  # a second copy of a call (same span id: a sender's retry): billed once
DUPLICATE_CALL = "duplicate_call"  # another span of the same provider request (a second library's): billed once


@dataclass(slots=True, frozen=True)
class Usage:
    """Token counts of one model call, normalised to the GenAI semconv meaning.

    input_tokens includes cache reads and writes; output_tokens includes reasoning.
    The cache, reasoning and audio counts are subsets, as in genai-prices' unit tree, so
    nothing is billed twice: audio_input_tokens is part of input_tokens,
    audio_cache_read_tokens part of both cache_read_tokens and audio_input_tokens,
    audio_output_tokens part of output_tokens; the image counts likewise (and audio and image
    together never more than the totals). web_searches, preview_web_searches and file_searches are no
    token counts: a fee per search on top of the tokens (genai-prices' `web_searches`, `storage_searches`;
    OpenAI's web_search_preview tool has a price of its own, search_rules.py).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0  # subset of cache_write_tokens (Anthropic 1-hour TTL)
    reasoning_tokens: int = 0
    audio_input_tokens: int = 0
    audio_output_tokens: int = 0
    audio_cache_read_tokens: int = 0  # subset of cache_read_tokens and of audio_input_tokens
    image_input_tokens: int = 0  # subset of input_tokens
    image_output_tokens: int = 0  # subset of output_tokens
    image_cache_read_tokens: int = 0  # subset of cache_read_tokens and of image_input_tokens
    web_searches: int = 0  # server-side web searches the provider billed with the call (a count, not tokens)
    file_searches: int = 0  # server-side file (vector store) searches billed with the call: OpenAI's file_search
    # OpenAI's web searches run by its web_search_preview tool (not in web_searches): $25 per 1,000 on gpt-4o / 4.1
    preview_web_searches: int = 0


# The normalize dialects whose spans never count image tokens apart (OpenInference, LangSmith and the Vercel AI SDK
# have no such attribute): for them, no image count is not "no image" (price_caveats.IMAGE_SPLIT_UNKNOWN).
DIALECTS_WITHOUT_IMAGE_COUNTS = frozenset({"openinference", "langsmith", "vercel"})
SEARCHES = ("web_searches", "file_searches", "preview_web_searches")  # Usage's counts billed per search, not per token


@dataclass(slots=True)
class ModelCall:
    """What normalize recognised on one span: a model call, its identity and usage.

    `status` is None when the call can be priced, else one of the reasons above.
    """

    dialect: str
    model: str | None = None  # response model, else request model
    request_model: str | None = None
    provider: str | None = None  # provider attribute as sent (a hint, normalised lower-case)
    server_address: str | None = None
    usage: Usage | None = None
    status: str | None = None
    detail: str | None = None  # human-readable reason for the status
    reported_cost_usd: Decimal | None = None  # a cost the provider itself reported
    service_tier: str | None = None
    batch: bool = False
    operation: str | None = None  # chat, embeddings, text_completion...
    response_id: str | None = None  # the provider's id of the response, when the span records it


# One SKU of a call (sku_cost.py): (sku name, quantity, billed USD, list USD).
Sku = tuple[str, int, Decimal, Decimal]


@dataclass(slots=True, frozen=True)
class Cost:
    """A priced model call. Components add up to total_usd.

    list_usd is what the call costs at list price (genai-prices and corrections, before the
    user's discounts and price-file overrides; None given: total_usd). skus splits the call
    by token type (sku_cost.py) when its four components are not each one token type at one
    rate; None for most calls.
    """

    total_usd: Decimal
    input_usd: Decimal
    output_usd: Decimal
    cache_read_usd: Decimal
    cache_write_usd: Decimal
    model: str  # the price sheet's model id
    provider: str  # the price sheet's provider id
    source: str  # e.g. "genai-prices 0.2.3", "prices.yaml", "reported"
    caveat: str | None = None  # why this price may not be the bill (price_caveats.py), None for most calls
    list_usd: Decimal | None = None
    skus: tuple[Sku, ...] | None = None

    def __post_init__(self) -> None:
        if self.list_usd is None:
            object.__setattr__(self, "list_usd", self.total_usd)


@dataclass(slots=True, frozen=True)
class Unpriced:
    """A model call that could not be priced, and why (never a silent $0)."""

    reason: str
    detail: str = ""


@dataclass(slots=True)
class LedgerRow:
    """One model call as the ledger stores it: who caused it, what it used, what it cost.

    Written for every recognised model-call leaf span, priced or not (`status` then
    holds the reason and the cost fields are None).
    """

    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_span_id: str  # 16 hex digits or ""
    start_unix_nano: int
    end_unix_nano: int
    service: str
    span_name: str
    tags: dict[str, str]  # costline tag name (no prefix) -> value
    agent_path: str
    operation: str | None
    provider: str | None
    model: str | None
    request_model: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: Decimal | None
    input_usd: Decimal | None
    output_usd: Decimal | None
    cache_read_usd: Decimal | None
    cache_write_usd: Decimal | None
    price_source: str | None
    status: str | None  # None when priced, else the unpriced reason
    audio_input_tokens: int = 0
    audio_output_tokens: int = 0
    audio_cache_read_tokens: int = 0
    price_caveat: str | None = None  # Cost.caveat
    list_usd: Decimal | None = None  # Cost.list_usd (None when unpriced)
    skus: tuple[Sku, ...] | None = None  # Cost.skus
    # the service tier the call ran in as its span named it, "batch" for a batch call, "" for none (standard);
    # None: not recorded (a call written before schema 7), so `costline reprice` cannot know its rates
    tier: str | None = ""
    cache_write_1h_tokens: int = 0  # subset of cache_write_tokens (Anthropic 1-hour TTL)
    web_searches: int = 0  # Usage.web_searches (0 in calls written before schema 8)
    file_searches: int = 0  # Usage.file_searches (0 in calls written before schema 9)
    preview_web_searches: int = 0  # Usage.preview_web_searches (0 in calls written before schema 10)
    image_input_tokens: int = 0  # Usage's image subsets (0 in calls written before schema 8)
    image_output_tokens: int = 0
    image_cache_read_tokens: int = 0
