"""assemble_trace and TraceBuffer: inheritance, rollups, agent paths, leaf-only billing, bounds."""

from decimal import Decimal

import pytest

from costline_processor.assembly.buffer import TraceBuffer
from costline_processor.assembly.rollup import assemble_trace
from costline_processor.config import AssemblyConfig, TaggingConfig
from costline_processor.intake import Intake
from costline_processor.records import Cost, Unpriced
from tests.processor.spans import llm, new_trace_id, request, span

RATE = Decimal("0.000002")  # $2 per million input tokens, output free: easy to check by hand


class FlatPricer:
    def __init__(self):
        self.calls = 0

    def price(self, call, start, duration):
        self.calls += 1
        if call.usage is None:
            return Unpriced(call.status or "no_usage")
        c = RATE * call.usage.input_tokens
        return Cost(c, c, Decimal(0), Decimal(0), Decimal(0), call.model, "openai", "test")


def intake(spans, service="checkout", tagging=None):
    it = Intake()
    pairs, rejected, _ = it.spans(request(spans, service))
    assert rejected == 0
    return [s for _, s in pairs]


def assemble(spans, known=None, tagging=None, pricer=None):
    tagging = tagging or TaggingConfig()
    buffered = intake(spans, tagging=tagging)
    pricer = pricer or FlatPricer()
    result = assemble_trace(spans[0].trace_id, buffered, known or {}, tagging, pricer.price)
    by_name = {b.name: dict(a) for b, a in zip(buffered, result.additions)}
    return result, by_name


def test_tags_inherit_rollups_sum_and_agent_paths():
    t = new_trace_id()
    root = span(t, "POST /chat", costline__feature="support", costline__customer_id="acme")
    agent = span(t, "invoke_agent planner", root, gen_ai__operation__name="invoke_agent", gen_ai__agent__name="planner")
    c1 = llm(t, agent, input_tokens=1000, output_tokens=10)
    tool = span(t, "execute_tool search", agent, gen_ai__operation__name="execute_tool", gen_ai__tool__name="search")
    c2 = llm(t, tool, model="gpt-4o-mini", input_tokens=3000, output_tokens=20, costline__customer_id="globex")
    result, a = assemble([root, agent, c1, tool, c2])
    # c2 overrides the customer; everything else inherits from the root
    assert a["chat gpt-4o"]["costline.customer_id"] == "acme"
    assert a["chat gpt-4o-mini"]["costline.feature"] == "support"
    assert "costline.customer_id" not in a["chat gpt-4o-mini"]  # its own tag stays, nothing appended
    assert a["chat gpt-4o"]["costline.agent.path"] == "planner"
    assert a["chat gpt-4o-mini"]["costline.agent.path"] == "planner/search"
    assert a["chat gpt-4o"]["costline.cost.usd"] == float(RATE * 1000)
    # rollups: tool subtree has c2 only; agent and root have both
    assert a["execute_tool search"]["costline.rollup.cost_usd"] == float(RATE * 3000)
    assert a["invoke_agent planner"]["costline.rollup.llm_calls"] == 2
    assert a["POST /chat"]["costline.rollup.cost_usd"] == float(RATE * 4000)
    assert a["POST /chat"]["costline.rollup.input_tokens"] == 4000
    assert a["POST /chat"]["costline.rollup.output_tokens"] == 30
    assert "costline.cost.usd" not in a["POST /chat"]  # rollups never reuse the per-call names
    rows = {r.model: r for r in result.rows}
    assert rows["gpt-4o-mini"].tags == {"feature": "support", "customer_id": "globex"}
    assert rows["gpt-4o-mini"].agent_path == "planner/search" and rows["gpt-4o-mini"].service == "checkout"


