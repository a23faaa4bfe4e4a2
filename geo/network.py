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
**synthetic** (see :func:`synthetic_dongcheng`): no open road data of the
district could be shipped. A real network can be loaded from OSMnx's GraphML
or nodes/edges CSV layout with :func:`load_graphml` / :func:`load_osmnx_csv`.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from geo.coords import distance_m

DATA_DIR = Path(__file__).resolve().parent / "data" / "dongcheng"
DONGCHENG_NODES_CSV = DATA_DIR / "roads_nodes.csv"
DONGCHENG_EDGES_CSV = DATA_DIR / "roads_edges.csv"
DONGCHENG_BOUNDARY = DATA_DIR / "boundary.geojson"
DONGCHENG_SEED = 110101

ROAD_CLASSES = ("arterial", "collector", "hutong")
DEFAULT_SPEED_KMH = {"arterial": 40.0, "collector": 30.0, "hutong": 15.0}
# Vehicle classes by typical width; a lane's ``max_vehicle`` class allows that
# class and every narrower one.
VEHICLE_WIDTH_M: dict[str, float] = {"tricycle": 1.2, "car": 1.8, "van": 2.2, "truck": 2.6}

_ARTERIAL_HIGHWAYS = {
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
}
_COLLECTOR_HIGHWAYS = {"tertiary", "tertiary_link", "unclassified", "residential"}
_NON_MOTOR_HIGHWAYS = {"footway", "path", "pedestrian", "cycleway", "steps", "bridleway"}
_HIGHWAY_FOR_CLASS = {"arterial": "primary", "collector": "tertiary", "hutong": "living_street"}


@dataclass(frozen=True)
class Vehicle:
    """A routing profile: which lanes the vehicle fits and how fast it may go."""

    kind: str = "van"
    speed_kmh: float = 25.0

    @property
    def width_m(self) -> float:
        return VEHICLE_WIDTH_M[self.kind]


def max_width_m(max_vehicle: str | float | None) -> float:
    """The widest vehicle (metres) a lane admits; ``inf`` when unrestricted."""
    if max_vehicle is None or max_vehicle == "":
        return math.inf
    if isinstance(max_vehicle, int | float):
        return float(max_vehicle)
    if max_vehicle in VEHICLE_WIDTH_M:
        return VEHICLE_WIDTH_M[max_vehicle]
    return float(max_vehicle)


def vehicle_allowed(max_vehicle: str | float | None, vehicle: Vehicle) -> bool:
    """Whether a vehicle may use a lane with this ``max_vehicle`` restriction."""
    return vehicle.width_m <= max_width_m(max_vehicle)


# ---------------------------------------------------------------------------
# Projection and geometry helpers
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalProjection:
    """Equirectangular metres around a reference point.

    Good to a fraction of a percent over a city, which is all snapping and
    closure circles need; true distances use geodesics.
    """

    lat0: float
    lon0: float

    @property
    def m_per_deg_lat(self) -> float:
        phi = math.radians(self.lat0)
        return 111_132.954 - 559.822 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)

    @property
    def m_per_deg_lon(self) -> float:
        phi = math.radians(self.lat0)
        return 111_412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)

    def to_xy(
        self, lat: NDArray[np.float64] | float, lon: NDArray[np.float64] | float
    ) -> tuple[Any, Any]:
        return (
            (np.asarray(lon) - self.lon0) * self.m_per_deg_lon,
            (np.asarray(lat) - self.lat0) * self.m_per_deg_lat,
        )

    def to_latlon(self, x: float, y: float) -> tuple[float, float]:
        return self.lat0 + y / self.m_per_deg_lat, self.lon0 + x / self.m_per_deg_lon


def point_in_polygon(lat: float, lon: float, ring: Sequence[Sequence[float]]) -> bool:
    """Even-odd ray casting; ``ring`` is GeoJSON order ``[[lon, lat], ...]``."""
    inside = False
    n = len(ring)
    j = n - 1
    for i in range(n):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat):
            x_cross = (xj - xi) * (lat - yi) / (yj - yi) + xi
            if lon < x_cross:
                inside = not inside
        j = i
    return inside


