"""One trace in, enriched spans and ledger rows out: tags, agent paths, costs, rollups.

Pure: the price function and the context remembered from earlier flushes of the
same trace are passed in. Order of work, all iterative so 10 000-deep chains are
fine and every step is linear in the trace's spans:

  read spans (IDs; attributes only of spans that carry some a stage reads)
  -> parent links (cycles and self-parents broken, counted)
  -> top-down: inherit tags and agent path from the nearest ancestor
  -> bottom-up: a model call with a model call below it is an aggregate, not billed
  -> price leaf calls -> bottom-up sums -> attributes to append, ledger rows

What each span gets appended is kept compact (its tags, its call's result, its path
and its sums) and encoded once per batch (`Assembled.appended`): the tags a trace's
spans inherit are encoded once per trace, not once per span. `Assembled.additions`
spells the same attributes out as (key, value) pairs, in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from costline_processor.assembly import twins as twins_of
from costline_processor.assembly.reader import SpanReader
from costline_processor.assembly.steps import extend_path
from costline_processor.assembly.tags import TagReader
from costline_processor.assembly.twins import Twin  # (the verdict type, tested on the encoding path)
from costline_processor.config import TaggingConfig
from costline_processor.records import (
    AGGREGATE,
    BILLED_IN_PARENT,
    DUPLICATE,
    SCOPE_NAME,
    SERVICE,
    Cost,
    LedgerRow,
    ModelCall,
    Unpriced,
    Usage,
)
from costline_processor.wire.attributes import (
    attribute,
    cost_packer,
    double_ints_encoder,
    ints_encoder,
    string_attribute,
)
from costline_processor.wire.span import PARENT_HEAD, PARENT_HEAD_AT, PARENT_ID, SPAN_ID, ids_head
from costline_processor.wire.span import ids as span_ids

PriceFn = Callable[[ModelCall, int, int], "Cost | Unpriced"]
_EMPTY: dict[str, str] = {}
_NO_NAMES: frozenset[str] = frozenset()
_ZERO_USD = Decimal(0)


@dataclass(slots=True, frozen=True)
class Inherited:
    """What a flushed span passes to descendants that arrive late, and what a span that
    arrives late learns about itself: `calls_below` when model calls under it were
    billed in an earlier flush (so if it is a model call too, it is an aggregate);
    `billed_above` when it is, or is below, a model call priced in an earlier flush (so
    a late call under it repeats usage already billed: `billed_in_parent`)."""

    tags: Mapping[str, str]
    path: tuple[str, ...]
    calls_below: bool = False
    billed_above: bool = False


_set_tags, _set_path, _set_below = Inherited.tags.__set__, Inherited.path.__set__, Inherited.calls_below.__set__
_set_above = Inherited.billed_above.__set__


def _inherited(tags: Mapping[str, str], path: tuple[str, ...], calls_below: bool = False,
               billed_above: bool = False) -> Inherited:
    """Inherited(tags, path, calls_below, billed_above), the same object: its frozen __init__ goes
    through object.__setattr__ per field."""
    ctx = object.__new__(Inherited)
    _set_tags(ctx, tags)
    _set_path(ctx, path)
    _set_below(ctx, calls_below)
    _set_above(ctx, billed_above)
    return ctx


_CALLS_BELOW = _inherited(_EMPTY, (), True)

# The sums of a span (its billed calls and those below it) are a plain list, quicker to make than an
# object: [cost USD, llm calls, input tokens, output tokens]. A new one is what adding to zeros gives.
_Sums = list
COST, CALLS, INPUT, OUTPUT = 0, 1, 2, 3


class Assembled:
    """The result for one trace. Per span (in input order): what to append, and whether the
    span already carried costline's output attributes (then it is re-encoded, not appended to)."""

    __slots__ = ("trace_id", "_spans", "_infos", "_sids", "_pids", "_tags", "_paths", "_results", "_sums",
                 "appended", "rewrite", "calls", "remember", "broken_links", "write_gen_ai_cost", "billed_in_parent",
                 "duplicate_calls", "twin_calls", "conflicting_usage", "tags_from_root", "_from_root")

    def __init__(self, trace_id, spans, infos, sids, pids, tags, paths, results, sums, appended, rewrite, calls,
                 remember, broken, write, billed_in_parent=0, duplicate_calls=0, twin_calls=0, conflicting_usage=0,
                 tags_from_root=0, from_root=None):
        self.trace_id: bytes = trace_id
        self._spans = spans
        self._infos = infos
        self._sids = sids
        self._pids = pids
        self._tags = tags
        self._paths = paths
        self._results = results
        self._sums = sums
        self.appended: list[bytes] = appended  # encoded attributes to append, per span
        self.rewrite: list[int] = rewrite  # indexes of spans to re-encode
        self.calls: list[tuple] = calls  # (span index, tags, path, Cost | Unpriced) per billed leaf call
        self.remember: Mapping[bytes, Inherited] = remember  # span_id -> context, for late spans (lazy)
        self.broken_links: int = broken  # cycles / self-parents / duplicate span ids
        self.write_gen_ai_cost: bool = write
        self.billed_in_parent: int = billed_in_parent  # late calls under a call priced in an earlier flush
        self.duplicate_calls: int = duplicate_calls  # second copies of a call's span (same span id): not billed
        self.twin_calls: int = twin_calls  # other libraries' spans of a call billed on another span (twins.py)
        self.conflicting_usage: int = conflicting_usage  # of those, twins whose usage differs from the billed one's
        self.tags_from_root: int = tags_from_root  # spans whose parent is missing that took the trace root's tags
        self._from_root = from_root

    @property
    def priced(self) -> list[Cost]:
        return [r for _, _, _, r in self.calls if isinstance(r, Cost)]

    @property
    def rows(self) -> list[LedgerRow]:
        return [
            _row(self.trace_id, self._sids[i], self._pids[i], self._spans[i][1], self._infos[i], tags, path, result)
            for i, tags, path, result in self.calls
        ]

    def pairs(self, i: int) -> list[tuple[str, object]]:
        """The attributes span `i` gets, as (key, value) pairs (what appended[i] encodes)."""
        info, result = self._infos[i], self._results[i]
        names = info.own_tags if info is not None else _NO_NAMES
        path = self._paths[i] if result is not None else ()
        pairs = _pairs(self._tags[i], names, result, path, self._sums[i], self.write_gen_ai_cost)
        if self._from_root and i in self._from_root:
            pairs.append((TAGS_SOURCE, ROOT_SOURCE))
        return pairs

    @property
    def additions(self) -> list[list[tuple[str, object]]]:
        """Per span, the attributes to add as (key, value) pairs."""
        return [self.pairs(i) for i in range(len(self._spans))]


