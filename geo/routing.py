"""Travel times and routes on a :class:`~geo.network.RoadState`.

Each (road-state version, vehicle) is compiled once into a scipy CSR matrix of
travel seconds (``length / min(edge speed, vehicle speed)``, closed edges and
lanes the vehicle does not fit removed). Shortest-path trees from sources are
computed with ``scipy.sparse.csgraph.dijkstra`` and cached per version.

Replanning after a closure is incremental: closing roads can only lengthen
paths, so a cached tree (from a version whose closures are a subset of the new
ones) that uses none of the newly closed edges is still a valid, optimal tree;
only sources whose trees touched a newly closed edge are recomputed. Reopening
a road can shorten paths, so it never reuses trees from a more closed state.

ARCHITECTURE: this module owns the compiled graphs, the trees and their cache,
travel matrices and the :class:`Router`; :mod:`geo.paths` owns the
:class:`Route` record and seconds and positions along a path (re-exported
here), and :mod:`geo.tree_walks` the bulk walks up the trees.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from geo.network import Closure, RoadNetwork, RoadState, Vehicle
from geo.paths import (
    Route,
    edge_seconds,
    path_seconds,
    position_near,
    position_on,
    route_uses_closed_edge,
)
from geo.tree_walks import paths_avoid, route_metres, walk_up

__all__ = [
    "CompiledGraph",
    "Route",
    "Router",
    "RouterStats",
    "TravelMatrix",
    "Tree",
    "edge_seconds",
    "path_seconds",
    "position_near",
    "position_on",
    "route_uses_closed_edge",
]

_BLOCK = 16  # sources per dijkstra call


@dataclass(frozen=True)
class CompiledGraph:
    """One road-state version for one vehicle, as a CSR matrix of travel seconds."""

    version: str
    vehicle: Vehicle
    matrix: sp.csr_matrix
    open_edges: NDArray[np.bool_]  # mask over the network's edges


@dataclass
class RouterStats:
    """What the last tree request did: rows reused from an older version vs computed."""

    reused: int = 0
    computed: int = 0
    cached: int = 0


class Tree:
    """One shortest-path tree: distance and predecessor of every node it reached.

    A search bounded by a horizon reaches a small part of a city graph, so such
    a tree keeps only the nodes it reached (sorted indices, compact); a tree
    that reached most of the graph stays dense. Predecessors of unreached nodes
    (and of the source) read as -9999, as in scipy.
    """

    __slots__ = ("_dist", "_nodes", "_pred", "_pred_map", "_row", "_walk", "n", "paths")

    def __init__(self, dist: NDArray[np.float64], pred: NDArray[np.int32]) -> None:
        self.n = len(dist)
        # Routes already walked on this tree, by target index: (node ids, metres).
        # A tree never changes, so they stay valid wherever the tree is reused.
        self.paths: dict[int, tuple[tuple[int, ...], float]] = {}
        self._row: tuple[bytes, NDArray[np.float64]] | None = None  # last dist_row()
        self._walk: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None
        finite = np.isfinite(dist)
        self._pred_map: NDArray[np.int32] | None = None
        if np.count_nonzero(finite) * 4 >= self.n:
            self._nodes: NDArray[np.int64] | None = None
            self._dist, self._pred = dist, pred
        else:
            reached = np.flatnonzero(finite)
            self._nodes = reached
            self._dist, self._pred = dist[reached], pred[reached]

    @property
    def dense(self) -> bool:
        """Whether the tree keeps every node (positions are node indices)."""
        return self._nodes is None

    def dist_at(self, idx: NDArray[np.int64]) -> NDArray[np.float64]:
        if self._nodes is None:
            return self._dist[idx]
        pos, hit = self._find(idx)
        return np.where(hit, self._dist[pos], np.inf)

    def pred_at(self, idx: NDArray[np.int64]) -> NDArray[np.int32]:
        if self._nodes is None:
            return self._pred[idx]
        pos, hit = self._find(idx)
        return np.where(hit, self._pred[pos], -9999).astype(np.int32)

    def _find(self, idx: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        assert self._nodes is not None
        pos = np.minimum(np.searchsorted(self._nodes, idx), max(len(self._nodes) - 1, 0))
        if not len(self._nodes):
            return pos, np.zeros(np.shape(idx), dtype=bool)
        return pos, self._nodes[pos] == idx

    def dist_row(self, idx: NDArray[np.int64], key: bytes) -> NDArray[np.float64]:
        """``dist_at(idx)``, remembered for the last ``key`` (the bytes of ``idx``).

        A tree reused by a replan is asked for the same targets again.
        """
        if self._row is not None and self._row[0] == key:
            return self._row[1]
        row = self.dist_at(idx)
        self._row = (key, row)
        return row

    def dist_of(self, i: int) -> float:
        return float(self.dist_at(np.array([i]))[0])

    def pred_lookup(self) -> NDArray[np.int32]:
        """Predecessors indexable by node index, for walks (expanded once when compact)."""
        if self._pred_map is None:
            self._pred_map = self.dense_pred()
        return self._pred_map

    def reached(self) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
        """Sorted node indices this tree covers (all of them when dense), and their predecessors."""
        if self._nodes is None:
            return np.arange(self.n, dtype=np.int64), self._pred
        return self._nodes, self._pred

    def walk_table(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(sorted node indices covered, position of each one's predecessor among them).

        The source's (and unreached nodes') predecessor position is -1. Walking
        positions needs no search per step; built once per tree.
        """
        if self._walk is None:
            nodes, pred = self.reached()
            pred64 = pred.astype(np.int64)
            pos = pred64 if self._nodes is None else np.searchsorted(nodes, pred64)
            self._walk = (nodes, np.where(pred64 < 0, -1, pos))
        return self._walk

    def dense_pred(self) -> NDArray[np.int32]:
        if self._nodes is None:
            return self._pred
        out = np.full(self.n, -9999, dtype=np.int32)
        out[self._nodes] = self._pred
        return out


