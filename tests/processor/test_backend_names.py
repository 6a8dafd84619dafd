"""Backends' user and session views (issue 21 item 3): a span exported carrying `costline.user_id` /
`costline.session_id` also carries `user.id` / `session.id` (tagging.backend_user_attributes).

The copying by hand (BackendNames), the setting (flag, variable, YAML, refusals), assembly on
hand-built traces (the copies beside the tags, the app's own attribute kept, appended bytes and
pairs agreeing), and end to end: real OTel SDK spans through a running costline to a loopback
OTLP backend, every attribute key counted as received.
"""

import pytest
from opentelemetry import trace
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline_processor.assembly.backend_names import BackendNames
from costline_processor.assembly.rollup import assemble_trace
from costline_processor.config import Config, ConfigError, TaggingConfig
from costline_processor.config_sources import load_config, merge_yaml
from costline_processor.wire.attributes import attributes
from tests.fakes.otlp_sink import OtlpSink, any_value
from tests.processor.harness import RunningServer, loopback_config, sdk_tracer
from tests.processor.spans import new_trace_id, span
from tests.processor.test_assembly import FlatPricer, intake
from tests.processor.test_config_options import serve_parser

DEFAULT = BackendNames((("user.id", "user_id"), ("session.id", "session_id")), ["feature", "user_id"], "untagged")


# -- the copying ---------------------------------------------------------------------------------


def test_each_tag_present_is_copied_in_the_configured_order():
    tags = {"feature": "chat", "session_id": "s-1", "user_id": "u-1"}
    assert DEFAULT.copies(tags, frozenset()) == [("user.id", "u-1"), ("session.id", "s-1")]
    assert DEFAULT.block(tags, frozenset()) == attributes([("user.id", "u-1"), ("session.id", "s-1")])


def test_no_copy_for_an_absent_tag_a_carried_name_or_the_untagged_default():
    assert DEFAULT.copies({"feature": "chat"}, frozenset()) == []
    tags = {"user_id": "u-1", "session_id": "s-1"}
    # own_tags holds the span's own backend names as (name,): never taken for a tag name, even "user.id"
    carried = frozenset({"user_id", ("user.id",)})
    assert DEFAULT.copies(tags, carried) == [("session.id", "s-1")]
    assert DEFAULT.block(tags, carried) == attributes([("session.id", "s-1")])
    tag_named_like_it = frozenset({"user.id"})  # the span sets costline.user.id, not user.id
    assert DEFAULT.copies(tags, tag_named_like_it) == [("user.id", "u-1"), ("session.id", "s-1")]
    # user_id is required here: its default is the untagged bucket, not a user
    assert DEFAULT.copies({"user_id": "untagged", "session_id": "untagged"}, frozenset()) == [
        ("session.id", "untagged")  # session_id is not required: "untagged" is a value the app sent
    ]
    assert DEFAULT.block({}, frozenset()) == b""
    defaulted = {"user_id": "untagged", "session_id": "untagged"}
    assert DEFAULT.block(defaulted, frozenset()) == attributes([("session.id", "untagged")])


def test_block_is_the_copies_encoded_whichever_span_asks_first():
    names = BackendNames((("user.id", "user_id"), ("session.id", "session_id")), [], "untagged")
    a, b = {"user_id": "u-1", "session_id": "s-1"}, {"user_id": "u-2"}
    root, carrying = frozenset({"user_id", "session_id"}), frozenset({("session.id",)})
    # a trace's root (own tags) and the spans below it (none) share their tags; the next trace's differ
    for tags, own in [(a, root), (a, frozenset()), (a, carrying), (a, root), (b, frozenset()), (a, frozenset())]:
        assert names.block(tags, own) == attributes(names.copies(tags, own)), (tags, own)


# -- the setting -----------------------------------------------------------------------------------


def test_default_names_and_their_tags():
    assert Config().tagging.backend_names() == (("user.id", "user_id"), ("session.id", "session_id"))


def test_names_resolve_through_the_aliases_or_name_their_tag():
    t = TaggingConfig(backend_user_attributes=["langfuse.user.id", "langfuse.session.id", "tenant.id=customer_id"])
    assert t.backend_names() == (
        ("langfuse.user.id", "user_id"),
        ("langfuse.session.id", "session_id"),
        ("tenant.id", "customer_id"),
    )
    # aliases replaced by the file: the default names still resolve (their default aliases)
    custom = TaggingConfig(aliases={"app.user": "user_id"}, backend_user_attributes=["user.id", "app.user"])
    assert custom.backend_names() == (("user.id", "user_id"), ("app.user", "user_id"))


