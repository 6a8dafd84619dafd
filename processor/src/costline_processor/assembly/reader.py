"""From a buffered span to what assembly reads: its name, times, tags, step and model call.

Attributes are read once, when the span's trace is assembled. A search over the span's
bytes (wire.keyvalue.key_search) finds whether any attribute key some stage reads
(usage, model, tags, agent steps, costline's own output) is there at all; most spans
(HTTP, database...) have none and are never decoded. For the others, the lazy schema
(wire.schema.SpanView) splits the span into its name, times and attribute KeyValue
bytes, and each attribute is looked up in a bounded cache of decoded ones
(wire.keyvalue.decoder decodes a miss). What the attributes mean is normalize's (model
calls), tags.py's and policy.py's (attribution) and steps.py's (agent steps).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from costline_processor.assembly.steps import STEP_KEYS, step_name
from costline_processor.assembly.tags import OUTPUT_KEYS, OUTPUT_PREFIXES, TAG_PREFIX, TagReader
from costline_processor.normalize import (
    INTERESTING_KEYS,
    INTERESTING_PREFIXES,
    MARKER_KEYS,
    UNIQUE_KEYS,
    normalize_span,
)
from costline_processor.records import SCOPE_NAME, SCOPE_VERSION, SERVICE, ModelCall, Origin
from costline_processor.wire.keyvalue import decoder, key_search
from costline_processor.wire.schema import SpanView


class SpanInfo(NamedTuple):
    """What assembly needs to know about a span that carries attributes it reads."""

    name: str
    start: int
    end: int
    tags: dict[str, str] | None
    own_tags: frozenset  # tag names it sets as `costline.<name>`; (name,) for a backend name it has (backend_names.py)
    step: str | None
    call: ModelCall | None
    rewrite: bool


_new_info = tuple.__new__  # SpanInfo without the generated __new__'s Python frame

_PICK, _MARKER, _TAG, _STEP, _OUTPUT, _UNIQUE, _BACKEND = 1, 2, 4, 8, 16, 32, 64
_MISS: Any = object()
_NOTHING = ()  # a remembered span that reads as None
_SPAN_MEMO_ATTRIBUTES = 4  # spans with at most this many attributes are remembered whole (SpanReader._spans)
_NO_NAMES: frozenset[str] = frozenset()


class SpanReader:
    """Reads the attributes some stage reads of a buffered span, when it has any.

    Each attribute is looked up by its KeyValue bytes in a bounded cache of decoded
    attributes (model, provider, operation and tag values repeat from span to span),
    which also says which stages the key matters to: normalize, tags and steps only run
    when a key of theirs is there.
    """

    _CACHE_MAX = 1 << 15
    _SPANS_MAX = 1 << 13

    def __init__(self, tag_reader: TagReader):
        self.tags = tag_reader
        self.policy = tag_reader.policy
        backend = tag_reader.backend
        self._backend_keys = backend.keys if backend is not None else _NO_NAMES
        self.keys = INTERESTING_KEYS | STEP_KEYS | tag_reader.keys | OUTPUT_KEYS | self._backend_keys
        self.prefixes = tuple(dict.fromkeys((*INTERESTING_PREFIXES, TAG_PREFIX, *tag_reader.prefixes)))
        self._tag_prefixes = (TAG_PREFIX, *tag_reader.prefixes)
        self._kv: dict[bytes, tuple | None] = {}
        self._classes: dict[bytes, tuple[str, int]] = {}
        self._decode = decoder(self._classes, self._classify)  # KeyValue bytes -> (key, value, bits) or None
        self._spans: dict[tuple, tuple] = {}  # (attributes, name, kind, origin) -> SpanInfo fields but times
        # Keys that can change what a stage decides. The rest of `keys` (server.address, service
        # tiers, telemetry.sdk.name) only qualify a model call that one of these marks.
        deciding = (
            (MARKER_KEYS | STEP_KEYS | tag_reader.keys | OUTPUT_KEYS | self._backend_keys)
            | set(self.prefixes)
            | set(OUTPUT_PREFIXES)
        )
        self._marks = self.marks = key_search({_head(k) for k in deciding})

    def read(self, d: bytes, origin: Origin) -> SpanInfo | None:
        """The span's SpanInfo, or None when it carries no attribute any stage reads."""
        if self._marks(d) is None:
            return None
        return self.read_marked(d, origin)

    def read_marked(self, d: bytes, origin: Origin) -> SpanInfo | None:
        """read() for a span `marks(d)` found a key in (`marks` is the key search)."""
        view = SpanView.FromString(d)
        kvs = tuple(view.attributes[:])  # a slice is quicker than iterating upb's container
        name = view.name
        # Agent, tool and workflow spans repeat exactly: what such a span reads as is remembered whole.
        # (Model calls carry more attributes and their counts differ: not worth the lookup.)
        key: Any = None
        if len(kvs) <= _SPAN_MEMO_ATTRIBUTES:
            key = (kvs, name, view.kind, origin)
            same = self._spans.get(key)
            if same is not None:
                if same is _NOTHING:
                    return None
                return _new_info(SpanInfo, (name, view.start_time_unix_nano, view.end_time_unix_nano, *same))
        picked: dict = {}
        found = 0
        cached = key is not None  # every attribute from the cache: no count, nothing only this span says
        get = self._kv.get
        for kv in kvs:
            hit = get(kv, _MISS)
            if hit is _MISS:
                hit = self._decode(kv)
                cached = False
                # counts rarely repeat, response ids never do: not cached
                if hit is None or (type(hit[1]) is not int and type(hit[1]) is not list and not hit[2] & _UNIQUE):
                    self._keep(kv, hit)
            if hit is not None:
                picked[hit[0]] = hit[1]
                found |= hit[2]
        if not found:
            if cached:
                self._remember(key, _NOTHING)
            return None
        call = None
        if found & _MARKER:
            call = normalize_span(
                picked,
                scope_name=origin[SCOPE_NAME],
                scope_version=origin[SCOPE_VERSION],
                span_name=name,
                span_kind=view.kind,
            )
        rewrite = bool(found & _OUTPUT)
        if found & _TAG:  # (a backend name has the bit too: it is read with the tags)
            tags, own = self.tags.read(picked)
            if tags is not None and self.policy is not None:  # tagging.trust / hash / drop: assembly/policy.py
                tags, own, hide = self.policy.apply(tags, own, origin[SERVICE])
                rewrite = rewrite or hide
            if found & _BACKEND:
                own = self._carried(picked, own)
        else:
            tags, own = None, _NO_NAMES
        step = step_name(picked, name) if found & _STEP else None
        if call is None and tags is None and step is None and not rewrite and not own:
            if cached:
                self._remember(key, _NOTHING)
            return None  # its picked keys change nothing: it reads like a span without them
        if cached and call is None:  # (a ModelCall is an object of its own per span)
            self._remember(key, (tags, own, step, call, rewrite))
        return _new_info(
            SpanInfo, (name, view.start_time_unix_nano, view.end_time_unix_nano, tags, own, step, call, rewrite)
        )

    def _carried(self, picked: dict, own: frozenset) -> frozenset:
        """`own` and, as 1-tuples (name,), the names tags are copied to (backend_names.py) that the span
        carries itself, but those the tag policy removes from its bytes (the source attributes of a hashed
        or dropped tag: the copy, hashed, takes their place)."""
        names, policy = self._backend_keys, self.policy
        carried = [(k,) for k in picked if k in names and (policy is None or not policy.hides(self.tags.name_of(k)))]
        return own.union(carried) if carried else own

    def _keep(self, kv: bytes, hit: tuple | None) -> None:
        if len(self._kv) >= self._CACHE_MAX:
            self._kv.clear()
        self._kv[kv] = hit

    def _remember(self, key: tuple, value) -> None:
        if len(self._spans) >= self._SPANS_MAX:
            self._spans.clear()
        self._spans[key] = value

    def _classify(self, kb: bytes) -> tuple[str, int]:
        """(key, which stages read it: _PICK | _MARKER | _TAG | _STEP | _OUTPUT | _UNIQUE bits)."""
        key = kb.decode()
        bits = 0
        if key in self.keys or key.startswith(self.prefixes):
            bits = _PICK
            if key in MARKER_KEYS or key.startswith(INTERESTING_PREFIXES):
                bits |= _MARKER
            if key.startswith(self._tag_prefixes) or key in self.tags.keys or key in self._backend_keys:
                bits |= _TAG
            if key in STEP_KEYS:
                bits |= _STEP
            if key in OUTPUT_KEYS or key.startswith(OUTPUT_PREFIXES):
                bits |= _OUTPUT
            if key in UNIQUE_KEYS:
                bits |= _UNIQUE
            if key in self._backend_keys:
                bits |= _BACKEND
        if len(self._classes) >= self._CACHE_MAX:
            self._classes.clear()
        found = self._classes[kb] = (key, bits)
        return found


def _head(key: str) -> str:
    """`gen_ai.usage.` -> `gen_ai.`: the first dotted part, which every picked key starts with."""
    head, dot, _ = key.partition(".")
    return head + dot