@dataclass
class _TreeCache:
    closures: frozenset[Closure]
    open_edges: NDArray[np.bool_]
    rows: dict[int, Tree] = field(default_factory=dict)
    # Trees of the best older version (snapshot, so evicted versions are freed).
    parent_rows: dict[int, Tree] | None = None
    newly_closed: NDArray[np.int64] | None = None  # edge indices closed since the parent


class TravelMatrix:
    """Travel seconds from ``sources`` to ``targets`` (``inf`` = unreachable).

    Keeps the shortest-path trees it was computed from, so routes for any
    (source, target) pair are available without another search.
    """

    def __init__(
        self,
        network: RoadNetwork,
        sources: Sequence[int],
        targets: Sequence[int],
        trees: dict[int, Tree],
    ) -> None:
        self.network = network
        self.sources = tuple(int(s) for s in sources)
        self.targets = tuple(int(t) for t in targets)
        self._trees = trees
        self._target_set = frozenset(self.targets)
        self._row = {s: k for k, s in enumerate(self.sources)}
        self._col = {t: k for k, t in enumerate(self.targets)}
        cols = np.array([network.index[t] for t in self.targets], dtype=np.int64)
        self._target_index = cols
        self._source_index = np.array([network.index[s] for s in self.sources], dtype=np.int64)
        self.times_s: NDArray[np.float64] = np.empty((len(self.sources), len(cols)))
        key = cols.tobytes()
        for i, s in enumerate(self.sources):
            self.times_s[i] = trees[network.index[s]].dist_row(cols, key)

    def _check(self, target: int) -> None:
        if target not in self._target_set:
            raise KeyError(f"node {target} is not a target of this matrix")

    def time(self, source: int, target: int) -> float:
        self._check(target)
        return self._trees[self.network.index[source]].dist_of(self.network.index[target])

    def routes(self, pairs: Sequence[tuple[int, int]]) -> dict[tuple[int, int], Route | None]:
        """Routes for many (source, target) pairs, walked together (see :meth:`paths`)."""
        unique = list(dict.fromkeys((int(s), int(t)) for s, t in pairs))
        out: dict[tuple[int, int], Route | None] = {}
        for pair, (nodes, length) in zip(unique, self.paths(unique), strict=True):
            time_s = float(self.times_s[self._row[pair[0]], self._col[pair[1]]])
            out[pair] = Route(nodes, length, time_s) if nodes else None
        return out

    def paths(self, pairs: Sequence[tuple[int, int]]) -> list[tuple[tuple[int, ...], float]]:
        """(node ids, metres) of the route of each (source, target) pair; ``((), 0.0)`` if none.

        The same routes as :meth:`route`, for many pairs at once: all pairs walk
        up their trees together, one tree level per numpy step, and each route's
        length is summed from source to target exactly as :meth:`route` does.
        """
        if not pairs:
            return []
        for _, t in pairs:
            self._check(t)
        rows = np.array([self._row[s] for s, _ in pairs], dtype=np.int64)
        cols = np.array([self._col[t] for _, t in pairs], dtype=np.int64)
        return self.paths_at(rows, cols)

    def paths_at(
        self, rows: NDArray[np.int64], cols: NDArray[np.int64]
    ) -> list[tuple[tuple[int, ...], float]]:
        """:meth:`paths` of the pairs (``sources[rows[k]]``, ``targets[cols[k]]``)."""
        net = self.network
        out: list[tuple[tuple[int, ...], float]] = [((), 0.0)] * len(rows)
        if not len(rows):
            return out
        src = self._source_index[rows]
        cur = self._target_index[cols]
        ok = np.flatnonzero(np.isfinite(self.times_s[rows, cols]))
        if ok.size == 0:
            return out
        trees = self._trees
        if any(trees[s].paths for s in np.unique(src[ok]).tolist()):
            walk = []
            for k, s, t in zip(ok.tolist(), src[ok].tolist(), cur[ok].tolist(), strict=True):
                known = trees[s].paths.get(t)
                if known is None:
                    walk.append(k)
                else:
                    out[k] = known
            ok = np.array(walk, dtype=np.int64)
            if ok.size == 0:
                return out
        src, cur = src[ok], cur[ok]
        used, tree_of = np.unique(src, return_inverse=True)
        tree_of = np.asarray(tree_of, dtype=np.int64).ravel()
        walked, depth, node_at = walk_up([trees[s] for s in used.tolist()], used, tree_of, cur)
        # Every route's node indices, source first, end to end in one array (no padding).
        ends = np.cumsum(depth)
        step = np.arange(int(ends[-1])) - np.repeat(ends - depth, depth)
        pair = np.repeat(np.arange(depth.size), depth)
        level = np.repeat(depth - 1, depth) - step
        # (Flat indices: one-dimensional gathers are far cheaper than two-dimensional ones.)
        at_route = walked.ravel()[level * depth.size + pair]
        on_route = at_route if node_at is None else node_at(at_route)
        metres = route_metres(net, on_route, step, pair, int(depth.max()))
        flat = net.node_ids[on_route].tolist()
        for k, s, t, e, d, length in zip(
            ok.tolist(),
            src.tolist(),
            cur.tolist(),
            ends.tolist(),
            depth.tolist(),
            metres.tolist(),
            strict=True,
        ):
            path = (tuple(flat[e - d : e]), length)
            out[k] = trees[s].paths[t] = path
        return out

    def route(self, source: int, target: int) -> Route | None:
        """The shortest route, or None when the target can't be reached.

        Walks up the source's tree in plain Python ints: per step this beats
        numpy calls by far.
        """
        self._check(target)
        net = self.network
        src = net.index[source]
        time_s = float(self.times_s[self._row[source], self._col[target]])
        if not math.isfinite(time_s):
            return None
        pred = self._trees[src].pred_lookup()
        path = [net.index[target]]
        while path[-1] != src:
            path.append(int(pred[path[-1]]))
        path.reverse()
        lengths, n = net.edge_lengths_by_key, net.n_nodes
        length = 0.0
        for a, b in itertools.pairwise(path):  # one edge at a time, as bulk routes add them
            length += lengths[a * n + b]
        ids = net.node_id_list
        return Route(nodes=tuple([ids[i] for i in path]), length_m=length, time_s=time_s)