@pytest.mark.parametrize(
    "names, refusal",
    [
        (["tenant.id"], r"'tenant.id' is not a tagging.aliases key: name its tag, tenant.id=TAG"),
        (["user.id", "user.id=user_id"], r"'user.id' is named twice"),
        (["=user_id"], r"'=user_id' must be an attribute name, or NAME=TAG"),
        (["user.id="], r"'user.id=' must be an attribute name, or NAME=TAG"),
        (["costline.user_id"], r"'costline.user_id' is costline's own namespace"),
        ([3], r"3 must be an attribute name"),
    ],
)
def test_a_bad_name_is_one_sentence(names, refusal):
    with pytest.raises(ConfigError, match=r"tagging.backend_user_attributes \(--backend-user-attributes\): " + refusal):
        Config(tagging=TaggingConfig(backend_user_attributes=names)).validate()


def test_flag_variable_and_file_take_a_list_or_off(tmp_path):
    bare = serve_parser().parse_args([])
    off = serve_parser().parse_args(["--backend-user-attributes", "off"])
    langfuse = serve_parser().parse_args(["--backend-user-attributes", "langfuse.user.id, langfuse.session.id"])
    assert load_config(None, bare, {}).tagging.backend_user_attributes == ["user.id", "session.id"]
    assert load_config(None, off, {}).tagging.backend_user_attributes == []
    assert load_config(None, langfuse, {}).tagging.backend_user_attributes == [
        "langfuse.user.id",
        "langfuse.session.id",
    ]
    env = {"COSTLINE_BACKEND_USER_ATTRIBUTES": "user.id,langfuse.user.id"}
    assert load_config(None, bare, env).tagging.backend_user_attributes == ["user.id", "langfuse.user.id"]
    assert load_config(None, bare, {"COSTLINE_BACKEND_USER_ATTRIBUTES": "off"}).tagging.backend_user_attributes == []
    flag_wins = load_config(None, langfuse, {"COSTLINE_BACKEND_USER_ATTRIBUTES": "off"})
    assert flag_wins.tagging.backend_user_attributes == ["langfuse.user.id", "langfuse.session.id"]
    for yaml_value, expected in [([], []), ("off", []), (["session.id"], ["session.id"])]:
        cfg = Config()
        merge_yaml(cfg, {"tagging": {"backend_user_attributes": yaml_value}})
        assert cfg.tagging.backend_user_attributes == expected


# -- assembly ------------------------------------------------------------------------------------


def _assemble(spans, tagging=None):
    tagging = tagging or TaggingConfig()
    buffered = intake(spans)
    result = assemble_trace(spans[0].trace_id, buffered, {}, tagging, FlatPricer().price)
    return result, buffered


def _appended(result, buffered) -> dict[str, list[tuple[str, object]]]:
    """span name -> the attributes its appended bytes hold, decoded, in order (duplicates kept)."""
    out = {}
    for (d, _), extra in zip(buffered, result.appended):
        s = Span.FromString(d + extra)
        own = len(Span.FromString(d).attributes)
        out[s.name] = [(kv.key, any_value(kv.value)) for kv in s.attributes[own:]]
    return out


def test_every_span_with_the_tags_gets_the_copies_but_a_name_it_carries():
    t = new_trace_id()
    root = span(t, "POST /chat", costline__user_id="u-1", costline__session_id="s-1", costline__feature="chat")
    agent = span(t, "invoke_agent planner", root, gen_ai__operation__name="invoke_agent", gen_ai__agent__name="p")
    call = span(
        t,
        "chat gpt-4o",
        agent,
        gen_ai__operation__name="chat",
        gen_ai__request__model="gpt-4o",
        gen_ai__usage__input_tokens=1000,
        gen_ai__usage__output_tokens=10,
    )
    app_user = span(t, "auth", root, user__id="app-7", costline__user_id="u-2")  # the app's own user.id wins
    db = span(t, "SELECT", app_user, db__system__name="postgresql")
    result, buffered = _assemble([root, agent, call, app_user, db])
    got = _appended(result, buffered)
    for name in ("POST /chat", "invoke_agent planner", "chat gpt-4o"):
        assert ("user.id", "u-1") in got[name] and ("session.id", "s-1") in got[name], name
    # the root carries costline.user_id itself: nothing of its tags is appended but the copies
    assert [kv for kv in got["POST /chat"] if kv[0] in ("user.id", "session.id")] == [
        ("user.id", "u-1"),
        ("session.id", "s-1"),
    ]
    assert "user.id" not in dict(got["auth"]) and ("session.id", "s-1") in got["auth"]
    assert ("user.id", "u-2") in got["SELECT"] and ("costline.user_id", "u-2") in got["SELECT"]
    for i, name in enumerate(s.name for s in [root, agent, call, app_user, db]):
        assert result.pairs(i) == got[name], name  # the pairs spell out what the bytes append


