"""Twins: two spans of one trace that record the same provider request.

Two instrumentations tracing one call make two model-call spans. When one wraps
the other they nest, and the parent repeats the child's usage (rollup bills the
leaf: `aggregate_usage`). When neither span is current while the other is made
(anthropic 2.x's own span beside OpenLLMetry's or OpenInference's; OpenInference's
LangChain span beside its openai span) they are siblings, and both look billable.
Such spans are one call: it is billed once, on the span with the most complete
usage, and the others get `costline.cost.status=duplicate_call` and
`costline.billed_span_id` naming the billed span.

Two leaf call spans are twins when

- both carry a provider response id and the ids are equal (a provider never hands
  out one id twice), or
- at least one has no id, and they have the same parent, the same input and output
  token totals, models that agree (equal, or one a dated form of the other),
  overlapping times, and come from different instrumentation scopes: one library
  makes one span per call, so two spans of one scope are two calls however alike
  (identical concurrent calls from a fan-out stay two bills).

A group of twins never holds two id-less matches from one scope, so N identical
concurrent calls traced by two libraries are N bills, not one.

The billed span is the one with usage; then, where the spans disagree on the
totals, the provider SDK's own span (it reports what the API returned: OpenLLMetry
0.62's streamed anthropic spans add `message_start`'s output count to the final,
already cumulative one), else the larger input + output (counted as
`conflicting_usage` either way); then the most cache/reasoning detail; then the
earliest in the trace. The billed span takes the largest web- and file-search counts of its
twins (an SDK's own span does not record Anthropic's searches; the library span beside it may;
costline's own OpenAI span records file searches, which another library's twin does not).
Across flushes of a trace (as far as the recent-traces cache reaches),
a late twin of a call billed earlier is a `duplicate_call` of it; the earlier bill
stands even when the late span's usage is larger (counted as `conflicting_usage`:
the ledger row was already written).

Pure: works on `Candidate`s; billing.py supplies them and applies the verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from costline_processor.records import DUPLICATE_CALL, SEARCHES, ModelCall

# Spans the provider's own SDK makes: their usage is the API's, parsed by the provider's code.
FIRST_PARTY_SCOPES = frozenset({"com.anthropic.sdk.python"})

ID_KEY = "id"  # ("id", response id) -> Billed, in a trace's remembered context
USAGE_KEY = "usage"  # ("usage", parent span id, input, output) -> tuple[Billed, ...]


@dataclass(slots=True)
class Candidate:
    """A leaf model-call span that would be billed."""

    index: int  # the span's index in its flush
    span_id: bytes
    parent_id: bytes
    scope: str
    start: int
    end: int
    call: ModelCall


@dataclass(slots=True, frozen=True)
class Billed:
    """What a later flush needs to know of a call billed (or recorded as unpriced) in an earlier one."""

    span_id: bytes
    parent_id: bytes
    scopes: frozenset[str]
    start: int
    end: int
    models: tuple[str, ...]
    response_id: str | None
    totals: int  # input + output tokens


@dataclass(slots=True, frozen=True)
class Twin:
    """The verdict on a span that is not billed: the call is billed on `billed_span_id`."""

    billed_span_id: bytes
    conflicting: bool  # its usage differs from the billed span's

    reason = DUPLICATE_CALL


def find(candidates: list[Candidate], known: Mapping) -> dict[int, Twin]:
    """{span index: Twin} for the candidates that are twins of a billed call (empty: none)."""
    verdicts: dict[int, Twin] = {}
    if known:
        _against_known(candidates, known, verdicts)
    rest = [c for c in candidates if c.index not in verdicts]
    if len(rest) > 1:
        for group in _groups(rest):
            _settle(group, verdicts)
    return verdicts


def _groups(candidates: list[Candidate]) -> list[list[Candidate]]:
    """Twin groups (two or more spans) among this flush's candidates."""
    root = list(range(len(candidates)))

    def find_root(k: int) -> int:
        while root[k] != k:
            root[k] = root[root[k]]
            k = root[k]
        return k

    scopes = [{c.scope} for c in candidates]
    ids = [{c.call.response_id} - {None} for c in candidates]

    def join(a: int, b: int) -> None:
        ra, rb = find_root(a), find_root(b)
        if ra != rb:
            root[rb] = ra
            scopes[ra] |= scopes[rb]
            ids[ra] |= ids[rb]

    by_id: dict[str, int] = {}
    by_usage: dict[tuple, list[int]] = {}
    for k, c in enumerate(candidates):
        rid = c.call.response_id
        if rid is not None:
            first = by_id.setdefault(rid, k)
            if first != k:
                join(first, k)
        u = c.call.usage
        if u is not None:
            by_usage.setdefault((c.parent_id, u.input_tokens, u.output_tokens), []).append(k)
    for members in by_usage.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda k: candidates[k].start)
        for x, a in enumerate(members):
            for b in members[x + 1 :]:
                ra, rb = find_root(a), find_root(b)
                if ra == rb or scopes[ra] & scopes[rb]:
                    continue  # one library, two spans: two calls
                if ids[ra] and ids[rb] and not ids[ra] & ids[rb]:
                    continue  # two responses
                if _alike(candidates[a], candidates[b]):
                    join(a, b)
    grouped: dict[int, list[Candidate]] = {}
    for k, c in enumerate(candidates):
        grouped.setdefault(find_root(k), []).append(c)
    return [g for g in grouped.values() if len(g) > 1]


