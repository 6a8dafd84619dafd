"""What a flushed trace passes to its spans that arrive late (in a later flush of the trace).

A trace's spans usually arrive within `trace_wait` of each other and are assembled
together; a span that comes later still inherits its ancestors' tags and agent path,
and must not bill usage that a call of an earlier flush already billed. So each
assembly leaves a context behind (`Assembled.remember`, kept by the trace buffer):
per span id, the `Inherited` it passes down; under ROOT_KEY, the root's own tags; and
what a late twin of a billed call must match (twins.remembered). Most traces never
get a late span, so the map is worked out only when one asks (`Remembered`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from costline_processor.assembly import twins as twins_of
from costline_processor.records import SCOPE_NAME, BufferedSpan, ModelCall, Usage

EMPTY_TAGS: Mapping[str, str] = {}  # the one empty tag map (tag blocks are cached by identity)
ROOT_KEY = b"root"  # in a trace's remembered context: the root span's tags (not a span id: those are 8 bytes)


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


# The slots' setters, read once: a frozen dataclass's __init__ goes through object.__setattr__ per field.
_FIELDS: Any = Inherited
_set_tags, _set_path, _set_below = _FIELDS.tags.__set__, _FIELDS.path.__set__, _FIELDS.calls_below.__set__
_set_above = _FIELDS.billed_above.__set__


def inherited(
    tags: Mapping[str, str], path: tuple[str, ...], calls_below: bool = False, billed_above: bool = False
) -> Inherited:
    """Inherited(tags, path, calls_below, billed_above), the same object, without the frozen __init__."""
    ctx = object.__new__(Inherited)
    _set_tags(ctx, tags)
    _set_path(ctx, path)
    _set_below(ctx, calls_below)
    _set_above(ctx, billed_above)
    return ctx


CALLS_BELOW = inherited(EMPTY_TAGS, (), True)

# What a late twin of a trace's billed calls must match: the candidates or their identities, and the twins.
RememberedCalls = tuple["Sequence[twins_of.Candidate] | Sequence[Identity]", "Mapping[int, twins_of.Twin] | None"]

# A billed call as a late twin must find it: (span index, parent id, scope, start, end, model, request model,
# response id, input tokens, output tokens), -1 tokens for no usage (identities).
Identity = tuple[int, bytes, str, int, int, "str | None", "str | None", "str | None", int, int]


class Remembered(Mapping[Any, Any]):
    """span_id -> Inherited: the context a trace's late spans inherit (Assembled.remember), worked out
    from the trace's final tags and paths only when a late span asks (most traces never get one)."""

    __slots__ = ("_billed", "_calls", "_dangling", "_known", "_map", "_paths", "_root", "_sids", "_tags")

    def __init__(
        self,
        sids: list[bytes],
        tags: list[Mapping[str, str]],
        paths: list[tuple[str, ...]],
        dangling: list[bytes],
        known: Mapping[Any, Any],
        billed: Sequence[int] = (),
        calls: RememberedCalls | None = None,
        root_tags: Mapping[str, str] | None = None,
    ) -> None:
        joined = b"".join(sids)  # one bytes object kept, not one per span (span IDs are 8 bytes, checked at intake)
        self._sids: bytes | list[bytes] | None = joined if len(joined) == 8 * len(sids) else sids
        self._tags: list[Mapping[str, str]] | None = tags
        self._paths: list[tuple[str, ...]] | None = paths
        self._dangling = dangling or None  # (nothing kept alive for nothing)
        self._known = known or None
        self._billed = billed or None  # spans at or below a priced call: late calls under them are covered
        self._calls = calls  # (candidates or their identities, twins): what late twins of the billed calls match
        self._root = root_tags  # the trace root's own tags
        self._map: dict[Any, Any] | None = None

    def _built(self) -> dict[Any, Any]:
        if self._map is None:
            assert self._sids is not None and self._tags is not None and self._paths is not None
            self._map = remembered(
                self._sids,
                self._tags,
                self._paths,
                self._dangling or (),
                self._known or EMPTY_TAGS,
                self._billed or (),
                self._calls,
                self._root,
            )
            self._sids = self._tags = self._paths = self._dangling = self._known = self._billed = self._calls = None
            self._root = None
        return self._map

    def __getitem__(self, sid: Any) -> Any:
        return self._built()[sid]

    def get(self, sid: Any, default: Any = None) -> Any:
        return self._built().get(sid, default)

    def __contains__(self, sid: object) -> bool:
        return sid in self._built()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())


