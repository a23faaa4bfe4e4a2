"""The road network: a networkx DiGraph as the model of record, plus fast views of it.

Graph schema (what every loader produces and every other module relies on):

* nodes: integer ids with ``lat`` and ``lon`` (WGS-84 degrees);
* edges ``u -> v`` (one per direction, like OSMnx): ``length_m`` (float),
  ``road_class`` (``arterial`` | ``collector`` | ``hutong``), ``speed_kmh``,
  ``oneway`` (bool, informational: the road has no reverse edge) and
  ``max_vehicle``: ``None`` (no restriction), a vehicle class name from
  :data:`VEHICLE_WIDTH_M` (the largest class allowed) or a number (the lane's
  width in metres, as OSM ``maxwidth``).

:class:`RoadNetwork` freezes a graph into numpy arrays once (projected
coordinates, edge arrays, a content hash) so snapping, closures and routing
never loop over networkx in Python. :class:`RoadState` is the network as it is
now: closures applied, depots out, and a ``version`` that changes whenever
anything that affects routes changes, so nothing stale is ever reused.

The Dongcheng network shipped in ``geo/data/dongcheng/roads_*.csv`` is
**SYNTHETIC** (see :func:`geo.synthetic.synthetic_dongcheng`): no open road data of the
district could be shipped. A real network can be loaded from OSMnx's GraphML
or nodes/edges CSV layout with :func:`load_graphml` / :func:`load_osmnx_csv`.

ARCHITECTURE: this module owns the frozen network (:class:`RoadNetwork`,
:class:`Snapper`) and its state (:class:`Closure`, :class:`RoadState`), and
re-exports the rest of the road model from modules of one concern each:
:mod:`geo.vehicles` (road classes, vehicles and lane widths),
:mod:`geo.geometry` (local projection, polygons, segments),
:mod:`geo.road_files` (OSMnx GraphML/CSV and GeoJSON boundary files) and
:mod:`geo.synthetic` (the synthetic Dongcheng network and test grids).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import networkx as nx
import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from geo.geometry import (
    LocalProjection,
    distance_to_ring_m,
    point_in_polygon,
    points_in_polygon,
    segment_distance,
)
from geo.road_files import (
    DATA_DIR,
    DONGCHENG_BOUNDARY,
    DONGCHENG_EDGES_CSV,
    DONGCHENG_NODES_CSV,
    EDGE_COLUMNS,
    load_boundary,
    load_graphml,
    load_osmnx_csv,
    normalise_edge,
    road_class_of,
    save_graphml,
    save_osmnx_csv,
    to_digraph,
)
from geo.synthetic import DONGCHENG_SEED, grid_network, synthetic_dongcheng
from geo.vehicles import (
    DEFAULT_SPEED_KMH,
    ROAD_CLASSES,
    VEHICLE_WIDTH_M,
    Vehicle,
    max_width_m,
    vehicle_allowed,
)

__all__ = [
    "DATA_DIR",
    "DEFAULT_SPEED_KMH",
    "DONGCHENG_BOUNDARY",
    "DONGCHENG_EDGES_CSV",
    "DONGCHENG_NODES_CSV",
    "DONGCHENG_SEED",
    "EDGE_COLUMNS",
    "ROAD_CLASSES",
    "VEHICLE_WIDTH_M",
    "Closure",
    "LocalProjection",
    "RoadNetwork",
    "RoadState",
    "Snapper",
    "Vehicle",
    "distance_to_ring_m",
    "grid_network",
    "load_boundary",
    "load_dongcheng_graph",
    "load_dongcheng_network",
    "load_graphml",
    "load_osmnx_csv",
    "max_width_m",
    "normalise_edge",
    "point_in_polygon",
    "points_in_polygon",
    "road_class_of",
    "save_graphml",
    "save_osmnx_csv",
    "synthetic_dongcheng",
    "to_digraph",
    "vehicle_allowed",
    "write_dongcheng_network",
]

# ---------------------------------------------------------------------------
# The frozen network
# ---------------------------------------------------------------------------


class RoadNetwork:
    """An immutable, array-backed view of a road DiGraph.

    Built once per graph; the DiGraph must not be mutated afterwards (make a
    copy and a new RoadNetwork instead), because ``graph_id`` identifies it.
    """

    def __init__(self, graph: nx.DiGraph, name: str = "") -> None:
        self.graph = graph
        self.name = name
        self.node_ids: NDArray[np.int64] = np.array(sorted(graph.nodes), dtype=np.int64)
        self.index: dict[int, int] = {int(n): i for i, n in enumerate(self.node_ids)}
        self.lat = np.array([graph.nodes[int(n)]["lat"] for n in self.node_ids], dtype=float)
        self.lon = np.array([graph.nodes[int(n)]["lon"] for n in self.node_ids], dtype=float)
        if len(self.node_ids):
            self.projection = LocalProjection(float(self.lat.mean()), float(self.lon.mean()))
        else:
            self.projection = LocalProjection(0.0, 0.0)
        self.x, self.y = self.projection.to_xy(self.lat, self.lon)
        edges = sorted((self.index[u], self.index[v], d) for u, v, d in graph.edges(data=True))
        self.edge_u = np.array([e[0] for e in edges], dtype=np.int32)
        self.edge_v = np.array([e[1] for e in edges], dtype=np.int32)
        self.edge_length_m = np.array([float(e[2]["length_m"]) for e in edges], dtype=float)
        self.edge_speed_kmh = np.array([float(e[2]["speed_kmh"]) for e in edges], dtype=float)
        self.edge_class = np.array([e[2]["road_class"] for e in edges], dtype=object)
        self.edge_max_width_m = np.array(
            [max_width_m(e[2].get("max_vehicle")) for e in edges], dtype=float
        )
        # Sorted (edges are sorted by (u, v)): searchsorted maps node pairs to edges.
        self.edge_key = self.edge_u.astype(np.int64) * len(self.node_ids) + self.edge_v
        self.edge_index: dict[tuple[int, int], int] = {
            (int(self.node_ids[u]), int(self.node_ids[v])): i for i, (u, v, _) in enumerate(edges)
        }
        self.graph_id = self._content_hash()

    @cached_property
    def node_id_list(self) -> list[int]:
        """Node ids as Python ints, by index (for loops that would box numpy scalars)."""
        return [int(n) for n in self.node_ids]

    @cached_property
    def edge_lengths_by_key(self) -> dict[int, float]:
        """Edge length by ``u_index * n_nodes + v_index``: fast lookups in Python loops."""
        return dict(zip(self.edge_key.tolist(), self.edge_length_m.tolist(), strict=True))

    @cached_property
    def in_edges(self) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """(tail index, length) of each node's in-edges, as (nodes x max in-degree) tables.

        Rows are padded with tail -1. The length of edge (u, v) is
        ``lengths[v, k]`` where ``tails[v, k] == u``: a few comparisons per
        lookup, for many edges at once (route lengths).
        """
        n = self.n_nodes
        order = np.lexsort((self.edge_u, self.edge_v))
        v = self.edge_v[order].astype(np.int64)
        counts = np.bincount(v, minlength=n)
        width = max(int(counts.max(initial=0)), 1)
        slot = np.arange(v.size) - (np.cumsum(counts) - counts)[v]
        tails = np.full((n, width), -1, dtype=np.int64)
        tails[v, slot] = self.edge_u[order]
        lengths = np.zeros((n, width))
        lengths[v, slot] = self.edge_length_m[order]
        return tails, lengths

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    def _content_hash(self) -> str:
        digest = hashlib.sha256()
        for array in (
            self.node_ids,
            self.lat,
            self.lon,
            self.edge_u,
            self.edge_v,
            self.edge_length_m,
            self.edge_speed_kmh,
            self.edge_max_width_m,
        ):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update("|".join(self.edge_class.tolist()).encode())
        return digest.hexdigest()[:16]

    def allowed_edges(self, vehicle: Vehicle) -> NDArray[np.bool_]:
        """Mask of edges the vehicle fits through."""
        return np.asarray(self.edge_max_width_m >= vehicle.width_m)

    def usable_nodes(self, vehicle: Vehicle) -> NDArray[np.int64]:
        """Node ids with an allowed way in and an allowed way out for this vehicle."""
        ok = self.allowed_edges(vehicle)
        has_out = np.zeros(self.n_nodes, dtype=bool)
        has_in = np.zeros(self.n_nodes, dtype=bool)
        has_out[self.edge_u[ok]] = True
        has_in[self.edge_v[ok]] = True
        return self.node_ids[has_out & has_in]

    def latlon(self, node: int) -> tuple[float, float]:
        i = self.index[node]
        return float(self.lat[i]), float(self.lon[i])


class Snapper:
    """Nearest-node lookup over a fixed node set, via a k-d tree in projected metres."""

    def __init__(self, network: RoadNetwork, nodes: Iterable[int] | None = None) -> None:
        self.network = network
        ids = network.node_ids if nodes is None else np.array(sorted(nodes), dtype=np.int64)
        if len(ids) == 0:
            raise ValueError("cannot snap to an empty node set")
        self.node_ids = ids
        rows = np.array([network.index[int(n)] for n in ids], dtype=np.int64)
        self._tree = cKDTree(np.column_stack([network.x[rows], network.y[rows]]))

    def nearest(self, lat: float, lon: float) -> tuple[int, float]:
        """The nearest node and its (projected) distance in metres."""
        x, y = self.network.projection.to_xy(lat, lon)
        dist, pos = self._tree.query([float(x), float(y)])
        return int(self.node_ids[int(pos)]), float(dist)

    def nearest_node(self, lat: float, lon: float) -> int:
        return self.nearest(lat, lon)[0]

    def nearest_nodes(self, lats: Sequence[float], lons: Sequence[float]) -> list[int]:
        x, y = self.network.projection.to_xy(np.asarray(lats), np.asarray(lons))
        _, pos = self._tree.query(np.column_stack([x, y]))
        return [int(n) for n in self.node_ids[np.atleast_1d(pos)].tolist()]


# ---------------------------------------------------------------------------
# Closures and the current road state
# ---------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Closure:
    """A road closure: every edge passing within ``radius_m`` of a point, or one road.

    An edge closure closes both directions of the road between ``u`` and ``v``
    (the pair is stored sorted so ``edge(a, b) == edge(b, a)``).
    """

    kind: Literal["circle", "edge"]
    lat: float = 0.0
    lon: float = 0.0
    radius_m: float = 0.0
    u: int = 0
    v: int = 0

    @classmethod
    def circle(cls, lat: float, lon: float, radius_m: float) -> Closure:
        if radius_m < 0:
            raise ValueError("radius_m must be >= 0")
        return cls("circle", lat=float(lat), lon=float(lon), radius_m=float(radius_m))

    @classmethod
    def edge(cls, u: int, v: int) -> Closure:
        a, b = sorted((int(u), int(v)))
        return cls("edge", u=a, v=b)

    def key(self) -> str:
        if self.kind == "circle":
            return f"circle:{self.lat:.7f},{self.lon:.7f},{self.radius_m:.3f}"
        return f"edge:{self.u},{self.v}"

    def edge_mask(self, network: RoadNetwork) -> NDArray[np.bool_]:
        """Which of the network's edges this closure closes."""
        mask = np.zeros(network.n_edges, dtype=bool)
        if self.kind == "edge":
            for pair in ((self.u, self.v), (self.v, self.u)):
                if pair in network.edge_index:
                    mask[network.edge_index[pair]] = True
            return mask
        px, py = network.projection.to_xy(self.lat, self.lon)
        u, v = network.edge_u, network.edge_v
        dist = segment_distance(
            float(px), float(py), network.x[u], network.y[u], network.x[v], network.y[v]
        )
        return np.asarray(dist <= self.radius_m)