_READERS: dict[int, tuple] = {}


def reader_for(tagging: TaggingConfig) -> SpanReader:
    """A SpanReader for this tagging contract (built once per config object)."""
    found = _READERS.get(id(tagging))
    if found is None or found[0] is not tagging:
        found = _READERS[id(tagging)] = (tagging, SpanReader(TagReader(tagging)))
    return found[1]


def assemble_trace(
    trace_id: bytes,
    spans: list,
    known: Mapping[bytes, Inherited],
    tagging: TaggingConfig,
    price: PriceFn,
    write_gen_ai_cost: bool = True,
    reader=None,
) -> Assembled:
    """`spans`: the trace's buffered spans, each `(wire bytes, Origin)` (records.BufferedSpan)."""
    reader = reader or reader_for(tagging)
    marks, read = reader.marks, reader.read_marked
    n = len(spans)
    sids: list[bytes] = [b""] * n
    pids: list[bytes] = [b""] * n
    infos: list = [None] * n
    index: dict[bytes, int] = {}
    setdefault = index.setdefault
    broken = 0
    inherit = bool(known)  # anything to pass down: tags, steps, or context from earlier flushes
    has_calls = False
    call_spans: list[int] = []
    i = 0
    head = ids_head(trace_id)  # one startswith for the trace and span ID heads
    for d, origin in spans:
        if d.startswith(head) and d.startswith(PARENT_HEAD, PARENT_HEAD_AT):
            sid = d[SPAN_ID]  # IDs where a span laid out in field order has them (wire.span.ids reads any span)
            pids[i] = d[PARENT_ID]
        else:
            sid, pids[i] = span_ids(d)
        sids[i] = sid
        if setdefault(sid, i) != i:
            broken += 1  # duplicate span id: the later one cannot be a parent
        if marks(d) is not None:
            info = read(d, origin)
            if info is not None:
                infos[i] = info
                if info.call is not None:
                    has_calls = True
                    call_spans.append(i)
                if info.tags or info.step is not None:
                    inherit = True
        i += 1

    parent = [-1] * n
    children: list[list[int] | None] = [None] * n
    get = index.get
    for i in range(n):
        pid = pids[i]
        if pid:
            p = get(pid, -1)
            if p == i:
                broken += 1
                continue
            if p >= 0:
                parent[i] = p
                c = children[p]
                if c is None:
                    children[p] = [i]
                else:
                    c.append(i)

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

    # Top-down: tags and agent path. A span whose parent is missing (sampled out, dropped, never exported)
    # takes the trace root's tags, and says so (costline.tags.source); so do the spans below it.
    tags: list[Mapping[str, str]] = [_EMPTY] * n
    paths: list[tuple[str, ...]] = [()] * n
    from_root: set[int] | None = None
    root_tags: Mapping[str, str] | None = None
    own_root = None
    if inherit:
        own_root = _own_root_tags(pids, infos)
        for i in order:
            p = parent[i]
            if p >= 0:
                ptags, ppath = tags[p], paths[p]
                if from_root is not None and p in from_root:
                    from_root.add(i)
            else:
                pid = pids[i]
                ctx = known.get(pid) if pid else None
                if ctx is not None:
                    ptags, ppath = ctx.tags, ctx.path
                elif pid:
                    if root_tags is None:
                        root_tags = _root_tags(own_root, known)
                    ptags, ppath = root_tags, ()
                    if root_tags:
                        if from_root is None:
                            from_root = set()
                        from_root.add(i)
                else:
                    ptags, ppath = _EMPTY, ()
            info = infos[i]
            if info is None:
                tags[i] = ptags
                paths[i] = ppath
            else:
                tags[i] = {**ptags, **info.tags} if info.tags else ptags
                paths[i] = extend_path(ppath, info.step)

    # Late calls under a call priced in an earlier flush (it repeated their usage): covered by it.
    covered = _covered(order, parent, pids, known) if known else None
    # Leaf calls that another library's span of the same provider request bills (twins.py).
    candidates = twins = None
    if (known and call_spans) or (len(call_spans) > 1 and _twins_possible(call_spans, infos, pids)):
        candidates = _candidates(call_spans, parent, infos, sids, pids, spans, known, covered, get)
        twins = twins_of.find(candidates, known) or None

    # Bottom-up, one visit per span: which calls have calls below them, the sums, what each call gets, and
    # (everything below a span being done when it is reached) what the span gets, encoded.
    sums: list[_Sums | None] = [None] * n
    results: list = [None] * n  # per call span: AGGREGATE, a Cost or an Unpriced
    calls: list[tuple] = []
    required, default = tagging.required, tagging.default
    defaults: dict[int, tuple] = {}
    dangling: list[bytes] = []  # parents not in this flush with billed calls below them
    late = bool(known)
    call_below = [False] * n if has_calls or late else None
    billed: list[int] = []  # calls priced here: they and what is below them cover calls arriving later
    billed_in_parent = duplicates = twin_calls = conflicting = 0
    write = write_gen_ai_cost
    appended: list[bytes] = [b""] * n
    rewrite: list[int] = []
    blocks: dict[tuple, bytes] = {}
    last_t = last_names = block = None  # the tag block of the previous span, usually this one's too
    for i in reversed(order):
        info = infos[i]
        own = sums[i]
        result = None
        if call_below is not None:
            below = call_below[i]
            if not below and late:  # a late span whose calls were billed in an earlier flush
                ctx = known.get(sids[i])
                below = ctx is not None and ctx.calls_below
            p = parent[i]
            if info is not None and info.call is not None:
                if p >= 0:
                    call_below[p] = True
                elif pids[i]:
                    dangling.append(pids[i])
                if below:
                    result = results[i] = AGGREGATE
                elif covered is not None and covered[i]:
                    result = results[i] = BILLED_IN_PARENT
                    billed_in_parent += 1
                elif get(sids[i]) != i or (late and _priced_before(known, sids[i])):
                    result = results[i] = DUPLICATE  # (the first copy, in this flush or an earlier one, is billed)
                    duplicates += 1
                elif twins is not None and i in twins:
                    result = results[i] = twins[i]
                    twin_calls += 1
                    conflicting += result.conflicting
                else:
                    call = info.call
                    result = results[i] = price(call, info.start, max(0, info.end - info.start))
                    effective = tags[i] = _defaulted(tags[i], required, default, defaults)
                    calls.append((i, effective, paths[i], result))
                    if type(result) is Cost:
                        billed.append(i)
                        u = call.usage
                        if own is None:  # (zero + the cost: the same Decimal a running sum from zero gives)
                            own = sums[i] = [_ZERO_USD + result.total_usd, 1, u.input_tokens if u else 0,
                                             u.output_tokens if u else 0]
                        else:
                            own[COST] += result.total_usd
                            own[CALLS] += 1
                            own[INPUT] += u.input_tokens if u else 0
                            own[OUTPUT] += u.output_tokens if u else 0
            elif below:
                if p >= 0:
                    call_below[p] = True
                elif pids[i]:
                    dangling.append(pids[i])
            if own is not None and p >= 0:
                ps = sums[p]
                if ps is None:
                    sums[p] = [_ZERO_USD + own[COST], own[CALLS], own[INPUT], own[OUTPUT]]
                else:
                    ps[COST] += own[COST]
                    ps[CALLS] += own[CALLS]
                    ps[INPUT] += own[INPUT]
                    ps[OUTPUT] += own[OUTPUT]
        # What span i gets: its tag block, then its call's result, path and sums.
        t = tags[i]
        if own is not None:
            found = defaults.get(id(t))  # _defaulted, its usual hit without the call
            t = tags[i] = found[1] if found is not None else _defaulted(t, required, default, defaults)
        if info is None:
            names = _NO_NAMES
        else:
            names = info.own_tags or _NO_NAMES  # one empty set object, so the block check below stays an identity test
            if info.rewrite:
                rewrite.append(i)
        if t is not last_t or names is not last_names:
            last_t, last_names = t, names
            key = (id(t), names)
            block = blocks.get(key)
            if block is None:
                block = blocks[key] = b"".join(
                    [attribute(f"costline.{k}", v) for k, v in t.items() if k not in names]
                ) if t else b""
        if result is None and own is None:
            appended[i] = block
        else:
            appended[i] = block + _encoded(result, paths[i] if result is not None else (), own, write)
    if len(rewrite) > 1:
        rewrite.sort()  # in span order
    if billed and any(children[i] is not None for i in billed):  # (priced calls rarely have spans below)
        billed = _topological(parent, children, billed)  # they and every span below them
    if covered is not None:
        billed.extend(i for i in range(n) if covered[i])
    if from_root:
        for i in from_root:
            appended[i] += _FROM_ROOT
    if candidates is None and calls:  # what a late twin of these calls must find (twins.remembered, lazily)
        candidates = _identities(calls, pids, spans, infos)
    remember = _Remembered(sids, tags, paths, dangling, known, billed, (candidates, twins) if calls else None,
                           own_root)
    return Assembled(trace_id, spans, infos, sids, pids, tags, paths, results, sums, appended, rewrite, calls,
                     remember, broken, write, billed_in_parent, duplicates, twin_calls, conflicting,
                     len(from_root) if from_root else 0, from_root)


