"""Planning on a travel matrix or on the road network: the public planning entry
points, each transfer's route, and the plan's routes as GeoJSON.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from geo.network import RoadState, Snapper, Vehicle
from geo.planning_explain import Routes, finish_plan
from geo.planning_model import (
    Demand,
    DemandColumns,
    DepotRecord,
    Plan,
    PlanInputs,
    PlanOptions,
    ReserveFloor,
    StockLine,
    pick_at,
)
from geo.planning_solver import solve_levels
from geo.planning_supply import cache_for
from geo.routing import Router

__all__ = [
    "RouteFor",
    "columns_of",
    "plan_features",
    "plan_transfers",
    "solve_transfers",
]

RouteFor = Callable[[int, int], tuple[tuple[int, ...], float]]


def columns_of(walked: Sequence[tuple[tuple[int, ...], float]]) -> Routes:
    """(node ids, metres) pairs as two columns."""
    if not walked:
        return [], []
    nodes, lengths = zip(*walked, strict=True)
    return nodes, lengths


def solve_transfers(
    depots: Sequence[DepotRecord],
    stock: Sequence[StockLine],
    floors: Sequence[ReserveFloor],
    demands: Sequence[Demand],
    times: NDArray[np.float64],
    *,
    options: PlanOptions = PlanOptions(),
    depots_out: frozenset[str] = frozenset(),
    route_for: RouteFor | None = None,
) -> Plan:
    """Plan on a given (depots x demands) matrix of travel seconds (``inf`` = no route).

    ``route_for(depot index, demand index)`` gives a transfer's route (node ids
    and metres); :func:`plan_transfers` supplies it from the road network.
    Without it transfers carry no route; everything else is the same.

    Examples
    --------
    Two depots 5 and 10 minutes from one community that needs 12 units:

    >>> import numpy as np
    >>> depots = [DepotRecord("D1"), DepotRecord("D2")]
    >>> stock = [StockLine("D1", "water", "L1", 10), StockLine("D2", "water", "L2", 10)]
    >>> demands = [Demand("r1", "Andingmen", "water", 12, "critical")]
    >>> plan = solve_transfers(depots, stock, [], demands, np.array([[300.0], [600.0]]))
    >>> [(t.depot, t.quantity, t.lots) for t in plan.transfers]
    [('D1', 10, (('L1', 10),)), ('D2', 2, (('L2', 2),))]
    >>> plan.objective_s, plan.unmet_units
    (4200.0, 0)

    A reserve floor at ``D2`` leaves a unit unmet, with its reason:

    >>> floors = [ReserveFloor("D2", "water", 9)]
    >>> plan = solve_transfers(depots, stock, floors, demands, np.array([[300.0], [600.0]]))
    >>> [(u.quantity, u.reason) for u in plan.unmet]
    [(1, 'held_by_reserve_floor')]
    """
    started = time.perf_counter()
    times = np.asarray(times, dtype=float).reshape(len(depots), len(demands))
    inputs = PlanInputs(depots, stock, floors, demands)
    solved = solve_levels(inputs, times, np.arange(len(demands)), options, depots_out)
    allocated = time.perf_counter()
    routes: Routes | None = None
    if route_for is not None:
        by_pair: dict[tuple[int, int], tuple[tuple[int, ...], float]] = {}
        walked = []
        for pair in zip(solved.dep.tolist(), solved.dem.tolist(), strict=True):
            if pair not in by_pair:
                by_pair[pair] = route_for(*pair)
            walked.append(by_pair[pair])
        routes = columns_of(walked)
    routed = time.perf_counter()
    plan = finish_plan(solved, depots, demands, times, options, routes)
    done = time.perf_counter()
    return replace(
        plan,
        runtime_s=done - started,
        timings={
            "solve_s": (allocated - started) + (done - routed),
            "routes_s": routed - allocated,
        },
    )


def _nodes_of(
    nodes: Sequence[int | None],
    lats: Sequence[float | None],
    lons: Sequence[float | None],
    names: Sequence[str],
    state: RoadState,
    vehicle: Vehicle,
    snapper: Snapper | None,
) -> NDArray[np.int64]:
    """Road nodes of depots or demands: their own node, else their lat/lon snapped (batched).

    Many demand lines share a place, so each distinct place (a node, or a
    lat/lon pair) is resolved once.
    """
    if None not in nodes:
        return np.array(nodes, dtype=np.int64)
    if all(n is None for n in nodes):
        keys: list[object] = list(zip(lats, lons, strict=True))
    else:
        keys = [
            (lat, lon) if n is None else n for n, lat, lon in zip(nodes, lats, lons, strict=True)
        ]
    place: dict[object, int] = {}
    which = [place.setdefault(k, len(place)) for k in keys]
    distinct = list(place)
    points = [k for k in distinct if isinstance(k, tuple)]
    for lat, lon in points:
        if lat is None or lon is None:
            raise ValueError(f"{names[keys.index((lat, lon))]} needs a node or lat/lon")
    if snapper is None:
        snapper = Snapper(state.network, state.network.usable_nodes(vehicle))
    snapped = iter(
        snapper.nearest_nodes([float(p[0]) for p in points], [float(p[1]) for p in points])
    )
    resolved = np.array(
        [next(snapped) if isinstance(k, tuple) else k for k in distinct], dtype=np.int64
    )
    return resolved[np.array(which, dtype=np.int64)]


def plan_transfers(
    depots: Sequence[DepotRecord],
    stock: Sequence[StockLine],
    floors: Sequence[ReserveFloor],
    demands: Sequence[Demand],
    state: RoadState,
    router: Router,
    *,
    options: PlanOptions = PlanOptions(),
    snapper: Snapper | None = None,
) -> Plan:
    """Plan on the road network: travel matrix, solve, then a route per transfer.

    Places given by lat/lon are snapped with ``snapper`` (default: every node
    the vehicle can use on the base network, so a place inside a closure stays
    where it is and shows up as unreachable instead of moving).

    Examples
    --------
    >>> from geo.network import RoadNetwork, RoadState, grid_network
    >>> from geo.routing import Router
    >>> net = RoadNetwork(grid_network(100, seed=1))
    >>> depots = [DepotRecord("D1", node=1), DepotRecord("D2", node=100)]
    >>> stock = [StockLine("D1", "water", "L1", 10), StockLine("D2", "water", "L2", 10)]
    >>> demands = [Demand("r1", "Andingmen", "water", 12, "critical", node=51)]
    >>> plan = plan_transfers(depots, stock, [], demands, RoadState(net), Router(net))
    >>> [(t.depot, t.quantity, round(t.travel_s, 1), t.route[0], t.route[-1])
    ...  for t in plan.transfers]
    [('D1', 10, 69.5, 1, 51), ('D2', 2, 221.0, 100, 51)]
    """
    started = time.perf_counter()
    with _gc_paused() as was_enabled:
        inputs = PlanInputs(depots, stock, floors, demands)
        plan = _plan_on_network(inputs, state, router, options, snapper)
    if was_enabled:
        # The collection the pause held back (usually run by the collector itself as
        # it resumes), made here so that the plan's time includes it.
        gc.collect(0)
    total = time.perf_counter() - started
    return replace(plan, runtime_s=total, timings={**plan.timings, "total_s": total})


@contextmanager
def _gc_paused() -> Iterator[bool]:
    """Pause Python's cyclic garbage collector while a plan is built; yield whether it ran.

    A plan creates thousands of records and route tuples, all of which it
    keeps (no cycles to find), and each collection triggered meanwhile would
    walk them again along with every long-lived object of the process (a road
    graph alone holds tens of thousands). Measured over many plans in a row,
    the pause saves time per plan. It is process-wide, so a plan in another
    thread only re-enables it if it was the one that paused it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield was_enabled
    finally:
        if was_enabled:
            gc.enable()


