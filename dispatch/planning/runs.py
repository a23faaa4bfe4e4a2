"""A plan's delivery runs: the loads the allocation sends from each depot, routed on that
depot's available vehicles (`geo.fleet.plan_runs`: capacity by weight and volume, lanes
per vehicle kind, several stops and trips, priorities), with every stop left unserved and
why. A stop is a community's committee, or a shelter of it (`destinations`). A depot's
goods leave on its own vehicles, so each sending depot is its own routing problem. Shown
with the plan, so a dispatcher sees which vehicle goes where, in what order, carrying how
much, before approving it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from dispatch.db import Context
from dispatch.fleet.schemas import AvailableVehicle
from dispatch.fleet.service import available_at
from dispatch.planning.destinations import ShelterPlace, place_fields, place_key
from dispatch.roads import snapper_for
from geo.fleet import FleetPlan, plan_runs
from geo.fleet_records import FleetVehicle, Stop, build_problem
from geo.network import RoadState, Vehicle
from geo.planning import PRIORITY_RANK, Demand, DepotRecord
from geo.planning import Plan as GeoPlan

__all__ = [
    "HANDLING_S",
    "ROUTE_BUDGET_S",
    "Load",
    "RouteOptions",
    "loads_of",
    "plan_delivery_runs",
]

ROUTE_BUDGET_S = 0.2  # per sending depot: a plan is asked for while people wait
ROUTE_PATIENCE = 300  # iterations without a better plan: a depot's few stops settle early
HANDLING_S = 600.0  # unloading at a stop
TRIPS = 10  # short urban trips: back to reload as often as the shift allows


@dataclass(frozen=True)
class RouteOptions:
    """How runs are routed beyond the live default (scenario replay): `iterations`, the
    solver stops after exactly that many, never on the clock (the same runs on any
    machine); `speed_cap_kmh`, no vehicle drives faster (a scenario's flooded lanes)."""

    iterations: int | None = None
    speed_cap_kmh: float | None = None


LIVE = RouteOptions()


@dataclass(frozen=True)
class Load:
    """What one depot sends one community: kg, m³ and its most urgent priority."""

    kg: float = 0.0
    m3: float = 0.0
    priority: int = 0


def loads_of(
    result: GeoPlan,
    items: Mapping[str, tuple[float, float]],
    shelters: Mapping[str, ShelterPlace] | None = None,
) -> dict[str, dict[str, Load]]:
    """What each depot sends to each place (a community's committee, or a shelter of it:
    `destinations.place_key`, by the demand's `shelters` entry), in kg and m³, and its most
    urgent priority (2 critical, 1 high, 0 normal)."""
    out: dict[str, dict[str, Load]] = {}
    for t in result.transfers:
        kg, litres = items.get(t.item, (0.0, 0.0))
        shelter = None if shelters is None else shelters.get(t.demand_id)
        place = place_key(t.community, None if shelter is None else shelter.id)
        was = out.setdefault(t.depot, {}).get(place, Load())
        out[t.depot][place] = Load(
            was.kg + t.quantity * kg,
            was.m3 + t.quantity * litres / 1000.0,
            max(was.priority, 2 - PRIORITY_RANK[t.priority]),
        )
    return out


def _nodes(
    state: RoadState,
    depots: Sequence[DepotRecord],
    demands: Sequence[Demand],
    shelters: Mapping[str, ShelterPlace],
) -> dict[str, int]:
    """Road nodes of depots and places (committees, shelters: a shelter's demand stands at
    the shelter), snapped where every vehicle kind can stop."""
    snap = snapper_for(state.network, Vehicle("tricycle"))
    places = [(d.code, d.node, d.lat, d.lon) for d in depots]
    for d in demands:
        shelter = shelters.get(d.id)
        key = place_key(d.community, None if shelter is None else shelter.id)
        places.append((key, d.node, d.lat, d.lon))
    nodes: dict[str, int] = {}
    for code, node, lat, lon in places:
        if node is not None:
            nodes[code] = node
        elif lat is not None and lon is not None:
            nodes[code] = snap.nearest_node(lat, lon)
    return nodes


def _fleet(vehicles: Sequence[AvailableVehicle], node: int) -> list[FleetVehicle]:
    return [
        FleetVehicle(
            str(v.id),
            node,
            v.lane_class.value,
            v.payload_kg,
            v.volume_m3,
            v.crew_needed,
            max_trips=TRIPS,
        )
        for v in vehicles
        if v.crewed
    ]


def _place(stop: str, names: Mapping[int, str]) -> dict[str, Any]:
    """A stop id (`depot>place`) as the place's fields."""
    return place_fields(stop.split(">", 1)[1], names)


def _run_json(
    plan: FleetPlan, codes: Mapping[str, AvailableVehicle], names: Mapping[int, str]
) -> list[dict[str, Any]]:
    return [
        {
            "vehicle": codes[r.vehicle].code,
            "vehicle_id": codes[r.vehicle].id,
            "kind": r.kind,
            "trips": [
                {
                    "depart_min": round(t.depart_s / 60, 1),
                    "return_min": round(t.return_s / 60, 1),
                    "km": round(t.km, 2),
                    "load_kg": round(t.load_kg[0], 1) if t.load_kg else 0.0,
                    "stops": [
                        {
                            **_place(v.stop, names),
                            "part": v.part,
                            "arrival_min": round(v.arrival_s / 60, 1),
                            "departure_min": round(v.departure_s / 60, 1),
                            "kg": round(v.weight_kg, 1),
                            "m3": round(v.volume_m3, 3),
                        }
                        for v in t.visits
                    ],
                }
                for t in r.trips
            ],
        }
        for r in plan.runs
        if r.trips
    ]


def _route_depot(
    state: RoadState,
    depot: str,
    loads: Mapping[str, Load],
    vehicles: Sequence[AvailableVehicle],
    nodes: Mapping[str, int],
    options: RouteOptions = LIVE,
    names: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """One depot's runs, or why its stops go unserved."""
    names = names or {}
    fleet = _fleet(vehicles, nodes[depot])
    stops = [
        Stop(f"{depot}>{c}", nodes[c], load.kg, load.m3, HANDLING_S, None, load.priority)
        for c, load in sorted(loads.items())
        if c in nodes
    ]
    if not fleet:
        reason = "no_crew" if vehicles else "no_vehicle"
        unserved = [{**_place(s.id, names), "reason": reason, "kg": s.weight_kg} for s in stops]
        return {"depot": depot, "runs": [], "unserved": unserved, "split": []}
    problem = build_problem(state, fleet, stops, speed_cap_kmh=options.speed_cap_kmh)
    plan = plan_runs(
        problem,
        time_limit_s=ROUTE_BUDGET_S,
        seed=0,
        patience=ROUTE_PATIENCE,
        iterations=options.iterations,
    )
    return {
        "depot": depot,
        "runs": _run_json(plan, {str(v.id): v for v in vehicles}, names),
        "unserved": [
            {**_place(u.stop, names), "reason": u.reason, "kg": round(u.weight_kg, 1)}
            for u in plan.unserved
        ],
        "split": [{**_place(s.stop, names), "parts": s.parts} for s in plan.split],
        "km": round(plan.km, 2),
    }


async def plan_delivery_runs(
    ctx: Context,
    conn: asyncpg.Connection,
    state: RoadState,
    inputs: tuple[Sequence[DepotRecord], Sequence[Demand]],
    result: GeoPlan,
    options: RouteOptions = LIVE,
    shelters: Mapping[str, ShelterPlace] | None = None,
) -> list[dict[str, Any]]:
    """Each sending depot's runs on its available vehicles (routed off the event loop); a
    shelter's demand (`shelters`, by demand id) is a stop at the shelter."""
    shelters = shelters or {}
    names = {s.id: s.name for s in shelters.values()}
    sending = sorted({t.depot for t in result.transfers})
    if not sending:
        return []
    rows = await conn.fetch(
        "SELECT code, weight_kg, volume_l FROM item WHERE code = ANY($1::varchar[])",
        sorted({t.item for t in result.transfers}),
    )
    items = {r["code"]: (float(r["weight_kg"] or 0), float(r["volume_l"] or 0)) for r in rows}
    fleet = await available_at(ctx, sending)
    loads = loads_of(result, items, shelters)
    depots, demands = inputs

    def route() -> list[dict[str, Any]]:
        nodes = _nodes(state, depots, demands, shelters)
        return [
            _route_depot(
                state, d, loads[d], [v for v in fleet if v.depot == d], nodes, options, names
            )
            for d in sending
        ]

    return await asyncio.to_thread(route)
