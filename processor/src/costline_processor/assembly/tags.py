"""Attribution tags: read from `costline.*` and from other libraries' names.

The tagging contract (config.TaggingConfig) maps what other libraries carry
(`traceloop.association.properties.customer_id`, `user.id`, `langfuse.*` metadata)
onto costline tag names. A span's own `costline.*` tags win over mapped ones.
Which services may set which tags, and which tags are hashed or dropped, is the
tag policy's business (policy.py; `TagReader.policy` is None when none is configured).

Not every key under a mapped prefix is an attribution tag. OpenLLMetry copies a
LangChain/LangGraph run's whole metadata into `traceloop.association.properties.*`
(Langfuse's LangChain handler does the same into `langfuse.observation.metadata.*`):
LangSmith's hints about the call (`ls_provider`, `ls_model_name`, `ls_temperature`...),
LangGraph's execution coordinates (`langgraph_step`, `langgraph_node`,
`langgraph_triggers`, `langgraph_path`, `langgraph_checkpoint_ns`, `checkpoint_ns`, a
new id per step), LangChain's `lc_*`. As tags they would become ledger dimensions and
split every report by step. A name a prefix gives is no tag when it matches
FRAMEWORK_KEYS or a `tagging.ignore` glob. `thread_id` (LangGraph's conversation,
like `session_id`) and `run_id` stay tags: they are what a user groups a
conversation's or a run's cost by. The patterns apply to prefixed names only: a
span's own `costline.<name>` is set on purpose, and an exact `tagging.aliases` key
adopts one attribute whatever its name. Matching happens once per attribute key
(`TagReader._kind`, cached), never per span.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from fnmatch import translate

from costline_processor.assembly.backend_names import backend_names
from costline_processor.assembly.policy import policy_for
from costline_processor.config import TaggingConfig

TAG_PREFIX = "costline."
# costline.<x>.* namespaces that hold costline's own output or settings, not tags.
RESERVED = frozenset({"cost", "rollup", "price", "agent", "usage", "step", "reported_cost", "batch"})
# Attributes costline writes on output; a span arriving with them is re-encoded, not appended to.
OUTPUT_PREFIXES = ("costline.cost.", "costline.rollup.", "costline.price.", "costline.agent.")
OUTPUT_KEYS = frozenset({"gen_ai.usage.cost"})
# Framework metadata that mapped prefixes carry but that attributes no cost (see the docstring).
FRAMEWORK_KEYS = ("ls_*", "lc_*", "langgraph_*", "checkpoint_ns", "checkpoint_id")


_OWN, _MAPPED = "own", "mapped"


def tag_name(key: str) -> str | None:
    """`costline.customer_id` -> `customer_id`; None for costline's own attributes."""
    name = key[len(TAG_PREFIX) :]
    if not name or name.split(".", 1)[0] in RESERVED:
        return None
    return name


class TagReader:
    """Splits a span's picked attributes into its own tags (contract applied)."""

    def __init__(self, config: TaggingConfig):
        self.aliases = dict(config.aliases)
        self.prefixes = tuple(config.prefixes)
        self.keys = frozenset(self.aliases)
        self._ignored = ignore_matcher((*FRAMEWORK_KEYS, *config.ignore))
        self._kinds: dict[str, tuple] = {}  # attribute key -> (_OWN | _MAPPED | None, tag name)
        self.policy = policy_for(config, self.name_of)
        # the names the tags are copied to for backends' user views (None: none; backend_names.py)
        self.backend = backend_names(config.backend_names(), config.required, config.default)

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
                    if not self._ignored(name := key[len(p) :]):
                        kind = (_MAPPED, name)
                    break
        if len(self._kinds) >= 4096:  # spans can carry any key
            self._kinds.clear()
        self._kinds[key] = kind
        return kind

    def name_of(self, key: str) -> str | None:
        """The tag name attribute `key` carries (the same mapping as read()), or None."""
        kind = self._kinds.get(key)
        if kind is None:
            kind = self._kind(key)
        return kind[1]

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


def ignore_matcher(patterns: Iterable[str]) -> Callable[[str], bool]:
    """f(tag name) -> whether a glob among `patterns` matches it (fnmatch rules, case-sensitive)."""
    match = re.compile("|".join(f"(?:{translate(p)})" for p in patterns) or r"(?!)").match
    return lambda name: match(name) is not None


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
