"""Fleet routing benchmark: OR-Tools, PyVRP and VROOM on the same instances.

``python -m geo.bench fleet [synthetic] [city] [cvrp]`` prints a table per
case and one summary line per case; :func:`compare` is what the service calls.
Every engine gets the same budget; the reference for the gaps is the best
objective any engine found with ten times that budget. The objective is the
plan's own (:attr:`geo.fleet.FleetPlan.objective`: travel seconds plus a prize
per unserved part), computed after the same checks for every engine, so the
engines are compared on plans that keep every rule.

The benchmark's vehicles make one trip each (``max_trips=1``): VROOM and the
OR-Tools adapter have no reloads, and a multi-trip PyVRP plan would not be
the same problem.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geo.fleet import ENGINE, FleetPlan, plan_runs
from geo.fleet_engines import ENGINES
from geo.fleet_records import FleetProblem, FleetVehicle, Stop, build_problem
from geo.fleet_reroute import LeftStop, RunLeft, crosses_closure, reroute_run
from geo.network import (
    DATA_DIR,
    Closure,
    RoadNetwork,
    RoadState,
    Snapper,
    Vehicle,
    grid_network,
    load_dongcheng_network,
)
from geo.routing import Router

__all__ = [
    "BUDGET_S",
    "REFERENCE_FACTOR",
    "Row",
    "city_fleet",
    "compare",
    "dongcheng_fleet",
    "fleet_command",
    "read_cvrp",
    "reroute_line",
    "run_fleet_bench",
    "summary_line",
    "table",
]

BUDGET_S = {"synthetic": 1.0, "city": 20.0, "cvrp": 1.0}
REFERENCE_FACTOR = 10
# kind: (payload kg, volume m3, how many of each ten vehicles)
_FLEET_MIX = {
    "tricycle": (300.0, 1.5, 2),
    "car": (400.0, 2.0, 3),
    "van": (1200.0, 8.0, 3),
    "truck": (5000.0, 30.0, 2),
}


@dataclass(frozen=True)
class Row:
    """One engine's result on one case, and its gap to the reference."""

    engine: str
    budget_s: float
    objective: int
    travel_s: int
    seconds: float
    vehicles: int
    unserved: int
    gap_pct: float
    reference: int


def read_cvrp(path: Path, *, vehicles: int | None = None) -> FleetProblem:
    """A CVRPLIB instance (EUC_2D, one depot) as a problem: distances rounded to integers.

    The matrix serves as both travel "seconds" and metres, so the plan's
    ``travel_s`` is the instance's objective. Vehicles default to the ``-kN``
    of the instance's name.
    """
    text = path.read_text(encoding="utf-8")
    capacity = float(re.search(r"CAPACITY\s*:\s*(\d+)", text).group(1))  # type: ignore[union-attr]
    name = re.search(r"NAME\s*:\s*(\S+)", text).group(1)  # type: ignore[union-attr]
    n_vehicles = vehicles or int(re.search(r"-k(\d+)", name).group(1))  # type: ignore[union-attr]
    coords = _section(text, "NODE_COORD_SECTION")
    demand = _section(text, "DEMAND_SECTION")
    depot = int(_section(text, "DEPOT_SECTION")[0][0])
    ids = [int(r[0]) for r in coords]
    xy = np.array([[float(r[1]), float(r[2])] for r in coords])
    d = np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)))
    fleet = tuple(
        FleetVehicle(f"K{k + 1}", depot, "van", capacity, 1e6, max_trips=1)
        for k in range(n_vehicles)
    )
    stops = tuple(
        Stop(f"N{int(r[0])}", int(r[0]), float(r[1]), 0.0, handling_s=0.0)
        for r in demand
        if int(r[0]) != depot
    )
    return FleetProblem(fleet, stops, tuple(ids), {"van": d}, {"van": d}, horizon_s=1e6)


def _section(text: str, name: str) -> list[list[str]]:
    lines = text.split(name, 1)[1].splitlines()[1:]
    rows = []
    for line in lines:
        parts = line.split()
        if not parts or not re.fullmatch(r"-?\d+(\.\d+)?", parts[0]) or parts[0] == "-1":
            break
        rows.append(parts)
    return rows