def test_usage_repeated_on_parent_is_billed_once():
    t = new_trace_id()
    agent_call = llm(t, None, input_tokens=5000)  # e.g. a framework span that repeats its child's usage
    leaf = llm(t, agent_call, input_tokens=5000)
    pricer = FlatPricer()
    result, a = assemble([agent_call, leaf], pricer=pricer)
    assert pricer.calls == 1 and len(result.rows) == 1
    parent_attrs = [x for b, x in zip([agent_call, leaf], result.additions)][0]
    assert dict(parent_attrs)["costline.cost.status"] == "aggregate_usage"
    assert dict(parent_attrs)["costline.rollup.cost_usd"] == float(RATE * 5000)


@pytest.mark.parametrize("between", [0, 1, 2])  # plain spans between the calls and the late aggregate
def test_usage_repeated_on_a_parent_that_arrives_after_its_calls_is_billed_once(between):
    """The calls were flushed (billed) first; the parent repeating their usage comes in a
    later flush, directly or through plain spans that also arrive late: an aggregate."""
    t = new_trace_id()
    agent_call = llm(t, None, input_tokens=5000, costline__feature="search")
    chain = [agent_call]
    for k in range(between):
        chain.append(span(t, f"step {k}", chain[-1]))
    leaves = [llm(t, chain[-1], input_tokens=2000), llm(t, chain[-1], input_tokens=3000)]
    pricer = FlatPricer()
    first, _ = assemble(leaves, pricer=pricer)
    assert len(first.rows) == 2
    known = dict(first.remember)
    late, a = assemble(chain, known=known, pricer=pricer)
    assert pricer.calls == 2 and late.rows == []  # the parent is not billed again
    parent = dict(late.additions[0])
    assert parent["costline.cost.status"] == "aggregate_usage" and "costline.cost.usd" not in parent


@pytest.mark.parametrize("between", [0, 1, 2])  # plain spans between the billed parent and the late calls
@pytest.mark.parametrize("plain_first", [True, False])  # the plain spans flushed with the parent, or late too
def test_calls_that_arrive_after_their_billed_parent_are_not_billed_again(between, plain_first):
    """The reverse of the case above: a parent repeating its calls' usage is flushed first
    (nothing below it yet, so it is billed as a call), then its calls come. Billing them too
    would count the same tokens twice: they are marked `billed_in_parent`, not priced, and
    add nothing to the rollups; they still get their tags and agent path."""
    t = new_trace_id()
    parent_call = llm(t, None, input_tokens=5000, costline__feature="search")
    chain = [parent_call]
    for k in range(between):
        chain.append(span(t, f"step {k}", chain[-1], costline__step__name=f"s{k}"))
    leaves = [llm(t, chain[-1], input_tokens=2000), llm(t, chain[-1], input_tokens=3000)]
    pricer = FlatPricer()
    first_spans = chain if plain_first else chain[:1]
    first, a1 = assemble(first_spans, pricer=pricer)
    assert [r.input_tokens for r in first.rows] == [5000]  # billed: nothing below it was seen
    late_spans = ([] if plain_first else chain[1:]) + leaves
    late, a = assemble(late_spans, known=dict(first.remember), pricer=pricer)
    assert pricer.calls == 1 and late.rows == [] and late.priced == []
    for leaf in leaves:
        got = [dict(x) for s, x in zip(late_spans, late.additions) if s is leaf][0]
        assert got["costline.cost.status"] == "billed_in_parent" and "costline.cost.usd" not in got
        assert got["costline.feature"] == "search"
        assert "costline.rollup.cost_usd" not in got
        if between:
            assert got["costline.agent.path"] == "/".join(f"s{k}" for k in range(between))
    for s, x in zip(late_spans, late.additions):  # late plain spans get no rollup of calls not billed
        assert "costline.rollup.cost_usd" not in dict(x)
    # a call arriving later still, under one of those late calls, is covered the same way
    deeper = llm(t, leaves[0], input_tokens=700)
    third, a3 = assemble([deeper], known={**first.remember, **late.remember}, pricer=pricer)
    assert pricer.calls == 1 and third.rows == []
    assert a3["chat gpt-4o"]["costline.cost.status"] == "billed_in_parent"


