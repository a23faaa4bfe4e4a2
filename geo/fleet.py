"""Vehicle routing of allocated loads: runs a fleet can drive (issue 18, part 2).

:func:`plan_runs` takes a :class:`~geo.fleet_records.FleetProblem` (vehicles
at depots, stops with loads, per-kind matrices) and returns a
:class:`FleetPlan`: each vehicle's run as trips from its depot, stops in
order with arrival and departure times and the load on board per leg, and
every stop it could not serve with a reason.

Rules, in the order they are applied:

1. *Crew*: vehicles are staffed in the order given while their depot has
   ``crew_available`` left; unstaffed vehicles are not used.
2. *Reasons decided before routing*: a stop no vehicle kind can reach and
   leave (matrix ``inf``) is ``no_vehicle_fits_lanes``; one only unstaffed
   vehicles could reach is ``no_crew``; one no staffed vehicle can reach by
   its need-by time (straight from its depot at the shift start) is
   ``after_need_by``.
3. *Splitting*: a stop heavier or bulkier than every vehicle that can reach
   it in time is split into equal parts that each fit the largest of them.
4. *Routing* by the engine (PyVRP, chosen from the benchmark in
   ``geo/README.md``): need-by times are hard time windows (late arrival is
   forbidden); stops are optional with a prize that grows with priority, so
   when the fleet cannot take everything the less critical stops are left
   (``over_capacity``).
5. *Priorities: a hard rule, helped by a penalty.* On each vehicle a stop is
   never served after a stop of lower priority. The engine pays
   ``INVERSION_PENALTY_S`` (an hour) for each arc from a stop to a more
   critical one, so its trips mostly come out in order; the rule is then
   enforced: each trip's stops are reordered most critical first (stable),
   and trips whose priorities interleave are cut at priority boundaries and
   ordered most critical first.
6. *Checked and timed again*: every trip is replayed on the problem's own
   matrices; a stop the replay would reach after its need-by is dropped
   (``after_need_by``), one that would break capacity, the shift or the
   vehicle's trip limit is dropped (``over_capacity``). A plan therefore never
   breaks a rule, whatever the engine returned. Parts left out (by the
   engine or by this replay) are then inserted where they fit at the least
   extra travel, keeping the priority order (``fleet_repair.insert_unserved``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from geo.fleet_engines import ENGINES, EngineInput, EnginePart, EngineVehicle, Trips
from geo.fleet_records import FleetProblem, FleetVehicle, Stop
from geo.fleet_repair import Drive, drive, insert_unserved, priority_order

__all__ = [
    "ENGINE",
    "REASONS",
    "FleetPlan",
    "Run",
    "SplitStop",
    "Trip",
    "UnservedStop",
    "Visit",
    "plan_runs",
]

ENGINE = "pyvrp"
REASONS = ("no_vehicle_fits_lanes", "over_capacity", "after_need_by", "no_crew")
KG_SCALE = 10  # engines count 0.1 kg
L_SCALE = 1000  # and litres
PRIZE_S = 100_000  # an unserved stop costs this many seconds per priority step above none
_REASON_TEXT = {
    "no_vehicle_fits_lanes": ("没有车辆能通过通往该站点的道路", "no vehicle fits the lanes to it"),
    "over_capacity": ("车队在班次内的运力不足", "the fleet's capacity within its shifts ran out"),
    "after_need_by": ("无法在要求时间前送达", "no vehicle can arrive by its need-by time"),
    "no_crew": ("能到达的车辆没有司乘人员", "the vehicles that could reach it have no crew"),
}


@dataclass(frozen=True)
class Visit:
    """One stop (or one part of a split stop) on a trip."""

    stop: str
    part: int
    arrival_s: float
    departure_s: float
    weight_kg: float
    volume_m3: float


@dataclass(frozen=True)
class Trip:
    """Leaves the depot loaded, visits stops in order, returns.

    ``load_kg[i]``/``load_m3[i]`` is what is on board on leg ``i`` (leg 0 from
    the depot to the first stop; the last leg, back to the depot, carries 0).
    """

    depart_s: float
    return_s: float
    visits: tuple[Visit, ...]
    load_kg: tuple[float, ...]
    load_m3: tuple[float, ...]
    km: float
    travel_s: int


@dataclass(frozen=True)
class Run:
    vehicle: str
    kind: str
    depot: int
    trips: tuple[Trip, ...]


@dataclass(frozen=True)
class UnservedStop:
    """A stop not served (or, when split, not wholly): what is missing and why."""

    stop: str
    reason: str
    weight_kg: float
    volume_m3: float

    @property
    def explanation(self) -> str:
        zh, en = _REASON_TEXT[self.reason]
        return f"站点 {self.stop} 未配送 {self.weight_kg:g} kg：{zh} / {self.stop}: {en}"


@dataclass(frozen=True)
class SplitStop:
    stop: str
    parts: int


@dataclass(frozen=True)
class FleetPlan:
    """The runs, what was not served and why, and the figures engines are compared on.

    ``objective`` = ``travel_s`` (integer seconds, summed leg by leg) plus
    :data:`PRIZE_S` x (1 + priority) for each part the router was given but
    did not serve.
    """

    engine: str
    runs: tuple[Run, ...]
    unserved: tuple[UnservedStop, ...]
    split: tuple[SplitStop, ...]
    travel_s: int
    km: float
    objective: int
    solve_s: float

    @property
    def vehicles_used(self) -> int:
        return sum(1 for r in self.runs if r.trips)

    @property
    def explanation(self) -> str:
        served = sum(len(t.visits) for r in self.runs for t in r.trips)
        return (
            f"{self.vehicles_used} 辆车，{served} 次停靠，{len(self.unserved)} 个站点未完全配送 / "
            f"{self.vehicles_used} vehicles, {served} visits, "
            f"{len(self.unserved)} stops not fully served"
        )


@dataclass(frozen=True)
class _Part:
    stop: int
    index: int  # part number within its stop
    weight_kg: float
    volume_m3: float
    handling_s: int


@dataclass
class _Prepared:
    vehicles: list[int]  # problem vehicle index of each engine vehicle
    parts: list[_Part]
    model: EngineInput
    reasons: dict[int, str]  # stop index -> reason decided before routing
    split: list[SplitStop]


def _staffed(problem: FleetProblem) -> list[int]:
    if problem.crew_available is None:
        return [k for k, v in enumerate(problem.vehicles) if v.crew >= 0]
    left = dict(problem.crew_available)
    out = []
    for k, v in enumerate(problem.vehicles):
        if left.get(v.depot, 0) >= v.crew:
            left[v.depot] = left.get(v.depot, 0) - v.crew
            out.append(k)
    return out


def _int_times(problem: FleetProblem) -> tuple[dict[str, NDArray[np.int64]], int]:
    big = int(
        10 * problem.horizon_s + 10 * max((v.window(0)[1] for v in problem.vehicles), default=0)
    )
    big = max(big, 10**7)
    out = {}
    for kind, m in problem.travel_s.items():
        out[kind] = np.where(np.isfinite(m), np.rint(np.where(np.isfinite(m), m, 0)), big).astype(
            np.int64
        )
    return out, big


def _reach_tables(
    problem: FleetProblem, times: dict[str, NDArray[np.int64]], big: int
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(vehicles x stops) masks: can go there and back; arrives in time and gets back.

    "In time" is straight from the depot at the shift start: by the need-by,
    and back home by the end of the shift after handling.
    """
    n_v, n_s = len(problem.vehicles), len(problem.stops)
    reach = np.zeros((n_v, n_s), dtype=bool)
    timely = np.zeros((n_v, n_s), dtype=bool)
    if not n_v or not n_s:
        return reach, timely
    locs = np.array([problem.location[s.node] for s in problem.stops], dtype=np.int64)
    need_by = np.array([np.inf if s.need_by_s is None else s.need_by_s for s in problem.stops])
    handling = np.array([s.handling_s for s in problem.stops])
    for kind, t in times.items():
        ks = [k for k, v in enumerate(problem.vehicles) if v.kind == kind]
        if not ks:
            continue
        depots = np.array([problem.location[problem.vehicles[k].depot] for k in ks])
        window = np.array([problem.vehicles[k].window(problem.horizon_s) for k in ks])
        out, back = t[np.ix_(depots, locs)], t[np.ix_(locs, depots)].T
        ok = (out < big) & (back < big)
        arrive = window[:, :1] + out
        fits = (arrive <= need_by[None, :]) & (arrive + handling + back <= window[:, 1:])
        reach[ks] = ok
        timely[ks] = ok & fits
    return reach, timely


