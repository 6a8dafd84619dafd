"""The passes of assemble_trace one at a time, over small traces built by hand (values worked out by hand).

index_trace (index.py), link (tree.py), inherit and covered (inheritance.py), judge and find_twins
(billing.py), roll_up (rollup.py), pairs and encoded (encoding.py), remembered (context.py).
test_assembly.py checks the passes together through assemble_trace.
"""

from __future__ import annotations

from decimal import Decimal

from costline_processor.assembly.billing import find_twins, judge
from costline_processor.assembly.context import CALLS_BELOW, ROOT_KEY, Inherited, remembered
from costline_processor.assembly.encoding import encoded, pairs
from costline_processor.assembly.index import index_trace
from costline_processor.assembly.inheritance import covered, inherit, own_root_tags
from costline_processor.assembly.reader import SpanInfo
from costline_processor.assembly.rollup import reader_for, roll_up
from costline_processor.assembly.tree import link
from costline_processor.assembly.twins import Twin
from costline_processor.config import TaggingConfig
from costline_processor.intake import Intake
from costline_processor.records import AGGREGATE, BILLED_IN_PARENT, DUPLICATE, Cost, ModelCall, Unpriced, Usage
from costline_processor.wire.attributes import attributes
from tests.processor.spans import llm, new_trace_id, request, span

A, B, C, D, E, F, G = (bytes([k]) * 8 for k in range(1, 8))
MISSING, LATE = b"\xee" * 8, b"\xdd" * 8


def info(tags=None, step=None, call=None, own=frozenset(), rewrite=False) -> SpanInfo:
    return SpanInfo("s", 0, 10, tags, own, step, call, rewrite)


def call(input_tokens=None, output_tokens=0, response_id=None) -> ModelCall:
    usage = Usage(input_tokens, output_tokens) if input_tokens is not None else None
    return ModelCall("semconv", "gpt-4o", "gpt-4o", "openai", usage=usage, response_id=response_id)


def tree(sids, pids):
    """link's tree of a flush, and its span id -> first position."""
    first: dict[bytes, int] = {}
    for i, sid in enumerate(sids):
        first.setdefault(sid, i)
    return (*link(pids, first.get), first)


def test_index_reads_ids_duplicates_calls_and_whether_anything_is_inherited():
    t = new_trace_id()
    root = span(t, "POST /chat", costline__feature="search")
    chat = llm(t, root)
    plain = span(t, "SELECT", root)
    again = span(t, "SELECT again", root, span_id=plain.span_id)
    pairs_, _, _ = Intake().spans(request([root, chat, plain, again]))
    spans = [b for _, b in pairs_]
    sids, pids, infos, first, duplicates, call_spans, inherits = index_trace(t, spans, reader_for(TaggingConfig()))
    assert sids == [root.span_id, chat.span_id, plain.span_id, plain.span_id]
    assert pids == [b"", root.span_id, root.span_id, root.span_id]
    assert first == {root.span_id: 0, chat.span_id: 1, plain.span_id: 2}
    assert duplicates == 1 and call_spans == [1] and inherits
    assert infos[0].tags == {"feature": "search"} and infos[1].call.usage.input_tokens == 1000
    assert infos[2] is None and infos[3] is None  # nothing a stage reads: never decoded


def test_link_cuts_self_parents_and_cycles_and_keeps_missing_parents_as_roots():
    # 0 <- 1 <- 2; 3 its own parent; 4 and 5 each other's parent; 6's parent not in the flush
    parent, children, order, roots, broken, _ = tree([A, B, C, D, E, F, G], [b"", A, B, D, F, E, MISSING])
    assert parent == [-1, 0, 1, -1, -1, 4, -1]
    assert children == [[1], [2], None, None, [5], [], None]
    assert order == [0, 3, 6, 1, 2, 4, 5]  # roots first (the cut span last), each parent before its children
    assert roots == [0, 3, 6, 4]
    assert broken == 2