def test_a_late_call_beside_a_billed_call_is_billed():
    """Only calls below a billed call are covered by it: a sibling arriving late is billed."""
    t = new_trace_id()
    root = span(t, "root")
    c1 = llm(t, root, input_tokens=100)
    first, _ = assemble([root, c1])
    assert len(first.rows) == 1
    late, a = assemble([llm(t, root, input_tokens=300)], known=dict(first.remember))
    assert len(late.rows) == 1 and a["chat gpt-4o"]["costline.cost.usd"] == float(RATE * 300)


def test_a_call_sent_twice_is_billed_once():
    """OTLP senders retry a request whose answer they missed: the same span (same span id)
    arrives again, in the same flush or after its trace was flushed. The first copy is billed;
    a later one is exported marked `duplicate_span`, not priced, adding nothing to rollups."""
    import copy

    t = new_trace_id()
    root = span(t, "root", costline__feature="search")
    call = llm(t, root, input_tokens=1000)
    again = copy.deepcopy(call)
    pricer = FlatPricer()
    result, _ = assemble([root, call, again], pricer=pricer)
    assert pricer.calls == 1 and len(result.rows) == 1 and result.duplicate_calls == 1
    adds = [dict(x) for x in result.additions]
    assert adds[1]["costline.cost.usd"] == float(RATE * 1000) and "costline.cost.status" not in adds[1]
    assert adds[2]["costline.cost.status"] == "duplicate_span" and "costline.cost.usd" not in adds[2]
    assert adds[0]["costline.rollup.cost_usd"] == float(RATE * 1000) and adds[0]["costline.rollup.llm_calls"] == 1
    # after the trace was flushed: the copy learns from the remembered context that it was priced
    late, a = assemble([copy.deepcopy(call)], known=dict(result.remember), pricer=pricer)
    assert pricer.calls == 1 and late.rows == [] and late.duplicate_calls == 1
    assert a["chat gpt-4o"]["costline.cost.status"] == "duplicate_span"
    assert a["chat gpt-4o"]["costline.feature"] == "search"


def test_a_late_call_whose_parent_was_flushed_is_still_billed():
    t = new_trace_id()
    root = span(t, "root")
    first, _ = assemble([root])
    late, a = assemble([llm(t, root, input_tokens=100)], known=dict(first.remember))
    assert len(late.rows) == 1 and a["chat gpt-4o"]["costline.cost.usd"] == float(RATE * 100)


def test_missing_required_tags_go_to_untagged_bucket():
    t = new_trace_id()
    root = span(t, "job", costline__feature="batch")
    call = llm(t, root)
    result, a = assemble([root, call], tagging=TaggingConfig(required=["feature", "customer_id"], default="untagged"))
    assert a["chat gpt-4o"]["costline.customer_id"] == "untagged"
    assert result.rows[0].tags == {"feature": "batch", "customer_id": "untagged"}


def test_other_libraries_tags_map_through_the_contract():
    t = new_trace_id()
    root = span(t, "workflow", traceloop__association__properties__customer_id="initech", user__id="u-7")
    call = llm(t, root)
    result, a = assemble([root, call])
    assert a["workflow"]["costline.customer_id"] == "initech"
    assert a["chat gpt-4o"]["costline.user_id"] == "u-7"
    assert result.rows[0].tags["customer_id"] == "initech"


def test_unpriced_call_gets_status_not_zero():
    t = new_trace_id()
    call = span(t, "chat mystery", gen_ai__operation__name="chat", gen_ai__request__model="mystery")
    result, a = assemble([call])
    assert a["chat mystery"]["costline.cost.status"] == "no_usage"
    assert "costline.cost.usd" not in a["chat mystery"]
    assert result.rows[0].status == "no_usage" and result.rows[0].cost_usd is None


