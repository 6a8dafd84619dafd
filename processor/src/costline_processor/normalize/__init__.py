"""normalize: recognise a model-call span and read its usage in the semconv meaning.

Each instrumentation library speaks its own dialect of attribute names and token
semantics. One dialect is picked per span, first match wins, and only that
dialect's names are read, so the synonyms a library writes twice on one span
(OpenInference's semconv copies, Vercel's `ai.usage.*` + `gen_ai.usage.*`,
Pydantic AI's `details`) are never summed. Precedence:

    costline > openinference > openlit > vercel > pydantic-ai/logfire > langsmith > openllmetry > semconv

The result follows the semconv meaning: input includes cache reads and writes,
output includes reasoning. Emitters known to exclude the cache from input
(Bedrock paths, OpenLIT Anthropic, OpenInference Anthropic < 0.1.14, Vercel v5
Anthropic) get the cache counts added; for the rest, cache_read + cache_write >
input can only mean the same, and reasoning > output means output excluded it.

Reported cost: only a cost the provider itself returned counts, because pricing
lets it win over the price sheet. `costline.reported_cost.usd` (costline's
instrumentation copies e.g. OpenRouter's `usage.cost`) and OpenInference's
`llm.cost.total` are read. `gen_ai.usage.cost` (OpenLIT's own price table, and
costline's output) and `operation.cost` (Logfire's genai-prices estimate) are
estimates, not bills, and are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from operator import itemgetter
from typing import Any, Final, Literal, TypeVar, cast

from costline_processor.normalize import langsmith, logfire, openinference, openlit, openllmetry, semconv, vercel
from costline_processor.normalize.counts import MAX_TOKENS, Reading, as_usd, first_str, is_true
from costline_processor.records import INVALID_USAGE, NO_USAGE, AttrValue, ModelCall, Usage

SERVER_ADDRESS = "server.address"
SERVICE_TIER = (
    "openai.response.service_tier",
    "gen_ai.openai.response.service_tier",
    "openai.request.service_tier",
    "gen_ai.openai.request.service_tier",
    "anthropic.response.service_tier",  # costline's and the anthropic SDK's spans: standard, priority, batch
)
SPEED = "anthropic.response.speed"  # Anthropic fast mode (premium rates): priced as the tier "fast"
GEO = "anthropic.response.inference_geo"  # where Anthropic ran the call: "us" costs 1.1x "global"
TIER_KEYS = (*SERVICE_TIER, SPEED, GEO)
BATCH = "costline.batch"
# The anthropic SDK's own tracing (anthropic >= 2): its scope, and the one name (of its `anthropic.<resource>.<method>`
# span names) of a model call.
ANTHROPIC_SDK_SCOPE = "com.anthropic.sdk.python"
ANTHROPIC_SDK_CALL = "anthropic.messages.create"
REPORTED_COST = "costline.reported_cost.usd"
# The provider's response id: two spans that carry the same one record one call (assembly/twins.py).
# Its values never repeat, so intake does not cache them (UNIQUE_KEYS).
RESPONSE_ID = ("gen_ai.response.id", "ai.response.id")
UNIQUE_KEYS: frozenset[str] = frozenset(RESPONSE_ID)

INTERESTING_PREFIXES: tuple[str, ...] = ("gen_ai.usage.", "llm.token_count.", "llm.usage.", "ai.usage.")
INTERESTING_KEYS: frozenset[str] = frozenset(
    {SERVER_ADDRESS, *TIER_KEYS, BATCH, REPORTED_COST, *RESPONSE_ID}
    | semconv.KEYS
    | openllmetry.KEYS
    | openinference.KEYS
    | openlit.KEYS
    | vercel.KEYS
    | langsmith.KEYS
    | logfire.KEYS
)
# Keys that make a span worth a closer look; the rest only qualify a model call.
_MARKERS = INTERESTING_KEYS - {SERVER_ADDRESS, *TIER_KEYS, BATCH, openlit.SDK_NAME, *RESPONSE_ID, *logfire.KEYS}
MARKER_KEYS = _MARKERS  # a span with none of these (and no INTERESTING_PREFIXES key) is no model call


def normalize_span(
    attrs: dict[str, AttrValue],
    *,
    scope_name: str = "",
    scope_version: str = "",
    span_name: str = "",
    span_kind: int = 0,
) -> ModelCall | None:
    """The model call this span records, or None when it records none."""
    keys = tuple(attrs)
    marked = _MARKED.get(keys)
    if marked is None:
        marked = _remember(_MARKED, keys, any(k in _MARKERS or k.startswith(INTERESTING_PREFIXES) for k in keys))
    if not marked:
        return None
    # Agent, tool and workflow spans repeat exactly: remember inputs that record no call.
    # (Model calls carry more keys and their counts differ: not worth looking up.)
    memo = None
    if len(keys) <= _MEMO_KEYS:
        try:
            memo = (keys, tuple(attrs.values()), scope_name, scope_version, span_name, span_kind)
            if memo in _NOT_CALLS:
                return None
        except TypeError:  # an array value: not hashable, not remembered
            memo = None
    scope_name = scope_name if isinstance(scope_name, str) else ""
    if scope_name == ANTHROPIC_SDK_SCOPE and span_name.startswith("anthropic.") and span_name != ANTHROPIC_SDK_CALL:
        return None  # the SDK traces every API call it makes: count_tokens, batches, files... call no model
    sdk = openlit.marked(attrs)
    plan = _PLANS.get((keys, scope_name, sdk))
    if plan is None:
        plan = _remember(_PLANS, (keys, scope_name, sdk), _plan(keys, scope_name, sdk))
    best, shape = plan
    if shape is not None:  # the semconv dialect (or costline's): from per-shape memos (_semconv_call)
        call = _semconv_call(attrs, shape)
        if call is not _SLOW:
            if call is None:
                if memo is not None:
                    _remember(_NOT_CALLS, memo, None)
            else:
                call.response_id = _response_id(attrs)
            return call
    reading = _DIALECTS[best][1](
        attrs, scope_name, scope_version if isinstance(scope_version, str) else "", span_name or ""
    )
    call = _call_of(reading, attrs)
    if call is None and memo is not None:
        _remember(_NOT_CALLS, memo, None)
    return call


def _call_of(reading: Reading, attrs: dict[str, AttrValue]) -> ModelCall | None:
    """The model call a dialect's reading of the span records (None: no model call)."""
    has_counts = reading.has_counts()
    if not has_counts and not reading.is_model_call:
        return None
    call = ModelCall(
        dialect=reading.dialect,
        model=reading.model,
        request_model=reading.request_model,
        provider=reading.provider,
        server_address=first_str(attrs, SERVER_ADDRESS),
        operation=reading.operation,
        response_id=_response_id(attrs),
    )
    reported = attrs.get(REPORTED_COST)
    call.reported_cost_usd = as_usd(reported) if reported is not None else reading.reported_cost_usd
    _set_tier(call, attrs)
    if reading.error is not None:
        call.status, call.detail = INVALID_USAGE, reading.error
    elif not has_counts:
        call.status, call.detail = NO_USAGE, "the span records a model call but no token counts"
    elif is_true(attrs.get(semconv.USAGE_MISSING)):  # a stream's first counts; its final ones never came
        call.status, call.detail = NO_USAGE, "the stream ended before its final token counts (output unknown)"
    else:
        usage, problem = _usage(reading)
        if problem:
            call.status, call.detail = INVALID_USAGE, problem
        else:
            call.usage = usage
    return call