ROOT_KEY = b"root"  # in a trace's remembered context: the root span's tags (not a span id: those are 8 bytes)
TAGS_SOURCE, ROOT_SOURCE = "costline.tags.source", "trace_root"


def _own_root_tags(pids: list[bytes], infos: list) -> Mapping[str, str] | None:
    """The own tags of the trace's root span (the first with no parent) in this flush, if it has any."""
    try:
        info = infos[pids.index(b"")]
    except ValueError:
        return None
    return info.tags if info is not None and info.tags else None


def _root_tags(root: Mapping[str, str] | None, known: Mapping) -> Mapping[str, str]:
    """What a span whose parent is missing inherits: the root's tags, from this flush or an earlier one."""
    if root:
        return root
    ctx = known.get(ROOT_KEY) if known else None
    return ctx.tags if ctx is not None else _EMPTY


def _identities(calls: list[tuple], pids: list[bytes], spans: list, infos: list) -> list[tuple]:
    """What a late twin of each billed call must match (twins.remembered), as flat tuples of atoms: a trace
    is remembered long after its flush, and tuples of atoms are untracked by the garbage collector, where
    keeping SpanInfo and ModelCall objects would give every collection ~10 more objects per trace to scan
    (measured: -15% end to end)."""
    out = []
    for i, _, _, _ in calls:
        info = infos[i]
        c = info.call
        u = c.usage
        out.append((i, pids[i], spans[i][1][SCOPE_NAME], info.start, info.end, c.model, c.request_model, c.response_id,
                    u.input_tokens if u is not None else -1, u.output_tokens if u is not None else -1))
    return out


