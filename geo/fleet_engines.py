"""Engine adapters for fleet routing: PyVRP, VROOM and OR-Tools on one integer model.

:func:`geo.fleet.plan_runs` turns a :class:`~geo.fleet_records.FleetProblem`
into an :class:`EngineInput` (integer seconds, scaled loads, parts of split
stops, only staffed vehicles and stops some vehicle can reach in time) and
each adapter returns, per vehicle, its trips as lists of part indices. What
an engine returns is checked and timed again by the caller, so an adapter
can not make a plan break a rule.

Engines and what they model here:

* PyVRP (``pyvrp``): heterogeneous fleet (one routing profile per kind),
  multiple trips (reloads at the vehicle's own depot), time windows, optional
  clients with prizes. Deterministic: it stops after a fixed number of
  iterations derived from the budget (:func:`pyvrp_iterations`), seeded.
* VROOM (``vroom``): same, but one trip per vehicle (VROOM has no reloads).
* OR-Tools routing: same, one trip per vehicle, disjunction penalties,
  guided local search stopped by the time limit (not deterministic).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pyvrp
import pyvrp.search as ps
import vroom
from numpy.typing import NDArray
from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from pyvrp.stop import (
    MaxIterations,
    MaxRuntime,
    MultipleCriteria,
    NoImprovement,
    StoppingCriterion,
)

__all__ = [
    "ENGINES",
    "EngineInput",
    "EnginePart",
    "EngineVehicle",
    "Trips",
    "inversion_penalty",
    "pyvrp_iterations",
    "solve_ortools",
    "solve_pyvrp",
    "solve_vroom",
]

Trips = list[list[list[int]]]  # per vehicle, per trip, part indices in visiting order

# What a PyVRP iteration costs, in microseconds, measured on this 2-core machine
# (PyVRP 0.14): ~350 with 21 parts and 4 vehicles (E-n22-k4), ~1,800 with 169
# parts and 40 vehicles (Dongcheng), ~10,000 with 403 parts and 96 vehicles (a
# city region): the larger of a per-part and a per-(part x vehicle) cost. Set-up
# (matrices, neighbourhoods, first local search) costs about 1 ms per part.
_PYVRP_US_PER_PART = 12.0
_PYVRP_US_PER_PART_VEHICLE = 0.2
_PYVRP_SETUP_US_PER_PART = 1000.0
_PYVRP_MIN_ITERATIONS = 100
_SAFETY_FACTOR = 10.0  # the wall-clock cap, as a multiple of the budget (a busy machine)
# Operators that matter for these problems (no shipments, groups or pickups):
# fewer operators make each iteration cheaper for the same search.
_PYVRP_OPERATORS = (
    ps.Relocate1,
    ps.Relocate2,
    ps.Swap11,
    ps.Swap21,
    ps.Swap22,
    ps.SwapTails,
    ps.RelocateWithDepot,
    ps.RemoveAdjacentDepot,
    ps.RemoveOptionalClient,
    ps.InsertOptionalClient,
    ps.ReplaceOptionalClient,
)
_PYVRP_NEIGHBOURS = 50
INVERSION_PENALTY_S = 3600  # an hour's travel: costly, but still far below a prize
_REGION_PARTS = 300  # larger models are solved region by region
_VROOM_FULL_PARTS = 1000  # VROOM explores at level 5 up to this many parts, else 2


@dataclass(frozen=True)
class EngineVehicle:
    kind: str
    location: int
    capacity: tuple[int, int]  # 0.1 kg, litres
    start_s: int
    end_s: int
    max_trips: int


@dataclass(frozen=True)
class EnginePart:
    location: int
    demand: tuple[int, int]
    service_s: int
    latest_s: int  # latest arrival (the vehicle's horizon when the stop has no need-by)
    prize: int
    priority: int = 0


@dataclass(frozen=True)
class EngineInput:
    n_locations: int
    times: dict[str, NDArray[np.int64]]  # unreachable = ``big``
    big: int
    vehicles: list[EngineVehicle]
    parts: list[EnginePart]


def inversion_penalty(model: EngineInput, n_depots: int) -> NDArray[np.int64]:
    """Extra arc cost from a part to a more critical one (depots first, then the parts).

    The engines have no precedence rule: this cost steers them towards trips
    that visit the more critical stops first, so that the order the caller
    enforces afterwards (:func:`geo.fleet_repair.priority_order`) changes little.
    """
    prio = np.array([p.priority for p in model.parts], dtype=np.int64)
    n = n_depots + len(prio)
    out = np.zeros((n, n), dtype=np.int64)
    out[n_depots:, n_depots:] = np.where(prio[None, :] > prio[:, None], INVERSION_PENALTY_S, 0)
    return out


def pyvrp_iterations(n_parts: int, n_vehicles: int, time_limit_s: float) -> int:
    """The fixed iteration count PyVRP runs for a budget: same budget, same plan.

    Estimated to fill the budget on this machine; a slower machine takes longer
    for the same plan (up to the wall-clock cap of :data:`_SAFETY_FACTOR` x).
    """
    cost = max(_PYVRP_US_PER_PART * n_parts, _PYVRP_US_PER_PART_VEHICLE * n_parts * n_vehicles)
    free = time_limit_s * 1e6 - _PYVRP_SETUP_US_PER_PART * n_parts
    return max(_PYVRP_MIN_ITERATIONS, int(free / max(cost, 1.0)))


def _vehicle_groups(model: EngineInput) -> list[list[int]]:
    """Vehicles that are interchangeable for an engine (same kind, depot, capacity, shift)."""
    groups: dict[EngineVehicle, list[int]] = {}
    for k, v in enumerate(model.vehicles):
        groups.setdefault(v, []).append(k)
    return list(groups.values())


def _regions(model: EngineInput) -> list[tuple[list[int], list[int]]]:
    """(vehicles, parts) of each region: depots grouped around spread-out seed depots.

    Seeds are picked farthest-first on the fastest kind's times (deterministic:
    the first seed is the first depot); every depot joins its nearest seed,
    every part the region of its nearest depot.
    """
    n_regions = max(1, math.ceil(len(model.parts) / _REGION_PARTS))
    depots = sorted({v.location for v in model.vehicles})
    if n_regions == 1 or len(depots) < 2:
        return [(list(range(len(model.vehicles))), list(range(len(model.parts))))]
    fastest = np.minimum.reduce([m for m in model.times.values()])
    d = np.array(depots, dtype=np.int64)
    between = np.minimum(fastest[np.ix_(d, d)], fastest[np.ix_(d, d)].T).astype(float)
    seeds = [0]
    nearest = between[0].copy()
    while len(seeds) < min(n_regions, len(depots)):
        nxt = int(np.argmax(nearest))
        seeds.append(nxt)
        nearest = np.minimum(nearest, between[nxt])
    region_of_depot = np.argmin(between[:, seeds], axis=1)
    locs = np.array([p.location for p in model.parts], dtype=np.int64)
    region_of_part = region_of_depot[np.argmin(fastest[np.ix_(d, locs)], axis=0)]
    depot_index = {loc: i for i, loc in enumerate(depots)}
    out = []
    for r in range(len(seeds)):
        vs = [
            k for k, v in enumerate(model.vehicles) if region_of_depot[depot_index[v.location]] == r
        ]
        ps = [int(i) for i in np.flatnonzero(region_of_part == r)]
        if vs and ps:
            out.append((vs, ps))
    return out


def solve_pyvrp(
    model: EngineInput,
    *,
    time_limit_s: float,
    seed: int,
    patience: int | None = None,
    iterations: int | None = None,
) -> Trips:
    """PyVRP's iterated local search, region by region on large models.

    A model of more than :data:`_REGION_PARTS` parts is cut into regions
    (:func:`_regions`) solved one after another, each with its share of the
    budget by parts; parts left over are for the caller's re-insertion.
    ``patience``: also stop after that many iterations without a better
    solution (still deterministic: counted in iterations, not seconds), so a
    small model does not spend the whole budget on a plan found at once.
    ``iterations``: stop after exactly that many iterations (each region), with no
    wall-clock cap at all, so the plan is the same on any machine however loaded
    (scenario replay, whose hash must not depend on the machine).
    """
    regions = _regions(model)
    if len(regions) == 1:
        return _solve_pyvrp_whole(
            model, time_limit_s=time_limit_s, seed=seed, patience=patience, iterations=iterations
        )
    out: Trips = [[] for _ in model.vehicles]
    for vs, members in regions:
        sub = EngineInput(
            model.n_locations,
            model.times,
            model.big,
            [model.vehicles[k] for k in vs],
            [model.parts[p] for p in members],
        )
        share = time_limit_s * len(members) / len(model.parts)
        trips = _solve_pyvrp_whole(
            sub, time_limit_s=share, seed=seed, patience=patience, iterations=iterations
        )
        for k, run in zip(vs, trips, strict=True):
            out[k] = [[members[p] for p in trip] for trip in run]
    return out


def _stop_criteria(
    model: EngineInput, time_limit_s: float, patience: int | None, iterations: int | None
) -> MultipleCriteria:
    """When PyVRP stops: the budget's iteration count, capped on the clock, or exactly
    `iterations` with no clock; and after `patience` iterations without a better plan."""
    criteria: list[StoppingCriterion] = (
        [MaxIterations(iterations)]
        if iterations is not None
        else [
            MaxIterations(pyvrp_iterations(len(model.parts), len(model.vehicles), time_limit_s)),
            MaxRuntime(time_limit_s * _SAFETY_FACTOR),
        ]
    )
    if patience is not None:
        criteria.append(NoImprovement(patience))
    return MultipleCriteria(criteria)


def _solve_pyvrp_whole(
    model: EngineInput,
    *,
    time_limit_s: float,
    seed: int,
    patience: int | None,
    iterations: int | None = None,
) -> Trips:
    """PyVRP's iterated local search on the whole model, reloads at each vehicle's depot."""
    kinds = sorted(model.times)
    profile = {k: i for i, k in enumerate(kinds)}
    depot_locs = sorted({v.location for v in model.vehicles})
    depot_of = {loc: i for i, loc in enumerate(depot_locs)}
    # PyVRP numbers depots first, then clients, each at its own location index.
    locs = [*depot_locs, *(p.location for p in model.parts)]
    index = np.array(locs, dtype=np.int64)
    mats = [model.times[k][np.ix_(index, index)] for k in kinds]
    penalty = inversion_penalty(model, len(depot_locs))
    costs = [m + penalty for m in mats]
    depots = [pyvrp.Depot(location=i) for i in range(len(depot_locs))]
    clients = [
        pyvrp.Client(
            location=len(depot_locs) + i,
            delivery=list(p.demand),
            service_duration=p.service_s,
            tw_late=p.latest_s,
            prize=p.prize,
            required=False,
        )
        for i, p in enumerate(model.parts)
    ]
    groups = _vehicle_groups(model)
    types = []
    for members in groups:
        v = model.vehicles[members[0]]
        d = depot_of[v.location]
        types.append(
            pyvrp.VehicleType(
                num_available=len(members),
                capacity=list(v.capacity),
                start_depot=d,
                end_depot=d,
                tw_early=v.start_s,
                tw_late=v.end_s,
                profile=profile[v.kind],
                reload_depots=[d] if v.max_trips > 1 else [],
                max_reloads=v.max_trips - 1,
            )
        )
    locations = [pyvrp.Location(x=0, y=0) for _ in locs]
    data = pyvrp.ProblemData(locations, clients, depots, types, costs, mats)  # type: ignore[arg-type]
    stop = _stop_criteria(model, time_limit_s, patience, iterations)
    params = pyvrp.SolveParams(
        neighbourhood=ps.NeighbourhoodParams(num_neighbours=_PYVRP_NEIGHBOURS),
        operators=list(_PYVRP_OPERATORS),
    )
    result = pyvrp.solve(
        data, stop=stop, seed=seed, collect_stats=False, display=False, params=params
    )
    out: Trips = [[] for _ in model.vehicles]
    free = [list(members) for members in groups]
    for route in result.best.routes():
        vehicle = free[route.vehicle_type()].pop(0)
        trips: list[list[int]] = [[]]
        for act in route.schedule():
            if act.is_depot():
                if trips[-1]:
                    trips.append([])
            else:
                trips[-1].append(int(act.idx))  # the client's own index
        out[vehicle] = [t for t in trips if t]
    return out


def solve_vroom(
    model: EngineInput, *, time_limit_s: float, seed: int, patience: int | None = None
) -> Trips:
    """VROOM with the budget as its timeout (one trip per vehicle); no ``patience``.

    ``seed`` is unused: VROOM's search has no random seed.
    """
    del seed
    problem = vroom.Input()
    depot_locs = sorted({v.location for v in model.vehicles})
    depot_of = {loc: i for i, loc in enumerate(depot_locs)}
    n_depots = len(depot_locs)
    index = np.array([*depot_locs, *(p.location for p in model.parts)], dtype=np.int64)
    penalty = inversion_penalty(model, n_depots)
    # A leg longer than every shift can never be driven: capped there, VROOM's
    # cost bound stays small enough (it refuses huge matrix values).
    cap = max((v.end_s for v in model.vehicles), default=0) + 1
    for kind, full in model.times.items():
        durations = np.minimum(full[np.ix_(index, index)], cap)
        problem.set_durations_matrix(profile=kind, matrix_input=durations.astype(np.uint32))
        problem.set_costs_matrix(profile=kind, matrix_input=(durations + penalty).astype(np.uint32))
    for k, v in enumerate(model.vehicles):
        problem.add_vehicle(
            vroom.Vehicle(
                id=k,
                start=depot_of[v.location],
                end=depot_of[v.location],
                profile=v.kind,
                capacity=list(v.capacity),
                time_window=vroom.TimeWindow(v.start_s, v.end_s),
            )
        )
    top = max((p.prize for p in model.parts), default=1)
    for i, p in enumerate(model.parts):
        problem.add_job(
            vroom.Job(
                id=i,
                location=n_depots + i,
                default_service=p.service_s,
                delivery=vroom.Amount(list(p.demand)),
                priority=max(0, min(100, round(100 * p.prize / top))),
                time_windows=[vroom.TimeWindow(0, p.latest_s)],
            )
        )
    # VROOM's timeout does not bound its construction phase, which at level 5
    # took ~2 minutes on the city case: large models get a lighter level.
    level = 5 if len(model.parts) <= _VROOM_FULL_PARTS else 2
    solution = problem.solve(
        exploration_level=level, nb_threads=2, timeout=timedelta(seconds=time_limit_s)
    )
    out: Trips = [[] for _ in model.vehicles]
    routes = solution.routes
    jobs = routes[routes["type"] == "job"]
    for vehicle_id, rows in jobs.groupby("vehicle_id", sort=True):
        out[int(vehicle_id)] = [[int(j) for j in rows["id"].tolist()]]
    return out


def _ortools_callbacks(
    model: EngineInput, routing: pywrapcp.RoutingModel, locs: NDArray[np.int64]
) -> dict[str, tuple[int, int]]:
    """Per kind: (arc cost callback, time callback incl. the service at the tail)."""
    service = np.zeros(len(locs), dtype=np.int64)
    n_depots = len(locs) - len(model.parts)
    service[n_depots:] = [p.service_s for p in model.parts]
    out = {}
    penalty = inversion_penalty(model, n_depots)
    for kind, full in model.times.items():
        travel = full[np.ix_(locs, locs)]
        cost = routing.RegisterTransitMatrix((travel + penalty).tolist())
        timed = routing.RegisterTransitMatrix((travel + service[:, None]).tolist())
        out[kind] = (cost, timed)
    return out


def solve_ortools(
    model: EngineInput, *, time_limit_s: float, seed: int, patience: int | None = None
) -> Trips:
    """OR-Tools routing: cheapest-arc start, guided local search for the budget (one trip);
    it ignores ``patience``."""
    del seed  # the routing solver takes no seed; its time-limited search is not repeatable
    depot_locs = sorted({v.location for v in model.vehicles})
    depot_of = {loc: i for i, loc in enumerate(depot_locs)}
    locs = np.array([*depot_locs, *(p.location for p in model.parts)], dtype=np.int64)
    n_depots = len(depot_locs)
    starts = [depot_of[v.location] for v in model.vehicles]
    manager = pywrapcp.RoutingIndexManager(len(locs), len(model.vehicles), starts, starts)
    routing = pywrapcp.RoutingModel(manager)
    callbacks = _ortools_callbacks(model, routing, locs)
    for k, v in enumerate(model.vehicles):
        routing.SetArcCostEvaluatorOfVehicle(callbacks[v.kind][0], k)
    horizon = max((v.end_s for v in model.vehicles), default=0)
    routing.AddDimensionWithVehicleTransits(
        [callbacks[v.kind][1] for v in model.vehicles], 0, horizon, False, "time"
    )
    time_dim = routing.GetDimensionOrDie("time")
    for dim in (0, 1):
        demand = [0] * n_depots + [p.demand[dim] for p in model.parts]
        unary = routing.RegisterUnaryTransitVector(demand)
        caps = [v.capacity[dim] for v in model.vehicles]
        routing.AddDimensionWithVehicleCapacity(unary, 0, caps, True, f"load{dim}")
    for i, p in enumerate(model.parts):
        index = manager.NodeToIndex(n_depots + i)
        time_dim.CumulVar(index).SetRange(0, p.latest_s)
        routing.AddDisjunction([index], p.prize)
    for k, v in enumerate(model.vehicles):
        time_dim.CumulVar(routing.Start(k)).SetRange(v.start_s, v.end_s)
        time_dim.CumulVar(routing.End(k)).SetRange(v.start_s, v.end_s)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(max(1, math.ceil(time_limit_s * 1000)))
    solution = routing.SolveWithParameters(params)
    out: Trips = [[] for _ in model.vehicles]
    if solution is None:
        return out
    for k in range(len(model.vehicles)):
        index = solution.Value(routing.NextVar(routing.Start(k)))
        trip = []
        while not routing.IsEnd(index):
            trip.append(manager.IndexToNode(index) - n_depots)
            index = solution.Value(routing.NextVar(index))
        out[k] = [trip] if trip else []
    return out


Engine = Callable[..., Trips]
ENGINES: dict[str, Engine] = {"pyvrp": solve_pyvrp, "vroom": solve_vroom, "ortools": solve_ortools}