def test_cycles_self_parents_and_duplicates_do_not_hang():
    t = new_trace_id()
    a = span(t, "a", span_id=b"\x00" * 7 + b"\x0a")
    b = span(t, "b", span_id=b"\x00" * 7 + b"\x0b")
    a.parent_span_id, b.parent_span_id = b.span_id, a.span_id  # a <-> b
    selfp = span(t, "self", span_id=b"\x00" * 7 + b"\x0c")
    selfp.parent_span_id = selfp.span_id
    c = llm(t, a, input_tokens=500)
    dup = span(t, "dup", span_id=a.span_id)
    result, attrs = assemble([a, b, selfp, c, dup])
    assert result.broken_links == 3  # cycle cut once, self-parent, duplicate id
    assert len(result.rows) == 1 and result.rows[0].cost_usd == RATE * 500
    assert attrs["a"]["costline.rollup.llm_calls"] == 1


def test_deep_chain_rolls_up_linearly():
    t = new_trace_id()
    spans = [span(t, "s0")]
    for i in range(1, 10_000):
        spans.append(span(t, f"s{i}", spans[-1]))
    spans.append(llm(t, spans[-1], input_tokens=7))
    result, a = assemble(spans)
    assert a["s0"]["costline.rollup.cost_usd"] == float(RATE * 7)
    assert a["s5000"]["costline.rollup.llm_calls"] == 1


def test_late_span_inherits_from_flushed_parent():
    t = new_trace_id()
    root = span(t, "root", costline__feature="search", costline__customer_id="acme")
    agent = span(t, "agent", root, costline__step__name="retriever")
    first, _ = assemble([root, agent])
    late = llm(t, agent, input_tokens=100)
    result, a = assemble([late], known=first.remember)
    assert a["chat gpt-4o"]["costline.feature"] == "search"
    assert a["chat gpt-4o"]["costline.agent.path"] == "retriever"
    assert result.rows[0].tags == {"feature": "search", "customer_id": "acme"}


def test_buffer_waits_for_quiet_then_flushes():
    buf = TraceBuffer(AssemblyConfig(trace_wait_s=5))
    t = new_trace_id()
    s1, s2 = intake([span(t, "a"), span(t, "b")])
    assert buf.add(t, [s1], now=0) == []
    assert buf.add(t, [s2], now=4) == []
    assert buf.expired(now=8) == []  # last span at 4: quiet only from 9
    flushed = buf.expired(now=9.5)
    assert [f.trace_id for f in flushed] == [t] and len(flushed[0].spans) == 2 and flushed[0].reason == "quiet"
    assert buf.span_count == 0 and len(buf) == 0


def test_buffer_bound_flushes_oldest_early_and_drops_nothing():
    buf = TraceBuffer(AssemblyConfig(trace_wait_s=60, max_traces=3, max_spans=10))
    traces = [new_trace_id() for _ in range(5)]
    flushed = []
    for i, t in enumerate(traces):
        flushed += buf.add(t, intake([span(t, f"s{i}"), span(t, f"t{i}")]), now=i)
    assert [f.trace_id for f in flushed] == traces[:2]
    assert all(f.reason == "bound" for f in flushed)
    flushed += buf.add(traces[4], intake([span(traces[4], f"x{i}") for i in range(8)]), now=10)
    flushed += buf.drain()
    assert sum(len(f.spans) for f in flushed) == 18 and buf.span_count == 0


def test_late_span_counted_and_context_kept():
    buf = TraceBuffer(AssemblyConfig(trace_wait_s=1, recent_traces=2))
    t = new_trace_id()
    buf.add(t, intake([span(t, "a")]), now=0)
    (f,) = buf.expired(now=2)
    buf.remember(t, {b"k" * 8: None})
    buf.add(t, intake([span(t, "late")]), now=3)
    assert buf.late_spans == 1
    (f2,) = buf.expired(now=5)
    assert b"k" * 8 in f2.known