def _plan_on_network(
    inputs: PlanInputs,
    state: RoadState,
    router: Router,
    options: PlanOptions,
    snapper: Snapper | None,
) -> Plan:
    started = time.perf_counter()
    depots, demands = inputs.depots, inputs.demands
    vehicle = options.vehicle
    depot_nodes = _nodes_of(
        [d.node for d in depots],
        [d.lat for d in depots],
        [d.lon for d in depots],
        [d.code for d in depots],
        state,
        vehicle,
        snapper,
    )
    cols = DemandColumns.of(demands)
    demand_nodes = _nodes_of(cols.nodes, cols.lats, cols.lons, cols.ids, state, vehicle, snapper)
    source_nodes, depot_row = np.unique(depot_nodes, return_inverse=True)
    target_nodes, demand_col = np.unique(demand_nodes, return_inverse=True)
    depot_row = np.asarray(depot_row, dtype=np.int64).ravel()
    demand_col = np.asarray(demand_col, dtype=np.int64).ravel()
    targets: list[int] = target_nodes.tolist()
    matrix = router.travel_matrix(
        state, source_nodes.tolist(), targets, vehicle=vehicle, limit_s=options.max_travel_s
    )
    # Depots x places (not x demand lines): demands at one place share a column.
    times = matrix.times_s[depot_row]
    matrix_done = time.perf_counter()
    cache = cache_for(router)
    solved = solve_levels(
        inputs, times, demand_col, options, state.depots_out, cache=cache, columns=cols
    )
    allocated = time.perf_counter()
    # One route per (source, target) pair: many transfers share one.
    pair_key = depot_row[solved.dep] * len(targets) + solved.col[solved.dem]
    keys, which = np.unique(pair_key, return_inverse=True)
    paths = matrix.paths_at(keys // len(targets), keys % len(targets))
    nodes, lengths = columns_of(paths)
    at = np.asarray(which).ravel().tolist()
    routes = (pick_at(nodes, at), pick_at(lengths, at))
    routed = time.perf_counter()
    plan = finish_plan(solved, depots, demands, times, options, routes)
    done = time.perf_counter()
    timings = {
        "matrix_s": matrix_done - started,
        "solve_s": (allocated - matrix_done) + (done - routed),
        "routes_s": routed - allocated,
        "total_s": done - started,
    }
    return replace(plan, runtime_s=done - started, timings=timings)


def plan_features(plan: Plan, state: RoadState) -> dict[str, Any]:
    """The plan's routes as a GeoJSON FeatureCollection (one LineString per transfer).

    Examples
    --------
    >>> from geo.network import RoadNetwork, RoadState, grid_network
    >>> from geo.routing import Router
    >>> net = RoadNetwork(grid_network(100, seed=1))
    >>> state = RoadState(net)
    >>> depots = [DepotRecord("D1", node=1)]
    >>> demands = [Demand("r1", "Andingmen", "water", 5, node=51)]
    >>> plan = plan_transfers(depots, [StockLine("D1", "water", "L1", 10)], [], demands, state,
    ...                       Router(net))
    >>> collection = plan_features(plan, state)
    >>> [f["geometry"]["type"] for f in collection["features"]]
    ['LineString']
    >>> collection["features"][0]["properties"]["quantity"]
    5
    """
    net = state.network
    features = []
    for t in plan.transfers:
        if not t.route:
            continue
        coords = [[float(net.lon[net.index[n]]), float(net.lat[net.index[n]])] for n in t.route]
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "LineString",
                    "coordinates": coords * (2 if len(coords) == 1 else 1),
                },
                "properties": {
                    "depot": t.depot,
                    "demand": t.demand_id,
                    "community": t.community,
                    "item": t.item,
                    "quantity": t.quantity,
                    "length_m": round(t.route_length_m, 1),
                    "time_s": round(t.travel_s, 1),
                    "eta_s": round(t.eta_s, 1),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}
