"""One call, one bill: sibling spans of one provider request (twins.py), and orphans' tags."""

from decimal import Decimal

from costline_processor.assembly.context import ROOT_KEY
from costline_processor.assembly.rollup import assemble_trace
from costline_processor.config import TaggingConfig
from costline_processor.intake import Intake
from costline_processor.records import Cost, Unpriced
from tests.processor.spans import new_trace_id, request, span

IN_RATE, OUT_RATE, READ_RATE = Decimal("3e-6"), Decimal("15e-6"), Decimal("0.3e-6")  # per token
START = 1_763_900_000_000_000_000


class Pricer:
    """Input, output and cache reads at fixed rates, so a lost cache discount shows in the total."""

    def price(self, call, start, duration):
        u = call.usage
        if u is None:
            return Unpriced(call.status or "no_usage")
        read = READ_RATE * u.cache_read_tokens
        inp = IN_RATE * (u.input_tokens - u.cache_read_tokens)
        out = OUT_RATE * u.output_tokens
        return Cost(inp + out + read, inp, out, read, Decimal(0), call.model or "?", "anthropic", "test")


def call(
    t,
    parent,
    scope_rid=None,
    model="claude-sonnet-4-5",
    input_tokens=1200,
    output_tokens=80,
    cache_read=None,
    start=START,
    duration=900_000_000,
    **extra,
):
    attrs = dict(
        gen_ai__operation__name="chat",
        gen_ai__provider__name="anthropic",
        gen_ai__request__model=model,
        gen_ai__usage__input_tokens=input_tokens,
        gen_ai__usage__output_tokens=output_tokens,
        **extra,
    )
    if scope_rid is not None:
        attrs["gen_ai__response__id"] = scope_rid
    if cache_read is not None:
        attrs["gen_ai__usage__cache_read__input_tokens"] = cache_read
    return span(t, f"chat {model}", parent, start=start, duration=duration, **attrs)


def buffered(*groups, tagging=None):
    """Spans as intake buffers them, each group `(scope, [spans])` sent with its own instrumentation scope."""
    it = Intake()
    out = []
    for scope, spans in groups:
        pairs, rejected, _ = it.spans(request(spans, "chat-api", scope))
        assert rejected == 0
        out.extend(b for _, b in pairs)
    return out


def assemble(t, spans, known=None, tagging=None):
    tagging = tagging or TaggingConfig()
    a = assemble_trace(t, spans, known or {}, tagging, Pricer().price)
    return a, {s.span_id: dict(p) for s, p in zip(spans, a.additions)}


def expected(input_tokens, output_tokens, cache_read=0):
    return IN_RATE * (input_tokens - cache_read) + OUT_RATE * output_tokens + READ_RATE * cache_read


def test_siblings_with_one_response_id_are_billed_once_on_the_more_complete_span():
    t = new_trace_id()
    root = span(t, "POST /ask", costline__feature="search", costline__customer_id="acme")
    sdk = call(t, root, "msg_01", cache_read=1000)  # anthropic 2.x's own span: cache details
    other = call(t, root, "msg_01")  # another library's: no cache details
    spans = buffered(
        ("test", [root]), ("com.anthropic.sdk.python", [sdk]), ("opentelemetry.instrumentation.anthropic", [other])
    )
    a, by_id = assemble(t, spans)
    assert [r.span_id for r in a.rows] == [sdk.span_id.hex()]
    assert a.rows[0].cost_usd == expected(1200, 80, 1000)
    assert by_id[other.span_id]["costline.cost.status"] == "duplicate_call"
    assert by_id[other.span_id]["costline.billed_span_id"] == sdk.span_id.hex()
    assert "costline.cost.usd" not in by_id[other.span_id]
    assert by_id[root.span_id]["costline.rollup.llm_calls"] == 1
    assert by_id[root.span_id]["costline.rollup.cost_usd"] == float(expected(1200, 80, 1000))
    assert (a.twin_calls, a.conflicting_usage) == (1, 0)
    assert a.rows[0].tags == {"feature": "search", "customer_id": "acme"}


