"""Attribution tags: read from `costline.*` and from other libraries' names.

The tagging contract (config.TaggingConfig) maps what other libraries carry
(`traceloop.association.properties.customer_id`, `user.id`, `langfuse.*` metadata)
onto costline tag names. A span's own `costline.*` tags win over mapped ones.
Which services may set which tags, and which tags are hashed or dropped, is the
tag policy's business (policy.py; `TagReader.policy` is None when none is configured).
"""

from __future__ import annotations

from costline.processor.assembly.policy import policy_for
from costline.processor.config import TaggingConfig

TAG_PREFIX = "costline."
# costline.<x>.* namespaces that hold costline's own output or settings, not tags.
RESERVED = frozenset({"cost", "rollup", "price", "agent", "usage", "step", "reported_cost", "batch"})
# Attributes costline writes on output; a span arriving with them is re-encoded, not appended to.
OUTPUT_PREFIXES = ("costline.cost.", "costline.rollup.", "costline.price.", "costline.agent.")
OUTPUT_KEYS = frozenset({"gen_ai.usage.cost"})


_OWN, _MAPPED = "own", "mapped"


def tag_name(key: str) -> str | None:
    """`costline.customer_id` -> `customer_id`; None for costline's own attributes."""
    name = key[len(TAG_PREFIX):]
    if not name or name.split(".", 1)[0] in RESERVED:
        return None
    return name


class TagReader:
    """Splits a span's picked attributes into its own tags (contract applied)."""

    def __init__(self, config: TaggingConfig):
        self.aliases = dict(config.aliases)
        self.prefixes = tuple(config.prefixes)
        self.keys = frozenset(self.aliases)
        self.policy = policy_for(config, self.name_of)
        self._kinds: dict[str, tuple] = {}  # attribute key -> (_OWN | _MAPPED | None, tag name)

    def _kind(self, key: str) -> tuple:
        """Whether `key` carries a span's own tag (`costline.<name>`), a mapped one, or none; and its name."""
        kind: tuple = (None, None)
        if key.startswith(TAG_PREFIX):
            if (name := tag_name(key)) is not None:
                kind = (_OWN, name)
        elif key in self.keys:
            kind = (_MAPPED, self.aliases[key])
        elif self.prefixes and key.startswith(self.prefixes):
            for p in self.prefixes:
                if key.startswith(p) and len(key) > len(p):
                    kind = (_MAPPED, key[len(p):])
                    break
        if len(self._kinds) >= 4096:  # spans can carry any key
            self._kinds.clear()
        self._kinds[key] = kind
        return kind

    def name_of(self, key: str) -> str | None:
        """The tag name attribute `key` carries (the same mapping as read()), or None."""
        if key.startswith(TAG_PREFIX):
            return tag_name(key)
        name = self.aliases.get(key)
        if name is None:
            for p in self.prefixes:
                if key.startswith(p) and len(key) > len(p):
                    return key[len(p):]
        return name

    def read(self, attrs: dict) -> tuple[dict[str, str] | None, frozenset[str]]:
        """(all tags of this span, the names it carries as `costline.*` itself)."""
        own: dict[str, str] = {}
        mapped: dict[str, str] = {}
        kinds = self._kinds
        for key, value in attrs.items():
            if value is None or isinstance(value, (list, bytes)):
                continue
            kind = kinds.get(key)  # what the key is depends on the key alone: worked out once (_kind)
            if kind is None:
                kind = self._kind(key)
            if kind[0] is _OWN:
                own[kind[1]] = value if type(value) is str else _text(value)
            elif kind[0] is _MAPPED:
                mapped.setdefault(kind[1], value if type(value) is str else _text(value))
        if not own and not mapped:
            return None, frozenset()
        if mapped:
            mapped.update(own)
            return mapped, frozenset(own)
        return own, frozenset(own)


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