# Dialects in precedence order: (name, reader, marker keys, marker key prefixes, scope prefixes).
# A span belongs to the first dialect any of its keys or its scope name marks; semconv is the rest.
# A reader takes (attributes, scope name, scope version, span name).
_Reader = Callable[[dict[str, AttrValue], str, str, str], Reading]
_DIALECTS: tuple[tuple[str, _Reader, frozenset[str], tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "costline",
        lambda a, s, v, n: semconv.read_costline(a),
        semconv.COSTLINE_MARKER_KEYS,
        (),
        semconv.COSTLINE_SCOPE_PREFIXES,
    ),
    (
        "openinference",
        lambda a, s, v, n: openinference.read(a, s, v),
        openinference.MARKER_KEYS,
        openinference.MARKER_PREFIXES,
        openinference.SCOPE_PREFIXES,
    ),
    (
        "openlit",
        lambda a, s, v, n: openlit.read(a),
        openlit.MARKER_KEYS,
        openlit.MARKER_PREFIXES,
        openlit.SCOPE_PREFIXES,
    ),
    ("vercel", lambda a, s, v, n: vercel.read(a), vercel.MARKER_KEYS, vercel.MARKER_PREFIXES, vercel.SCOPE_PREFIXES),
    (
        "logfire",
        lambda a, s, v, n: logfire.read(a, s, n),
        logfire.MARKER_KEYS,
        logfire.MARKER_PREFIXES,
        logfire.SCOPE_PREFIXES,
    ),
    (
        "langsmith",
        lambda a, s, v, n: langsmith.read(a),
        langsmith.MARKER_KEYS,
        langsmith.MARKER_PREFIXES,
        langsmith.SCOPE_PREFIXES,
    ),
    (
        "openllmetry",
        lambda a, s, v, n: openllmetry.read(a),
        openllmetry.MARKER_KEYS,
        openllmetry.MARKER_PREFIXES,
        openllmetry.SCOPE_PREFIXES,
    ),
    ("semconv", lambda a, s, v, n: semconv.read(a), frozenset(), (), ()),
)
_SEMCONV = len(_DIALECTS) - 1
_COSTLINE = 0  # read as semconv, under its own dialect name
_OPENLIT = [d[0] for d in _DIALECTS].index("openlit")
_RANK_OF_KEY = {key: rank for rank in reversed(range(len(_DIALECTS))) for key in _DIALECTS[rank][2]}
_PREFIX_RANKS = tuple((prefix, rank) for rank, d in enumerate(_DIALECTS) for prefix in d[3])
_MARKER_PREFIXES = tuple(prefix for prefix, _ in _PREFIX_RANKS)
_SCOPE_RANKS = tuple((d[4], rank) for rank, d in enumerate(_DIALECTS) if d[4])