def _split_count(s: Stop, fleet: Sequence[FleetVehicle]) -> int:
    cap_kg = max(math.floor(v.payload_kg * KG_SCALE + 1e-9) for v in fleet)
    cap_l = max(math.floor(v.volume_m3 * L_SCALE + 1e-9) for v in fleet)
    need_kg = math.ceil(s.weight_kg * KG_SCALE - 1e-9)
    need_l = math.ceil(s.volume_m3 * L_SCALE - 1e-9)
    if (cap_kg <= 0 and need_kg > 0) or (cap_l <= 0 and need_l > 0):
        return 0
    return max(1, -(-need_kg // max(cap_kg, 1)), -(-need_l // max(cap_l, 1)))


def _parts_of(k: int, s: Stop, n: int) -> list[_Part]:
    w, v = s.weight_kg / n, s.volume_m3 / n
    handling = round(s.handling_s / n)
    parts = [_Part(k, i, w, v, handling) for i in range(n - 1)]
    last = _Part(k, n - 1, s.weight_kg - w * (n - 1), s.volume_m3 - v * (n - 1), handling)
    return [*parts, last]


def _prepare(problem: FleetProblem) -> _Prepared:
    times, big = _int_times(problem)
    staffed = _staffed(problem)
    reach, timely = _reach_tables(problem, times, big)
    crewed = np.zeros(len(problem.vehicles), dtype=bool)
    crewed[staffed] = True
    reasons: dict[int, str] = {}
    parts: list[_Part] = []
    split: list[SplitStop] = []
    for k, s in enumerate(problem.stops):
        on_time = np.flatnonzero(timely[:, k] & crewed)
        if not reach[:, k].any():
            reasons[k] = "no_vehicle_fits_lanes"
        elif not (reach[:, k] & crewed).any():
            reasons[k] = "no_crew"
        elif not on_time.size:
            reasons[k] = "after_need_by" if s.need_by_s is not None else "over_capacity"
        else:
            n = _split_count(s, [problem.vehicles[j] for j in on_time.tolist()])
            if n == 0:
                reasons[k] = "over_capacity"
                continue
            if n > 1:
                split.append(SplitStop(s.id, n))
            parts.extend(_parts_of(k, s, n))
    model = _engine_input(problem, staffed, parts, times, big)
    return _Prepared(staffed, parts, model, reasons, split)


def _engine_input(
    problem: FleetProblem,
    staffed: list[int],
    parts: list[_Part],
    times: dict[str, NDArray[np.int64]],
    big: int,
) -> EngineInput:
    vehicles = []
    for k in staffed:
        v = problem.vehicles[k]
        start, end = v.window(problem.horizon_s)
        cap = (math.floor(v.payload_kg * KG_SCALE + 1e-9), math.floor(v.volume_m3 * L_SCALE + 1e-9))
        loc = problem.location[v.depot]
        vehicles.append(EngineVehicle(v.kind, loc, cap, int(start), int(end), v.max_trips))
    horizon = max((v.end_s for v in vehicles), default=0)
    eparts = []
    for p in parts:
        s = problem.stops[p.stop]
        latest = horizon if s.need_by_s is None else min(horizon, math.floor(s.need_by_s))
        demand = (
            math.ceil(p.weight_kg * KG_SCALE - 1e-9),
            math.ceil(p.volume_m3 * L_SCALE - 1e-9),
        )
        prize = PRIZE_S * (1 + max(s.priority, 0))
        eparts.append(
            EnginePart(problem.location[s.node], demand, p.handling_s, latest, prize, s.priority)
        )
    return EngineInput(len(problem.nodes), times, big, vehicles, eparts)


def _trip_record(
    problem: FleetProblem,
    prep: _Prepared,
    vehicle: FleetVehicle,
    driven: tuple[int, list[tuple[int, int, int]], int, list[tuple[int, int]]],
) -> Trip:
    depart, visits, back, legs = driven
    times, metres = prep.model.times[vehicle.kind], problem.metres[vehicle.kind]
    parts = [prep.parts[p] for p, _, _ in visits]
    kg = float(sum(p.weight_kg for p in parts))
    m3 = float(sum(p.volume_m3 for p in parts))
    load_kg, load_m3 = [kg], [m3]
    for p in parts:
        kg, m3 = kg - p.weight_kg, m3 - p.volume_m3
        load_kg.append(max(kg, 0.0))
        load_m3.append(max(m3, 0.0))
    load_kg[-1] = load_m3[-1] = 0.0
    records = tuple(
        Visit(problem.stops[part.stop].id, part.index, a, d, part.weight_kg, part.volume_m3)
        for part, (_, a, d) in zip(parts, visits, strict=True)
    )
    km = sum(float(metres[a, b]) for a, b in legs) / 1000.0
    travel = sum(int(times[a, b]) for a, b in legs)
    return Trip(depart, back, records, tuple(load_kg), tuple(load_m3), km, travel)


def _route(
    problem: FleetProblem, prep: _Prepared, raw: Trips
) -> tuple[list[Drive], dict[int, str]]:
    """Engine trips through the rules: priority order, replay, re-insertion, final replay."""
    priority = [problem.stops[p.stop].priority for p in prep.parts]
    runs: list[list[list[int]]] = []
    dropped: dict[int, str] = {}
    for k, trips in enumerate(raw):
        first = drive(prep.model, k, priority_order(trips, priority))
        runs.append(first.parts)
        dropped.update(first.dropped)
    routed = {p for run in runs for trip in run for p in trip}
    missing = [p for p in range(len(prep.parts)) if p not in routed]
    for p in insert_unserved(prep.model, runs, missing, priority):
        dropped.pop(p, None)
    final = [drive(prep.model, k, run) for k, run in enumerate(runs)]
    for d in final:
        dropped.update(d.dropped)
    return final, dropped


def _unserved(
    problem: FleetProblem, prep: _Prepared, served: set[int], dropped: dict[int, str]
) -> list[UnservedStop]:
    missing: dict[int, list[int]] = {}
    for p, part in enumerate(prep.parts):
        if p not in served:
            missing.setdefault(part.stop, []).append(p)
    out = []
    for k, s in enumerate(problem.stops):
        if k in prep.reasons:
            out.append(UnservedStop(s.id, prep.reasons[k], s.weight_kg, s.volume_m3))
        elif k in missing:
            ps = missing[k]
            reason = dropped.get(ps[0], "over_capacity")
            kg = sum(prep.parts[p].weight_kg for p in ps)
            m3 = sum(prep.parts[p].volume_m3 for p in ps)
            out.append(UnservedStop(s.id, reason, kg, m3))
    return out


def plan_runs(
    problem: FleetProblem,
    *,
    time_limit_s: float = 1.0,
    seed: int = 0,
    engine: str = ENGINE,
    patience: int | None = None,
    iterations: int | None = None,
) -> FleetPlan:
    """Runs for the fleet: trips from each vehicle's depot, and every unserved stop's reason.

    Deterministic for a (seed, budget) with the default engine: PyVRP stops
    after :func:`~geo.fleet_engines.pyvrp_iterations` iterations (a fixed
    function of the budget and the problem's size), never on the clock unless
    it overruns the budget ten times over. ``engine`` picks another adapter
    (``"vroom"``, ``"ortools"``; one trip per vehicle, time-limited) for the
    benchmark. ``patience``: PyVRP also stops after that many iterations
    without a better plan (a service asks for plans while people wait; a small
    problem is solved long before its budget ends). ``iterations`` (PyVRP only):
    exactly that many iterations and no clock at all, the same plan on any
    machine however loaded (scenario replay hashes its runs).

    Examples
    --------
    >>> import numpy as np
    >>> from geo.fleet_records import FleetProblem, FleetVehicle, Stop
    >>> t = np.array([[0.0, 60, 90], [60, 0, 40], [90, 40, 0]])
    >>> van = FleetVehicle("V1", depot=0, kind="van", payload_kg=500, volume_m3=4, max_trips=2)
    >>> stops = (Stop("A", 1, 300, 1.0, handling_s=120, priority=2), Stop("B", 2, 400, 1.0))
    >>> plan = plan_runs(FleetProblem((van,), stops, (0, 1, 2), {"van": t}, {"van": t * 10}))
    >>> [[v.stop for v in trip.visits] for trip in plan.runs[0].trips]
    [['A'], ['B']]
    >>> [(v.arrival_s, v.departure_s) for trip in plan.runs[0].trips for v in trip.visits]
    [(60, 180), (330, 630)]
    >>> plan.runs[0].trips[1].load_kg, plan.travel_s, plan.unserved
    ((400.0, 0.0), 300, ())
    """
    started = time.perf_counter()
    prep = _prepare(problem)
    raw: Trips = [[] for _ in prep.vehicles]
    if prep.parts and prep.vehicles:
        solve = ENGINES[engine]
        fixed = {} if iterations is None else {"iterations": iterations}
        raw = solve(prep.model, time_limit_s=time_limit_s, seed=seed, patience=patience, **fixed)
    driven, dropped = _route(problem, prep, raw)
    runs: list[Run] = []
    served: set[int] = set()
    for k, d in enumerate(driven):
        v = problem.vehicles[prep.vehicles[k]]
        trips = tuple(_trip_record(problem, prep, v, t) for t in d.trips)
        runs.append(Run(v.id, v.kind, v.depot, trips))
        served.update(p for trip in d.parts for p in trip)
    unserved = _unserved(problem, prep, served, dropped)
    travel = sum(t.travel_s for r in runs for t in r.trips)
    penalty = sum(prep.model.parts[p].prize for p in range(len(prep.parts)) if p not in served)
    return FleetPlan(
        engine,
        tuple(runs),
        tuple(unserved),
        tuple(prep.split),
        travel,
        sum(t.km for r in runs for t in r.trips),
        travel + penalty,
        time.perf_counter() - started,
    )
