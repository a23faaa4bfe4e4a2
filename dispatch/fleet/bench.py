"""`dispatch bench fleet`: the routing engines on the district's own case beside the city
case. Dongcheng: the shipped (synthetic) road network, the demo fleet (`fleet.demo`: the
same kinds per depot, the same illustrative capacities), and the demand of
`scenarios/rainstorm_pingfang.yaml` at its peak: every request of the file outstanding at
once, on the scenario's stock (the reference standards, with `world.stock` set), with its
depots out and roads closed. The allocation is the planner's (exact); the loads it sends
from each depot are routed on that depot's vehicles, one problem per depot (a depot's
goods leave on its own vehicles). The city case is `geo.bench_fleet`'s.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dispatch.exercises import scenario as sc
from dispatch.exercises.replay import reference, scenarios_dir
from dispatch.fleet.demo import DEMO_SEED, demo_kinds
from dispatch.fleet.vehicles import DEFAULTS
from dispatch.planning.runs import HANDLING_S, loads_of
from geo.bench_fleet import BUDGET_S, Row, city_fleet, compare, summary_line, table
from geo.fleet_records import FleetProblem, FleetVehicle, Stop, build_problem
from geo.network import DATA_DIR, Closure, RoadState, Snapper, Vehicle, load_dongcheng_network
from geo.planning import (
    Demand,
    DepotRecord,
    ReserveFloor,
    StockLine,
    plan_transfers,
)
from geo.planning import Plan as GeoPlan
from geo.routing import Router

__all__ = ["dongcheng_problems", "run_fleet_bench"]

SCENARIO = "rainstorm_pingfang.yaml"
DONGCHENG_BUDGET_S = 1.0  # for the whole district: shared out among the depots' problems
TRIPS = 10  # short urban trips: a vehicle goes back to reload as often as its shift allows


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@dataclass(frozen=True)
class _Peak:
    """The scenario at its peak: every request, the depots out, the roads closed."""

    demands: list[Demand]
    depots_out: frozenset[str]
    closures: list[Closure]


def _peak(scenario: sc.Scenario, places: dict[str, dict[str, str]]) -> _Peak:
    demands: list[Demand] = []
    out = set(scenario.world.depots_out)
    closures = [c for c in scenario.world.closed_roads if c.near and c.radius_m]
    for n, event in enumerate(scenario.events):
        if isinstance(event, sc.Request):
            place = places[event.community]
            need_by = event.need_by.total_seconds() if event.need_by else None
            demands.append(
                Demand(
                    str(n),
                    event.community,
                    event.item,
                    event.quantity,
                    event.priority,  # type: ignore[arg-type]
                    need_by_s=need_by,
                    lat=float(place["lat"]),
                    lon=float(place["lon"]),
                )
            )
        elif isinstance(event, sc.DepotOut):
            out.add(event.depot)
        elif isinstance(event, sc.CloseRoad) and event.closure.near and event.closure.radius_m:
            closures.append(event.closure)
    geo_closures = [Closure.circle(c.near[0], c.near[1], c.radius_m) for c in closures]  # type: ignore[index,arg-type]
    return _Peak(demands, frozenset(out), geo_closures)


def _stock(scenario: sc.Scenario) -> tuple[list[StockLine], list[ReserveFloor]]:
    """The replay's world: each depot holds its reserve standard, `world.stock` set."""
    held = {
        (r["depot"], r["item"]): int(r["minimum"])
        for r in _rows(DATA_DIR / "reserve_standards.csv")
    }
    floors = [ReserveFloor(d, i, q) for (d, i), q in held.items()]
    for line in scenario.world.stock:
        held[(line.depot, line.item)] = line.quantity
    return [StockLine(d, i, f"{d}-{i}", q) for (d, i), q in held.items() if q > 0], floors


