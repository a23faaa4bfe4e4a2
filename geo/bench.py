"""Benchmarks (not tests): ``python -m geo.bench planning`` / ``python -m geo.bench matching``.

They print figures; nothing here asserts on time. Each planning case reports
the matrix, solve, routes and total times (median of a few runs, the matrix
computed cold by a fresh router each time; wall time, with the planning
thread's CPU time beside it, which other load on the machine inflates far
less), the replan time after a local
closure (same router, so unaffected shortest-path trees are reused), optimal
against nearest, and the same instance re-solved level by level by an
independent exact solver (networkx network simplex or scipy's HiGHS LP) with
the time ratio.
"""

from __future__ import annotations

import csv
import functools
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import networkx as nx
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linprog

from geo.bench_fleet import fleet_command
from geo.bench_matching import SKILLS, matching_instance, run_matching_bench
from geo.network import (
    DATA_DIR,
    Closure,
    RoadNetwork,
    RoadState,
    Snapper,
    grid_network,
    load_dongcheng_network,
)
from geo.planning import (
    PRIORITIES,
    Demand,
    DepotRecord,
    Plan,
    PlanOptions,
    ReserveFloor,
    StockLine,
    cache_for,
    plan_transfers,
)
from geo.routing import Router, RouterStats

__all__ = [
    "COUNTED_CALL",
    "NOW",
    "RUNS",
    "SKILLS",
    "Case",
    "LevelSolver",
    "city_case",
    "dongcheng_case",
    "level_by_linprog",
    "level_by_network_simplex",
    "main",
    "matching_instance",
    "run_case",
    "run_cold_plans",
    "run_matching_bench",
    "run_planning_bench",
    "verify_levels",
]

NOW = date(2024, 7, 30)
RUNS = 15  # Dongcheng; the city case runs 5 times (medians on a shared, noisy machine)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@dataclass
class Case:
    """One planning instance on one network."""

    name: str
    state: RoadState
    depots: list[DepotRecord]
    stock: list[StockLine]
    floors: list[ReserveFloor]
    demands: list[Demand]
    options: PlanOptions
    closure: Closure
    oracle: str  # "network_simplex" or "linprog"


# ---------------------------------------------------------------------------
# Instances
# ---------------------------------------------------------------------------


def _lots(depot: str, item: str, quantity: int, rng: np.random.Generator) -> list[StockLine]:
    """Split stock into two lots with different expiry dates (FEFO has work to do)."""
    first = int(quantity * rng.uniform(0.3, 0.7))
    soon = NOW + timedelta(days=int(rng.integers(10, 200)))
    later = soon + timedelta(days=int(rng.integers(30, 300)))
    return [
        StockLine(depot, item, f"{depot}-{item}-1", first, soon),
        StockLine(depot, item, f"{depot}-{item}-2", quantity - first, later),
    ]


