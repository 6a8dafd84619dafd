"""Tags written again under the names trace backends' user and session views read.

Phoenix groups a project's traces into sessions by the spans' `session.id` and shows each
session's first `user.id` (OpenInference's names); Langfuse fills its Users and Sessions
pages from `langfuse.user.id` or `user.id` and `langfuse.session.id` or `session.id`.
costline writes a trace's tags on every exported span as `costline.<tag>`; with
`tagging.backend_user_attributes` (default `user.id`, `session.id`) a span that gets
`costline.user_id` also gets `user.id` with the same value, so those pages list the users
and sessions costline attributes cost to, their spans carrying costline's costs.

Never overwritten: a span that carries an attribute of that name itself keeps its own
value, even when its `costline.user_id` says otherwise. The reader finds such names
(reader.SpanReader) and adds each to the span's `SpanInfo.own_tags` as the 1-tuple
`(name,)`: beside the tag names there (strings) it can never be mistaken for one, and the
tag block is already built once per distinct (tags, own_tags) of a trace (rollup.roll_up),
so the copies cost nothing per span. Nothing is copied for a tag the span's tags lack, nor
for a required tag's `default` (`untagged` is not a user).
"""

from __future__ import annotations

from collections.abc import Mapping, Set

from costline_processor.wire.attributes import string_attribute

_CACHE_MAX = 4096  # encoded values kept per attribute


class BackendNames:
    """The attributes a span's tags are copied to (tagging.backend_names()), and the copying."""

    __slots__ = ("_carried", "_default", "_encoded", "_last", "_required", "keys", "pairs", "tags")

    def __init__(self, pairs: tuple[tuple[str, str], ...], required: list[str], default: str):
        self.pairs = pairs  # (attribute name, tag name), in the configured order
        self.keys = frozenset(name for name, _ in pairs)
        self.tags = frozenset(tag for _, tag in pairs)  # a span whose tags hold none of these gets no copy
        self._required = frozenset(required)
        self._default = default
        # per pair: (attribute, (attribute,), tag, {value: the attribute encoded}); values repeat across traces
        self._encoded: tuple[tuple[str, tuple[str], str, dict[str, bytes]], ...] = tuple(
            (n, (n,), t, {}) for n, t in pairs
        )
        self._carried = frozenset((n,) for n, _ in pairs)  # as a span's own_tags holds them
        # (tags, block) of the last block asked without a carried name
        self._last: tuple[Mapping[str, str] | None, bytes] = (None, b"")

    def copies(self, tags: Mapping[str, str], own: Set[object]) -> list[tuple[str, str]]:
        """(attribute, value) of each copy a span with `tags` gets. `own`: its SpanInfo.own_tags, where
        an attribute of these names it carries itself is the 1-tuple (name,)."""
        out = []
        for name, tag in self.pairs:
            value = tags.get(tag)
            if value is None or (name,) in own or (value == self._default and tag in self._required):
                continue
            out.append((name, value))
        return out

    def block(self, tags: Mapping[str, str], own: frozenset) -> bytes:
        """copies(tags, own), encoded as attributes to append (wire.attributes). Asked once per distinct
        (tags, own) of a trace (rollup.roll_up): a trace's root and the spans below it share their tags
        but not their own names, so the last answer for spans carrying no backend name is kept."""
        if own and not own.isdisjoint(self._carried):
            return self._encode(tags, own)
        last = self._last
        if last[0] is tags:
            return last[1]
        block = self._encode(tags, own)
        self._last = (tags, block)  # one store: a reader never pairs one trace's tags with another's block
        return block

    def _encode(self, tags: Mapping[str, str], own: Set[object]) -> bytes:
        out = b""
        for name, carried, tag, encoded in self._encoded:
            value = tags.get(tag)
            if value is None or (value == self._default and tag in self._required) or carried in own:
                continue
            found = encoded.get(value)
            if found is None:
                if len(encoded) >= _CACHE_MAX:
                    encoded.clear()
                found = encoded[value] = string_attribute(name, value)
            out += found
        return out


def backend_names(pairs: tuple[tuple[str, str], ...], required: list[str], default: str) -> BackendNames | None:
    """The BackendNames of these pairs, or None when there are none (nothing to copy, nothing to read)."""
    return BackendNames(pairs, required, default) if pairs else None