def _demo_fleet(
    depot_nodes: dict[str, int], depots: list[dict[str, str]]
) -> dict[str, list[FleetVehicle]]:
    """`fleet.demo`'s vehicles per depot, in its order (street depots first, by code)."""
    rng = random.Random(DEMO_SEED)
    fleet: dict[str, list[FleetVehicle]] = {}
    for d in sorted(depots, key=lambda r: (r["street_code"] == "", r["code"])):
        for k, lane in enumerate(demo_kinds(d["kind"], rng)):
            cap = DEFAULTS[lane]
            fleet.setdefault(d["code"], []).append(
                FleetVehicle(
                    f"{d['code']}-{k}",
                    depot_nodes[d["code"]],
                    lane.value,
                    cap.payload_kg,
                    cap.volume_m3,
                    cap.crew_needed,
                    max_trips=TRIPS,
                )
            )
    return fleet


def _stops_of(
    plan: GeoPlan, items: dict[str, dict[str, str]], nodes: dict[str, int]
) -> dict[str, list[Stop]]:
    """The plan's loads as stops per source depot (`planning.runs.loads_of`, what the
    service routes), their weights and volumes from the shipped catalogue."""
    sizes = {c: (float(r["weight_kg"] or 0), float(r["volume_l"] or 0)) for c, r in items.items()}
    return {
        depot: [
            Stop(f"{depot}>{c}", nodes[c], load.kg, load.m3, HANDLING_S, None, load.priority)
            for c, load in sorted(to.items())
        ]
        for depot, to in sorted(loads_of(plan, sizes).items())
    }


def dongcheng_problems() -> list[FleetProblem]:
    """One routing problem per depot the peak's plan sends from: its loads, its vehicles."""
    scenario = sc.load_scenario(scenarios_dir() / SCENARIO, reference())
    network = load_dongcheng_network()
    depots = _rows(DATA_DIR / "depots.csv")
    places = {r["code"]: r for r in _rows(DATA_DIR / "communities.csv")}
    items = {r["code"]: r for r in _rows(DATA_DIR / "items.csv")}
    peak = _peak(scenario, places)
    stock, floors = _stock(scenario)
    state = RoadState(network, closures=frozenset(peak.closures), depots_out=peak.depots_out)
    records = [
        DepotRecord(
            d["code"],
            lat=float(d["lat"]),
            lon=float(d["lon"]),
            is_district_reserve=d["kind"] == "district_reserve",
        )
        for d in depots
    ]
    plan = plan_transfers(records, stock, floors, peak.demands, state, Router(network))
    snapper = Snapper(network, network.usable_nodes(Vehicle("tricycle")))
    nodes = {d["code"]: snapper.nearest_node(float(d["lat"]), float(d["lon"])) for d in depots}
    nodes.update(
        {c: snapper.nearest_node(float(p["lat"]), float(p["lon"])) for c, p in places.items()}
    )
    fleet = _demo_fleet(nodes, depots)
    stops = _stops_of(plan, items, nodes)
    return [build_problem(state, fleet[d], stops[d]) for d in sorted(stops) if fleet.get(d)]


def _summed(per_depot: Sequence[Sequence[Row]]) -> list[Row]:
    """Rows of one case from its per-depot rows: per (engine, budget), the sums, and the gap
    of the summed objective to the sum of each depot's best."""
    reference = sum(rows[0].reference for rows in per_depot)
    out = []
    for k, first in enumerate(per_depot[0]):
        same = [rows[k] for rows in per_depot]
        objective = sum(r.objective for r in same)
        out.append(
            Row(
                first.engine,
                first.budget_s,
                objective,
                sum(r.travel_s for r in same),
                sum(r.seconds for r in same),
                sum(r.vehicles for r in same),
                sum(r.unserved for r in same),
                100.0 * (objective - reference) / reference if reference else 0.0,
                reference,
            )
        )
    return out


def run_fleet_bench(cases: Sequence[str] = ("dongcheng", "city")) -> str:
    """A table per case, then one summary line per case."""
    tables, summaries = [], []
    for case in cases:
        if case == "dongcheng":
            problems = dongcheng_problems()
            budget = DONGCHENG_BUDGET_S / len(problems)
            rows = _summed([compare(p, budget) for p in problems])
        elif case == "city":
            rows = compare(city_fleet(), BUDGET_S["city"])
        else:
            raise ValueError(f"unknown fleet case {case!r}: dongcheng or city")
        tables.append(table(case, rows))
        summaries.append(summary_line(case, rows))
    return "\n\n".join(tables) + "\n\n" + "\n".join(summaries)
