"""Fleet routing (geo.fleet): the CVRP optimum, rules on random instances, determinism."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.bench_fleet import read_cvrp
from geo.fleet import REASONS, FleetPlan, plan_runs
from geo.fleet_records import FleetProblem, FleetVehicle, Stop, build_problem
from geo.fleet_repair import priority_order
from geo.network import RoadNetwork, RoadState, grid_network

# a copy of ../shared/data/vrp/E-n22-k4.vrp (see tests/geo/data/README.md)
CVRP = Path(__file__).resolve().parent / "data" / "E-n22-k4.vrp"
KINDS = ("tricycle", "car", "van", "truck")


def test_e_n22_k4_finds_the_known_optimum() -> None:
    problem = read_cvrp(CVRP)
    assert len(problem.stops) == 21 and len(problem.vehicles) == 4
    plan = plan_runs(problem, time_limit_s=5.0, seed=1)
    assert plan.objective == 375
    assert plan.travel_s == 375 and not plan.unserved
    assert plan.vehicles_used == 4


def test_priority_order_never_puts_a_critical_stop_after_a_lower_one() -> None:
    priority = [0, 2, 1, 2, 0]
    trips = priority_order([[0, 1], [2, 3, 4]], priority)
    flat = [p for t in trips for p in t]
    assert sorted(flat) == [0, 1, 2, 3, 4]
    assert [priority[p] for p in flat] == sorted((priority[p] for p in flat), reverse=True)


@st.composite
def instances(draw: st.DrawFn) -> FleetProblem:
    """2 depots and up to 6 stops on random matrices; some kinds barred from some stops."""
    n_stops = draw(st.integers(1, 6))
    n = 2 + n_stops
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 3000, size=(n, 2))
    metres = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    travel: dict[str, np.ndarray] = {}
    for k, kind in enumerate(KINDS):
        t = metres / (4.0 + 2 * k)
        barred = rng.random(n) < 0.15 * k  # wider kinds fit fewer lanes
        barred[:2] = False
        t[barred, :] = np.inf
        t[:, barred] = np.inf
        np.fill_diagonal(t, 0.0)
        travel[kind] = t
    vehicles = tuple(
        FleetVehicle(
            f"V{j}",
            depot=int(rng.integers(2)),
            kind=KINDS[int(rng.integers(4))],
            payload_kg=float(rng.integers(100, 800)),
            volume_m3=float(rng.integers(1, 6)),
            crew=int(rng.integers(0, 3)),
            shift=(0.0, float(rng.integers(1200, 7200))),
            max_trips=int(rng.integers(1, 4)),
        )
        for j in range(draw(st.integers(1, 3)))
    )
    stops = tuple(
        Stop(
            f"S{i}",
            2 + i,
            float(rng.integers(10, 900)),
            float(rng.uniform(0.1, 8)),
            handling_s=float(rng.integers(0, 300)),
            need_by_s=float(rng.integers(100, 1500)) if rng.random() < 0.4 else None,
            priority=int(rng.integers(0, 3)),
        )
        for i in range(n_stops)
    )
    crew = {0: int(rng.integers(0, 4)), 1: int(rng.integers(0, 4))}
    return FleetProblem(vehicles, stops, tuple(range(n)), travel, {k: metres for k in KINDS}, crew)


def _check_plan(problem: FleetProblem, plan: FleetPlan) -> None:
    by_id = {v.id: v for v in problem.vehicles}
    stop_by_id = {s.id: s for s in problem.stops}
    delivered: dict[str, float] = {}
    for run in plan.runs:
        v = by_id[run.vehicle]
        t = problem.travel_s[v.kind]
        loc = problem.location
        assert len(run.trips) <= v.max_trips
        seen: list[int] = []
        clock = v.window(problem.horizon_s)[0]
        for trip in run.trips:
            assert trip.depart_s >= clock
            assert sum(x.weight_kg for x in trip.visits) <= v.payload_kg + 1e-6
            assert sum(x.volume_m3 for x in trip.visits) <= v.volume_m3 + 1e-6
            assert trip.load_kg[0] <= v.payload_kg + 1e-6 and trip.load_kg[-1] == 0.0
            nodes = [v.depot, *(stop_by_id[x.stop].node for x in trip.visits), v.depot]
            for a, b in itertools.pairwise(nodes):
                assert np.isfinite(t[loc[a], loc[b]]), "a leg this kind cannot drive"
            for x in trip.visits:
                s = stop_by_id[x.stop]
                assert s.need_by_s is None or x.arrival_s <= s.need_by_s
                delivered[x.stop] = delivered.get(x.stop, 0.0) + x.weight_kg
                seen.append(s.priority)
            assert trip.return_s <= v.window(problem.horizon_s)[1]
            clock = trip.return_s
        assert seen == sorted(seen, reverse=True), "critical stop after a lower-priority one"
    unserved = {u.stop: u for u in plan.unserved}
    for s in problem.stops:
        if s.id in unserved:
            assert unserved[s.id].reason in REASONS
            missing = unserved[s.id].weight_kg
            assert delivered.get(s.id, 0.0) + missing == pytest.approx(s.weight_kg)
        else:
            assert delivered.get(s.id, 0.0) == pytest.approx(s.weight_kg)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_random_plans_keep_every_rule(problem: FleetProblem) -> None:
    plan = plan_runs(problem, time_limit_s=0.005, seed=3)
    _check_plan(problem, plan)


def test_split_stops_are_delivered_in_parts_that_fit() -> None:
    t = np.array([[0.0, 100.0], [100.0, 0.0]])
    van = FleetVehicle("V", depot=0, kind="van", payload_kg=500, volume_m3=10, max_trips=3)
    big = Stop("BIG", 1, 1200.0, 3.0, handling_s=60)
    problem = FleetProblem((van,), (big,), (0, 1), {"van": t}, {"van": t})
    plan = plan_runs(problem, time_limit_s=0.05, seed=0)
    assert [(s.stop, s.parts) for s in plan.split] == [("BIG", 3)]
    assert [len(trip.visits) for trip in plan.runs[0].trips] == [1, 1, 1]
    assert not plan.unserved
    _check_plan(problem, plan)


def test_reasons_before_routing() -> None:
    t = np.array([[0.0, 100.0, np.inf], [100.0, 0.0, np.inf], [np.inf, np.inf, 0.0]])
    van = FleetVehicle("V", depot=0, kind="van", payload_kg=500, volume_m3=10, crew=2)
    stops = (Stop("FAR", 2, 10, 0.1), Stop("LATE", 1, 10, 0.1, need_by_s=50.0))
    problem = FleetProblem((van,), stops, (0, 1, 2), {"van": t}, {"van": t})
    plan = plan_runs(problem, time_limit_s=0.05)
    assert {u.stop: u.reason for u in plan.unserved} == {
        "FAR": "no_vehicle_fits_lanes",
        "LATE": "after_need_by",
    }
    unstaffed = FleetProblem((van,), stops[1:], (0, 1, 2), {"van": t}, {"van": t}, {0: 1})
    assert [u.reason for u in plan_runs(unstaffed, time_limit_s=0.05).unserved] == ["no_crew"]
    assert "no vehicle fits" in plan.unserved[0].explanation


def test_same_seed_and_budget_give_the_same_plan() -> None:
    net = RoadNetwork(grid_network(400, seed=4))
    rng = np.random.default_rng(5)
    nodes = [int(n) for n in rng.choice(net.node_ids, size=40, replace=False)]
    fleet = [
        FleetVehicle(f"V{k}", nodes[k % 3], KINDS[k % 4], 600.0, 4.0, max_trips=2) for k in range(6)
    ]
    stops = [
        Stop(f"S{k}", n, float(rng.integers(50, 400)), 1.0, priority=int(rng.integers(3)))
        for k, n in enumerate(nodes[3:])
    ]
    problem = build_problem(RoadState(net), fleet, stops)
    first = plan_runs(problem, time_limit_s=0.3, seed=7)
    second = plan_runs(problem, time_limit_s=0.3, seed=7)
    assert first.runs == second.runs and first.unserved == second.unserved
    assert first.objective == second.objective
    _check_plan(problem, first)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_patience_keeps_every_rule_and_small_plans_as_good(problem: FleetProblem) -> None:
    """Stopping after 300 iterations without a better plan (what the service asks for)
    keeps every rule, and on a few stops finds a plan as good as the whole budget's."""
    patient = plan_runs(problem, time_limit_s=0.05, seed=3, patience=300)
    _check_plan(problem, patient)
    whole = plan_runs(problem, time_limit_s=0.05, seed=3)
    assert patient.objective <= whole.objective * 1.001 + 1e-6