def _rank(keys: tuple[str, ...], scope_name: str, openlit_marked: bool) -> int:
    """The dialect of a span with these keys and scope (one pass over the keys)."""
    best = _SEMCONV
    for scopes, scope_rank in _SCOPE_RANKS:
        if scope_name.startswith(scopes):
            best = scope_rank
            break
    for key in keys:
        rank = _RANK_OF_KEY.get(key)
        if rank is None and key.startswith(_MARKER_PREFIXES):
            rank = next(r for prefix, r in _PREFIX_RANKS if key.startswith(prefix))
        if rank is not None and rank < best:
            best = rank
    if best > _OPENLIT and openlit_marked:
        best = _OPENLIT
    return best


# Bounded memos: key shapes and scopes repeat across spans, but spans can carry any key.
_MARKED: dict[tuple[str, ...], bool] = {}  # attribute keys -> whether any marks a possible model call
# (keys, scope name, openlit-marked) -> (dialect index, _shape for semconv/costline)
_PLANS: dict[tuple[tuple[str, ...], str, bool], tuple[int, _Shape | None]] = {}
_NOT_CALLS: dict[tuple[Any, ...], None] = {}  # whole inputs that record no model call
_MEMO_MAX = 1 << 14
K = TypeVar("K")
V = TypeVar("V")
_MEMO_KEYS = 4


def _remember(memo: dict[K, V], key: K, value: V) -> V:
    if len(memo) >= _MEMO_MAX:
        memo.clear()
    memo[key] = value
    return value


