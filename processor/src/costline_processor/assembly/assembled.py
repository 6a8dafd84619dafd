"""The result of assembling one flush of a trace (`Assembled`) and the ledger row of a billed call.

What export needs is ready on it (`appended`: per span, the attributes to append,
encoded; `rewrite`: the spans re-encoded instead) and so are the counts the pipeline
adds to its stats. The rest is worked out when asked: the ledger rows (only when a sink
takes them), the (key, value) pairs a span gets (the rewrite path, tests), the context
late spans inherit (context.Remembered).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from costline_processor.assembly.backend_names import BackendNames
from costline_processor.assembly.billing import Result
from costline_processor.assembly.context import Inherited
from costline_processor.assembly.encoding import pairs
from costline_processor.assembly.inheritance import ROOT_SOURCE, TAGS_SOURCE
from costline_processor.assembly.policy import TagPolicy
from costline_processor.assembly.reader import SpanInfo
from costline_processor.assembly.sums import Sums
from costline_processor.records import SERVICE, BufferedSpan, Cost, LedgerRow, Origin, Unpriced
from costline_processor.stats import Stats
from costline_processor.wire.span import without_attributes

_NO_NAMES: frozenset[str] = frozenset()

# A billed call: (span index, its tags with the required ones defaulted, its agent path, its price).
BilledCall = tuple[int, Mapping[str, str], tuple[str, ...], "Cost | Unpriced"]


class Assembled:
    """The result for one trace. Per span (in input order): what to append, and whether the
    span already carried costline's output attributes (then it is re-encoded, not appended to)."""

    __slots__ = (
        "_backend",
        "_from_root",
        "_infos",
        "_paths",
        "_pids",
        "_results",
        "_sids",
        "_spans",
        "_sums",
        "_tags",
        "appended",
        "billed_in_parent",
        "broken_links",
        "calls",
        "conflicting_usage",
        "duplicate_calls",
        "remember",
        "rewrite",
        "searches_unattributed",
        "tags_from_root",
        "trace_id",
        "twin_calls",
        "write_gen_ai_cost",
    )

    def __init__(
        self,
        trace_id: bytes,
        spans: Sequence[BufferedSpan],
        infos: list[SpanInfo | None],
        sids: list[bytes],
        pids: list[bytes],
        tags: list[Mapping[str, str]],
        paths: list[tuple[str, ...]],
        results: list[Result | None],
        sums: list[Sums | None],
        appended: list[bytes],
        rewrite: list[int],
        calls: list[BilledCall],
        remember: Mapping[Any, Inherited],
        broken: int,
        write: bool,
        counts: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0),
        from_root: set[int] | None = None,
        backend: BackendNames | None = None,
    ) -> None:
        self.trace_id = trace_id
        self._spans = spans
        self._infos = infos
        self._sids = sids
        self._pids = pids
        self._tags = tags
        self._paths = paths
        self._results = results
        self._sums = sums
        self.appended = appended  # encoded attributes to append, per span
        self.rewrite = rewrite  # indexes of spans to re-encode
        self.calls = calls  # per billed leaf call
        self.remember = remember  # span_id -> context, for late spans (lazy)
        self.broken_links = broken  # cycles / self-parents / duplicate span ids
        self.write_gen_ai_cost = write
        # (billing.judge) late calls under a call priced in an earlier flush; second copies of a call's span
        # (same span id): not billed; other libraries' spans of a call billed on another span (twins.py); of
        # those, twins whose usage differs from the billed one's; web searches an aggregate span counts that no
        # call below it took (billing._searches_to_leaf)
        self.billed_in_parent, self.duplicate_calls, self.twin_calls, self.conflicting_usage = counts[:4]
        self.searches_unattributed = counts[4]
        self.tags_from_root = len(from_root) if from_root else 0  # spans with a missing parent: the root's tags
        self._from_root = from_root
        self._backend = backend  # the names tags are copied to for backends (backend_names.py)

    @property
    def priced(self) -> list[Cost]:
        return [r for _, _, _, r in self.calls if isinstance(r, Cost)]

    @property
    def rows(self) -> list[LedgerRow]:
        return [
            row(self.trace_id, self._sids[i], self._pids[i], self._spans[i][1], self._infos[i], tags, path, result)
            for i, tags, path, result in self.calls
        ]

    def pairs(self, i: int) -> list[tuple[str, object]]:
        """The attributes span `i` gets, as (key, value) pairs (what appended[i] encodes)."""
        info, result, t = self._infos[i], self._results[i], self._tags[i]
        names = info.own_tags if info is not None else _NO_NAMES
        path = self._paths[i] if result is not None else ()
        copies = self._backend.copies(t, names) if self._backend is not None else None
        out = pairs(t, names, result, path, self._sums[i], self.write_gen_ai_cost, copies)
        if self._from_root and i in self._from_root:
            out.append((TAGS_SOURCE, ROOT_SOURCE))
        return out

    @property
    def additions(self) -> list[list[tuple[str, object]]]:
        """Per span, the attributes to add as (key, value) pairs."""
        return [self.pairs(i) for i in range(len(self._spans))]

    def rewritten(self, policy: TagPolicy | None, stats: Stats) -> tuple[list[tuple[bytes, Origin]], list[bytes]]:
        """(spans, what each gets appended) with the spans in `rewrite` re-encoded: the slow path, for
        spans that already carry attributes costline writes, or tags the tag policy rejects or hides.
        Such a span loses those attributes and gets its `appended` inside its bytes instead."""
        spans: list[tuple[bytes, Origin]] = list(self._spans)
        appended = list(self.appended)
        for i in self.rewrite:
            added = self.pairs(i)
            if added or policy is not None:
                d, origin = spans[i]
                hide = policy.hider(origin[SERVICE], stats) if policy is not None else None
                # appended[i] already encodes `added` (cached tag blocks): only its keys are needed here
                spans[i] = (without_attributes(d, [k for k, _ in added], hide) + appended[i], origin)
                appended[i] = b""
        return spans, appended