def _fleet(depots: Sequence[int], per_depot: int, rng: np.random.Generator) -> list[FleetVehicle]:
    kinds = [k for k, (_, _, n) in _FLEET_MIX.items() for _ in range(n)]
    out = []
    for d, node in enumerate(depots):
        for j in range(per_depot):
            kind = kinds[int(rng.integers(len(kinds)))]
            payload, volume, _ = _FLEET_MIX[kind]
            start = float(rng.integers(0, 4) * 1800)
            out.append(
                FleetVehicle(
                    f"D{d:03d}-{j}",
                    node,
                    kind,
                    payload,
                    volume,
                    shift=(start, start + 6 * 3600),
                    max_trips=1,
                )
            )
    return out


def _stops(nodes: Sequence[int], rng: np.random.Generator) -> list[Stop]:
    out = []
    for k, node in enumerate(nodes):
        kg = float(rng.integers(20, 400))
        need_by = float(rng.integers(60, 240) * 60) if rng.random() < 0.3 else None
        out.append(
            Stop(
                f"S{k:04d}",
                node,
                kg,
                round(kg / 180, 2),
                handling_s=float(180 + kg // 2),
                need_by_s=need_by,
                priority=int(rng.choice(3, p=[0.5, 0.3, 0.2])),
            )
        )
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def dongcheng_fleet(*, seed: int = 18) -> FleetProblem:
    """Synthetic Dongcheng roads: its 18 depots, 169 communities, 40 vehicles of mixed kinds."""
    rng = np.random.default_rng(seed)
    network = load_dongcheng_network()
    snapper = Snapper(network, network.usable_nodes(Vehicle("tricycle")))
    depots = [
        snapper.nearest_node(float(r["lat"]), float(r["lon"]))
        for r in _rows(DATA_DIR / "depots.csv")
    ]
    places = [
        snapper.nearest_node(float(r["lat"]), float(r["lon"]))
        for r in _rows(DATA_DIR / "communities.csv")
    ]
    fleet = _fleet(depots, 3, rng)
    fleet = [fleet[int(i)] for i in sorted(rng.choice(len(fleet), size=40, replace=False))]
    return build_problem(RoadState(network), fleet, _stops(places, rng))


def city_fleet(*, seed: int = 11, limit_s: float = 1200.0) -> FleetProblem:
    """300 depots, 3,000 stops, 600 vehicles on a ~50,000-node synthetic city grid.

    Searches are bounded at ``limit_s`` (20 minutes): farther counts as unreachable.
    """
    rng = np.random.default_rng(seed)
    network = RoadNetwork(grid_network(50_000, seed=seed), name="city-grid")
    nodes = [int(n) for n in rng.choice(network.node_ids, size=3_300, replace=False)]
    fleet = _fleet(nodes[:300], 2, rng)
    fleet = [v if v.kind != "tricycle" else _as_car(v) for v in fleet]
    return build_problem(RoadState(network), fleet, _stops(nodes[300:], rng), limit_s=limit_s)


def _as_car(v: FleetVehicle) -> FleetVehicle:
    """City fleets have no tricycles (they could reach little within the search bound)."""
    payload, volume, _ = _FLEET_MIX["car"]
    return FleetVehicle(v.id, v.depot, "car", payload, volume, v.crew, v.shift, v.max_trips)


def compare(
    problem: FleetProblem,
    budget_s: float,
    *,
    engines: Sequence[str] = tuple(ENGINES),
    reference_factor: float = REFERENCE_FACTOR,
    seed: int = 0,
) -> list[Row]:
    """Every engine at ``budget_s``, then at ``reference_factor`` x: rows for both.

    Each row's gap is to the best objective of all the runs (the reference).
    """
    runs: list[tuple[float, str, FleetPlan]] = []
    for budget in (budget_s, budget_s * reference_factor):
        for e in engines:
            plan = plan_runs(problem, time_limit_s=budget, seed=seed, engine=e)
            runs.append((budget, e, plan))
    best = min(p.objective for _, _, p in runs)
    return [
        Row(
            e,
            budget,
            p.objective,
            p.travel_s,
            p.solve_s,
            p.vehicles_used,
            len(p.unserved),
            100.0 * (p.objective - best) / best if best else 0.0,
            best,
        )
        for budget, e, p in runs
    ]


def summary_line(case: str, rows: Sequence[Row]) -> str:
    """``fleet CASE: gap G % in S s, vehicles V`` for the project's engine at the budget."""
    budget = min(r.budget_s for r in rows)
    own = next(r for r in rows if r.engine == ENGINE and r.budget_s == budget)
    return f"fleet {case}: gap {own.gap_pct:.1f} % in {own.seconds:.2f} s, vehicles {own.vehicles}"


def table(case: str, rows: Sequence[Row]) -> str:
    head = f"{'engine':8} {'budget s':>8} {'objective':>12} {'travel s':>10} {'time s':>8} "
    head += f"{'vehicles':>8} {'unserved':>8} {'gap %':>7}"
    lines = [f"== fleet {case} (reference {rows[0].reference:,}) ==", head]
    for r in rows:
        lines.append(
            f"{r.engine:8} {r.budget_s:8.1f} {r.objective:12,} {r.travel_s:10,} {r.seconds:8.2f} "
            f"{r.vehicles:8} {r.unserved:8} {r.gap_pct:7.2f}"
        )
    return "\n".join(lines)


def reroute_line(problem: FleetProblem, *, budget_s: float = 1.0, seed: int = 0) -> str:
    """A replan after a closure: the project's plan, then a road closed in the middle of the
    first leg of its longest run, and every run checked and those it cuts rerouted from
    their depots (``geo.fleet_reroute``, a cold router: its trees are not reused)."""
    plan = plan_runs(problem, time_limit_s=budget_s, seed=seed)
    nodes = {s.id: s.node for s in problem.stops}
    handling = {s.id: s.handling_s for s in problem.stops}
    prio = {s.id: s.priority for s in problem.stops}
    runs = [
        RunLeft(
            r.kind,
            r.depot,
            r.depot,
            0.0,
            1,
            tuple(
                LeftStop(f"{v.stop}#{v.part}", nodes[v.stop], k, handling[v.stop], prio[v.stop])
                for k, t in enumerate(r.trips, start=1)
                for v in t.visits
            ),
        )
        for r in plan.runs
        if r.trips
    ]
    network = load_dongcheng_network()
    before = RoadState(network)
    longest = max(runs, key=lambda r: len(r.stops))
    leg = Router(network).route(
        before, longest.depot, longest.stops[0].node, vehicle=longest.profile
    )
    if leg is None or len(leg.nodes) < 2:
        return "fleet synthetic reroute: no leg to close"
    mid = (len(leg.nodes) - 1) // 2
    after = RoadState(network, frozenset({Closure.edge(leg.nodes[mid], leg.nodes[mid + 1])}))
    started = time.perf_counter()
    router = Router(network)
    cut = [r for r in runs if crosses_closure(before, after, r, router)]
    new = [reroute_run(after, r, router) for r in cut]
    seconds = time.perf_counter() - started
    stops = sum(len(r.stops) for r in cut)
    lost = sum(len(n.unreachable) for n in new)
    return (
        f"fleet synthetic reroute: {len(cut)} of {len(runs)} runs rerouted "
        f"({stops} stops, {lost} unreachable) in {seconds:.3f} s"
    )


def run_fleet_bench(
    cases: Sequence[str] = ("synthetic", "city"), *, cvrp: Path | None = None
) -> str:
    """Tables for the cases, then one summary line per case."""
    tables, summaries = [], []
    for case in cases:
        if case == "synthetic":
            problem = dongcheng_fleet()
        elif case == "city":
            problem = city_fleet()
        elif case == "cvrp" and cvrp is not None:
            problem = read_cvrp(cvrp)
        else:
            raise ValueError(f"unknown fleet case {case!r}")
        rows = compare(problem, BUDGET_S[case])
        tables.append(table(case, rows))
        summaries.append(summary_line(case, rows))
        if case == "synthetic":
            summaries.append(reroute_line(problem, budget_s=BUDGET_S[case]))
    return "\n\n".join(tables) + "\n\n" + "\n".join(summaries)


def fleet_command(args: Sequence[str]) -> str:
    """``python -m geo.bench fleet [synthetic] [city] [cvrp PATH]`` (default: synthetic, city)."""
    cases = list(args) or ["synthetic", "city"]
    cvrp = None
    if "cvrp" in cases:
        at = cases.index("cvrp")
        if at + 1 >= len(cases):
            raise SystemExit("fleet cvrp needs the instance's path")
        cvrp = Path(cases.pop(at + 1))
    return run_fleet_bench(cases, cvrp=cvrp)