_USAGE_SLOTS = tuple(
    getattr(Usage, name).__set__
    for name in (
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cache_write_1h_tokens",
        "reasoning_tokens",
        "audio_input_tokens",
        "audio_output_tokens",
        "audio_cache_read_tokens",
        "image_input_tokens",
        "image_output_tokens",
        "image_cache_read_tokens",
        "web_searches",
        "file_searches",
        "preview_web_searches",
    )
)


def _new_usage(
    input_tokens,
    output_tokens,
    cache_read,
    cache_write,
    one_hour,
    reasoning,
    audio_in,
    audio_out,
    audio_read,
    image_in,
    image_out,
    image_read,
    searches,
    file_searches,
    preview_searches,
) -> Usage:
    """Usage(...), the same object: a frozen dataclass' __init__ sets each field through object.__setattr__;
    setting its slots directly takes half the time."""
    u = object.__new__(Usage)
    (
        s_in,
        s_out,
        s_read,
        s_write,
        s_1h,
        s_reason,
        s_ain,
        s_aout,
        s_aread,
        s_iin,
        s_iout,
        s_iread,
        s_web,
        s_file,
        s_pre,
    ) = _USAGE_SLOTS
    s_in(u, input_tokens)
    s_out(u, output_tokens)
    s_read(u, cache_read)
    s_write(u, cache_write)
    s_1h(u, one_hour)
    s_reason(u, reasoning)
    s_ain(u, audio_in)
    s_aout(u, audio_out)
    s_aread(u, audio_read)
    s_iin(u, image_in)
    s_iout(u, image_out)
    s_iread(u, image_read)
    s_web(u, searches)
    s_file(u, file_searches)
    s_pre(u, preview_searches)
    return u


def _usage(r: Reading) -> tuple[Usage | None, str | None]:
    """Counts in the semconv meaning, or the reason they contradict each other."""
    return _usage_of(
        r.input,
        r.output,
        r.cache_read,
        r.cache_write,
        r.cache_write_1h,
        r.reasoning,
        r.audio_input,
        r.audio_output,
        r.audio_cache_read,
        r.image_input,
        r.image_output,
        r.image_cache_read,
        r.web_searches,
        r.file_searches,
        r.preview_web_searches,
        r.input_excludes_cache,
        r.output_excludes_reasoning,
    )


def _usage_of(
    input_tokens: int | None,
    output_tokens: int | None,
    cache_read: int | None,
    cache_write: int | None,
    one_hour: int | None,
    reasoning: int | None,
    audio_in: int | None,
    audio_out: int | None,
    audio_read: int | None,
    image_in: int | None,
    image_out: int | None,
    image_read: int | None,
    searches: int | None,
    file_searches: int | None,
    preview_searches: int | None,
    input_excludes_cache: bool | None,
    output_excludes_reasoning: bool,
) -> tuple[Usage | None, str | None]:
    """_usage of a Reading with these counts (None: absent). Audio counts are taken as the subsets they are
    (an emitter that reports audio beside text rather than inside it is not known)."""
    write_given = cache_write is not None
    input_tokens, output_tokens = input_tokens or 0, output_tokens or 0
    cache_read, cache_write, reasoning = cache_read or 0, cache_write or 0, reasoning or 0
    one_hour = one_hour or 0
    if one_hour > cache_write:
        if write_given:
            return None, f"1-hour cache writes ({one_hour}) exceed all cache writes ({cache_write})"
        cache_write = one_hour
    if input_excludes_cache or cache_read + cache_write > input_tokens:
        input_tokens += cache_read + cache_write
    if output_excludes_reasoning or reasoning > output_tokens:
        output_tokens += reasoning
    return _new_usage(
        input_tokens,
        output_tokens,
        cache_read,
        cache_write,
        one_hour,
        reasoning,
        audio_in or 0,
        audio_out or 0,
        audio_read or 0,
        image_in or 0,
        image_out or 0,
        image_read or 0,
        searches or 0,
        file_searches or 0,
        preview_searches or 0,
    ), None


