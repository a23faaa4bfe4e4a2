"""Fleet routing records: vehicles, stops and the problem they make on a road network.

The records are what :func:`geo.fleet.plan_runs` takes. A problem carries one
travel-time matrix (seconds) and one distance matrix (metres) per vehicle kind
among its depots and stops, built with :meth:`geo.routing.Router.travel_matrix`
for that kind's routing profile, so lanes a kind does not fit are simply not
in its matrix (``inf``). The distance of a pair is the length of the fastest
path, summed along the shortest-path tree of its source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from geo.network import RoadState
from geo.routing import Router, Tree
from geo.vehicles import VEHICLE_WIDTH_M, Vehicle

__all__ = [
    "DEFAULT_HORIZON_S",
    "KIND_SPEED_KMH",
    "FleetProblem",
    "FleetVehicle",
    "Stop",
    "build_problem",
]

# Speed profile of each vehicle kind on an open road (the edge's own speed caps it).
KIND_SPEED_KMH: dict[str, float] = {"tricycle": 15.0, "car": 30.0, "van": 25.0, "truck": 20.0}
DEFAULT_HORIZON_S = 12 * 3600.0  # a shift without its own window runs within this
_SOURCES_PER_ROUTER = 128  # trees kept at once while matrices are built (memory bound)


@dataclass(frozen=True)
class FleetVehicle:
    """One vehicle of a depot's fleet.

    ``shift`` is (start, end) in seconds from the plan's start; ``None`` means
    the problem's whole horizon. ``crew`` is the number of people it needs;
    ``max_trips`` bounds how often it leaves its depot loaded within the shift.

    Examples
    --------
    >>> van = FleetVehicle("V1", depot=12, kind="van", payload_kg=1200, volume_m3=8)
    >>> van.profile
    Vehicle(kind='van', speed_kmh=25.0)
    """

    id: str
    depot: int
    kind: str
    payload_kg: float
    volume_m3: float
    crew: int = 1
    shift: tuple[float, float] | None = None
    max_trips: int = 3

    def __post_init__(self) -> None:
        if self.kind not in VEHICLE_WIDTH_M:
            raise ValueError(f"unknown vehicle kind {self.kind!r}")
        if self.max_trips < 1:
            raise ValueError("max_trips must be at least 1")

    @property
    def profile(self) -> Vehicle:
        """The routing profile of this vehicle's kind (lanes it fits, top speed)."""
        return Vehicle(self.kind, KIND_SPEED_KMH[self.kind])

    def window(self, horizon_s: float) -> tuple[float, float]:
        return self.shift if self.shift is not None else (0.0, horizon_s)


@dataclass(frozen=True)
class Stop:
    """A community (or shelter) where a load is handed over.

    ``priority``: higher is more critical. ``need_by_s``: the latest arrival,
    in seconds from the plan's start; ``None`` when any time in the shift will do.
    """

    id: str
    node: int
    weight_kg: float
    volume_m3: float
    handling_s: float = 300.0
    need_by_s: float | None = None
    priority: int = 0


@dataclass(frozen=True, eq=False)
class FleetProblem:
    """Vehicles, stops and per-kind matrices among ``nodes`` (depots and stops).

    ``travel_s[kind][i, j]`` is the travel time from ``nodes[i]`` to
    ``nodes[j]`` for that kind (``inf`` where it cannot go); ``metres`` alike.
    ``crew_available`` (by depot node) limits which vehicles can be staffed,
    in the order given; ``None`` staffs every vehicle.
    """

    vehicles: tuple[FleetVehicle, ...]
    stops: tuple[Stop, ...]
    nodes: tuple[int, ...]
    travel_s: Mapping[str, NDArray[np.float64]]
    metres: Mapping[str, NDArray[np.float64]]
    crew_available: Mapping[int, int] | None = None
    horizon_s: float = DEFAULT_HORIZON_S
    location: dict[int, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "location", {n: i for i, n in enumerate(self.nodes)})
        for v in self.vehicles:
            if v.kind not in self.travel_s or v.depot not in self.location:
                raise ValueError(f"vehicle {v.id}: no matrix for {v.kind} at node {v.depot}")
        missing = [s.id for s in self.stops if s.node not in self.location]
        if missing:
            raise ValueError(f"stops not among the problem's nodes: {missing[:5]}")