def test_inherit_merges_tags_down_extends_paths_and_gives_orphans_the_root_tags():
    # 0 root (feature) <- 1 (customer_id, step planner) <- 2 (step search); 3's parent missing <- 4;
    # 5's parent was in an earlier flush (known), step tool
    sids, pids = [A, B, C, D, E, F], [b"", A, B, MISSING, D, LATE]
    infos = [
        info({"feature": "search"}),
        info({"customer_id": "acme"}, "planner"),
        info(step="search"),
        None,
        None,
        info(step="tool"),
    ]
    known = {LATE: Inherited({"feature": "old"}, ("agent",))}
    parent, _, order, _, _, _ = tree(sids, pids)
    root = own_root_tags(pids, infos)
    assert root == {"feature": "search"}
    tags, paths, from_root = inherit(order, parent, pids, infos, known, root)
    assert tags == [
        {"feature": "search"},
        {"feature": "search", "customer_id": "acme"},
        {"feature": "search", "customer_id": "acme"},
        {"feature": "search"},
        {"feature": "search"},
        {"feature": "old"},
    ]
    assert tags[2] is tags[1] and tags[4] is tags[3]  # no tags of its own: the parent's map, the same object
    assert paths == [(), ("planner",), ("planner", "search"), (), (), ("agent", "tool")]
    assert from_root == {3, 4}


def test_covered_marks_what_is_below_a_call_priced_in_an_earlier_flush():
    sids, pids = [A, B, C], [LATE, A, MISSING]
    parent, _, order, _, _, _ = tree(sids, pids)
    known = {LATE: Inherited({}, (), billed_above=True)}
    assert covered(order, parent, pids, known) == [True, True, False]
    assert covered(order, parent, pids, {LATE: Inherited({}, ())}) is None


def test_judge_says_why_each_call_not_billed_here_is_not():
    # 0 root <- 1 call <- 2 call (leaf); 3 a second copy of 2 (same span id) under 0; 4 a call whose parent is
    # missing; 5 a call covered by one billed earlier; 6 a twin of a call billed on another span
    sids, pids = [A, B, C, C, E, F, G], [b"", A, B, A, MISSING, A, A]
    infos = [None] + [info(call=call(10)) for _ in range(6)]
    parent, _, _, roots, _, first = tree(sids, pids)
    late = [False, False, False, False, False, True, False]
    twin = Twin(b"\x09" * 8, True)
    results: list = [None] * 7
    counts = judge([1, 2, 3, 4, 5, 6], parent, roots, infos, sids, pids, first, {}, late, {6: twin}, results)
    assert results == [None, AGGREGATE, None, DUPLICATE, None, BILLED_IN_PARENT, twin]  # None: billable (2, 4)
    # (billed_in_parent, duplicates, twins, conflicting, web searches no call took), parents missing
    assert counts == ((1, 1, 1, 1, 0), [MISSING])


def test_judge_reads_what_earlier_flushes_billed():
    # 0 a call whose calls were billed in an earlier flush (calls_below) <- 1 call; 2 a copy of a call priced
    # earlier; 3 plain, its calls billed earlier, under a missing parent
    sids, pids = [A, B, C, D], [b"", A, b"", MISSING]
    infos = [info(call=call(10)), info(call=call(10)), info(call=call(10)), None]
    known = {
        A: Inherited({}, (), calls_below=True),
        C: Inherited({}, (), billed_above=True),
        D: Inherited({}, (), calls_below=True),
    }
    parent, _, _, roots, _, first = tree(sids, pids)
    results: list = [None] * 4
    counts = judge([0, 1, 2], parent, roots, infos, sids, pids, first, known, None, None, results)
    assert results == [AGGREGATE, None, DUPLICATE, None]
    assert counts == ((0, 1, 0, 0, 0), [MISSING])


def test_find_twins_only_searches_when_two_calls_can_be_one():
    sids, pids = [A, B, C], [b"", A, A]
    parent, _, _, _, _, first = tree(sids, pids)
    spans = [
        (b"", (b"", "", b"", "", "svc", "scope-a", "")),
        (b"", (b"", "", b"", "", "svc", "scope-a", "")),
        (b"", (b"", "", b"", "", "svc", "scope-b", "")),
    ]
    apart = [None, info(call=call(10, 1, "r1")), info(call=call(10, 1, "r2"))]
    assert find_twins([1, 2], parent, apart, sids, pids, spans, {}, None, first) == (None, None)
    alike = [None, info(call=call(10, 1, "r1")), info(call=call(10, 1, "r1"))]  # one response id: one call
    candidates, twins = find_twins([1, 2], parent, alike, sids, pids, spans, {}, None, first)
    assert [c.index for c in candidates] == [1, 2]
    assert twins == {2: Twin(B, False)}  # the same usage: billed on the earlier span