class Router:
    """Compiles road states and answers travel-time and route queries, with caches.

    One Router per network; it may be shared across requests. The caches hold
    at most ``max_versions`` versions (least recently used dropped first).
    """

    def __init__(self, network: RoadNetwork, max_versions: int = 4) -> None:
        self.network = network
        self.max_versions = max_versions
        self._compiled: OrderedDict[tuple[str, Vehicle], CompiledGraph] = OrderedDict()
        self._trees: OrderedDict[tuple[str, Vehicle, float | None], _TreeCache] = OrderedDict()
        self.last_stats = RouterStats()

    def compile(self, state: RoadState, *, vehicle: Vehicle = Vehicle()) -> CompiledGraph:
        """The CSR matrix of travel seconds for this version and vehicle (cached)."""
        if state.network is not self.network:
            raise ValueError("state belongs to a different network than this router")
        key = (state.version, vehicle)
        if key in self._compiled:
            self._compiled.move_to_end(key)
            return self._compiled[key]
        net = self.network
        open_edges = net.allowed_edges(vehicle) & ~state.closed_edges
        seconds = edge_seconds(net, vehicle)
        # Edges are sorted by (u, v): the open ones are CSR rows as they stand.
        n = net.n_nodes
        indptr = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(np.bincount(net.edge_u[open_edges], minlength=n), out=indptr[1:])
        matrix = sp.csr_matrix((seconds[open_edges], net.edge_v[open_edges], indptr), shape=(n, n))
        matrix.has_sorted_indices = True
        compiled = CompiledGraph(state.version, vehicle, matrix, open_edges)
        self._remember(self._compiled, key, compiled)
        return compiled

    def _remember(self, cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > self.max_versions:
            cache.popitem(last=False)

    def _tree_cache(self, state: RoadState, vehicle: Vehicle, limit_s: float | None) -> _TreeCache:
        key = (state.version, vehicle, limit_s)
        if key in self._trees:
            self._trees.move_to_end(key)
            return self._trees[key]
        compiled = self.compile(state, vehicle=vehicle)
        entry = _TreeCache(state.closures, compiled.open_edges)
        parent = self._best_parent(state, vehicle, limit_s)
        if parent is not None:
            entry.parent_rows = dict(parent.rows)
            entry.newly_closed = np.flatnonzero(parent.open_edges & ~compiled.open_edges)
        self._remember(self._trees, key, entry)
        return entry

    def _best_parent(
        self, state: RoadState, vehicle: Vehicle, limit_s: float | None
    ) -> _TreeCache | None:
        """The cached version with the most closures that are all still in force."""
        best: _TreeCache | None = None
        for (_, v, lim), entry in self._trees.items():
            if v != vehicle or lim != limit_s or not entry.closures <= state.closures:
                continue
            if best is None or len(entry.closures) >= len(best.closures):
                best = entry
        return best

    def _classify_reuse(
        self, entry: _TreeCache, sources: list[int], targets: NDArray[np.int64] | None
    ) -> tuple[list[int], list[int]]:
        """Split parent trees into (valid everywhere, valid on the paths to ``targets``).

        A tree that uses no newly closed edge is valid everywhere. One that does
        may still reach every target without crossing one, and then its
        distances and routes to those targets stand. Everything else (and any
        source without a parent tree) is recomputed.
        """
        parent, closed = entry.parent_rows, entry.newly_closed
        if parent is None or closed is None:
            return [], []
        net = self.network
        cu, cv = net.edge_u[closed], net.edge_v[closed]
        whole: list[int] = []
        touched: list[int] = []
        for s in sources:
            if s not in parent:
                continue
            if np.any(parent[s].pred_at(cv.astype(np.int64)) == cu):
                touched.append(s)
            else:
                whole.append(s)
        if not touched or targets is None:
            return whole, []
        preds = np.stack([parent[s].dense_pred() for s in touched])
        heads = preds[:, cv] == cu[None, :]
        clean = paths_avoid(preds, targets, heads, cv)
        return whole, [s for s, ok in zip(touched, clean, strict=True) if ok]

    def trees(
        self,
        state: RoadState,
        sources: Sequence[int],
        *,
        vehicle: Vehicle = Vehicle(),
        limit_s: float | None = None,
        targets: Sequence[int] | None = None,
    ) -> dict[int, Tree]:
        """Shortest-path trees by source node index, reusing what is still valid.

        With ``targets`` given, a reused tree may be valid only on the paths to
        those targets: callers must then read it for those targets only.
        """
        entry = self._tree_cache(state, vehicle, limit_s)
        stats = RouterStats()
        wanted = sorted({self.network.index[int(s)] for s in sources})
        cols = None
        if targets is not None:
            cols = np.unique(
                np.array([self.network.index[int(t)] for t in targets], dtype=np.int64)
            )
        result = {s: entry.rows[s] for s in wanted if s in entry.rows}
        stats.cached = len(result)
        whole, partial = self._classify_reuse(entry, [s for s in wanted if s not in result], cols)
        if entry.parent_rows is not None:
            for s in whole:  # valid for every target: keep it for this version
                entry.rows[s] = result[s] = entry.parent_rows[s]
            for s in partial:  # valid for these targets only: don't keep it
                result[s] = entry.parent_rows[s]
        stats.reused = len(whole) + len(partial)
        missing = [s for s in wanted if s not in result]
        if missing:
            matrix = self.compile(state, vehicle=vehicle).matrix
            # In blocks: scipy allocates full (block x n) arrays, and small blocks
            # that are freed again are far cheaper than one huge allocation.
            for start in range(0, len(missing), _BLOCK):
                block = missing[start : start + _BLOCK]
                dist, pred = dijkstra(
                    matrix,
                    directed=True,
                    indices=block,
                    return_predecessors=True,
                    limit=np.inf if limit_s is None else limit_s,
                )
                for k, s in enumerate(block):
                    entry.rows[s] = result[s] = Tree(dist[k], pred[k])
            stats.computed = len(missing)
        self.last_stats = stats
        return result

    def travel_matrix(
        self,
        state: RoadState,
        sources: Sequence[int],
        targets: Sequence[int],
        *,
        vehicle: Vehicle = Vehicle(),
        limit_s: float | None = None,
    ) -> TravelMatrix:
        """Seconds from each source node to each target node; ``inf`` if unreachable.

        ``limit_s`` bounds the search: anything farther counts as unreachable.

        Examples
        --------
        >>> from geo.network import RoadNetwork, RoadState, grid_network
        >>> net = RoadNetwork(grid_network(100, seed=1))
        >>> matrix = Router(net).travel_matrix(RoadState(net), [1, 100], [51])
        >>> matrix.times_s.shape
        (2, 1)
        >>> [round(s, 1) for s in matrix.times_s[:, 0].tolist()]
        [69.5, 221.0]
        """
        trees = self.trees(state, sources, vehicle=vehicle, limit_s=limit_s, targets=targets)
        return TravelMatrix(self.network, sources, targets, trees)

    def route(
        self, state: RoadState, source: int, target: int, *, vehicle: Vehicle = Vehicle()
    ) -> Route | None:
        """The fastest route between two nodes, or None when there is none.

        Examples
        --------
        >>> from geo.network import RoadNetwork, RoadState, grid_network
        >>> net = RoadNetwork(grid_network(100, seed=1))
        >>> route = Router(net).route(RoadState(net), 1, 100)
        >>> route.nodes[:4], len(route.nodes), round(route.time_s, 1)
        ((1, 11, 21, 31), 19, 290.5)
        """
        return self.travel_matrix(state, [source], [target], vehicle=vehicle).route(source, target)
