"""What a span gets appended, as (key, value) pairs (`pairs`) and as the same attributes encoded
(rollup's tag block + `encoded`): its inherited tags (and their copies under backends' names,
backend_names.py), its call's result (cost or status), its agent path and its rollup sums, in that order.

The encoded form is what export sends and is built from cached pieces: a tag map's block
once per trace (rollup caches it by the map's identity), a Cost's names, path and keys
once per (model, provider, source, caveat, path) as one struct.pack (wire.attributes
.cost_packer), an agent path's attribute once. `pairs` spells the same attributes out
for tests, the rewrite path and tools; tests check both agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from typing import Any

from costline_processor.assembly.billing import Result
from costline_processor.assembly.inheritance import ROOT_SOURCE, TAGS_SOURCE
from costline_processor.assembly.sums import CALLS, COST, INPUT, OUTPUT, Sums
from costline_processor.assembly.twins import Twin
from costline_processor.records import Cost
from costline_processor.wire.attributes import (
    cost_packer,
    double_ints_encoder,
    ints_encoder,
    string_attribute,
)

COST_KEYS = (
    "costline.cost.usd",
    "costline.cost.input_usd",
    "costline.cost.output_usd",
    "costline.cost.cache_read_usd",
    "costline.cost.cache_write_usd",
)
ROLLUP_KEYS = (
    "costline.rollup.cost_usd",
    "costline.rollup.llm_calls",
    "costline.rollup.input_tokens",
    "costline.rollup.output_tokens",
)
BILLED_SPAN_ID = "costline.billed_span_id"
STATUS = "costline.cost.status"
AGENT_PATH = "costline.agent.path"


def pairs(
    t: Mapping[str, str],
    own_names: Set[str],
    result: Result | None,
    path: tuple[str, ...],
    own: Sums | None,
    write_gen_ai_cost: bool,
    copies: list[tuple[str, str]] | None = None,
) -> list[tuple[str, object]]:
    """The attributes a span gets: tags `t` but those it sets itself, their `copies` for backends
    (backend_names.py), the call's result and path, its sums."""
    add: list[tuple[str, object]] = [(f"costline.{k}", v) for k, v in t.items() if k not in own_names]
    if copies:
        add.extend(copies)
    if result is not None:
        if isinstance(result, str):  # AGGREGATE, BILLED_IN_PARENT, DUPLICATE
            add.append((STATUS, result))
        elif isinstance(result, Cost):
            cost_attributes(add, result, write_gen_ai_cost)
        else:
            add.append((STATUS, result.reason))
            if type(result) is Twin:
                add.append((BILLED_SPAN_ID, result.billed_span_id.hex()))
        if path:
            add.append((AGENT_PATH, "/".join(path)))
    if own is not None:
        add.extend(
            (
                (ROLLUP_KEYS[0], float(own[COST])),
                (ROLLUP_KEYS[1], own[CALLS]),
                (ROLLUP_KEYS[2], own[INPUT]),
                (ROLLUP_KEYS[3], own[OUTPUT]),
            )
        )
    return add


def cost_attributes(add: list[tuple[str, object]], c: Cost, write_gen_ai_cost: bool) -> None:
    """A priced call's attributes, appended to `add`."""
    total = float(c.total_usd)
    add.extend(
        (
            (COST_KEYS[0], total),
            (COST_KEYS[1], float(c.input_usd)),
            (COST_KEYS[2], float(c.output_usd)),
            (COST_KEYS[3], float(c.cache_read_usd)),
            (COST_KEYS[4], float(c.cache_write_usd)),
            ("costline.price.model", c.model),
            ("costline.price.provider", c.provider),
            ("costline.price.source", c.source),
        )
    )
    if c.caveat is not None:
        add.append(("costline.price.caveat", c.caveat))
    if write_gen_ai_cost:
        add.append(("gen_ai.usage.cost", total))


_string = string_attribute
FROM_ROOT = _string(TAGS_SOURCE, ROOT_SOURCE)  # appended to the spans that took the root's tags
_rollup = double_ints_encoder(*ROLLUP_KEYS)  # f(cost USD, llm calls, input, output tokens)
_rollup_counts = ints_encoder(*ROLLUP_KEYS[1:])  # f(llm calls, input, output tokens)
_packers: dict[tuple[Any, ...], Callable[..., bytes]] = {}  # (model, provider, source, caveat, gen_ai, path) -> packer
_paths: dict[tuple[str, ...], bytes] = {}  # agent path -> its attribute


def path_attribute(path: tuple[str, ...]) -> bytes:
    """The agent path's attribute (b"" for no path), cached."""
    if not path:
        return b""
    attr = _paths.get(path)
    if attr is None:
        if len(_paths) >= 4096:
            _paths.clear()
        attr = _paths[path] = _string(AGENT_PATH, "/".join(path))
    return attr


def _cost_packer(
    model: str, provider: str, source: str, caveat: str | None, write_gen_ai_cost: bool, path: tuple[str, ...]
) -> Callable[..., bytes]:
    """f(total, input, output, cache read, cache write USD, rollup USD) -> a Cost's attributes, the agent path
    and the rollup's cost, in one struct.pack call (wire.attributes.cost_packer): the five doubles, the three
    price names (and the caveat, when the Cost has one: it is part of the packer's key, so a call without one
    pays nothing for it), (write_gen_ai_cost) gen_ai.usage.cost, the path, the rollup cost double."""
    names = (
        _string("costline.price.model", model)
        + _string("costline.price.provider", provider)
        + _string("costline.price.source", source)
    )
    if caveat is not None:
        names += _string("costline.price.caveat", caveat)
    return cost_packer(
        COST_KEYS, names, "gen_ai.usage.cost" if write_gen_ai_cost else None, path_attribute(path), ROLLUP_KEYS[0]
    )


def encoded(result: Result | None, path: tuple[str, ...], own: Sums | None, write_gen_ai_cost: bool) -> bytes:
    """wire.attributes.attributes of pairs(...) without the tags, built from cached pieces; `own` is
    None only for a call span that is not priced here (a span without a result has sums)."""
    if result is None:  # a span with calls below it
        assert own is not None
        return _rollup(float(own[COST]), own[CALLS], own[INPUT], own[OUTPUT])
    if isinstance(result, Cost):  # (a priced call has its own sums)
        assert own is not None
        key = (result.model, result.provider, result.source, result.caveat, write_gen_ai_cost, path)
        pack = _packers.get(key)
        if pack is None:
            if len(_packers) >= 4096:
                _packers.clear()
            pack = _packers[key] = _cost_packer(*key)
        return pack(
            float(result.total_usd),
            float(result.input_usd),
            float(result.output_usd),
            float(result.cache_read_usd),
            float(result.cache_write_usd),
            float(own[COST]),
        ) + _rollup_counts(own[CALLS], own[INPUT], own[OUTPUT])
    status = _string(STATUS, result if isinstance(result, str) else result.reason)
    if type(result) is Twin:
        status += _string(BILLED_SPAN_ID, result.billed_span_id.hex())
    if own is None:
        return status + path_attribute(path)
    return status + path_attribute(path) + _rollup(float(own[COST]), own[CALLS], own[INPUT], own[OUTPUT])