def _flat(c: ModelCall, start: int, duration: int) -> Cost | Unpriced:
    if c.usage is None:
        return Unpriced("no_usage")
    usd = Decimal("0.000002") * c.usage.input_tokens
    return Cost(usd, usd, Decimal(0), Decimal(0), Decimal(0), c.model, "openai", "test")


def test_roll_up_prices_leaves_sums_up_parent_chains_and_encodes_each_span():
    # 0 root (feature) <- 1 agent <- 2, 3 priced calls, 4 a call without usage; 5 plain under the root
    sids, pids = [A, B, C, D, E, F], [b"", A, B, B, B, A]
    feature = {"feature": "search"}
    infos = [
        info(feature),
        info(step="planner"),
        info(call=call(1000, 10)),
        info(call=call(500, 5)),
        info(call=call()),
        None,
    ]
    parent, _, order, _, _, _ = tree(sids, pids)
    tags = [feature] * 6
    paths = [(), ("planner",), ("planner",), ("planner",), ("planner",), ()]
    results: list = [None] * 6
    appended, rewrite, calls, sums, billed = roll_up(
        order, parent, infos, tags, paths, results, _flat, TaggingConfig(), True
    )
    assert sums == [
        [Decimal("0.003"), 2, 1500, 15],
        [Decimal("0.003"), 2, 1500, 15],
        [Decimal("0.002"), 1, 1000, 10],
        [Decimal("0.001"), 1, 500, 5],
        None,
        None,
    ]
    assert [i for i, _, _, _ in calls] == [4, 3, 2] and billed == [3, 2]  # bottom-up order; 4 is unpriced
    assert results[4] == Unpriced("no_usage") and results[2].total_usd == Decimal("0.002")
    defaulted = {"feature": "search", "customer_id": "untagged"}
    assert tags == [defaulted, defaulted, defaulted, defaulted, defaulted, feature]  # billed or with sums
    assert rewrite == []
    for i in range(6):
        path = paths[i] if results[i] is not None else ()
        assert appended[i] == attributes(pairs(tags[i], frozenset(), results[i], path, sums[i], True))


def test_pairs_and_encoded_agree_on_a_status_and_a_twin():
    twin = Twin(b"\x01" * 8, False)
    assert pairs({}, frozenset(), twin, ("a", "b"), None, True) == [
        ("costline.cost.status", "duplicate_call"),
        ("costline.billed_span_id", "0101010101010101"),
        ("costline.agent.path", "a/b"),
    ]
    for result, own in ((twin, None), (AGGREGATE, [Decimal("0.5"), 2, 30, 4]), (None, [Decimal(1), 1, 2, 3])):
        path = ("a",) if result is not None else ()
        assert encoded(result, path, own, True) == attributes(pairs({}, frozenset(), result, path, own, True))
    assert pairs({"feature": "x", "team": "y"}, frozenset({"team"}), None, (), None, True) == [
        ("costline.feature", "x")
    ]


def test_remembered_holds_what_late_spans_inherit():
    tags = [{"feature": "x"}, {"feature": "x"}, {}]
    paths: list[tuple[str, ...]] = [(), ("planner",), ()]
    context = remembered([A, B, C], tags, paths, [MISSING], {}, [1], None, {"feature": "x"})
    assert context == {
        A: Inherited({"feature": "x"}, ()),
        B: Inherited({"feature": "x"}, ("planner",), False, True),  # a call priced here: later calls under it
        MISSING: CALLS_BELOW,  # a parent not in the flush with billed calls below it
        ROOT_KEY: Inherited({"feature": "x"}, ()),
    }
    assert remembered(A + B + C, tags, paths, [MISSING], {}, [1], None, {"feature": "x"}) == context  # joined ids
