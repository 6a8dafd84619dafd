"""One trace in, enriched spans and ledger rows out: tags, agent paths, costs, rollups.

Pure: the price function and the context remembered from earlier flushes of the
same trace are passed in. Order of work, all iterative so 10 000-deep chains are
fine:

  index spans -> parent links (cycles and self-parents broken, counted)
  -> top-down: inherit tags and agent path from the nearest ancestor
  -> bottom-up: a model call with a model call below it is an aggregate, not billed
  -> price leaf calls -> bottom-up sums -> attributes to append, ledger rows
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from costline.processor.assembly.steps import extend_path
from costline.processor.config import TaggingConfig
from costline.processor.intake import BufferedSpan
from costline.processor.records import AGGREGATE, Cost, LedgerRow, ModelCall, Unpriced

PriceFn = Callable[[ModelCall, int, int], "Cost | Unpriced"]
_EMPTY: dict[str, str] = {}


@dataclass(slots=True, frozen=True)
class Inherited:
    """What a flushed span passes to descendants that arrive late."""

    tags: Mapping[str, str]
    path: tuple[str, ...]


@dataclass
class Assembled:
    additions: list[list[tuple[str, object]]]  # per input span, attributes to add
    rows: list[LedgerRow]
    remember: dict[bytes, Inherited]  # span_id -> context, for late spans
    broken_links: int = 0  # cycles / self-parents / duplicate span ids
    priced: list[Cost] = field(default_factory=list)


@dataclass(slots=True)
class _Sum:
    cost: Decimal = Decimal(0)
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


def assemble_trace(
    trace_id: bytes,
    spans: list[BufferedSpan],
    known: Mapping[bytes, Inherited],
    tagging: TaggingConfig,
    price: PriceFn,
    write_gen_ai_cost: bool = True,
) -> Assembled:
    n = len(spans)
    index: dict[bytes, int] = {}
    broken = 0
    for i, s in enumerate(spans):
        if s.span_id in index:
            broken += 1  # duplicate span id: the later one cannot be a parent
        else:
            index[s.span_id] = i
    parent = [-1] * n
    children: list[list[int]] = [[] for _ in range(n)]
    for i, s in enumerate(spans):
        p = index.get(s.parent_id, -1) if s.parent_id else -1
        if p == i:
            broken += 1
            p = -1
        parent[i] = p
        if p >= 0:
            children[p].append(i)

    order = _topological(parent, children)
    if len(order) < n:  # the rest sit on cycles: cut each cycle at one span
        seen = set(order)
        for i in range(n):
            if i not in seen:
                broken += 1
                if parent[i] >= 0:
                    children[parent[i]].remove(i)
                parent[i] = -1
                added = _topological(parent, children, [i])
                order.extend(added)
                seen.update(added)

    # Top-down: tags and agent path.
    tags: list[Mapping[str, str]] = [_EMPTY] * n
    paths: list[tuple[str, ...]] = [()] * n
    for i in order:
        s = spans[i]
        p = parent[i]
        if p >= 0:
            ptags, ppath = tags[p], paths[p]
        elif (ctx := known.get(s.parent_id)) is not None:
            ptags, ppath = ctx.tags, ctx.path
        else:
            ptags, ppath = _EMPTY, ()
        tags[i] = {**ptags, **s.tags} if s.tags else ptags
        paths[i] = extend_path(ppath, s.step)

    # Bottom-up: which calls have calls below them, and the sums.
    call_below = [False] * n
    sums: list[_Sum | None] = [None] * n
    additions: list[list[tuple[str, object]]] = [[] for _ in range(n)]
    rows: list[LedgerRow] = []
    priced: list[Cost] = []
    required, default = tagging.required, tagging.default
    for i in reversed(order):
        s = spans[i]
        below = call_below[i]
        p = parent[i]
        if s.call is not None or below:
            if p >= 0:
                call_below[p] = True
        own = sums[i]
        if s.call is not None:
            add = additions[i]
            if below:
                add.append(("costline.cost.status", AGGREGATE))
            else:
                result = price(s.call, s.start, max(0, s.end - s.start))
                effective = _with_defaults(tags[i], required, default)
                tags[i] = effective
                rows.append(_row(trace_id, s, effective, paths[i], result))
                if isinstance(result, Cost):
                    priced.append(result)
                    _cost_attributes(add, result, write_gen_ai_cost)
                    u = s.call.usage
                    own = own or _Sum()
                    own.cost += result.total_usd
                    own.calls += 1
                    own.input_tokens += u.input_tokens if u else 0
                    own.output_tokens += u.output_tokens if u else 0
                    sums[i] = own
                else:
                    add.append(("costline.cost.status", result.reason))
            if paths[i]:
                add.append(("costline.agent.path", "/".join(paths[i])))
        if own is not None:
            if p >= 0:
                ps = sums[p]
                if ps is None:
                    ps = sums[p] = _Sum()
                ps.cost += own.cost
                ps.calls += own.calls
                ps.input_tokens += own.input_tokens
                ps.output_tokens += own.output_tokens

    remember: dict[bytes, Inherited] = {}
    for i, s in enumerate(spans):
        own = sums[i]
        t = tags[i]
        if own is not None:
            t = tags[i] = _with_defaults(t, required, default)
            additions[i].extend(
                (
                    ("costline.rollup.cost_usd", float(own.cost)),
                    ("costline.rollup.llm_calls", own.calls),
                    ("costline.rollup.input_tokens", own.input_tokens),
                    ("costline.rollup.output_tokens", own.output_tokens),
                )
            )
        if t:
            own_names = s.own_tags
            additions[i][:0] = [(f"costline.{k}", v) for k, v in t.items() if k not in own_names]
        if t or paths[i]:
            remember[s.span_id] = Inherited(t, paths[i])
    return Assembled(additions, rows, remember, broken, priced)


def _topological(parent: list[int], children: list[list[int]], roots: list[int] | None = None) -> list[int]:
    order = [i for i, p in enumerate(parent) if p < 0] if roots is None else list(roots)
    k = 0
    while k < len(order):
        order.extend(children[order[k]])
        k += 1
    return order


def _with_defaults(tags: Mapping[str, str], required: list[str], default: str) -> Mapping[str, str]:
    missing = [r for r in required if r not in tags]
    if not missing:
        return tags
    return {**tags, **{r: default for r in missing}}


def _cost_attributes(add: list, c: Cost, write_gen_ai_cost: bool) -> None:
    total = float(c.total_usd)
    add.extend(
        (
            ("costline.cost.usd", total),
            ("costline.cost.input_usd", float(c.input_usd)),
            ("costline.cost.output_usd", float(c.output_usd)),
            ("costline.cost.cache_read_usd", float(c.cache_read_usd)),
            ("costline.cost.cache_write_usd", float(c.cache_write_usd)),
            ("costline.price.model", c.model),
            ("costline.price.provider", c.provider),
            ("costline.price.source", c.source),
        )
    )
    if write_gen_ai_cost:
        add.append(("gen_ai.usage.cost", total))


def _row(trace_id: bytes, s: BufferedSpan, tags: Mapping[str, str], path: tuple[str, ...], result) -> LedgerRow:
    call = s.call
    u = call.usage
    priced = isinstance(result, Cost)
    return LedgerRow(
        trace_id=trace_id.hex(),
        span_id=s.span_id.hex(),
        parent_span_id=s.parent_id.hex(),
        start_unix_nano=s.start,
        end_unix_nano=s.end,
        service=s.origin.service,
        span_name=s.name,
        tags=dict(tags),
        agent_path="/".join(path),
        operation=call.operation,
        provider=result.provider if priced else call.provider,
        model=result.model if priced else call.model,
        request_model=call.request_model,
        input_tokens=u.input_tokens if u else 0,
        output_tokens=u.output_tokens if u else 0,
        cache_read_tokens=u.cache_read_tokens if u else 0,
        cache_write_tokens=u.cache_write_tokens if u else 0,
        reasoning_tokens=u.reasoning_tokens if u else 0,
        cost_usd=result.total_usd if priced else None,
        input_usd=result.input_usd if priced else None,
        output_usd=result.output_usd if priced else None,
        cache_read_usd=result.cache_read_usd if priced else None,
        cache_write_usd=result.cache_write_usd if priced else None,
        price_source=result.source if priced else None,
        status=None if priced else result.reason,
    )
