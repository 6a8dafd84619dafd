"""Tag policy: which services may set which tags, and which tag values never leave in clear.

Built once from the tagging contract (config.TaggingConfig); `policy_for` answers None
when nothing is configured, so the default path does not even look at it.

Trust (`tagging.trust`): resource `service.name` -> the tag names that service may set
(`"*"`: all); the service `"*"` stands for every service not listed (and spans without
a service.name). A tag a span's service may not set is ignored, as if absent: the span
inherits it from its nearest ancestor, or gets the `untagged` default when it is
required. In the exported span, costline's own `costline.<tag>` attribute then carries
the value costline decided (or is removed when there is none), so backends, ledger and
metrics agree; another library's source attribute (`user.id`, `traceloop.*`) is kept as
the app sent it, costline only never adopts it. Each such span is counted
(`tags_untrusted{service}`) and each (service, tag) is logged once at WARNING.

Privacy (`tagging.hash`, `tagging.drop`): a hashed tag's value becomes
`h:` + the first 16 hex digits of HMAC-SHA256(key, UTF-8 value), the key read from
`tagging.hash_key_file` (surrounding whitespace stripped); the same value always gives
the same hash, so reports still group by it. A dropped tag is removed. Both apply
before export, the ledger and metric labels, and every source attribute of such a tag
(`costline.user_id`, `user.id`, `enduser.id`, prefixed ones...) is removed from the
span's bytes (the span goes through the pipeline's rewrite path).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Set

from costline_processor.config import TaggingConfig, read_hash_key
from costline_processor.shares import renamed

log = logging.getLogger("costline")

ANY = "*"
HASH_PREFIX = "h:"
HASH_HEX = 16
_HASHED = re.compile(r"h:[0-9a-f]{16}\Z").match  # a value already hashed (by costline upstream): kept
_CACHE_MAX = 4096
_LABELS_MAX = 256  # distinct service labels in Stats; service.name is the sender's word
_WARNED_MAX = 1024


def hash_value(key: bytes, value: str) -> str:
    """`h:` + 16 hex digits of HMAC-SHA256(key, value)."""
    return HASH_PREFIX + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:HASH_HEX]


def trusts_everyone(trust: Mapping[str, list[str]]) -> bool:
    return ANY in trust and all(ANY in names for names in trust.values())


def policy_for(config: TaggingConfig, name_of: Callable[[str], str | None]) -> TagPolicy | None:
    """The policy of this contract, or None when it trusts everyone and hides nothing (the default).

    `name_of`: attribute key -> the tag name it carries (tags.TagReader.name_of)."""
    if trusts_everyone(config.trust) and not config.hash and not config.drop:
        return None
    key = read_hash_key(config.hash_key_file) if config.hash else b""
    return TagPolicy(config.trust, config.hash, config.drop, key, name_of)


class TagPolicy:
    """Applied to each span's own tags when it is read, and to its keys when it is rewritten."""

    def __init__(
        self,
        trust: Mapping[str, list[str]],
        hashed: Iterable[str],
        dropped: Iterable[str],
        key: bytes,
        name_of: Callable[[str], str | None],
    ):
        def allowed(names: list[str]) -> frozenset[str] | None:
            return None if ANY in names else frozenset(names)

        self._trust = {service: allowed(names) for service, names in trust.items() if service != ANY}
        self._others = allowed(trust.get(ANY, []))  # None: may set every tag
        self._hashed = frozenset(hashed)
        self._dropped = frozenset(dropped)
        self._hidden = self._hashed | self._dropped  # their source attributes leave the span's bytes
        self._key = key
        self._name_of = name_of
        self._hashes: dict[str, str] = {}
        self._labels: set[str] = set()
        self._warned: set[tuple[str, str]] = set()
        self._hidden_memo: dict[tuple, tuple[frozenset[str], frozenset[str]]] = {}

    def hides(self, name: str | None) -> bool:
        """Whether tag `name`'s source attributes leave a span's bytes (it is hashed or dropped)."""
        return name in self._hidden

    def allowed(self, service: str) -> frozenset[str] | None:
        """The tag names `service` may set; None: all."""
        return self._trust.get(service, self._others)

    def hash(self, value: str) -> str:
        found = self._hashes.get(value)
        if found is None:
            found = value if _HASHED(value) else renamed(value, self.hash) or hash_value(self._key, value)
            if len(self._hashes) >= _CACHE_MAX:
                self._hashes.clear()
            self._hashes[value] = found
        return found

    def apply(
        self, tags: dict[str, str], own: frozenset[str], service: str
    ) -> tuple[dict[str, str] | None, frozenset[str], bool]:
        """A span's own tags (tags.TagReader.read) under the policy:
        (tags, names kept verbatim as `costline.*` in its bytes, whether its bytes must be rewritten)."""
        allowed = self._trust.get(service, self._others)
        hidden = self._hidden
        if allowed is None and hidden.isdisjoint(tags):
            return tags, own, False
        out = {}
        changed = False
        for name, value in tags.items():
            if (allowed is not None and name not in allowed) or name in self._dropped:
                changed = True
                continue
            if name in self._hashed:  # even a value hashed already: its source attributes must go
                changed = True
                value = self.hash(value)
            out[name] = value
        if not changed:
            return tags, own, False
        kept = frozenset(n for n in own if n in out and n not in hidden)
        return out or None, kept, True

    def hidden(self, keys: Iterable[str], service: str, stats) -> set[str]:
        """Keys to remove from a span being rewritten: every source attribute of a hashed or
        dropped tag, and `costline.<tag>` of a tag `service` may not set. Counts and logs
        the tags `service` tried to set without being allowed to. Spans of a service tend
        to carry the same keys, so the answer is memoised per (service, keys)."""
        memo_key = (service, tuple(keys))
        found = self._hidden_memo.get(memo_key)
        if found is None:
            found = self._hidden_memo[memo_key] = self._work_out_hidden(memo_key[1], service)
            if len(self._hidden_memo) > _CACHE_MAX:
                self._hidden_memo.clear()
        remove, untrusted = found
        if untrusted:
            self._untrusted(service, untrusted, stats)
        return set(remove)

    def _work_out_hidden(self, keys: tuple[str, ...], service: str) -> tuple[frozenset[str], frozenset[str]]:
        allowed = self._trust.get(service, self._others)
        remove: set[str] = set()
        untrusted: set[str] = set()
        for key in keys:
            name = self._name_of(key)
            if name is None:
                continue
            if name in self._hidden:
                remove.add(key)
            if allowed is not None and name not in allowed:
                untrusted.add(name)
                if key.startswith("costline."):
                    remove.add(key)
        return frozenset(remove), frozenset(untrusted)

    def hider(self, service: str, stats) -> Callable[[Iterable[str]], set[str]]:
        """hidden() for the spans of one service, for the pipeline's rewrite path."""
        return lambda keys: self.hidden(keys, service, stats)

    def _untrusted(self, service: str, names: Set[str], stats) -> None:
        label = service[:64] or "(none)"
        if label not in self._labels:
            if len(self._labels) >= _LABELS_MAX:
                label = "other"
            else:
                self._labels.add(label)
        stats.add("tags_untrusted", len(names), label)
        for name in sorted(names):
            if (service, name) not in self._warned and len(self._warned) < _WARNED_MAX:
                self._warned.add((service, name))
                log.warning(
                    "service %r may not set tag %r (tagging.trust): ignored, counted in tags_untrusted", service, name
                )