def _call_of(model, request_model, response_id, input_tokens, output_tokens) -> ModelCall:
    """The parts of a remembered call's ModelCall that twins compare (_identities)."""
    usage = Usage(input_tokens, output_tokens) if input_tokens >= 0 else None
    return ModelCall("", model, request_model, usage=usage, response_id=response_id)


def _twins_possible(call_spans: list[int], infos: list, pids: list[bytes]) -> bool:
    """Whether two calls share a response id, or a parent and input/output totals: the cheap test that
    spares almost every trace the twin search (its calls' ids and usage all differ)."""
    calls = [infos[i].call for i in call_spans]
    ids = [c.response_id for c in calls]
    if None not in ids:  # (every call has an id: only equal ids make twins)
        return len(set(ids)) < len(ids)
    if len(set(ids)) - 1 < len(ids) - ids.count(None):  # two equal ids (the set holds None once)
        return True
    keys = [(pids[i], c.usage.input_tokens, c.usage.output_tokens) for i, c in zip(call_spans, calls)
            if c.usage is not None]
    return len(set(keys)) < len(keys)


def _candidates(call_spans: list[int], parent: list[int], infos: list, sids: list[bytes], pids: list[bytes],
                spans: list, known: Mapping, covered, get) -> list:
    """The call spans that would be billed: leaves (no call below them, here or in an earlier flush),
    neither covered by a call billed earlier nor a second copy of a span."""
    below: set[int] = set()
    for c in call_spans:
        p = parent[c]
        while p >= 0 and p not in below:
            below.add(p)
            p = parent[p]
    out = []
    for i in call_spans:
        if i in below or get(sids[i]) != i or (covered is not None and covered[i]):
            continue
        if known:
            ctx = known.get(sids[i])
            if ctx is not None and (ctx.calls_below or ctx.billed_above):
                continue
        info = infos[i]
        out.append(twins_of.Candidate(i, sids[i], pids[i], spans[i][1][SCOPE_NAME], info.start, info.end, info.call))
    return out