def test_patience_on_one_model_is_deterministic() -> None:
    net = RoadNetwork(grid_network(400, seed=4))
    rng = np.random.default_rng(6)
    nodes = [int(n) for n in rng.choice(net.node_ids, size=20, replace=False)]
    fleet = [FleetVehicle(f"V{k}", nodes[k % 2], KINDS[k % 4], 500.0, 4.0) for k in range(4)]
    stops = [Stop(f"S{k}", n, float(rng.integers(50, 300)), 1.0) for k, n in enumerate(nodes[2:])]
    problem = build_problem(RoadState(net), fleet, stops)
    first = plan_runs(problem, time_limit_s=0.2, seed=1, patience=300)
    second = plan_runs(problem, time_limit_s=0.2, seed=1, patience=300)
    assert (first.runs, first.unserved, first.objective) == (
        second.runs,
        second.unserved,
        second.objective,
    )


def test_a_fixed_iteration_count_ignores_the_budget_and_a_speed_cap_slows_every_kind() -> None:
    """`iterations` (scenario replay): the same plan whatever the time budget says, since
    no clock stops it; `speed_cap_kmh`: every kind at most that fast, so trips take longer
    and the stops' order may change, but every rule still holds."""
    net = RoadNetwork(grid_network(400, seed=4))
    rng = np.random.default_rng(8)
    nodes = [int(n) for n in rng.choice(net.node_ids, size=24, replace=False)]
    fleet = [FleetVehicle(f"V{k}", nodes[k % 2], KINDS[k % 4], 500.0, 4.0) for k in range(4)]
    stops = [Stop(f"S{k}", n, float(rng.integers(50, 300)), 1.0) for k, n in enumerate(nodes[2:])]
    problem = build_problem(RoadState(net), fleet, stops)
    short = plan_runs(problem, time_limit_s=0.001, seed=2, iterations=400)
    long = plan_runs(problem, time_limit_s=5.0, seed=2, iterations=400)
    assert (short.runs, short.unserved, short.objective) == (
        long.runs,
        long.unserved,
        long.objective,
    )
    _check_plan(problem, short)
    slow = build_problem(RoadState(net), fleet, stops, speed_cap_kmh=10.0)
    for kind, times in problem.travel_s.items():
        finite = np.isfinite(times) & (times > 0)
        assert (slow.travel_s[kind][finite] > times[finite]).all(), kind
    _check_plan(slow, plan_runs(slow, time_limit_s=0.2, seed=2, iterations=400))