def _alike(a: Candidate, b: Candidate) -> bool:
    """Same-parent, same-totals spans of two scopes: one call if their times overlap and models agree."""
    return a.start <= b.end and b.start <= a.end and models_agree(_models(a.call), _models(b.call))


def _settle(group: list[Candidate], verdicts: dict[int, Twin]) -> None:
    best = max(group, key=_completeness)
    totals = _totals(best.call)
    if any(_totals(c.call) != totals for c in group if c.call.usage is not None):
        first_party = [c for c in group if c.scope in FIRST_PARTY_SCOPES and c.call.usage is not None]
        if first_party:
            best = max(first_party, key=_completeness)
            totals = _totals(best.call)
    for c in group:
        if c is not best:
            verdicts[c.index] = Twin(best.span_id, _totals(c.call) != totals)
    u = best.call.usage
    if u is not None:  # the searches a twin counts and the billed span does not (a library span's, an SDK span's)
        most = {f: max(getattr(c.call.usage, f) for c in group if c.call.usage is not None) for f in SEARCHES}
        if any(getattr(u, f) < n for f, n in most.items()):
            best.call.usage = replace(u, **most)


def _completeness(c: Candidate) -> tuple:
    u = c.call.usage
    if u is None:
        return (0, 0, 0, 0, -c.index)
    details = (u.cache_read_tokens, u.cache_write_tokens, u.cache_write_1h_tokens, u.reasoning_tokens)
    return (1, u.input_tokens + u.output_tokens, sum(1 for d in details if d), sum(details), -c.index)


def _totals(call: ModelCall) -> int:
    u = call.usage
    return u.input_tokens + u.output_tokens if u is not None else -1


def _models(call: ModelCall) -> tuple[str, ...]:
    return tuple(m for m in (call.model, call.request_model) if m)


def models_agree(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether two spans' model names can name one call (no name on a side agrees with anything)."""
    if not a or not b:
        return True
    for x in a:
        x = x.lower()
        for y in b:
            y = y.lower()
            if x == y or x.startswith(y) or y.startswith(x):
                return True
    return False


# -- across flushes -------------------------------------------------------------------------------


def _against_known(candidates: list[Candidate], known: Mapping, verdicts: dict[int, Twin]) -> None:
    for c in candidates:
        billed = _known_twin(c, known)
        if billed is not None:
            verdicts[c.index] = Twin(billed.span_id, _totals(c.call) != billed.totals)


def _known_twin(c: Candidate, known: Mapping) -> Billed | None:
    rid = c.call.response_id
    if rid is not None:
        found = known.get((ID_KEY, rid))
        if found is not None:
            return found
    u = c.call.usage
    if u is None:
        return None
    for b in known.get((USAGE_KEY, c.parent_id, u.input_tokens, u.output_tokens), ()):
        if c.scope in b.scopes or (rid is not None and b.response_id is not None and rid != b.response_id):
            continue
        if c.start <= b.end and b.start <= c.end and models_agree(_models(c.call), b.models):
            return b
    return None


def remembered(candidates: list[Candidate], twins: Mapping[int, Twin], known: Mapping) -> dict:
    """The context entries that let a later flush find the twins of the calls billed here."""
    scopes = {c.span_id: {c.scope} for c in candidates if c.index not in twins}
    for c in candidates:  # a group's scopes: a late span of one of them is another call
        twin = twins.get(c.index)
        if twin is not None and twin.billed_span_id in scopes:
            scopes[twin.billed_span_id].add(c.scope)
    out: dict = {}
    for c in candidates:
        if c.index in twins:
            continue
        u = c.call.usage
        b = Billed(
            c.span_id,
            c.parent_id,
            frozenset(scopes[c.span_id]),
            c.start,
            c.end,
            _models(c.call),
            c.call.response_id,
            _totals(c.call),
        )
        if b.response_id is not None:
            out[(ID_KEY, b.response_id)] = b
        if u is not None:
            key = (USAGE_KEY, c.parent_id, u.input_tokens, u.output_tokens)
            out[key] = (*out.get(key, known.get(key, ())), b)
    return out
