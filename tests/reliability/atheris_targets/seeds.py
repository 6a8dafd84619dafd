"""Seed corpora (and libFuzzer dictionaries) for the targets, kept apart from them: importing a
target instruments the costline modules it imports, which the pytest process must not do."""

from __future__ import annotations


def protobuf_request_seeds() -> list[bytes]:
    from tests.processor.spans import llm, new_trace_id, request, span

    t = new_trace_id()
    root = span(t, "POST /answer", costline__feature="search", user__id="u1")
    agent = span(t, "invoke_agent planner", root, gen_ai__operation__name="invoke_agent", gen_ai__agent__name="planner")
    calls = [
        llm(t, agent),
        llm(t, agent, model="claude-sonnet-4-5", provider="anthropic", gen_ai__usage__cache_read__input_tokens=200),
        span(
            t,
            "ChatOpenAI",
            agent,
            openinference__span__kind="LLM",
            llm__model_name="gpt-4o-mini",
            llm__token_count__prompt=10,
            llm__token_count__completion=3,
        ),
    ]
    return [request([root, agent, *calls]).SerializeToString(), request([calls[0]]).SerializeToString()]


def otlp_json_seeds() -> list[bytes]:
    return [
        b'{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},'
        b'"scopeSpans":[{"scope":{"name":"openai"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",'
        b'"spanId":"eee19b7ec3c1b174","parentSpanId":"eee19b7ec3c1b173","name":"chat gpt-4o","kind":3,'
        b'"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000",'
        b'"attributes":[{"key":"gen_ai.usage.input_tokens","value":{"intValue":"1000"}},'
        b'{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},'
        b'{"key":"x","value":{"doubleValue":1.5}},{"key":"y","value":{"boolValue":true}},'
        b'{"key":"z","value":{"arrayValue":{"values":[{"stringValue":"a"}]}}},'
        b'{"key":"w","value":{"kvlistValue":{"values":[{"key":"k","value":{"bytesValue":"AAE="}}]}}}],'
        b'"events":[{"name":"e","timeUnixNano":"1"}],"links":[{"traceId":"5b8efff798038103d269b633813fc60c",'
        b'"spanId":"eee19b7ec3c1b175"}],"status":{"code":2,"message":"boom"}}]}]}]}',
        b'{"resourceSpans":[]}',
    ]


def otlp_json_dictionary() -> list[bytes]:
    """Tokens for libFuzzer's -dict: byte mutations rarely spell OTLP/JSON's field names."""
    names = [
        "resourceSpans",
        "resource_spans",
        "scopeSpans",
        "scope_spans",
        "spans",
        "resource",
        "scope",
        "attributes",
        "key",
        "value",
        "stringValue",
        "intValue",
        "doubleValue",
        "boolValue",
        "bytesValue",
        "arrayValue",
        "kvlistValue",
        "values",
        "traceId",
        "spanId",
        "parentSpanId",
        "name",
        "kind",
        "startTimeUnixNano",
        "endTimeUnixNano",
        "events",
        "links",
        "status",
        "code",
        "message",
        "timeUnixNano",
        "traceState",
        "flags",
        "droppedAttributesCount",
        "schemaUrl",
        "version",
    ]
    return [f'"{n}":'.encode() for n in names] + [
        b"{",
        b"}",
        b"[",
        b"]",
        b'"',
        b",",
        b"null",
        b"true",
        b"-1",
        b'"18446744073709551616"',
        b"1e400",
        b'"eee19b7ec3c1b174"',
    ]


def usage_normalizer_seeds() -> list[bytes]:
    return [bytes(range(64)), bytes([3, 1, 5, 0, 2, 9, 4, 7] * 8)]