def _priced_before(known: Mapping[bytes, Inherited], sid: bytes) -> bool:
    """Whether this span id is a call priced in an earlier flush of the trace (then this is a copy)."""
    ctx = known.get(sid)
    return ctx is not None and ctx.billed_above


def _covered(order: list[int], parent: list[int], pids: list[bytes], known: Mapping[bytes, Inherited]):
    """Per span, whether it is below a call priced in an earlier flush (None when no span is)."""
    covered = None
    for i in order:
        p = parent[i]
        if p >= 0:
            if covered is not None and covered[p]:
                covered[i] = True
        elif pids[i]:
            ctx = known.get(pids[i])
            if ctx is not None and ctx.billed_above:
                if covered is None:
                    covered = [False] * len(order)
                covered[i] = True
    return covered


class _Remembered(Mapping):
    """span_id -> Inherited: the context a trace's late spans inherit (Assembled.remember), worked out
    from the trace's final tags and paths only when a late span asks (most traces never get one)."""

    __slots__ = ("_sids", "_tags", "_paths", "_dangling", "_known", "_billed", "_calls", "_root", "_map")

    def __init__(self, sids, tags, paths, dangling, known, billed=(), calls=None, root_tags=None):
        joined = b"".join(sids)  # one bytes object kept, not one per span (span IDs are 8 bytes, checked at intake)
        self._sids = joined if len(joined) == 8 * len(sids) else sids
        self._tags, self._paths = tags, paths
        self._dangling, self._known = dangling or None, known or None  # (nothing kept alive for nothing)
        self._billed = billed or None  # spans at or below a priced call: late calls under them are covered
        self._calls = calls  # (candidates or their fields, twins): what late twins of the billed calls match
        self._root = root_tags  # the trace root's own tags
        self._map: dict[bytes, Inherited] | None = None

    def _built(self) -> dict[bytes, Inherited]:
        if self._map is None:
            self._map = _remembered(self._sids, self._tags, self._paths, self._dangling or (), self._known or _EMPTY,
                                    self._billed or (), self._calls, self._root)
            self._sids = self._tags = self._paths = self._dangling = self._known = self._billed = self._calls = None
            self._root = None
        return self._map

    def __getitem__(self, sid):
        return self._built()[sid]

    def get(self, sid, default=None):
        return self._built().get(sid, default)

    def __contains__(self, sid) -> bool:
        return sid in self._built()

    def __iter__(self):
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())


