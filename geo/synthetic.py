"""Synthetic road networks: the shipped stand-in for Dongcheng and test grids."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np

from geo.coords import distance_m
from geo.geometry import LocalProjection, distance_to_ring_m, points_in_polygon
from geo.road_files import load_boundary
from geo.vehicles import (
    DEFAULT_SPEED_KMH,
    Vehicle,
    vehicle_allowed,
)

__all__ = [
    "DONGCHENG_SEED",
    "grid_network",
    "synthetic_dongcheng",
]

DONGCHENG_SEED = 110101

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


def synthetic_dongcheng(*, seed: int = DONGCHENG_SEED) -> nx.DiGraph:
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


def grid_network(n_nodes: int, *, seed: int = 0, spacing_m: float = 100.0) -> nx.DiGraph:
    """A SYNTHETIC city-scale jittered grid (about ``n_nodes`` nodes) for benchmarks.

    Same road hierarchy as :func:`synthetic_dongcheng` (arterials every 10th
    line, collectors every 5th, slower lanes in between), all two-way and
    unrestricted so it is strongly connected; speeds vary a little per edge.
    Lengths use the local projection (fast for 10^5 edges).

    Examples
    --------
    >>> graph = grid_network(100, seed=1)
    >>> graph.number_of_nodes(), graph.number_of_edges()
    (100, 360)
    >>> sorted(graph.edges[1, 2])
    ['length_m', 'max_vehicle', 'oneway', 'road_class', 'speed_kmh']
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
