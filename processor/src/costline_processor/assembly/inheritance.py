"""Top-down: the tags and agent path each span inherits, and the calls a late span repeats.

A span's tags are its nearest ancestors' merged with its own (its own win); its agent
path is its parent's, extended by its own step (steps.extend_path). The ancestors may
be in this flush or in an earlier one of the trace (`known`, context.Inherited). A span
whose parent is missing (sampled out, dropped, never exported) takes the trace root's
own tags and says so (`costline.tags.source=trace_root`); so do the spans below it.

Spans share their tag maps: a span with no tags of its own holds its parent's map, the
same object, so later passes cache per map (`id(tags)`) rather than per span. A billed
call's tags are completed with the default for each required tag it lacks (`defaulted`).
"""

from __future__ import annotations

from collections.abc import Mapping

from costline_processor.assembly.context import EMPTY_TAGS, ROOT_KEY, Inherited
from costline_processor.assembly.reader import SpanInfo
from costline_processor.assembly.steps import extend_path

TAGS_SOURCE, ROOT_SOURCE = "costline.tags.source", "trace_root"

Tags = Mapping[str, str]
Path = tuple[str, ...]


def inherit(
    order: list[int],
    parent: list[int],
    pids: list[bytes],
    infos: list[SpanInfo | None],
    known: Mapping[bytes, Inherited],
    root: Tags | None,
) -> tuple[list[Tags], list[Path], set[int] | None]:
    """(tags, agent path per span; the spans that took the root's tags `root` for a missing parent,
    None for none), walking `order` (every parent before its children)."""
    n = len(parent)
    tags: list[Tags] = [EMPTY_TAGS] * n
    paths: list[Path] = [()] * n
    from_root: set[int] | None = None
    root_tags: Tags | None = None
    ptags: Tags
    ppath: Path
    for i in order:
        p = parent[i]
        if p >= 0:
            ptags, ppath = tags[p], paths[p]
            if from_root is not None and p in from_root:
                from_root.add(i)
        else:
            pid = pids[i]
            ctx = known.get(pid) if pid else None
            if ctx is not None:
                ptags, ppath = ctx.tags, ctx.path
            elif pid:
                if root_tags is None:
                    root_tags = root_tags_of(root, known)
                ptags, ppath = root_tags, ()
                if root_tags:
                    if from_root is None:
                        from_root = set()
                    from_root.add(i)
            else:
                ptags, ppath = EMPTY_TAGS, ()
        info = infos[i]
        if info is None:
            tags[i] = ptags
            paths[i] = ppath
        else:
            tags[i] = {**ptags, **info.tags} if info.tags else ptags
            paths[i] = extend_path(ppath, info.step)
    return tags, paths, from_root


def own_root_tags(pids: list[bytes], infos: list[SpanInfo | None]) -> Tags | None:
    """The own tags of the trace's root span (the first with no parent) in this flush, if it has any."""
    try:
        info = infos[pids.index(b"")]
    except ValueError:
        return None
    return info.tags if info is not None and info.tags else None


def root_tags_of(root: Tags | None, known: Mapping[bytes, Inherited]) -> Tags:
    """What a span whose parent is missing inherits: the root's tags, from this flush or an earlier one."""
    if root:
        return root
    ctx = known.get(ROOT_KEY) if known else None
    return ctx.tags if ctx is not None else EMPTY_TAGS


def covered(
    order: list[int], parent: list[int], pids: list[bytes], known: Mapping[bytes, Inherited]
) -> list[bool] | None:
    """Per span, whether it is below a call priced in an earlier flush (None when no span is): a late
    call there repeats usage that call billed."""
    out: list[bool] | None = None
    for i in order:
        p = parent[i]
        if p >= 0:
            if out is not None and out[p]:
                out[i] = True
        elif pids[i]:
            ctx = known.get(pids[i])
            if ctx is not None and ctx.billed_above:
                if out is None:
                    out = [False] * len(order)
                out[i] = True
    return out


def with_defaults(tags: Tags, required: list[str], default: str) -> Tags:
    """`tags` with `default` for each required tag it lacks (the same object when it lacks none)."""
    missing = [r for r in required if r not in tags]
    if not missing:
        return tags
    return {**tags, **{r: default for r in missing}}


def defaulted(tags: Tags, required: list[str], default: str, cache: dict[int, tuple[Tags, Tags]]) -> Tags:
    """with_defaults, once per distinct tags object of the trace (the same object out for it)."""
    key = id(tags)
    found = cache.get(key)
    if found is None:
        found = cache[key] = (tags, with_defaults(tags, required, default))
    return found[1]