def row(
    trace_id: bytes,
    span_id: bytes,
    parent_id: bytes,
    origin: Origin,
    info: SpanInfo | None,
    tags: Mapping[str, str],
    path: tuple[str, ...],
    result: Cost | Unpriced,
) -> LedgerRow:
    """The ledger row of a billed call (priced or not)."""
    assert info is not None and info.call is not None  # (a call span)
    call = info.call
    u = call.usage
    cost = result if isinstance(result, Cost) else None
    unpriced = result if isinstance(result, Unpriced) else None
    return LedgerRow(
        trace_id=trace_id.hex(),
        span_id=span_id.hex(),
        parent_span_id=parent_id.hex(),
        start_unix_nano=info.start,
        end_unix_nano=info.end,
        service=origin[SERVICE],
        span_name=info.name,
        tags=dict(tags),
        agent_path="/".join(path),
        operation=call.operation,
        provider=cost.provider if cost is not None else call.provider,
        model=cost.model if cost is not None else call.model,
        request_model=call.request_model,
        input_tokens=u.input_tokens if u else 0,
        output_tokens=u.output_tokens if u else 0,
        cache_read_tokens=u.cache_read_tokens if u else 0,
        cache_write_tokens=u.cache_write_tokens if u else 0,
        reasoning_tokens=u.reasoning_tokens if u else 0,
        audio_input_tokens=u.audio_input_tokens if u else 0,
        audio_output_tokens=u.audio_output_tokens if u else 0,
        audio_cache_read_tokens=u.audio_cache_read_tokens if u else 0,
        image_input_tokens=u.image_input_tokens if u else 0,
        image_output_tokens=u.image_output_tokens if u else 0,
        image_cache_read_tokens=u.image_cache_read_tokens if u else 0,
        cost_usd=cost.total_usd if cost is not None else None,
        input_usd=cost.input_usd if cost is not None else None,
        output_usd=cost.output_usd if cost is not None else None,
        cache_read_usd=cost.cache_read_usd if cost is not None else None,
        cache_write_usd=cost.cache_write_usd if cost is not None else None,
        price_source=cost.source if cost is not None else None,
        status=unpriced.reason if unpriced is not None else None,
        price_caveat=cost.caveat if cost is not None else None,
        list_usd=cost.list_usd if cost is not None else None,
        skus=cost.skus if cost is not None else None,
        tier="batch" if call.batch else (call.service_tier or ""),
        cache_write_1h_tokens=u.cache_write_1h_tokens if u else 0,
        web_searches=u.web_searches if u else 0,
        file_searches=u.file_searches if u else 0,
        preview_web_searches=u.preview_web_searches if u else 0,
    )