@dataclass(frozen=True)
class RoadState:
    """The network as it is now: closures applied and depots out.

    ``version`` is a content hash of the base graph and the sorted closures: two
    states with the same roads open share it (and so share cached routes), and
    any closure or reopening gives a new one.
    """

    network: RoadNetwork
    closures: frozenset[Closure] = field(default_factory=frozenset)
    depots_out: frozenset[str] = field(default_factory=frozenset)

    @cached_property
    def version(self) -> str:
        digest = hashlib.sha256(self.network.graph_id.encode())
        for key in sorted(c.key() for c in self.closures):
            digest.update(b"|" + key.encode())
        return digest.hexdigest()[:16]

    @cached_property
    def closed_edges(self) -> NDArray[np.bool_]:
        """Mask over the network's edges: True where a closure applies."""
        mask = np.zeros(self.network.n_edges, dtype=bool)
        for closure in self.closures:
            mask |= closure.edge_mask(self.network)
        return mask

    def with_closure(self, closure: Closure) -> RoadState:
        """The state with one more closure in force (a new version: nothing stale is reused).

        Examples
        --------
        >>> net = RoadNetwork(grid_network(100, seed=1))
        >>> state = RoadState(net)
        >>> lat, lon = net.latlon(51)
        >>> closed = state.with_closure(Closure.circle(lat, lon, 150.0))
        >>> closed.version != state.version, int(closed.closed_edges.sum()) > 0
        (True, True)
        """
        if closure.kind == "edge" and not closure.edge_mask(self.network).any():
            raise ValueError(f"no road between nodes {closure.u} and {closure.v}")
        return RoadState(self.network, self.closures | {closure}, self.depots_out)

    def reopen(self, closure: Closure) -> RoadState:
        """Remove a closure (a no-op if it is not in force)."""
        return RoadState(self.network, self.closures - {closure}, self.depots_out)

    def with_depot_out(self, code: str) -> RoadState:
        return RoadState(self.network, self.closures, self.depots_out | {code})

    def with_depot_back(self, code: str) -> RoadState:
        return RoadState(self.network, self.closures, self.depots_out - {code})

    def open_nodes(self, vehicle: Vehicle) -> NDArray[np.int64]:
        """Nodes a vehicle can still enter and leave with closures applied."""
        ok = self.network.allowed_edges(vehicle) & ~self.closed_edges
        net = self.network
        has_out = np.zeros(net.n_nodes, dtype=bool)
        has_in = np.zeros(net.n_nodes, dtype=bool)
        has_out[net.edge_u[ok]] = True
        has_in[net.edge_v[ok]] = True
        return net.node_ids[has_out & has_in]


def load_dongcheng_graph() -> nx.DiGraph:
    """The shipped (synthetic) Dongcheng road graph, identical on every run."""
    return load_osmnx_csv(DONGCHENG_NODES_CSV, DONGCHENG_EDGES_CSV)


def load_dongcheng_network() -> RoadNetwork:
    """The shipped (synthetic) Dongcheng network, frozen for routing."""
    return RoadNetwork(load_dongcheng_graph(), name="dongcheng-synthetic")


def write_dongcheng_network(
    nodes_path: Path = DONGCHENG_NODES_CSV, edges_path: Path = DONGCHENG_EDGES_CSV
) -> nx.DiGraph:
    """Regenerate the synthetic Dongcheng network and write it as OSMnx-layout CSVs."""
    graph = synthetic_dongcheng()
    save_osmnx_csv(graph, nodes_path, edges_path)
    return graph


def main(argv: Sequence[str]) -> int:
    """``python -m geo.network --write`` regenerates the shipped Dongcheng CSVs."""
    if list(argv) != ["--write"]:
        print("usage: python -m geo.network --write", file=sys.stderr)
        return 2
    graph = write_dongcheng_network()
    print(f"wrote {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges to {DATA_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