# -- the semconv dialect (and costline's, read the same way) from per-shape memos -------------------
# semconv.read and normalize_span read the counts (semconv._COUNTS) and a few other keys (_SEMCONV_READS);
# what the other keys give (model, provider, tier...) repeats from span to span, so it is worked out once
# per (key shape, their values) by the plain functions, and each span only adds its counts.


class _Slow(Enum):
    SLOW = "not a case for the memo: take the plain path"


_SLOW: Final = _Slow.SLOW
_NONE = (None,)
_Getter = Callable[[tuple[Any, ...]], tuple[Any, ...]]  # values -> the values at some positions
_Count = int | None
# values + (None,) -> the counts of semconv._COUNTS (None: absent), in _usage_of's order (15 of them)
_C = _Count
_Counts = Callable[[tuple[Any, ...]], tuple[_C, _C, _C, _C, _C, _C, _C, _C, _C, _C, _C, _C, _C, _C, _C]]
# (dialect, keys, getter of the values _SEMCONV_READS, getter of the counts present, getter of all the counts,
# whether a token count is present: counts.Reading.has_counts)
_Shape = tuple[str, tuple[str, ...], _Getter, _Getter, _Counts, bool]
# Counts that alone say nothing of a call's tokens (Reading.has_counts leaves them out): a span with only
# these is no_usage (a model call) or no call, not a call of 0 tokens.
_NOT_ALONE = (
    semconv.AUDIO_CACHE_READ,
    semconv.IMAGE_CACHE_READ,
    (semconv.WEB_SEARCHES,),
    (semconv.FILE_SEARCHES,),
    (semconv.PREVIEW_WEB_SEARCHES,),
)
_SEMCONV_READS = frozenset(
    {
        *semconv.PROVIDER,
        semconv.OPERATION,
        semconv.REQUEST_MODEL,
        semconv.RESPONSE_MODEL,
        semconv.USAGE_MISSING,
        SERVER_ADDRESS,
        REPORTED_COST,
        *TIER_KEYS,
        BATCH,
    }
)
# The ModelCall fields but counts: model, request model, provider, server, reported cost, tier, batch, operation,
# is_model_call, input_excludes_cache.
_Template = tuple[
    str | None, str | None, str | None, str | None, Decimal | None, str | None, bool, str | None, bool, bool | None
]
_TEMPLATES: dict[tuple[_Shape, tuple[Any, ...]], _Template | None] = {}  # (_shape, values read) -> _Template


def _getter(positions: list[int]) -> _Getter:
    """f(values) -> the tuple of values at `positions` (one C call for two or more)."""
    if len(positions) > 1:
        return itemgetter(*positions)
    if positions:
        i = positions[0]
        return lambda v: (v[i],)
    return lambda v: ()


def _plan(keys: tuple[str, ...], scope_name: str, openlit_marked: bool) -> tuple[int, _Shape | None]:
    rank = _rank(keys, scope_name, openlit_marked)
    fast = rank in (_SEMCONV, _COSTLINE) and semconv.USAGE_MISSING not in keys  # missing usage: the plain path
    return rank, _shape(keys, _DIALECTS[rank][0]) if fast else None


def _shape(keys: tuple[str, ...], dialect: str) -> _Shape:
    """(dialect, keys, getter of the values _SEMCONV_READS, getter of the counts present, getter of all the
    counts from the values + (None,), whether a token count is present)."""
    reads = [i for i, k in enumerate(keys) if k in _SEMCONV_READS]
    counts: list[int] = []
    slots = [len(keys)] * len(semconv._COUNTS)  # absent: the None after the values
    tokens = False
    for slot, group in enumerate(semconv._COUNTS):
        for key in group:
            if key in keys:  # the first synonym present (its value must be a count, or the plain path decides)
                counts.append(keys.index(key))
                slots[slot] = keys.index(key)
                tokens = tokens or group not in _NOT_ALONE
                break
    return dialect, keys, _getter(reads), _getter(counts), cast(_Counts, _getter(slots)), tokens


