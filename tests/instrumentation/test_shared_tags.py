"""A tag with several owners: how attribution writes it, that it survives W3C baggage whatever the names
hold, that the server reads back exactly the owners and weights the app gave, and what is refused."""

from __future__ import annotations

import pytest
from opentelemetry import baggage, context
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import costline
from costline.instrumentation.attribution import attribution, current_tags, tag_entries
from costline.instrumentation.baggage import CostlineBaggageSpanProcessor
from costline_processor.shares import owners

# owner names with every separator a text encoding could trip on: baggage's own `,` `;` `=`, quotes,
# a JSON bracket, `|`, `%`, `+`, spaces inside and around, non-ASCII, and text that looks like JSON
HOSTILE = ["a,b", "c;d=e", 'say "hi"', "it's", "[x]", "p|q", "100%", "a+b", " padded ", "Zürich ☕", '{"k":1}']


def _value(tags: dict) -> str:
    return tag_entries({"customer_id": tags})["costline.customer_id"]


def _through_baggage(value: str) -> str:
    """The value as another service reads it after one W3C baggage hop."""
    carrier: dict[str, str] = {}
    W3CBaggagePropagator().inject(carrier, baggage.set_baggage("costline.customer_id", value))
    assert value not in carrier["baggage"] or value.isalnum()  # it travels percent-encoded
    return baggage.get_baggage("costline.customer_id", W3CBaggagePropagator().extract(carrier))


def test_equal_shares_and_weights_are_json_text():
    assert _value(["acme", "globex"]) == '["acme","globex"]'
    assert _value({"acme": 3, "globex": 1}) == '{"acme":3,"globex":1}'
    assert _value({"acme": 0.75, "globex": 0.25}) == '{"acme":0.75,"globex":0.25}'
    assert _value({"b", "a"}) == '["a","b"]'  # a set, in name order
    assert owners(_value(["acme", "globex"])) == (("acme", 0, 1, 2), ("globex", 1, 2, 2))
    assert owners(_value({"acme": 3, "globex": 1})) == (("acme", 0, 3, 4), ("globex", 3, 4, 4))
    assert owners(_value({"acme": 0.75, "globex": 0.25})) == (("acme", 0, 3, 4), ("globex", 3, 4, 4))


def test_one_owner_is_the_plain_value_and_single_values_keep_their_bytes():
    assert _value(["acme"]) == "acme" and _value({"acme": 5}) == "acme"
    for text in ["acme", "a,b", '["x","y"]', "", "  spaced  "]:  # text is never rewritten
        assert tag_entries({"customer_id": text}) == {"costline.customer_id": text}
    assert tag_entries({"n": 42}) == {"costline.n": "42"}


def test_hostile_owner_names_round_trip_through_baggage():
    value = _value(HOSTILE)
    assert _through_baggage(value) == value
    assert [name for name, *_ in owners(_through_baggage(value))] == sorted(HOSTILE)
    weighted = _value({name: i + 1 for i, name in enumerate(HOSTILE)})
    got = {name: high - low for name, low, high, _ in owners(_through_baggage(weighted))}
    assert got == {name: i + 1 for i, name in enumerate(HOSTILE)}


def test_the_span_carries_the_value_as_written():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CostlineBaggageSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with attribution(customer_id={"acme": 3, "globex": 1}, feature="digest"):
        provider.get_tracer("t").start_span("chat").end()
        with attribution(customer_id="initech"):  # an inner single owner replaces the pair
            provider.get_tracer("t").start_span("chat").end()
            assert current_tags()["customer_id"] == "initech"
    first, second = (dict(s.attributes) for s in exporter.get_finished_spans())
    assert first == {"costline.customer_id": '{"acme":3,"globex":1}', "costline.feature": "digest"}
    assert second["costline.customer_id"] == "initech"
    assert baggage.get_all(context.get_current()) == {}


@pytest.mark.parametrize(
    "given, says",
    [
        ([], "names no owner"),
        (["a", "a"], "named twice"),
        (["a", ""], "empty"),
        (["a", None], "must be a name"),
        ({"a": 0, "b": 1}, "positive"),
        ({"a": -2, "b": 1}, "positive"),
        ({"a": float("inf"), "b": 1}, "positive"),
        ({"a": True, "b": 1}, "must be a number"),
        ({"a": "3", "b": 1}, "must be a number"),
        ({"a": 1 / 3, "b": 1}, "integers or short decimals"),
        ({"a": 10**6, "b": 1}, "integers or short decimals"),
        ({1: 1, "1": 2}, "same name"),
        ([f"customer-{i:05d}" for i in range(400)], "over 4096 bytes"),
    ],
)
def test_what_is_refused_says_why(given, says):
    with pytest.raises(ValueError, match=says) as e:
        costline.attribution(customer_id=given)
    assert "customer_id" in str(e.value)


def test_what_the_app_writes_the_server_reads_back():
    cases = [["x", "y", "z"], {"x": 1, "y": 2}, {"x": 0.1, "y": 0.02}, {"x": 10**5, "y": 1}, HOSTILE[:3]]
    for given in cases:
        value = _value(given)
        weights = given if isinstance(given, dict) else dict.fromkeys(given, 1)
        got = owners(value)
        total = got[0][3]
        for name, low, high, _ in got:
            # same proportions as given
            assert (high - low) * sum(weights.values()) == pytest.approx(weights[name] * total)