def _remembered(sids, tags, paths, dangling, known, billed=(), calls=None, root_tags=None) -> dict:
    """What each span with tags or a path passes to late descendants; a parent not in the flush with
    billed calls below it learns it (if it arrives later and is a model call, it repeats their usage);
    the spans at or below a priced call (`billed`) pass on that calls arriving under them are covered."""
    remember: dict[bytes, Inherited] = {}
    contexts: dict[tuple, Inherited] = {}
    joined = type(sids) is bytes
    ctx_t = ctx_path = ctx = None
    for i, t in enumerate(tags):
        path = paths[i]
        if t or path:
            if t is not ctx_t or path is not ctx_path:
                ctx_t, ctx_path = t, path
                key = (id(t), path)
                ctx = contexts.get(key)
                if ctx is None:
                    ctx = contexts[key] = _inherited(t, path)
            remember[sids[i * 8:i * 8 + 8] if joined else sids[i]] = ctx
    for i in billed:
        remember[sids[i * 8:i * 8 + 8] if joined else sids[i]] = _inherited(tags[i], paths[i], False, True)
    for pid in dangling:
        ctx = remember.get(pid) or known.get(pid)
        remember[pid] = _inherited(ctx.tags, ctx.path, True, ctx.billed_above) if ctx is not None else _CALLS_BELOW
    if root_tags:  # for spans whose parent never arrives (_root_tags)
        remember[ROOT_KEY] = _inherited(root_tags, ())
    if calls is not None:
        def sid_at(i):
            return sids[i * 8:i * 8 + 8] if joined else sids[i]

        candidates, twins = calls
        if candidates and type(candidates[0]) is tuple:  # _identities
            candidates = [twins_of.Candidate(i, sid_at(i), pid, scope, start, end, _call_of(*rest))
                          for i, pid, scope, start, end, *rest in candidates]
        remember.update(twins_of.remembered(candidates, twins or {}, known))
    return remember