def test_no_copy_without_the_tag_nor_when_off():
    t = new_trace_id()
    root = span(t, "POST /chat", costline__feature="chat")
    call = span(
        t, "chat", root, gen_ai__request__model="gpt-4o", gen_ai__usage__input_tokens=5, gen_ai__system="openai"
    )
    result, buffered = _assemble([root, call])
    assert all(k not in ("user.id", "session.id") for kvs in _appended(result, buffered).values() for k, _ in kvs)

    tagged = [span(t, "POST /chat", costline__user_id="u-1", costline__session_id="s-1")]
    off = TaggingConfig(backend_user_attributes=[])
    result, buffered = _assemble(tagged, off)
    assert _appended(result, buffered)["POST /chat"] == []


def test_a_required_user_id_defaulted_is_not_copied():
    t = new_trace_id()
    tagging = TaggingConfig(required=["user_id"])
    root = span(t, "POST /chat", costline__session_id="s-1")
    call = span(
        t, "chat", root, gen_ai__request__model="gpt-4o", gen_ai__usage__input_tokens=5, gen_ai__system="openai"
    )
    result, buffered = _assemble([root, call], tagging)
    got = _appended(result, buffered)
    assert ("costline.user_id", "untagged") in got["chat"]  # the ledger's untagged bucket, as before
    assert "user.id" not in dict(got["chat"]) and ("session.id", "s-1") in got["chat"]


def test_a_name_outside_the_aliases_is_read_so_it_is_never_overwritten():
    t = new_trace_id()
    tagging = TaggingConfig(backend_user_attributes=["tenant.id=customer_id"])
    root = span(t, "POST /chat", costline__customer_id="acme")
    own = span(t, "tenant lookup", root, tenant__id="acme-eu")  # no tag, no call: read only for this name
    other = span(t, "render", root)
    result, buffered = _assemble([root, own, other], tagging)
    got = _appended(result, buffered)
    assert ("tenant.id", "acme") in got["render"] and ("tenant.id", "acme") in got["POST /chat"]
    assert "tenant.id" not in dict(got["tenant lookup"])


# -- end to end ------------------------------------------------------------------------------------


def _send(endpoint):
    app = sdk_tracer(endpoint, service="support-bot")
    t = app.get_tracer("app")
    root = t.start_span(
        "POST /chat",
        attributes={"costline.user_id": "alice", "costline.session_id": "conv-9", "costline.feature": "support"},
    )
    ctx = trace.set_span_in_context(root)
    t.start_span(
        "chat gpt-4o-mini",
        context=ctx,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 100,
        },
    ).end()
    t.start_span("login", context=ctx, attributes={"user.id": "alice@sso"}).end()
    root.end()
    t.start_span("healthcheck").end()  # another trace, no tags
    app.shutdown()


def _received(cfg_change) -> dict[str, list[tuple[str, object]]]:
    with OtlpSink() as sink:
        cfg = loopback_config(sink, trace_wait=0.2)
        cfg_change(cfg)
        with RunningServer(cfg) as srv:
            _send(srv.grpc_endpoint)
            spans = sink.wait_for_spans(4, timeout=15)
    return {s.name: [(kv.key, any_value(kv.value)) for kv in s.raw.attributes] for s in spans}


def _named(kvs, *names):
    return [kv for kv in kvs if kv[0] in names]


def test_the_backend_receives_user_and_session_ids_once_each():
    got = _received(lambda cfg: None)
    for name in ("POST /chat", "chat gpt-4o-mini"):
        assert _named(got[name], "user.id", "session.id") == [("user.id", "alice"), ("session.id", "conv-9")], name
    chat = dict(got["chat gpt-4o-mini"])
    assert chat["costline.user_id"] == "alice" and chat["costline.cost.usd"] > 0
    assert _named(got["login"], "user.id", "session.id") == [("user.id", "alice@sso"), ("session.id", "conv-9")]
    assert _named(got["healthcheck"], "user.id", "session.id", "costline.user_id") == []


def test_the_backend_receives_langfuse_names_or_none():
    def langfuse(cfg):
        cfg.tagging.backend_user_attributes = ["langfuse.user.id", "langfuse.session.id"]

    got = _received(langfuse)
    names = ("user.id", "session.id", "langfuse.user.id", "langfuse.session.id")
    assert _named(got["chat gpt-4o-mini"], *names) == [("langfuse.user.id", "alice"), ("langfuse.session.id", "conv-9")]
    # login's own user.id is its user_id tag (tagging.aliases), so that is what its copy says
    assert _named(got["login"], *names) == [
        ("user.id", "alice@sso"),
        ("langfuse.user.id", "alice@sso"),
        ("langfuse.session.id", "conv-9"),
    ]

    def off(cfg):
        cfg.tagging.backend_user_attributes = []

    got = _received(off)
    assert _named(got["chat gpt-4o-mini"], *names) == []
    assert _named(got["login"], *names) == [("user.id", "alice@sso")]