def dongcheng_case(*, seed: int = 7) -> Case:
    """18 depots x 169 communities x 15 items on the shipped synthetic network.

    Stock is each depot's reserve standard times 1.1-1.6; every community asks
    for every item (2,535 lines) about one community-norm's worth, mixed priorities.
    """
    rng = np.random.default_rng(seed)
    network = load_dongcheng_network()
    depots = [
        DepotRecord(
            r["code"],
            lat=float(r["lat"]),
            lon=float(r["lon"]),
            is_district_reserve=r["kind"] == "district_reserve",
        )
        for r in _rows(DATA_DIR / "depots.csv")
    ]
    floors = [
        ReserveFloor(r["depot"], r["item"], int(r["minimum"]))
        for r in _rows(DATA_DIR / "reserve_standards.csv")
    ]
    stock = [
        line
        for f in floors
        for line in _lots(f.depot, f.item, int(f.minimum * rng.uniform(1.1, 1.6)) + 5, rng)
    ]
    norm = {f.item: max(1, f.minimum // 84) for f in floors if f.depot == "D110101000"}
    demands = [
        Demand(
            f"{c['code']}-{item}",
            c["code"],
            item,
            int(rng.integers(1, 2 * norm[item] + 2)),
            PRIORITIES[int(rng.choice(3, p=[0.2, 0.3, 0.5]))],
            need_by_s=float(rng.integers(20, 90) * 60) if rng.random() < 0.3 else None,
            lat=float(c["lat"]),
            lon=float(c["lon"]),
        )
        for c in _rows(DATA_DIR / "communities.csv")
        for item in sorted(norm)
    ]
    return Case(
        "Dongcheng (synthetic roads): 18 depots x 169 communities x 15 items",
        RoadState(network),
        depots,
        stock,
        floors,
        demands,
        PlanOptions(now=NOW),
        Closure.circle(39.9245, 116.4270, 200.0),  # the scenario format's example closure
        "network_simplex",
    )


def city_case(*, seed: int = 11, horizon_s: float = 600.0) -> Case:
    """300 depots x 3,000 demand points x 5 items on a ~50,000-node synthetic grid.

    Planned within a 10-minute horizon (``max_travel_s``, about 4 km at 25 km/h,
    some 30 depots around each demand): depots farther away count as
    unreachable, which keeps each shortest-path search local.
    """
    rng = np.random.default_rng(seed)
    network = RoadNetwork(grid_network(50_000, seed=seed), name="city-grid")
    nodes = rng.choice(network.node_ids, size=3_300, replace=False)
    items = ["SANDBAG", "WATER", "FOOD", "QUILT", "FIRST_AID"]
    depots = [DepotRecord(f"D{k:03d}", node=int(n)) for k, n in enumerate(nodes[:300])]
    floors = [ReserveFloor(d.code, item, 40) for d in depots for item in items]
    stock = [
        line
        for d in depots
        for item in items
        for line in _lots(d.code, item, int(rng.integers(100, 400)), rng)
    ]
    demands = [
        Demand(
            f"C{k:04d}-{item}",
            f"C{k:04d}",
            item,
            int(rng.integers(1, 60)),
            PRIORITIES[int(rng.choice(3, p=[0.2, 0.3, 0.5]))],
            node=int(n),
        )
        for k, n in enumerate(nodes[300:])
        for item in items
    ]
    lat, lon = network.latlon(int(network.node_ids[network.n_nodes // 2 + 112]))
    return Case(
        "City-scale synthetic grid: 300 depots x 3,000 demand points x 5 items",
        RoadState(network),
        depots,
        stock,
        floors,
        demands,
        PlanOptions(now=NOW, max_travel_s=horizon_s),
        Closure.circle(lat, lon, 300.0),
        "linprog",
    )


# ---------------------------------------------------------------------------
# Independent exact solvers, one priority level at a time
# ---------------------------------------------------------------------------


LevelSolver = Callable[
    [list[int], list[int], NDArray[np.int64], NDArray[np.bool_]], tuple[int, int]
]


def level_by_network_simplex(
    supply: list[int], wanted: list[int], costs: NDArray[np.int64], allowed: NDArray[np.bool_]
) -> tuple[int, int]:
    """(max flow, min cost) with networkx's max_flow_min_cost (network simplex)."""
    g = nx.DiGraph()
    g.add_nodes_from(["s", "t"])
    for i, q in enumerate(supply):
        g.add_edge("s", ("d", i), capacity=q, weight=0)
    for j, q in enumerate(wanted):
        g.add_edge(("r", j), "t", capacity=q, weight=0)
    for i, j in zip(*np.nonzero(allowed), strict=True):
        g.add_edge(("d", int(i)), ("r", int(j)), weight=int(costs[i, j]))
    flow = nx.max_flow_min_cost(g, "s", "t")
    return sum(flow["s"].values()), int(nx.cost_of_flow(g, flow))


def level_by_linprog(
    supply: list[int], wanted: list[int], costs: NDArray[np.int64], allowed: NDArray[np.bool_]
) -> tuple[int, int]:
    """(max flow, min cost) as two transportation LPs solved by HiGHS (integral: TU matrix)."""
    rows, cols = np.nonzero(allowed)
    if rows.size == 0:
        return 0, 0
    n = rows.size
    ones = np.ones(n)
    a_ub = sp.vstack(
        [
            sp.csr_matrix((ones, (rows, np.arange(n))), shape=(len(supply), n)),
            sp.csr_matrix((ones, (cols, np.arange(n))), shape=(len(wanted), n)),
        ]
    ).tocsr()
    b_ub = np.concatenate([supply, wanted]).astype(float)
    first = linprog(-ones, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    flow = round(-first.fun)
    second = linprog(
        costs[rows, cols].astype(float),
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=ones[None, :],
        b_eq=[flow],
        bounds=(0, None),
        method="highs",
    )
    return flow, round(second.fun)


def verify_levels(case: Case, plan: Plan, times: NDArray[np.float64], solver: LevelSolver) -> int:
    """Re-solve every level of ``plan`` independently; return how many levels disagree.

    Each level gets the supply this plan left after its earlier levels, exactly
    as the planner defines the lexicographic order.
    """
    options = case.options
    codes = [d.code for d in case.depots]
    index = {c: i for i, c in enumerate(codes)}
    floor = {(f.depot, f.item): f.minimum for f in case.floors}
    left: dict[tuple[int, str], int] = defaultdict(int)
    for line in case.stock:
        if line.expires is None or line.expires >= NOW:
            left[(index[line.depot], line.item)] += line.quantity
    for d in case.depots:
        for item in {line.item for line in case.stock}:
            keep = 0 if d.is_district_reserve or options.emergency else floor.get((d.code, item), 0)
            left[(index[d.code], item)] = max(0, left[(index[d.code], item)] - keep)
    served: dict[str, int] = defaultdict(int)
    wrong = 0
    for (item, priority), expected in sorted(plan.level_costs.items()):
        cols = [j for j, d in enumerate(case.demands) if (d.item, d.priority) == (item, priority)]
        supply = [left[(i, item)] for i in range(len(codes))]
        wanted = [case.demands[j].quantity - served[case.demands[j].id] for j in cols]
        sub = times[:, cols]
        costs = np.floor(np.where(np.isfinite(sub), sub, 0) + 0.5).astype(np.int64)
        if solver(supply, wanted, costs, np.isfinite(sub)) != expected:
            wrong += 1
        for t in plan.transfers:
            if (t.item, t.priority) == (item, priority):
                left[(index[t.depot], item)] -= t.quantity
                served[t.demand_id] += t.quantity
    return wrong


# ---------------------------------------------------------------------------
# Running a case
# ---------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def _times_for(case: Case, router: Router, snapper: Snapper | None) -> NDArray[np.float64]:
    """The (depots x demands) travel seconds the planner saw, for the oracle."""

    def node(r: DepotRecord | Demand) -> int:
        if r.node is not None:
            return r.node
        assert snapper is not None and r.lat is not None and r.lon is not None
        return snapper.nearest_node(r.lat, r.lon)

    dn = [node(d) for d in case.depots]
    cn = [node(d) for d in case.demands]
    m = router.travel_matrix(
        case.state,
        sorted(set(dn)),
        sorted(set(cn)),
        vehicle=case.options.vehicle,
        limit_s=case.options.max_travel_s,
    )
    r = {n: k for k, n in enumerate(m.sources)}
    c = {n: k for k, n in enumerate(m.targets)}
    return m.times_s[np.ix_([r[n] for n in dn], [c[n] for n in cn])]


@dataclass
class _Cold:
    """Cold plans (a fresh router each run): the last plan, its router, the timings."""

    plan: Plan
    router: Router
    timings: dict[str, list[float]]
    cpu: list[float]  # this thread's CPU time: what a busy machine can't inflate


@dataclass
class _Replans:
    """Replans after the case's closure on a warm router, and what they reused."""

    times: list[float]
    cpu: list[float]
    matrix_times: list[float]
    stats: RouterStats  # the last replan's router stats
    levels_reused: int
    levels_solved: int


def run_case(case: Case, *, runs: int = RUNS) -> str:
    """Run one planning case (cold, same roads, replan, nearest, oracle) and report it."""
    snapper = _snapper_for(case)
    cold = _cold_plans(case, runs, snapper)
    same_total, same_cpu = _same_roads(case, runs, snapper)
    replans = _replans(case, runs, snapper)
    nearest = plan_transfers(
        case.depots,
        case.stock,
        case.floors,
        case.demands,
        case.state,
        cold.router,
        options=PlanOptions(**{**case.options.__dict__, "policy": "nearest"}),
        snapper=snapper,
    )
    times = _times_for(case, cold.router, snapper)
    solver: LevelSolver = (
        level_by_network_simplex if case.oracle == "network_simplex" else (level_by_linprog)
    )
    started = time.perf_counter()
    wrong = verify_levels(case, cold.plan, times, solver)
    oracle_s = time.perf_counter() - started
    return _report(case, runs, cold, (same_total, same_cpu), replans, nearest, (wrong, oracle_s))


def _snapper_for(case: Case) -> Snapper | None:
    """A snapper when any depot or demand is given by lat/lon, else None."""
    net = case.state.network
    needs_snap = any(d.node is None for d in case.depots) or any(
        d.node is None for d in case.demands
    )
    return Snapper(net, net.usable_nodes(case.options.vehicle)) if needs_snap else None


def _cold_plans(case: Case, runs: int, snapper: Snapper | None) -> _Cold:
    """``runs`` plans, each with a fresh router: the matrix computed from scratch every run."""
    net = case.state.network
    timings: dict[str, list[float]] = defaultdict(list)
    plan: Plan | None = None
    router = Router(net)
    cpu: list[float] = []
    for _ in range(runs):
        router = Router(net)  # cold: matrix computed from scratch every run
        started_cpu = time.thread_time()
        plan = plan_transfers(
            case.depots,
            case.stock,
            case.floors,
            case.demands,
            case.state,
            router,
            options=case.options,
            snapper=snapper,
        )
        cpu.append(time.thread_time() - started_cpu)
        for key, value in plan.timings.items():
            timings[key].append(value)
    assert plan is not None
    return _Cold(plan, router, timings, cpu)


def _same_roads(case: Case, runs: int, snapper: Snapper | None) -> tuple[list[float], list[float]]:
    """The same roads again with the router kept (as the service keeps one per
    network): trees and walked routes are reused, every level is solved again."""
    same_total, same_cpu = [], []
    kept = Router(case.state.network)
    args = (case.depots, case.stock, case.floors, case.demands, case.state, kept)
    plan_transfers(*args, options=case.options, snapper=snapper)
    for _ in range(runs):
        cache_for(kept).clear()
        started_cpu = time.thread_time()
        same = plan_transfers(*args, options=case.options, snapper=snapper)
        same_cpu.append(time.thread_time() - started_cpu)
        same_total.append(same.timings["total_s"])
    return same_total, same_cpu


def _replans(case: Case, runs: int, snapper: Snapper | None) -> _Replans:
    """Plan, close the case's closure, replan on the same (warm) router; ``runs`` times."""
    net = case.state.network
    closed = case.state.with_closure(case.closure)
    replan_times, replan_cpu, matrix_times = [], [], []
    levels_reused = levels_solved = 0
    replan: Plan | None = None
    for _ in range(runs):
        warm = Router(net)
        plan_transfers(
            case.depots,
            case.stock,
            case.floors,
            case.demands,
            case.state,
            warm,
            options=case.options,
            snapper=snapper,
        )
        hits_before, misses_before = cache_for(warm).hits, cache_for(warm).misses
        started, started_cpu = time.perf_counter(), time.thread_time()
        replan = plan_transfers(
            case.depots,
            case.stock,
            case.floors,
            case.demands,
            closed,
            warm,
            options=case.options,
            snapper=snapper,
        )
        replan_times.append(time.perf_counter() - started)
        replan_cpu.append(time.thread_time() - started_cpu)
        matrix_times.append(replan.timings["matrix_s"])
        stats = warm.last_stats
        cache = cache_for(warm)
        levels_reused, levels_solved = cache.hits - hits_before, cache.misses - misses_before
    assert replan is not None
    return _Replans(replan_times, replan_cpu, matrix_times, stats, levels_reused, levels_solved)


def _report(
    case: Case,
    runs: int,
    cold: _Cold,
    same: tuple[list[float], list[float]],
    replans: _Replans,
    nearest: Plan,
    oracle: tuple[int, float],
) -> str:
    """The case's printed figures."""
    net, plan, timings, cpu = case.state.network, cold.plan, cold.timings, cold.cpu
    same_total, same_cpu = same
    replan_times, replan_cpu, stats = replans.times, replans.cpu, replans.stats
    wrong, oracle_s = oracle
    med = {k: statistics.median(v) for k, v in timings.items()}
    lines = [
        case.name,
        f"  network: {net.n_nodes} nodes, {net.n_edges} edges; {len(case.demands)} demand lines, "
        f"{len(case.depots)} depots; horizon "
        f"{'none' if case.options.max_travel_s is None else f'{case.options.max_travel_s:.0f} s'}",
        f"  matrix {_ms(med['matrix_s'])}   solve {_ms(med['solve_s'])}   routes "
        f"{_ms(med['routes_s'])}   total {_ms(med['total_s'])}   (median of {runs}; "
        f"min total {_ms(min(timings['total_s'])).strip()}; CPU median "
        f"{_ms(statistics.median(cpu)).strip()}, min {_ms(min(cpu)).strip()})",
        f"  replan after closing {case.closure.radius_m:.0f} m around "
        f"({case.closure.lat:.4f}, {case.closure.lon:.4f}): {_ms(statistics.median(replan_times))}"
        f" (min {_ms(min(replan_times)).strip()}; CPU median "
        f"{_ms(statistics.median(replan_cpu)).strip()}, min {_ms(min(replan_cpu)).strip()})"
        f" (of which matrix {_ms(statistics.median(replans.matrix_times)).strip()}: trees reused "
        f"{stats.reused}, recomputed {stats.computed}; levels reused {replans.levels_reused}, "
        f"re-solved {replans.levels_solved})",
        f"  same roads again (router kept: trees and routes reused, every level re-solved): "
        f"total {_ms(statistics.median(same_total)).strip()} (min "
        f"{_ms(min(same_total)).strip()}; CPU median {_ms(statistics.median(same_cpu)).strip()}"
        f", min {_ms(min(same_cpu)).strip()})",
        f"  delivered {plan.delivered_units} units, unmet {plan.unmet_units}, "
        f"{len(plan.transfers)} transfers, {len(plan.late)} late lines",
        f"  objective (unit-seconds): optimal {plan.objective_s:,.0f}   nearest "
        f"{nearest.objective_s:,.0f} ({nearest.delivered_units} units)   "
        f"nearest/optimal {nearest.objective_s / max(plan.objective_s, 1e-9):.3f}",
        f"  independent {case.oracle}: {len(plan.level_costs)} levels re-solved in "
        f"{_ms(oracle_s)}; levels that disagree: {wrong}; time ratio oracle/solve "
        f"{oracle_s / max(med['solve_s'], 1e-9):.1f}x",
    ]
    return "\n".join(lines)


def run_planning_bench(cases: Sequence[str] = ("dongcheng", "city")) -> str:
    """Run the planning benchmark cases and return the printed report."""
    out = []
    if "dongcheng" in cases:
        out.append(run_case(dongcheng_case()))
    if "city" in cases:
        started = time.perf_counter()
        case = city_case()
        out.append(f"(city network generated and frozen in {time.perf_counter() - started:.1f} s)")
        out.append(run_case(case, runs=5))
    return "\n\n".join(out)


# ---------------------------------------------------------------------------
# Cold plans for an instruction count (python -m geo.bench plans dongcheng N)
# ---------------------------------------------------------------------------

# The C function the plans run inside: callgrind counts only while in it
# (--toggle-collect), so the setup (imports, the case) is left out.
COUNTED_CALL = "functools_reduce"


def run_cold_plans(case_name: str, plans: int) -> None:
    """Plan ``case_name`` cold ``plans`` times inside one ``functools.reduce`` call.

    Wall time on a shared machine moves by half between runs; the number of
    instructions a plan executes does not, so it compares code across runs and
    machines. Two plans run first, uncounted, so that lazily built tables
    (network in-edges, numpy's and OR-Tools' first-call set-up) are not counted.
    """
    case = dongcheng_case() if case_name == "dongcheng" else city_case()
    net = case.state.network
    snapper = Snapper(net, net.usable_nodes(case.options.vehicle))

    def cold(*_: object) -> Plan:
        args = (case.depots, case.stock, case.floors, case.demands, case.state, Router(net))
        return plan_transfers(*args, options=case.options, snapper=snapper)

    cold()
    cold()
    functools.reduce(cold, range(plans), None)


def main(argv: Sequence[str]) -> int:
    usage = (
        "usage: python -m geo.bench planning [dongcheng|city] | matching | plans CASE N"
        " | fleet [synthetic|city|cvrp PATH]"
    )
    if not argv or argv[0] not in {"planning", "matching", "plans", "fleet"}:
        print(usage, file=sys.stderr)
        return 2
    if argv[0] == "fleet":
        print(fleet_command(argv[1:]))
    elif argv[0] == "planning":
        print(run_planning_bench(argv[1:] or ("dongcheng", "city")))
    elif argv[0] == "plans":
        if len(argv) != 3 or argv[1] not in {"dongcheng", "city"} or not argv[2].isdigit():
            print(usage, file=sys.stderr)
            return 2
        run_cold_plans(argv[1], max(int(argv[2]), 1))
    else:
        print(run_matching_bench())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
