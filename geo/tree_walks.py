"""Walking shortest-path trees in bulk: routes' nodes and metres, and closed-edge checks,
one tree level per numpy step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from geo.network import RoadNetwork

if TYPE_CHECKING:  # Tree is only named in annotations; geo.routing imports this module
    from geo.routing import Tree

__all__ = [
    "climb",
    "paths_avoid",
    "route_metres",
    "walk_layout",
    "walk_up",
]


_WALK_CHECK = 8  # tree levels walked between checks that every route has ended


def walk_up(
    used: list[Tree],
    sources: NDArray[np.int64],
    tree_of: NDArray[np.int64],
    targets: NDArray[np.int64],
) -> tuple[
    NDArray[np.int64], NDArray[np.int64], Callable[[NDArray[np.int64]], NDArray[np.int64]] | None
]:
    """Walk every pair from its target up its tree (``used[tree_of[k]]``, rooted at
    ``sources[tree_of[k]]``), all pairs one tree level per numpy step.

    Returns the (level x pair) grid (row 0 the targets, row ``l`` their
    ``l``-th ancestors, padded below each route's source), each route's node
    count, and how to read grid entries as node indices (None: they are node
    indices). Dense trees are walked on their predecessor arrays with each
    source made its own parent, so a finished walk stays put; compact trees on
    their walk tables, whose sentinel position plays that part.
    """
    if all(tree.dense for tree in used):
        n = used[0].n
        pred = np.stack([tree.dense_pred() for tree in used])
        pred[np.arange(len(used)), sources] = sources
        up, base, root = pred.ravel(), tree_of * n, sources[tree_of]
        walked = climb(lambda at: up[base + at], targets, root)
        return walked, (walked != root).sum(axis=0) + 1, None
    node_at, up_of, start = walk_layout(used, tree_of, targets)
    sentinel = up_of.size - 1
    walked = climb(up_of.__getitem__, start, sentinel)
    return walked, (walked != sentinel).sum(axis=0), node_at


def climb(
    up: Callable[[NDArray[np.int64]], NDArray[np.int64]],
    at: NDArray[np.int64],
    end: NDArray[np.int64] | int,
) -> NDArray[np.int64]:
    """Rows of ``at``, ``up(at)``, ``up(up(at))``, ... until every entry is ``end``
    (checked only every few levels: rows past a route's end repeat it)."""
    grid = [at]
    while True:
        for _ in range(_WALK_CHECK):
            at = up(at)
            grid.append(at)
        if bool((at == end).all()):
            return np.stack(grid)


def walk_layout(
    used: list[Tree], tree_of: NDArray[np.int64], targets: NDArray[np.int64]
) -> tuple[Callable[[NDArray[np.int64]], NDArray[np.int64]], NDArray[np.int64], NDArray[np.int64]]:
    """The used (compact) trees' walk tables end to end, as positions.

    Returns (the node indices at given positions, the parent position of each
    position, each pair's starting position at its target). The last position
    is a sentinel, its own parent, that every source's parent points to: a walk
    that passed its source stays there.
    """
    tables = [tree.walk_table() for tree in used]
    sizes = np.array([len(nodes) for nodes, _ in tables], dtype=np.int64)
    offset = np.cumsum(sizes) - sizes
    sentinel = int(sizes.sum())
    node_at = np.concatenate([*(nodes for nodes, _ in tables), [-1]]).astype(np.int64)
    up_of = np.concatenate(
        [
            *(
                np.where(pos < 0, sentinel, pos + b)
                for (_, pos), b in zip(tables, offset.tolist(), strict=True)
            ),
            [sentinel],
        ]
    ).astype(np.int64)
    start = np.empty(targets.size, dtype=np.int64)
    by_tree = np.argsort(tree_of, kind="stable")
    bounds = np.searchsorted(tree_of[by_tree], np.arange(len(tables) + 1))
    for k, (nodes, _) in enumerate(tables):
        these = by_tree[bounds[k] : bounds[k + 1]]
        start[these] = np.searchsorted(nodes, targets[these]) + offset[k]
    return node_at.__getitem__, up_of, start


def route_metres(
    net: RoadNetwork,
    on_route: NDArray[np.int64],
    step: NDArray[np.int64],
    pair: NDArray[np.int64],
    width: int,
) -> NDArray[np.float64]:
    """Each route's length: its edges added one at a time from the source, in the
    order :meth:`TravelMatrix.route` adds them, so both give the same float.

    ``on_route`` holds the routes' nodes end to end, ``step`` each one's place
    in its route and ``pair`` its route. Laid out as (step x route) with zeros
    past each route's end, a sum down the steps adds each column in step order.
    """
    grid = np.zeros((width, int(pair[-1]) + 1))
    if on_route.size > 1:
        # The edge from each position's predecessor in the array: at a route's
        # first node (step 0) that is no edge of the route, and it is left out.
        c, p = on_route[1:], on_route[:-1]
        tails, edge_lengths = net.in_edges
        slot = (np.take(tails, c, axis=0) == p[:, None]).argmax(axis=1)
        into = edge_lengths.ravel()[c * edge_lengths.shape[1] + slot]
        grid.ravel()[step[1:] * grid.shape[1] + pair[1:]] = np.where(step[1:] > 0, into, 0.0)
    metres: NDArray[np.float64] = grid.sum(axis=0)
    return metres


def paths_avoid(
    preds: NDArray[np.int32],
    targets: NDArray[np.int64],
    heads_on_tree: NDArray[np.bool_],
    heads: NDArray[np.int32],
) -> NDArray[np.bool_]:
    """For each tree (row of ``preds``), whether no path to a target enters a closed edge.

    ``heads_on_tree[k, e]`` says closed edge ``e`` is a tree edge of row ``k``
    (entering node ``heads[e]``). All rows walk up from all targets together,
    one tree level per numpy step, each (row, node) visited at most once.
    """
    k, n = preds.shape
    flat_pred = preds.astype(np.int64).ravel()
    marked = np.zeros(k * n, dtype=bool)
    rows, cols = np.nonzero(heads_on_tree)
    marked[rows * n + heads[cols]] = True
    seen = np.zeros(k * n, dtype=bool)
    slot = np.zeros(k * n, dtype=np.int64)  # scratch for sort-free de-duplication
    clean = np.ones(k, dtype=bool)
    frontier = (np.arange(k)[:, None] * n + targets[None, :]).ravel()
    while frontier.size:
        hit = marked[frontier]
        if hit.any():
            clean[frontier[hit] // n] = False
        seen[frontier] = True
        parents = flat_pred[frontier]
        ok = parents >= 0
        frontier = parents[ok] + (frontier[ok] // n) * n
        frontier = frontier[~seen[frontier]]
        order = np.arange(frontier.size)
        slot[frontier] = order
        frontier = frontier[slot[frontier] == order]
    return clean