def _topological(parent: list[int], children: list, roots: list[int] | None = None) -> list[int]:
    order = [i for i, p in enumerate(parent) if p < 0] if roots is None else list(roots)
    k = 0
    while k < len(order):
        c = children[order[k]]
        if c:
            order.extend(c)
        k += 1
    return order


def _with_defaults(tags: Mapping[str, str], required: list[str], default: str) -> Mapping[str, str]:
    missing = [r for r in required if r not in tags]
    if not missing:
        return tags
    return {**tags, **{r: default for r in missing}}


def _defaulted(tags: Mapping[str, str], required: list[str], default: str, cache: dict) -> Mapping[str, str]:
    """_with_defaults, once per distinct tags object of the trace (the same object out for it)."""
    key = id(tags)
    found = cache.get(key)
    if found is None:
        found = cache[key] = (tags, _with_defaults(tags, required, default))
    return found[1]


# -- what a span gets appended: (key, value) pairs, and the same attributes encoded ----------------

_COST_KEYS = ("costline.cost.usd", "costline.cost.input_usd", "costline.cost.output_usd",
              "costline.cost.cache_read_usd", "costline.cost.cache_write_usd")
_ROLLUP_KEYS = ("costline.rollup.cost_usd", "costline.rollup.llm_calls", "costline.rollup.input_tokens",
                "costline.rollup.output_tokens")


def _pairs(t, own_names, result, path, own, write_gen_ai_cost: bool) -> list[tuple[str, object]]:
    add: list[tuple[str, object]] = [(f"costline.{k}", v) for k, v in t.items() if k not in own_names]
    if result is not None:
        if type(result) is str:  # AGGREGATE, BILLED_IN_PARENT
            add.append(("costline.cost.status", result))
        elif isinstance(result, Cost):
            _cost_attributes(add, result, write_gen_ai_cost)
        else:
            add.append(("costline.cost.status", result.reason))
            if type(result) is Twin:
                add.append((BILLED_SPAN_ID, result.billed_span_id.hex()))
        if path:
            add.append(("costline.agent.path", "/".join(path)))
    if own is not None:
        add.extend(
            (
                ("costline.rollup.cost_usd", float(own[COST])),
                ("costline.rollup.llm_calls", own[CALLS]),
                ("costline.rollup.input_tokens", own[INPUT]),
                ("costline.rollup.output_tokens", own[OUTPUT]),
            )
        )
    return add


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
    if c.caveat is not None:
        add.append(("costline.price.caveat", c.caveat))
    if write_gen_ai_cost:
        add.append(("gen_ai.usage.cost", total))


_string = string_attribute
BILLED_SPAN_ID = "costline.billed_span_id"
_FROM_ROOT = _string(TAGS_SOURCE, ROOT_SOURCE)
_rollup = double_ints_encoder(*_ROLLUP_KEYS)  # f(cost USD, llm calls, input, output tokens)
_rollup_counts = ints_encoder(*_ROLLUP_KEYS[1:])  # f(llm calls, input, output tokens)
_packers: dict[tuple, Callable] = {}  # (model, provider, source, caveat, write gen_ai cost, path) -> _cost_packer
_paths: dict[tuple, bytes] = {}  # agent path -> its attribute