def remembered(
    sids: bytes | list[bytes],
    tags: list[Mapping[str, str]],
    paths: list[tuple[str, ...]],
    dangling: Sequence[bytes],
    known: Mapping[Any, Any],
    billed: Sequence[int] = (),
    calls: RememberedCalls | None = None,
    root_tags: Mapping[str, str] | None = None,
) -> dict[Any, Any]:
    """What each span with tags or a path passes to late descendants; a parent not in the flush with
    billed calls below it learns it (if it arrives later and is a model call, it repeats their usage);
    the spans at or below a priced call (`billed`) pass on that calls arriving under them are covered."""
    remember: dict[Any, Any] = {}
    contexts: dict[tuple[int, tuple[str, ...]], Inherited] = {}
    ids = [sids[k : k + 8] for k in range(0, len(sids), 8)] if isinstance(sids, bytes) else sids
    ctx_t: Mapping[str, str] | None = None
    ctx_path: tuple[str, ...] | None = None
    ctx: Inherited | None = None
    for i, t in enumerate(tags):
        path = paths[i]
        if t or path:
            if t is not ctx_t or path is not ctx_path:
                ctx_t, ctx_path = t, path
                key = (id(t), path)
                ctx = contexts.get(key)
                if ctx is None:
                    ctx = contexts[key] = inherited(t, path)
            remember[ids[i]] = ctx
    for i in billed:
        remember[ids[i]] = inherited(tags[i], paths[i], False, True)
    for pid in dangling:
        found = remember.get(pid) or known.get(pid)
        remember[pid] = (
            inherited(found.tags, found.path, True, found.billed_above) if found is not None else CALLS_BELOW
        )
    if root_tags:  # for spans whose parent never arrives (inheritance.root_tags)
        remember[ROOT_KEY] = inherited(root_tags, ())
    if calls is not None:
        found, twins = calls
        candidates: list[twins_of.Candidate] = []
        for c in found:
            if isinstance(c, twins_of.Candidate):
                candidates.append(c)
            else:  # an identity
                i, pid, scope, start, end, model, request_model, response_id, input_tokens, output_tokens = c
                call = call_of(model, request_model, response_id, input_tokens, output_tokens)
                candidates.append(twins_of.Candidate(i, ids[i], pid, scope, start, end, call))
        remember.update(twins_of.remembered(candidates, twins or {}, known))
    return remember


def identities(
    calls: Sequence[tuple[int, Any, Any, Any]], pids: list[bytes], spans: Sequence[BufferedSpan], infos: Sequence[Any]
) -> list[Identity]:
    """What a late twin of each billed call must match (twins.remembered), as flat tuples of atoms: a trace
    is remembered long after its flush, and tuples of atoms are untracked by the garbage collector, where
    keeping SpanInfo and ModelCall objects would give every collection ~10 more objects per trace to scan
    (measured: -15% end to end)."""
    out: list[Identity] = []
    for i, _, _, _ in calls:
        info = infos[i]
        c = info.call
        u = c.usage
        out.append(
            (
                i,
                pids[i],
                spans[i][1][SCOPE_NAME],
                info.start,
                info.end,
                c.model,
                c.request_model,
                c.response_id,
                u.input_tokens if u is not None else -1,
                u.output_tokens if u is not None else -1,
            )
        )
    return out


def call_of(
    model: str | None, request_model: str | None, response_id: str | None, input_tokens: int, output_tokens: int
) -> ModelCall:
    """The parts of a remembered call's ModelCall that twins compare (identities)."""
    usage = Usage(input_tokens, output_tokens) if input_tokens >= 0 else None
    return ModelCall("", model, request_model, usage=usage, response_id=response_id)