def points_in_polygon(
    lats: NDArray[np.float64], lons: NDArray[np.float64], ring: Sequence[Sequence[float]]
) -> NDArray[np.bool_]:
    """Vectorised :func:`point_in_polygon` (loops over the ring, not the points)."""
    inside = np.zeros(len(lats), dtype=bool)
    pts = np.asarray(ring, dtype=float)
    xi, yi = pts[:, 0], pts[:, 1]
    xj, yj = np.roll(xi, 1), np.roll(yi, 1)
    for k in range(len(pts)):
        crosses = (yi[k] > lats) != (yj[k] > lats)
        if not crosses.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = (xj[k] - xi[k]) * (lats - yi[k]) / (yj[k] - yi[k]) + xi[k]
        inside ^= crosses & (lons < x_cross)
    return inside


def distance_to_ring_m(
    x: NDArray[np.float64], y: NDArray[np.float64], ring_xy: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Projected distance from each point to the nearest edge of a ring (metres)."""
    best = np.full(len(x), np.inf)
    for k in range(len(ring_xy) - 1):
        ax, ay = ring_xy[k]
        bx, by = ring_xy[k + 1]
        dx, dy = bx - ax, by - ay
        seg2 = dx * dx + dy * dy
        t = np.clip(((x - ax) * dx + (y - ay) * dy) / seg2, 0.0, 1.0) if seg2 > 0 else 0.0
        best = np.minimum(best, np.hypot(ax + t * dx - x, ay + t * dy - y))
    return best


def load_boundary(path: Path = DONGCHENG_BOUNDARY) -> list[list[list[float]]]:
    """The outer rings of a GeoJSON (Multi)Polygon file, as ``[[lon, lat], ...]`` lists."""
    data = json.loads(path.read_text(encoding="utf-8"))
    features = data["features"] if data.get("type") == "FeatureCollection" else [data]
    rings: list[list[list[float]]] = []
    for feature in features:
        geometry = feature.get("geometry", feature)
        if geometry["type"] == "Polygon":
            rings.append(geometry["coordinates"][0])
        elif geometry["type"] == "MultiPolygon":
            rings.extend(polygon[0] for polygon in geometry["coordinates"])
    return rings


def _segment_distance(
    px: float, py: float, ax: Any, ay: Any, bx: Any, by: Any
) -> NDArray[np.float64]:
    """Distance from point P to each segment AB (vectorised over segments)."""
    dx, dy = bx - ax, by - ay
    seg2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(seg2 > 0, ((px - ax) * dx + (py - ay) * dy) / seg2, 0.0)
    t = np.clip(t, 0.0, 1.0)
    return np.asarray(np.hypot(ax + t * dx - px, ay + t * dy - py), dtype=np.float64)


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
        dist = _segment_distance(
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


# ---------------------------------------------------------------------------
# Loading and saving (OSMnx layouts)
# ---------------------------------------------------------------------------


def _first(value: Any) -> Any:
    """OSMnx writes merged attributes as a list literal like "['30', '50']"."""
    if isinstance(value, str) and value.startswith("["):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
        return parsed[0] if parsed else None
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(_first(value)).strip().lower() in {"true", "yes", "1", "-1"}


def _parse_speed(value: Any) -> float | None:
    value = _first(value)
    if _blank(value):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().lower()
    factor = 1.609344 if "mph" in text else 1.0
    digits = "".join(ch for ch in text if ch.isdigit() or ch == ".")
    return float(digits) * factor if digits else None


def road_class_of(highway: Any) -> str:
    """Map an OSM ``highway`` tag to the three classes the planner knows."""
    tag = str(_first(highway) or "").strip()
    if tag in ROAD_CLASSES:
        return tag
    if tag in _ARTERIAL_HIGHWAYS:
        return "arterial"
    if tag in _COLLECTOR_HIGHWAYS:
        return "collector"
    return "hutong"


def _parse_max_vehicle(value: Any) -> str | float | None:
    value = _first(value)
    if _blank(value):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if text in VEHICLE_WIDTH_M:
        return text
    return _parse_speed(text)  # a width such as "2.5" or "2.5 m"


def normalise_edge(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Turn OSMnx-style edge attributes (strings or typed) into the graph schema."""
    road_class = attrs.get("road_class")
    highway = attrs.get("highway")
    road_class = road_class_of(road_class if not _blank(road_class) else highway)
    speed = _parse_speed(attrs.get("speed_kmh"))
    if speed is None:
        speed = _parse_speed(attrs.get("maxspeed"))
    if speed is None or speed <= 0:
        speed = DEFAULT_SPEED_KMH[road_class]
    length = attrs.get("length_m", attrs.get("length"))
    max_vehicle = _parse_max_vehicle(attrs.get("max_vehicle"))
    if max_vehicle is None:
        max_vehicle = _parse_max_vehicle(attrs.get("maxwidth"))
    if max_vehicle is None and str(_first(highway)) in _NON_MOTOR_HIGHWAYS:
        max_vehicle = "tricycle"
    return {
        "length_m": float(_first(length)),
        "road_class": road_class,
        "speed_kmh": float(speed),
        "oneway": _parse_bool(attrs.get("oneway", False)),
        "max_vehicle": max_vehicle,
    }


def _edge_seconds(attrs: Mapping[str, Any]) -> float:
    return float(attrs["length_m"]) / (float(attrs["speed_kmh"]) / 3.6)


def to_digraph(graph: nx.Graph) -> nx.DiGraph:
    """Normalise any loaded graph to the schema, keeping the fastest parallel edge."""
    out = nx.DiGraph()
    for node, data in graph.nodes(data=True):
        lat = data.get("lat", data.get("y"))
        lon = data.get("lon", data.get("x"))
        out.add_node(int(node), lat=float(lat), lon=float(lon))
    for u, v, data in graph.edges(data=True):
        attrs = normalise_edge(data)
        u, v = int(u), int(v)
        if out.has_edge(u, v) and _edge_seconds(out.edges[u, v]) <= _edge_seconds(attrs):
            continue
        out.add_edge(u, v, **attrs)
    if not graph.is_directed():
        out.add_edges_from([(v, u, d) for u, v, d in list(out.edges(data=True))])
    return out


def load_graphml(path: Path | str) -> nx.DiGraph:
    """Load OSMnx GraphML (or networkx-written GraphML) into the graph schema."""
    return to_digraph(nx.read_graphml(path))


def save_graphml(graph: nx.DiGraph, path: Path | str) -> None:
    """Write GraphML in OSMnx's attribute names (a MultiDiGraph with y/x/length/highway)."""
    multi = nx.MultiDiGraph()
    for node, data in graph.nodes(data=True):
        multi.add_node(node, y=data["lat"], x=data["lon"])
    for u, v, data in graph.edges(data=True):
        multi.add_edge(u, v, key=0, **_osmnx_edge_row(data))
    nx.write_graphml(multi, path)


def _fmt_max_vehicle(value: str | float | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else f"{float(value):g}"


def _osmnx_edge_row(data: Mapping[str, Any]) -> dict[str, str]:
    return {
        "length": f"{float(data['length_m']):.1f}",
        "highway": _HIGHWAY_FOR_CLASS[data["road_class"]],
        "oneway": str(bool(data["oneway"])),
        "maxspeed": f"{float(data['speed_kmh']):g}",
        "road_class": data["road_class"],
        "max_vehicle": _fmt_max_vehicle(data.get("max_vehicle")),
    }


EDGE_COLUMNS = ("u", "v", "key", "length", "highway", "oneway", "maxspeed", "road_class")


def save_osmnx_csv(graph: nx.DiGraph, nodes_path: Path | str, edges_path: Path | str) -> None:
    """Write nodes (osmid,y,x) and edges (u,v,key,length,highway,...) CSVs, sorted."""
    with Path(nodes_path).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["osmid", "y", "x"])
        for node in sorted(graph.nodes):
            data = graph.nodes[node]
            writer.writerow([node, f"{data['lat']:.7f}", f"{data['lon']:.7f}"])
    with Path(edges_path).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([*EDGE_COLUMNS, "max_vehicle"])
        for u, v in sorted(graph.edges):
            row = _osmnx_edge_row(graph.edges[u, v])
            writer.writerow([u, v, 0, *(row[c] for c in EDGE_COLUMNS[3:]), row["max_vehicle"]])


def load_osmnx_csv(nodes_path: Path | str, edges_path: Path | str) -> nx.DiGraph:
    """Load OSMnx-layout nodes/edges CSVs (extra columns ignored, parallel edges merged)."""
    multi = nx.MultiDiGraph()
    with Path(nodes_path).open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            multi.add_node(int(row["osmid"]), y=float(row["y"]), x=float(row["x"]))
    with Path(edges_path).open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            u, v = int(row.pop("u")), int(row.pop("v"))
            row.pop("key", None)
            multi.add_edge(u, v, **row)
    return to_digraph(multi)


# ---------------------------------------------------------------------------
# Synthetic networks
# ---------------------------------------------------------------------------

_SPACING_M = 125.0  # hutong lane spacing; collectors every 4th line, arterials every 8th
_JITTER_M = 20.0
_BOUNDARY_BUFFER_M = 200.0  # keep roads just outside the line: narrow strips stay connected
_HUTONG_DROP = 0.12
_HUTONG_ONEWAY = 0.20
_HUTONG_CAR_ONLY = 0.25
_HUTONG_TRICYCLE_ONLY = 0.10


def _line_class(index: int) -> str:
    if index % 8 == 0:
        return "arterial"
    if index % 4 == 0:
        return "collector"
    return "hutong"


def _add_road(
    graph: nx.DiGraph,
    a: int,
    b: int,
    road_class: str,
    oneway: bool = False,
    max_vehicle: str | None = None,
) -> None:
    la, lb = graph.nodes[a], graph.nodes[b]
    length = round(distance_m((la["lat"], la["lon"]), (lb["lat"], lb["lon"])), 1)
    attrs = {
        "length_m": length,
        "road_class": road_class,
        "speed_kmh": DEFAULT_SPEED_KMH[road_class],
        "oneway": oneway,
        "max_vehicle": max_vehicle,
    }
    graph.add_edge(a, b, **attrs)
    if not oneway:
        graph.add_edge(b, a, **attrs)


def _make_strongly_connected(graph: nx.DiGraph, vehicle: Vehicle) -> None:
    """Open one-way lanes that split the vehicle graph, then drop what stays cut off."""
    while True:
        usable = nx.DiGraph(
            (u, v)
            for u, v, d in graph.edges(data=True)
            if vehicle_allowed(d["max_vehicle"], vehicle)
        )
        usable.add_nodes_from(graph.nodes)
        comp = {n: i for i, c in enumerate(nx.strongly_connected_components(usable)) for n in c}
        if len(set(comp.values())) <= 1:
            return
        fixes = [
            (u, v)
            for u, v, d in sorted(graph.edges(data=True))
            if d["oneway"] and comp[u] != comp[v] and vehicle_allowed(d["max_vehicle"], vehicle)
        ]
        if not fixes:
            break
        for u, v in fixes:
            graph.edges[u, v]["oneway"] = False
            graph.add_edge(v, u, **graph.edges[u, v])
    largest = max(nx.strongly_connected_components(usable), key=lambda c: (len(c), min(c)))
    graph.remove_nodes_from([n for n in list(graph.nodes) if n not in largest])


def synthetic_dongcheng(seed: int = DONGCHENG_SEED) -> nx.DiGraph:
    """A deterministic SYNTHETIC road network shaped like Dongcheng district.

    This is not the real street map (no open road data of the district could be
    shipped); it is a plausible stand-in with the right scale and texture:

    * a lattice at 125 m spacing over the district's bounding box, every node
      jittered by up to 20 m and kept inside ``boundary.geojson`` or within
      200 m of it (roads do not stop at the district line, and the district's
      narrow northern strip would otherwise fall apart);
    * every 8th line (~1 km) is an ``arterial`` (40 km/h), every 4th (~500 m) a
      ``collector`` (30 km/h), the rest narrow ``hutong`` lanes (15 km/h);
    * of the hutong segments 12% are missing (dead ends, courtyards), 20% are
      one-way, 25% admit cars at most and 10% tricycles at most;
    * one-way lanes that would cut a van off are made two-way and anything still
      unreachable is dropped, so the graph is strongly connected for a van and
      every community and depot is reachable when nothing is closed.

    The same seed always yields the same graph (coordinates rounded to 1e-7
    degree, lengths to 0.1 m); the shipped CSVs are this function's output.
    """
    rng = np.random.default_rng(seed)
    ring = load_boundary()[0]
    lons_ring = [p[0] for p in ring]
    lats_ring = [p[1] for p in ring]
    lat_c = (min(lats_ring) + max(lats_ring)) / 2
    proj = LocalProjection(lat_c, (min(lons_ring) + max(lons_ring)) / 2)
    pad = _BOUNDARY_BUFFER_M
    x_min, y_min = proj.to_xy(min(lats_ring), min(lons_ring))
    x_max, y_max = proj.to_xy(max(lats_ring), max(lons_ring))
    x_min, y_min, x_max, y_max = x_min - pad, y_min - pad, x_max + pad, y_max + pad
    n_cols = int((float(x_max) - float(x_min)) // _SPACING_M) + 1
    n_rows = int((float(y_max) - float(y_min)) // _SPACING_M) + 1
    jitter = rng.uniform(-_JITTER_M, _JITTER_M, size=(n_rows, n_cols, 2))

    rows, cols = np.mgrid[0:n_rows, 0:n_cols]
    xs = float(x_min) + cols * _SPACING_M + jitter[:, :, 0]
    ys = float(y_min) + rows * _SPACING_M + jitter[:, :, 1]
    lats = proj.lat0 + ys / proj.m_per_deg_lat
    lons = proj.lon0 + xs / proj.m_per_deg_lon
    ring_xy = np.column_stack(proj.to_xy(np.array(lats_ring), np.array(lons_ring)))
    keep = points_in_polygon(lats.ravel(), lons.ravel(), ring) | (
        distance_to_ring_m(xs.ravel(), ys.ravel(), ring_xy) <= _BOUNDARY_BUFFER_M
    )

    graph = nx.DiGraph()
    grid_id: dict[tuple[int, int], int] = {}
    for flat in np.flatnonzero(keep):
        r, c = divmod(int(flat), n_cols)
        node = len(grid_id) + 1
        grid_id[(r, c)] = node
        graph.add_node(node, lat=round(float(lats[r, c]), 7), lon=round(float(lons[r, c]), 7))

    for (r, c), node in sorted(grid_id.items()):
        for (nr, nc), road_class in (((r, c + 1), _line_class(r)), ((r + 1, c), _line_class(c))):
            other = grid_id.get((nr, nc))
            draws = rng.random(5)  # drawn for every candidate so the stream is stable
            if other is None:
                continue
            if road_class != "hutong":
                _add_road(graph, node, other, road_class)
                continue
            if draws[0] < _HUTONG_DROP:
                continue
            oneway = bool(draws[1] < _HUTONG_ONEWAY)
            max_vehicle: str | None = None
            if draws[2] < _HUTONG_TRICYCLE_ONLY:
                max_vehicle = "tricycle"
            elif draws[2] < _HUTONG_TRICYCLE_ONLY + _HUTONG_CAR_ONLY:
                max_vehicle = "car"
            a, b = (node, other) if draws[3] < 0.5 else (other, node)
            _add_road(graph, a, b, "hutong", oneway=oneway, max_vehicle=max_vehicle)

    _make_strongly_connected(graph, Vehicle())
    return graph


def grid_network(n_nodes: int, seed: int = 0, spacing_m: float = 100.0) -> nx.DiGraph:
    """A SYNTHETIC city-scale jittered grid (about ``n_nodes`` nodes) for benchmarks.

    Same road hierarchy as :func:`synthetic_dongcheng` (arterials every 10th
    line, collectors every 5th, slower lanes in between), all two-way and
    unrestricted so it is strongly connected; speeds vary a little per edge.
    Lengths use the local projection (fast for 10^5 edges).
    """
    rng = np.random.default_rng(seed)
    side = max(2, round(math.sqrt(n_nodes)))
    proj = LocalProjection(39.9, 116.4)
    jitter = rng.uniform(-spacing_m * 0.2, spacing_m * 0.2, size=(side, side, 2))
    xs = (np.arange(side)[None, :] - side / 2) * spacing_m + jitter[:, :, 0]
    ys = (np.arange(side)[:, None] - side / 2) * spacing_m + jitter[:, :, 1]
    lat = np.round(proj.lat0 + ys / proj.m_per_deg_lat, 7)
    lon = np.round(proj.lon0 + xs / proj.m_per_deg_lon, 7)
    graph = nx.DiGraph()
    ids = np.arange(side * side).reshape(side, side) + 1
    graph.add_nodes_from(
        (int(ids[r, c]), {"lat": float(lat[r, c]), "lon": float(lon[r, c])})
        for r in range(side)
        for c in range(side)
    )
    classes = {0: "arterial", 5: "collector"}
    speed_noise = rng.uniform(0.85, 1.15, size=(side, side, 2))
    for r in range(side):
        for c in range(side):
            for k, (nr, nc, line) in enumerate(((r, c + 1, r), (r + 1, c, c))):
                if nr >= side or nc >= side:
                    continue
                road_class = classes.get(line % 10, "hutong")
                dx = xs[nr, nc] - xs[r, c]
                dy = ys[nr, nc] - ys[r, c]
                attrs = {
                    "length_m": round(float(math.hypot(dx, dy)), 1),
                    "road_class": road_class,
                    "speed_kmh": round(DEFAULT_SPEED_KMH[road_class] * speed_noise[r, c, k], 2),
                    "oneway": False,
                    "max_vehicle": None,
                }
                a, b = int(ids[r, c]), int(ids[nr, nc])
                graph.add_edge(a, b, **attrs)
                graph.add_edge(b, a, **attrs)
    return graph


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