def _tree_metres(router: Router, tree: Tree, targets: NDArray[np.int64]) -> NDArray[np.float64]:
    """Metres along the tree from its source to each target (``inf`` if not reached).

    Each node's length is its in-edge's plus its predecessor's: summed for all
    nodes at once by pointer jumping (log of the tree's depth numpy steps).
    """
    net = router.network
    nodes, parent = tree.walk_table()
    pred = tree.reached()[1].astype(np.int64)
    has = parent >= 0
    keys = pred[has] * net.n_nodes + nodes[has]
    acc = np.zeros(len(nodes))
    acc[has] = net.edge_length_m[np.searchsorted(net.edge_key, keys)]
    jump = parent.copy()
    while True:
        live = np.flatnonzero(jump >= 0)
        if not live.size:
            break
        up = jump[live]
        acc[live] = acc[live] + acc[up]
        jump[live] = jump[up]
    dist = tree.dist_at(targets)
    pos = np.minimum(np.searchsorted(nodes, targets), len(nodes) - 1)
    return np.where(np.isfinite(dist), acc[pos], np.inf)


def _kind_matrices(
    state: RoadState, nodes: Sequence[int], profile: Vehicle, limit_s: float | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    net = state.network
    n = len(nodes)
    seconds = np.full((n, n), np.inf)
    metres = np.full((n, n), np.inf)
    targets = np.array([net.index[t] for t in nodes], dtype=np.int64)
    for start in range(0, n, _SOURCES_PER_ROUTER):
        block = list(nodes[start : start + _SOURCES_PER_ROUTER])
        router = Router(net)  # fresh per block: its cache would keep every tree
        matrix = router.travel_matrix(state, block, list(nodes), vehicle=profile, limit_s=limit_s)
        seconds[start : start + len(block)] = matrix.times_s
        trees = router.trees(state, block, vehicle=profile, limit_s=limit_s)
        for k, s in enumerate(block):
            metres[start + k] = _tree_metres(router, trees[net.index[s]], targets)
    return seconds, metres


def build_problem(
    state: RoadState,
    vehicles: Sequence[FleetVehicle],
    stops: Sequence[Stop],
    *,
    limit_s: float | None = None,
    crew_available: Mapping[int, int] | None = None,
    horizon_s: float = DEFAULT_HORIZON_S,
    speed_cap_kmh: float | None = None,
) -> FleetProblem:
    """The problem on a road state: one matrix pair per vehicle kind in the fleet.

    ``limit_s`` bounds each search (farther counts as unreachable), which keeps
    city-scale matrices local. ``speed_cap_kmh``: no kind drives faster than that
    (a scenario's flooded lanes), each kind at the lower of its speed and the cap.

    Examples
    --------
    >>> from geo.network import RoadNetwork, grid_network
    >>> net = RoadNetwork(grid_network(100, seed=1))
    >>> van = FleetVehicle("V1", depot=1, kind="van", payload_kg=1000, volume_m3=6)
    >>> problem = build_problem(RoadState(net), [van], [Stop("S1", 100, 200, 1.0)])
    >>> problem.nodes, sorted(problem.travel_s)
    ((1, 100), ['van'])
    >>> round(float(problem.travel_s["van"][0, 1])), round(float(problem.metres["van"][0, 1]))
    (291, 1769)
    """
    nodes = tuple(dict.fromkeys([*(v.depot for v in vehicles), *(s.node for s in stops)]))
    kinds = sorted({v.kind for v in vehicles})
    travel: dict[str, NDArray[np.float64]] = {}
    metres: dict[str, NDArray[np.float64]] = {}
    for kind in kinds:
        speed = KIND_SPEED_KMH[kind]
        profile = Vehicle(kind, speed if speed_cap_kmh is None else min(speed, speed_cap_kmh))
        travel[kind], metres[kind] = _kind_matrices(state, nodes, profile, limit_s)
    return FleetProblem(
        tuple(vehicles), tuple(stops), nodes, travel, metres, crew_available, horizon_s
    )
