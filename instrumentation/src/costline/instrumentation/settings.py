"""Every setting of costline's app side: its environment variable, default and parser.

Instrumentors and the launcher hook read these once (in `_instrument` / at start-up),
with an explicit keyword argument winning over the environment. Nothing reads
`os.environ` on a request path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# Add `stream_options.include_usage` to OpenAI chat/legacy-completion streams. Default: false.
INCLUDE_STREAM_USAGE = "COSTLINE_OPENAI_INCLUDE_STREAM_USAGE"
# When another GenAI instrumentation already traces a call, make no second span. Default: true.
DEFER_TO_OTHER_INSTRUMENTATION = "COSTLINE_DEFER_TO_OTHER_INSTRUMENTATION"
# Record prompts and completions on spans (the standard OTel GenAI switch). Default: false.
CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
# Hosts that may receive `costline.*` baggage: comma-separated names or `*.suffix` globs. Default: none.
BAGGAGE_ALLOWED_HOSTS = "COSTLINE_BAGGAGE_ALLOWED_HOSTS"
# Keep `costline.*` baggage that arrives on inbound requests. Default: false (dropped at the edge).
TRUST_INBOUND_BAGGAGE = "COSTLINE_TRUST_INBOUND_BAGGAGE"
# Request headers that become tags in the middleware: `header=tag,header2=tag2`. Default: none.
TAG_HEADERS = "COSTLINE_TAG_HEADERS"
# Model calls without the required tags: `ignore`, `warn` (once per call site) or `error`. Default: ignore.
UNTAGGED = "COSTLINE_UNTAGGED"
UNTAGGED_MODES = ("ignore", "warn", "error")
# The tags every model call must carry (`COSTLINE_UNTAGGED`, the pytest plugin). Default: the processor's
# `tagging.required` default.
REQUIRE_TAGS = "COSTLINE_REQUIRE_TAGS"
DEFAULT_REQUIRED_TAGS = ("feature", "customer_id")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def flag(name: str, default: bool, override: object = None, env: Mapping[str, str] | None = None) -> bool:
    """A boolean setting: `override` if given (not None), else the variable, else `default`."""
    if override is not None:
        return bool(override)
    raw = (env if env is not None else os.environ).get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    return default


def host_list(name: str, override: object = None, env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """A comma-separated list of host patterns, lower-cased, empties dropped."""
    if override is not None:
        items = override.split(",") if isinstance(override, str) else list(override)  # type: ignore[call-overload]
    else:
        items = (env if env is not None else os.environ).get(name, "").split(",")
    return tuple(h.strip().lower() for h in items if h and h.strip())


def header_map(
    name: str, override: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`header=tag` pairs, header names lower-cased (HTTP headers are case-insensitive)."""
    if override is not None:
        return {h.lower(): t for h, t in override.items()}
    out: dict[str, str] = {}
    for pair in (env if env is not None else os.environ).get(name, "").split(","):
        header, sep, tag = pair.partition("=")
        if sep and header.strip() and tag.strip():
            out[header.strip().lower()] = tag.strip()
    return out


def choice(name: str, choices: tuple[str, ...], default: str, env: Mapping[str, str] | None = None) -> str:
    """One of `choices` (case-insensitive); an unknown value raises, naming the variable."""
    raw = (env if env is not None else os.environ).get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in choices:
        raise ValueError(f"{name}={raw!r}: expected one of {', '.join(choices)}")
    return raw


def name_list(
    name: str, default: tuple[str, ...], override: object = None, env: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """A comma-separated list of names (`override` if given), empties dropped; unset: `default`."""
    if override is not None:
        raw = override if isinstance(override, str) else ",".join(override)  # type: ignore[arg-type]
    else:
        raw = (env if env is not None else os.environ).get(name, "")
    return tuple(n.strip() for n in raw.split(",") if n.strip()) or default