def test_sibling_without_an_id_matches_on_parent_usage_time_and_model():
    t = new_trace_id()
    root = span(t, "POST /ask")
    sdk = call(t, root, "msg_02", model="claude-sonnet-4-5-20250929", cache_read=600)
    oi = call(t, root, None, model="claude-sonnet-4-5", start=START + 1_000_000, duration=850_000_000)  # no id
    spans = buffered(("com.anthropic.sdk.python", [sdk]), ("openinference.instrumentation.anthropic", [oi, root]))
    a, by_id = assemble(t, spans)
    assert [r.span_id for r in a.rows] == [sdk.span_id.hex()]
    assert by_id[oi.span_id]["costline.billed_span_id"] == sdk.span_id.hex()


def test_spans_of_one_scope_are_separate_calls_however_alike():
    """A fan-out of identical concurrent calls: one library makes one span per call."""
    t = new_trace_id()
    root = span(t, "fan-out")
    calls = [call(t, root) for _ in range(3)]
    a, _ = assemble(t, buffered(("test", [root, *calls])))
    assert len(a.rows) == 3 and a.twin_calls == 0


def test_identical_concurrent_calls_traced_by_two_libraries_are_one_bill_each():
    t = new_trace_id()
    root = span(t, "fan-out")
    first = [call(t, root) for _ in range(3)]
    second = [call(t, root) for _ in range(3)]  # the other library's spans of the same three calls, no ids
    a, _ = assemble(t, buffered(("test", [root]), ("lib.one", first), ("lib.two", second)))
    assert len(a.rows) == 3 and a.twin_calls == 3
    assert sum(r.cost_usd for r in a.rows) == 3 * expected(1200, 80)


def test_different_response_ids_are_different_calls():
    t = new_trace_id()
    root = span(t, "POST /ask")
    one, two = call(t, root, "msg_a"), call(t, root, "msg_b")
    a, _ = assemble(t, buffered(("test", [root]), ("lib.one", [one]), ("lib.two", [two])))
    assert len(a.rows) == 2 and a.twin_calls == 0


def test_no_overlap_or_other_model_or_other_parent_is_another_call():
    t = new_trace_id()
    root, other_parent = span(t, "root"), span(t, "other")
    base = call(t, root)
    later = call(t, root, start=START + 2_000_000_000)  # after `base` ended
    gpt = call(t, root, model="gpt-4o")
    elsewhere = call(t, other_parent)
    a, _ = assemble(
        t, buffered(("test", [root, other_parent]), ("lib.one", [base]), ("lib.two", [later, gpt, elsewhere]))
    )
    assert len(a.rows) == 4 and a.twin_calls == 0


def test_conflicting_usage_for_one_id_is_billed_once_on_the_larger():
    t = new_trace_id()
    root = span(t, "POST /ask")
    small = call(t, root, "msg_c", output_tokens=80)
    large = call(t, root, "msg_c", output_tokens=95)
    a, by_id = assemble(t, buffered(("test", [root]), ("lib.one", [small]), ("lib.two", [large])))
    assert [r.span_id for r in a.rows] == [large.span_id.hex()]
    assert a.rows[0].cost_usd == expected(1200, 95)
    assert by_id[small.span_id]["costline.billed_span_id"] == large.span_id.hex()
    assert (a.twin_calls, a.conflicting_usage) == (1, 1)


def test_a_span_without_usage_is_a_twin_of_one_with_it():
    t = new_trace_id()
    root = span(t, "POST /ask")
    bare = span(
        t,
        "chat claude-sonnet-4-5",
        root,
        gen_ai__operation__name="chat",
        gen_ai__provider__name="anthropic",
        gen_ai__request__model="claude-sonnet-4-5",
        gen_ai__response__id="msg_d",
        start=START,
        duration=900_000_000,
    )
    full = call(t, root, "msg_d")
    a, by_id = assemble(t, buffered(("test", [root]), ("lib.one", [bare]), ("lib.two", [full])))
    assert [r.span_id for r in a.rows] == [full.span_id.hex()] and a.rows[0].status is None
    assert by_id[bare.span_id]["costline.cost.status"] == "duplicate_call"


def test_nested_spans_of_one_call_are_still_billed_on_the_leaf():
    t = new_trace_id()
    outer = call(t, None, "msg_e")
    inner = call(t, outer, "msg_e", cache_read=1000)
    a, by_id = assemble(t, buffered(("lib.one", [outer]), ("lib.two", [inner])))
    assert [r.span_id for r in a.rows] == [inner.span_id.hex()]
    assert by_id[outer.span_id]["costline.cost.status"] == "aggregate_usage" and a.twin_calls == 0