def _template(dialect: str, attrs: dict[str, AttrValue]) -> _Template | None:
    """The ModelCall fields semconv.read and normalize_span derive from the non-count keys."""
    if any(v is not None and type(v) is not str for v in attrs.values()):
        return None  # numbers: 1, 1.0 and True are equal keys but not equal inputs
    reading = semconv.read(attrs, dialect)
    reported = attrs.get(REPORTED_COST)
    call = ModelCall(dialect=dialect)
    _set_tier(call, attrs)
    return (
        reading.model,
        reading.request_model,
        reading.provider,
        first_str(attrs, SERVER_ADDRESS),
        as_usd(reported) if reported is not None else reading.reported_cost_usd,
        call.service_tier,
        call.batch,
        reading.operation,
        reading.is_model_call,
        reading.input_excludes_cache,
    )


def _semconv_call(attrs: dict[str, AttrValue], shape: _Shape) -> ModelCall | Literal[_Slow.SLOW] | None:
    """normalize_span's answer for a span read as semconv (shape: _shape), or _SLOW."""
    dialect, keys, reads, present, all_counts, tokens = shape
    values = tuple(attrs.values())
    counts = present(values)
    for c in counts:
        if type(c) is not int or not 0 <= c <= MAX_TOKENS:
            return _SLOW  # absent value, bad count: the plain path says which
    read = reads(values)
    key = (shape, read)  # (the shape hashes as its keys and getters: the getters are its own)
    try:
        t = _TEMPLATES.get(key, _SLOW)
    except TypeError:  # an array value
        return _SLOW
    if t is _SLOW:
        t = _remember(
            _TEMPLATES,
            key,
            _template(dialect, {keys[i]: attrs[keys[i]] for i, k in enumerate(keys) if k in _SEMCONV_READS}),
        )
    if t is None:
        return _SLOW
    model, request_model, provider, server, reported, tier, batch, operation, is_model_call, excludes_cache = t
    if not tokens:  # (its other counts are valid: checked above)
        if not is_model_call:
            return None
        return ModelCall(
            dialect,
            model,
            request_model,
            provider,
            server,
            None,
            NO_USAGE,
            "the span records a model call but no token counts",
            reported,
            tier,
            batch,
            operation,
        )
    usage, problem = _usage_of(*all_counts(values + _NONE), excludes_cache, False)
    if problem:
        return ModelCall(
            dialect,
            model,
            request_model,
            provider,
            server,
            None,
            INVALID_USAGE,
            problem,
            reported,
            tier,
            batch,
            operation,
        )
    return ModelCall(
        dialect, model, request_model, provider, server, usage, None, None, reported, tier, batch, operation
    )


def _response_id(attrs: dict[str, AttrValue]) -> str | None:
    rid = attrs.get("gen_ai.response.id")
    if type(rid) is str and rid:
        return rid
    rid = attrs.get("ai.response.id")
    return rid if type(rid) is str and rid else None


def _set_tier(call: ModelCall, attrs: dict[str, AttrValue]) -> None:
    tier = first_str(attrs, *SERVICE_TIER)
    tier = tier.lower() if tier else None
    call.batch = is_true(attrs.get(BATCH)) or tier == "batch"
    call.service_tier = None if tier in (None, "auto", "batch") else tier
    # Anthropic's premiums beside the tier, each a tier of its own: fast mode, inference outside "global"
    premiums = ["fast"] if first_str(attrs, SPEED) == "fast" else []
    geo = first_str(attrs, GEO)
    if geo not in (None, "global"):
        premiums.append(f"geo_{geo}")
    if premiums:
        base = [] if call.service_tier in (None, "standard") else [call.service_tier]
        call.service_tier = "+".join([*base, *premiums])


__all__ = ["INTERESTING_KEYS", "INTERESTING_PREFIXES", "MARKER_KEYS", "UNIQUE_KEYS", "normalize_span"]
