"""One trace in, enriched spans and ledger rows out: tags, agent paths, costs, rollups.

Pure: the price function and the context remembered from earlier flushes of the same
trace are passed in. `assemble_trace` runs the passes in order, each linear in the
trace's spans and iterative (10 000-deep chains are fine):

  index_trace   read IDs; SpanInfo of the spans that carry attributes a stage reads (index.py)
  link          parent links as a tree; cycles and self-parents cut, counted (tree.py)
  inherit       top-down: tags and agent path from the nearest ancestor (inheritance.py)
  covered       top-down: spans below a call priced in an earlier flush (inheritance.py)
  find_twins    leaf calls another library's span of the same request bills (billing.py, twins.py)
  judge         why each call not billed here is not: aggregate, covered, duplicate, twin (billing.py)
  roll_up       bottom-up: price the billable calls, sum up parent chains, encode what each span gets
  Remembered    what late spans of the trace will inherit, worked out if one comes (context.py)

What each span gets appended is kept compact (its tags, its call's result, its path and
its sums) and encoded once per batch (`Assembled.appended`): the tags a trace's spans
inherit are encoded once per trace, not once per span. `Assembled.additions` spells the
same attributes out as (key, value) pairs, in the same order (encoding.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from costline_processor.assembly.assembled import Assembled, BilledCall
from costline_processor.assembly.backend_names import BackendNames
from costline_processor.assembly.billing import Result, find_twins, judge
from costline_processor.assembly.context import EMPTY_TAGS, Inherited, Remembered, RememberedCalls, identities
from costline_processor.assembly.encoding import FROM_ROOT, encoded
from costline_processor.assembly.index import index_trace
from costline_processor.assembly.inheritance import Path, Tags, covered, defaulted, inherit, own_root_tags
from costline_processor.assembly.reader import SpanInfo, SpanReader
from costline_processor.assembly.sums import CALLS, COST, INPUT, OUTPUT, ZERO_USD, Sums
from costline_processor.assembly.tags import TagReader
from costline_processor.assembly.tree import link as link_parents
from costline_processor.assembly.tree import topological
from costline_processor.config import TaggingConfig
from costline_processor.records import BufferedSpan, Cost, ModelCall, Unpriced
from costline_processor.wire.attributes import attribute

PriceFn = Callable[[ModelCall, int, int], "Cost | Unpriced"]
_NO_NAMES: frozenset[str] = frozenset()
_NO_COUNTS = (0, 0, 0, 0, 0)
_READERS: dict[int, tuple[TaggingConfig, SpanReader]] = {}


def reader_for(tagging: TaggingConfig) -> SpanReader:
    """A SpanReader for this tagging contract (built once per config object)."""
    found = _READERS.get(id(tagging))
    if found is None or found[0] is not tagging:
        found = _READERS[id(tagging)] = (tagging, SpanReader(TagReader(tagging)))
    return found[1]


def assemble_trace(
    trace_id: bytes,
    spans: Sequence[BufferedSpan],
    known: Mapping[Any, Inherited],
    tagging: TaggingConfig,
    price: PriceFn,
    write_gen_ai_cost: bool = True,
    reader: SpanReader | None = None,
) -> Assembled:
    """`spans`: the trace's buffered spans, each `(wire bytes, Origin)` (records.BufferedSpan); `known`:
    the context earlier flushes of the trace left (context.Remembered, kept by the trace buffer)."""
    reader = reader or reader_for(tagging)
    sids, pids, infos, first, duplicate_ids, call_spans, inherits = index_trace(trace_id, spans, reader)
    parent, children, order, roots, cut = link_parents(pids, first.get)
    n = len(spans)
    if inherits or known:
        own_root = own_root_tags(pids, infos)
        tags, paths, from_root = inherit(order, parent, pids, infos, known, own_root)
    else:
        own_root, tags, paths, from_root = None, [EMPTY_TAGS] * n, [()] * n, None
    late = covered(order, parent, pids, known) if known else None
    candidates, twins = find_twins(call_spans, parent, infos, sids, pids, spans, known, late, first)
    results: list[Result | None] = [None] * n
    counts, to_parents = (
        judge(call_spans, parent, roots, infos, sids, pids, first, known, late, twins, results)
        if call_spans or known
        else (_NO_COUNTS, [])
    )
    backend = reader.tags.backend
    appended, rewrite, calls, sums, billed = roll_up(
        order, parent, infos, tags, paths, results, price, tagging, write_gen_ai_cost, from_root, backend
    )
    if billed and any(children[i] is not None for i in billed):  # (priced calls rarely have spans below)
        billed = topological(children, billed)  # they and every span below them
    if late is not None:
        billed.extend(i for i in range(n) if late[i])
    twin_memory: RememberedCalls | None = None  # what a late twin of these calls must find (twins.remembered)
    if calls:
        twin_memory = (candidates if candidates is not None else identities(calls, pids, spans, infos), twins)
    remember = Remembered(sids, tags, paths, to_parents, known, billed, twin_memory, own_root)
    broken = duplicate_ids + cut
    return Assembled(
        trace_id,
        spans,
        infos,
        sids,
        pids,
        tags,
        paths,
        results,
        sums,
        appended,
        rewrite,
        calls,
        remember,
        broken,
        write_gen_ai_cost,
        counts,
        from_root,
        backend,
    )


def roll_up(
    order: list[int],
    parent: list[int],
    infos: list[SpanInfo | None],
    tags: list[Tags],
    paths: list[Path],
    results: list[Result | None],
    price: PriceFn,
    tagging: TaggingConfig,
    write_gen_ai_cost: bool,
    from_root: set[int] | None = None,
    backend: BackendNames | None = None,
) -> tuple[list[bytes], list[int], list[BilledCall], list[Sums | None], list[int]]:
    """Bottom-up, one visit per span (children first): price each billable call (`results[i]` None
    for a call span: judge found no reason not to bill it), add the span's sums into its parent's,
    and encode what the span gets: everything below it is done when it is reached. Returns
    (appended, spans to re-encode, billed calls, sums, spans priced). A billed call's tags, and those
    of a span with sums, get the required tags' default (`tags` is updated). A span's tag block ends
    with the copies of its tags `backend` names (backend_names.py).

    One loop on purpose, longer than a screen: it is assembly's per-span hot loop. Split into a
    pricing-and-sums loop and an encoding loop, the pipeline took 99,539 instead of 98,864
    instructions per span (+0.7%; benchmarks/pipeline_instructions.py --payload lean, callgrind)."""
    n = len(parent)
    sums: list[Sums | None] = [None] * n
    calls: list[BilledCall] = []
    billed: list[int] = []  # calls priced here: they and what is below them cover calls arriving later
    required, default = tagging.required, tagging.default
    defaults: dict[int, tuple[Tags, Tags]] = {}
    appended: list[bytes] = [b""] * n
    rewrite: list[int] = []
    blocks: dict[tuple[int, frozenset], bytes] = {}
    copies, copied = (backend.block, backend.tags) if backend is not None else (None, _NO_NAMES)
    last_t: Tags | None = None
    last_names: frozenset | None = None
    block = b""  # the tag block of the previous span, usually this one's too
    for i in reversed(order):
        info = infos[i]
        own = sums[i]
        result: Result | None = None
        names = _NO_NAMES  # one empty set object, so the block check below stays an identity test
        if info is not None:
            call = info.call
            if call is not None:
                result = results[i]
                if result is None:
                    priced = results[i] = price(call, info.start, max(0, info.end - info.start))
                    result = priced
                    effective = tags[i] = defaulted(tags[i], required, default, defaults)
                    calls.append((i, effective, paths[i], priced))
                    if type(priced) is Cost:
                        billed.append(i)
                        u = call.usage
                        if own is None:  # (zero + the cost: the same Decimal a running sum from zero gives)
                            own = sums[i] = [
                                ZERO_USD + priced.total_usd,
                                1,
                                u.input_tokens if u else 0,
                                u.output_tokens if u else 0,
                            ]
                        else:
                            own[COST] += priced.total_usd
                            own[CALLS] += 1
                            own[INPUT] += u.input_tokens if u else 0
                            own[OUTPUT] += u.output_tokens if u else 0
            names = info.own_tags or _NO_NAMES
            if info.rewrite:
                rewrite.append(i)
        t = tags[i]
        if own is not None:
            p = parent[i]
            if p >= 0:
                ps = sums[p]
                if ps is None:
                    sums[p] = [ZERO_USD + own[COST], own[CALLS], own[INPUT], own[OUTPUT]]
                else:
                    ps[COST] += own[COST]
                    ps[CALLS] += own[CALLS]
                    ps[INPUT] += own[INPUT]
                    ps[OUTPUT] += own[OUTPUT]
            found = defaults.get(id(t))  # defaulted, its usual hit without the call
            t = tags[i] = found[1] if found is not None else defaulted(t, required, default, defaults)
        if t is not last_t or names is not last_names:
            last_t, last_names = t, names
            key = (id(t), names)
            found_block = blocks.get(key)
            if found_block is None:  # its tags but those the span sets itself, encoded, then their copies
                found_block = (
                    b"".join([attribute(f"costline.{k}", v) for k, v in t.items() if k not in names]) if t else b""
                )
                if copies is not None and not copied.isdisjoint(t):  # (no call for a trace without those tags)
                    found_block += copies(t, names)
                blocks[key] = found_block
            block = found_block
        if result is None and own is None:
            appended[i] = block
        else:
            appended[i] = block + encoded(result, paths[i] if result is not None else (), own, write_gen_ai_cost)
    if from_root:  # spans that took the root's tags (inheritance.inherit) say so
        for i in from_root:
            appended[i] += FROM_ROOT
    if len(rewrite) > 1:
        rewrite.sort()  # in span order
    return appended, rewrite, calls, sums, billed