def test_a_twin_in_a_later_flush_names_the_call_billed_earlier():
    t = new_trace_id()
    root = span(t, "POST /ask", costline__feature="search")
    sdk = call(t, root, "msg_f", cache_read=1000)
    first, _ = assemble(t, buffered(("test", [root]), ("com.anthropic.sdk.python", [sdk])))
    assert len(first.rows) == 1
    late_by_id = call(t, root, "msg_f")
    late_no_id = call(t, root, None, cache_read=1000)
    for late, scope in ((late_by_id, "lib.one"), (late_no_id, "lib.two")):
        a, by_id = assemble(t, buffered((scope, [late])), known=first.remember)
        assert a.rows == [] and a.twin_calls == 1
        assert by_id[late.span_id]["costline.billed_span_id"] == sdk.span_id.hex()
    # the billed call's own library, later: another call, billed
    again = call(t, root, None, start=START + 10)
    a, _ = assemble(t, buffered(("com.anthropic.sdk.python", [again])), known=first.remember)
    assert len(a.rows) == 1 and a.twin_calls == 0


def test_a_late_twin_with_larger_usage_leaves_the_earlier_bill_and_is_counted():
    t = new_trace_id()
    root = span(t, "POST /ask")
    early = call(t, root, "msg_g", output_tokens=80)
    first, _ = assemble(t, buffered(("test", [root]), ("lib.one", [early])))
    late = call(t, root, "msg_g", output_tokens=99)
    a, by_id = assemble(t, buffered(("lib.two", [late])), known=first.remember)
    assert a.rows == [] and (a.twin_calls, a.conflicting_usage) == (1, 1)
    assert by_id[late.span_id]["costline.billed_span_id"] == early.span_id.hex()


def test_an_orphan_takes_the_trace_roots_tags_and_says_so():
    t = new_trace_id()
    root = span(t, "POST /ask", costline__feature="search", costline__customer_id="acme")
    missing = span(t, "sampled out", root)  # never sent
    orphan = call(t, missing, "msg_h")
    below = span(t, "tool", orphan)
    a, by_id = assemble(t, buffered(("test", [root, orphan, below])))
    assert a.rows[0].tags == {"feature": "search", "customer_id": "acme"}
    assert by_id[orphan.span_id]["costline.tags.source"] == "trace_root"
    assert by_id[below.span_id]["costline.tags.source"] == "trace_root"
    assert "costline.tags.source" not in by_id[root.span_id]
    assert a.tags_from_root == 2


def test_an_orphan_after_its_root_was_flushed_still_gets_its_tags():
    t = new_trace_id()
    root = span(t, "POST /ask", costline__feature="search", costline__customer_id="acme")
    first, _ = assemble(t, buffered(("test", [root])))
    assert first.remember[ROOT_KEY].tags == {"feature": "search", "customer_id": "acme"}
    orphan = call(t, span(t, "never sent", root), "msg_i")
    a, by_id = assemble(t, buffered(("test", [orphan])), known=first.remember)
    assert a.rows[0].tags == {"feature": "search", "customer_id": "acme"}
    assert by_id[orphan.span_id]["costline.tags.source"] == "trace_root"


def test_a_trace_without_a_root_leaves_orphans_untagged():
    t = new_trace_id()
    orphan = call(t, span(t, "remote parent"), "msg_j")
    a, by_id = assemble(t, buffered(("test", [orphan])))
    assert a.rows[0].tags == {"feature": "untagged", "customer_id": "untagged"}
    assert "costline.tags.source" not in by_id[orphan.span_id]


def test_when_twins_disagree_the_provider_sdks_own_span_is_billed():
    """OpenLLMetry 0.62's streamed anthropic span over-counts output (message_start's count added to the
    final cumulative one): the SDK's own span says what the API returned."""
    t = new_trace_id()
    root = span(t, "POST /ask")
    sdk = call(t, root, "msg_k", output_tokens=6)
    openllmetry = call(t, root, "msg_k", output_tokens=7)
    a, by_id = assemble(
        t,
        buffered(
            ("test", [root]),
            ("com.anthropic.sdk.python", [sdk]),
            ("opentelemetry.instrumentation.anthropic", [openllmetry]),
        ),
    )
    assert [r.span_id for r in a.rows] == [sdk.span_id.hex()] and a.rows[0].cost_usd == expected(1200, 6)
    assert by_id[openllmetry.span_id]["costline.billed_span_id"] == sdk.span_id.hex()
    assert (a.twin_calls, a.conflicting_usage) == (1, 1)