def _path_attribute(path: tuple[str, ...]) -> bytes:
    """The agent path's attribute (b"" for no path), cached."""
    if not path:
        return b""
    attr = _paths.get(path)
    if attr is None:
        if len(_paths) >= 4096:
            _paths.clear()
        attr = _paths[path] = _string("costline.agent.path", "/".join(path))
    return attr


def _cost_packer(model: str, provider: str, source: str, caveat: str | None, write_gen_ai_cost: bool,
                 path: tuple[str, ...]):
    """f(total, input, output, cache read, cache write USD, rollup USD) -> a Cost's attributes, the agent path
    and the rollup's cost, in one struct.pack call (wire.attributes.cost_packer): the five doubles, the three
    price names (and the caveat, when the Cost has one: it is part of the packer's key, so a call without one
    pays nothing for it), (write_gen_ai_cost) gen_ai.usage.cost, the path, the rollup cost double."""
    names = (_string("costline.price.model", model) + _string("costline.price.provider", provider)
             + _string("costline.price.source", source))
    if caveat is not None:
        names += _string("costline.price.caveat", caveat)
    return cost_packer(_COST_KEYS, names, "gen_ai.usage.cost" if write_gen_ai_cost else None, _path_attribute(path),
                       _ROLLUP_KEYS[0])


def _encoded(result, path: tuple[str, ...], own: _Sums | None, write_gen_ai_cost: bool) -> bytes:
    """wire.attributes.attributes of _pairs(...) without the tags, built from cached pieces."""
    if result is None:  # a span with calls below it
        return _rollup(float(own[COST]), own[CALLS], own[INPUT], own[OUTPUT])
    if type(result) is Cost:  # (a priced call has its own sums)
        key = (result.model, result.provider, result.source, result.caveat, write_gen_ai_cost, path)
        pack = _packers.get(key)
        if pack is None:
            if len(_packers) >= 4096:
                _packers.clear()
            pack = _packers[key] = _cost_packer(*key)
        return pack(float(result.total_usd), float(result.input_usd), float(result.output_usd),
                    float(result.cache_read_usd), float(result.cache_write_usd), float(own[COST])) \
            + _rollup_counts(own[CALLS], own[INPUT], own[OUTPUT])
    status = _string("costline.cost.status", result if type(result) is str else result.reason)
    if type(result) is Twin:
        status += _string(BILLED_SPAN_ID, result.billed_span_id.hex())
    if own is None:
        return status + _path_attribute(path)
    return status + _path_attribute(path) + _rollup(float(own[COST]), own[CALLS], own[INPUT], own[OUTPUT])


def _row(trace_id: bytes, span_id: bytes, parent_id: bytes, origin, info, tags: Mapping[str, str],
         path: tuple[str, ...], result) -> LedgerRow:
    call = info.call
    u = call.usage
    priced = isinstance(result, Cost)
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
        provider=result.provider if priced else call.provider,
        model=result.model if priced else call.model,
        request_model=call.request_model,
        input_tokens=u.input_tokens if u else 0,
        output_tokens=u.output_tokens if u else 0,
        cache_read_tokens=u.cache_read_tokens if u else 0,
        cache_write_tokens=u.cache_write_tokens if u else 0,
        reasoning_tokens=u.reasoning_tokens if u else 0,
        audio_input_tokens=u.audio_input_tokens if u else 0,
        audio_output_tokens=u.audio_output_tokens if u else 0,
        audio_cache_read_tokens=u.audio_cache_read_tokens if u else 0,
        cost_usd=result.total_usd if priced else None,
        input_usd=result.input_usd if priced else None,
        output_usd=result.output_usd if priced else None,
        cache_read_usd=result.cache_read_usd if priced else None,
        cache_write_usd=result.cache_write_usd if priced else None,
        price_source=result.source if priced else None,
        status=None if priced else result.reason,
        price_caveat=result.caveat if priced else None,
        list_usd=result.list_usd if priced else None,
        skus=result.skus if priced else None,
    )
