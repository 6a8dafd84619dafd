"""The parent links of one flush of a trace, as a tree assembly can walk without recursion.

Spans name their parent by span id; the tree is kept as lists indexed by a span's
position in the flush (`parent[i]`, -1 for none; `children[p]`, None for a leaf) with a
breadth-first `order` in which every parent comes before its children, so a top-down
pass walks `order` and a bottom-up pass walks it reversed. Everything is iterative, so
10 000-deep chains are fine. Links a sender got wrong are cut and counted
(`broken_links`): a self-parent, and one span of each cycle, which then is a root.
A parent not in the flush (sampled out, or in another flush) leaves a root too.
"""

from __future__ import annotations

from collections.abc import Callable

# (parent, children, order, roots, broken links): per span its parent (-1: none) and children (None: a
# leaf); every span, each parent before its children; the roots in the order `order` visits them (spans
# cut off a cycle last); how many links were cut (self-parents, one span per cycle).
Tree = tuple[list[int], list["list[int] | None"], list[int], list[int], int]


def link(pids: list[bytes], position: Callable[[bytes, int], int]) -> Tree:
    """The tree of a flush whose spans name parents `pids` (b"" for none); `position(span id, -1)`
    is where a span id first appears in the flush (-1: not in it)."""
    n = len(pids)
    parent = [-1] * n
    children: list[list[int] | None] = [None] * n
    roots: list[int] = []
    broken = 0
    for i in range(n):
        pid = pids[i]
        p = position(pid, -1) if pid else -1
        if p >= 0 and p != i:
            parent[i] = p
            c = children[p]
            if c is None:
                children[p] = [i]
            else:
                c.append(i)
        else:
            if p == i:
                broken += 1
            roots.append(i)
    order = topological(children, roots)
    if len(order) < n:  # the rest sit on cycles
        broken += _cut_cycles(parent, children, order, roots)
    return parent, children, order, roots, broken


def _cut_cycles(parent: list[int], children: list[list[int] | None], order: list[int], roots: list[int]) -> int:
    """Cut each cycle at its first span (made a root), adding what hangs from it to `order`; how many cut."""
    cut = 0
    seen = set(order)
    for i in range(len(parent)):
        if i not in seen:
            cut += 1
            p = parent[i]
            if p >= 0:
                below = children[p]
                assert below is not None  # (i is one of them)
                below.remove(i)
            parent[i] = -1
            roots.append(i)
            added = topological(children, [i])
            order.extend(added)
            seen.update(added)
    return cut


def topological(children: list[list[int] | None], roots: list[int]) -> list[int]:
    """The spans from `roots` down, each parent before its children (breadth first)."""
    order = list(roots)
    k = 0
    while k < len(order):
        c = children[order[k]]
        if c:
            order.extend(c)
        k += 1
    return order
