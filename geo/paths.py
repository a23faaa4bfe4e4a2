"""Routes as paths: the Route record, seconds along a path, and where a vehicle is on one."""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from geo.network import RoadNetwork, RoadState, Vehicle

__all__ = [
    "MIN_EDGE_SECONDS",
    "Route",
    "edge_seconds",
    "path_seconds",
    "position_near",
    "position_on",
    "route_uses_closed_edge",
]

MIN_EDGE_SECONDS = 1e-6  # csgraph needs strictly positive weights on real edges


@dataclass(frozen=True)
class Route:
    """A path on the network; ``nodes`` are node ids from source to target."""

    nodes: tuple[int, ...]
    length_m: float
    time_s: float

    def feature(self, network: RoadNetwork, **properties: Any) -> dict[str, Any]:
        """The route as a GeoJSON LineString Feature (coordinates are [lon, lat])."""
        coords = [
            [float(network.lon[network.index[n]]), float(network.lat[network.index[n]])]
            for n in self.nodes
        ]
        if len(coords) == 1:
            coords = coords * 2  # a LineString needs two positions
        return {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": coords},
            "properties": {
                "length_m": round(self.length_m, 1),
                "time_s": round(self.time_s, 1),
                **properties,
            },
        }


def edge_seconds(
    network: RoadNetwork, vehicle: Vehicle, *, edges: NDArray[np.int64] | None = None
) -> NDArray[np.float64]:
    """Travel seconds for ``vehicle`` of every edge, or of the ``edges`` given (by index),
    closed or not: what compiled graphs hold, element for element."""
    pick = slice(None) if edges is None else edges
    speed = np.minimum(network.edge_speed_kmh[pick], vehicle.speed_kmh) / 3.6
    seconds: NDArray[np.float64] = np.maximum(network.edge_length_m[pick] / speed, MIN_EDGE_SECONDS)
    return seconds


def path_seconds(
    network: RoadNetwork, nodes: Sequence[int], *, vehicle: Vehicle = Vehicle()
) -> float:
    """Seconds along ``nodes`` (ids) for ``vehicle``, closed roads included (a vehicle
    already past them drove them). Added edge by edge from the first, as the search
    adds them: for a fastest route, the same float as its ``time_s``.

    Examples
    --------
    >>> from geo.network import RoadNetwork, RoadState, grid_network
    >>> from geo.routing import Router
    >>> net = RoadNetwork(grid_network(100, seed=1))
    >>> route = Router(net).route(RoadState(net), 1, 100)
    >>> path_seconds(net, route.nodes) == route.time_s
    True
    """
    edges = np.array(
        [network.edge_index[pair] for pair in itertools.pairwise(nodes)], dtype=np.int64
    )
    total = 0.0
    for seconds in edge_seconds(network, vehicle, edges=edges).tolist():
        total += seconds
    return total


def position_on(network: RoadNetwork, nodes: Sequence[int], fraction: float) -> tuple[int, float]:
    """Where a vehicle that has covered ``fraction`` of a route's length can next turn:
    the index in ``nodes`` of the node it reaches next (it finishes the road it is on),
    and the metres from the start to that node. 0 and 0.0 before it sets off."""
    if fraction <= 0 or len(nodes) < 2:
        return 0, 0.0
    lengths, n, index = network.edge_lengths_by_key, network.n_nodes, network.index
    done = list(
        itertools.accumulate(lengths[index[a] * n + index[b]] for a, b in itertools.pairwise(nodes))
    )
    k = min(bisect.bisect_left(done, fraction * done[-1]), len(done) - 1)
    return k + 1, done[k]


def position_near(
    network: RoadNetwork, nodes: Sequence[int], lat: float, lon: float
) -> tuple[int, float, float]:
    """Where a vehicle seen at (lat, lon), a GPS fix, can next turn on its route: the index
    in ``nodes`` of the node it reaches next (the far end of the route's road nearest the
    fix; the node itself when the fix is on it), the metres from the start to that node,
    and how far the fix is off the route. The earliest of equally near roads is taken."""
    if not nodes:
        return 0, 0.0, 0.0
    at = np.fromiter((network.index[n] for n in nodes), dtype=np.int64, count=len(nodes))
    px, py = network.projection.to_xy(lat, lon)
    if len(nodes) == 1:
        return 0, 0.0, float(math.hypot(network.x[at[0]] - px, network.y[at[0]] - py))
    ax, ay = network.x[at[:-1]], network.y[at[:-1]]
    dx, dy = network.x[at[1:]] - ax, network.y[at[1:]] - ay
    squared = dx * dx + dy * dy
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / np.where(squared > 0, squared, 1.0), 0, 1)
    off = np.hypot(ax + t * dx - px, ay + t * dy - py)
    k = int(np.argmin(off))
    nearest = k if t[k] <= 0 else k + 1
    lengths, n = network.edge_lengths_by_key, network.n_nodes
    done = sum(lengths[int(a) * n + int(b)] for a, b in itertools.pairwise(at[: nearest + 1]))
    return nearest, float(done), float(off[k])


def route_uses_closed_edge(state: RoadState, route: Route) -> bool:
    """True when any step of the route runs on a closed edge (a consistency check)."""
    net = state.network
    closed = state.closed_edges
    return any(bool(closed[net.edge_index[(a, b)]]) for a, b in itertools.pairwise(route.nodes))
