"""Roads and depots: closures and outages belong to an incident; a closure reroutes
the vehicles on their way, and the new route's time sets each one's new ETA."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dispatch.db import query
from dispatch.exercises import scenario as sc
from dispatch.exercises.replay.runs import refresh_runs
from dispatch.exercises.replay.state import ARRIVAL, ReplayState, closure_key
from dispatch.incidents.schemas import (
    ClosureCreate,
    DepotOutageCreate,
    IncidentCreate,
    IncidentType,
    Level,
)
from dispatch.incidents.service import (
    close_road,
    declare_incident,
    depot_back,
    depot_out,
    get_task,
    reopen_road,
)
from dispatch.places.service import active_road_network
from dispatch.planning.service import position_of
from geo.network import RoadNetwork, Vehicle
from geo.routing import path_seconds


def active_incident(state: ReplayState) -> int:
    """Closures and outages belong to an incident: the latest one declared, else one
    standing for the scenario's world (declared when first needed)."""
    for key in reversed(state.incident_order):
        if key not in state.stood_down:
            return state.incidents[key]
    if state.world_incident is None:
        raise RuntimeError("no incident")
    return state.world_incident


async def incident_for_roads(state: ReplayState) -> int:
    if any(k not in state.stood_down for k in state.incident_order):
        return active_incident(state)
    if state.world_incident is None:
        first = next((e for e in state.scenario.events if isinstance(e, sc.Incident)), None)
        communities = list(first.communities) if first else []
        if not communities:
            async with query(state.context()) as conn:
                communities = [await conn.fetchval("SELECT min(code) FROM community")]
        view = await declare_incident(
            state.context(),
            IncidentCreate(
                type=IncidentType(first.type if first else "rainstorm"),
                level=Level.IV,
                title="情景背景：道路与储备点 · scenario world",
                communities=communities,
            ),
        )
        state.world_incident = view.id
    return state.world_incident


async def close(state: ReplayState, closure: sc.Closure, index: int | None) -> None:
    incident = await incident_for_roads(state)
    body = (
        ClosureCreate(near=list(closure.near), radius_m=closure.radius_m)
        if closure.near is not None
        else ClosureCreate(edge=list(closure.edge or ()))
    )

    view = await close_road(state.context(), incident, body)
    state.closures.append((closure, view.id))
    network = await active_road_network(state.context())
    mark_passed(state, network)
    rerouted = [t for t in view.rerouted_tasks if t in state.deliveries]
    await apply_reroutes(state, rerouted, network)
    runs = await refresh_runs(state, [t for t in view.rerouted_tasks if t in state.runs])
    state.record(
        "close_road",
        index,
        closure_key(closure),
        sorted(state.deliveries[t].number for t in rerouted),
        *([sorted(state.vehicles[state.runs[t].vehicle].code for t in runs)] if runs else []),
    )
    state.replan_soon()


def mark_passed(state: ReplayState, network: RoadNetwork) -> None:
    """Where each vehicle on its way is as a road closes, reckoned as the service
    reckons it when it reroutes."""
    for delivery in state.deliveries.values():
        if delivery.arrived is not None or delivery.failed is not None or delivery.stop:
            continue  # a run's vehicle is placed by the service's run reroute
        travelled = (state.now - delivery.departed).total_seconds()
        at, _ = position_of(network, delivery.route, travelled)
        delivery.passed = max(delivery.passed, at)


async def apply_reroutes(state: ReplayState, task_ids: list[int], network: RoadNetwork) -> None:
    """New route, new ETA: the rest of the trip at the new route's time."""
    for task_id in task_ids:
        delivery = state.deliveries[task_id]
        view = await get_task(state.context(), task_id)
        route = view.route or delivery.route
        old = route_time(state, delivery.route, network)
        new = route_time(state, route, network)
        delivery.route = route
        delivery.version = view.version
        delivery.rerouted += 1
        delivery.arrives = max(state.now, delivery.arrives + timedelta(seconds=new - old))
        state.push(delivery.arrives, ARRIVAL, "arrival", (task_id, delivery.rerouted))
        state.record(
            "reroute", delivery.number, round(new - old, 1), state.offset(delivery.arrives)
        )


def route_time(state: ReplayState, route: dict[str, Any], network: RoadNetwork) -> float:
    """A route's time at the scenario's vehicle speed (the service stores a rerouted
    one at the default speed), along its nodes as they are driven: the stretch
    already behind the vehicle counts the same in the old route and the new."""
    nodes = [int(n) for n in route.get("nodes", [])]
    if len(nodes) < 2:
        return float(route.get("time_s", 0.0))
    vehicle = Vehicle(speed_kmh=state.scenario.policy.vehicle_speed_kmh)
    return path_seconds(network, nodes, vehicle=vehicle)


async def reopen(state: ReplayState, closure: sc.Closure, index: int | None) -> None:
    for k, (shape, closure_id) in enumerate(state.closures):
        if shape == closure:
            await reopen_road(state.context(), closure_id)
            del state.closures[k]
            state.record("open_road", index, closure_key(closure))
            state.replan_soon()
            return
    state.record("open_road", index, closure_key(closure), "not closed")


async def take_depot_out(state: ReplayState, depot: str) -> None:
    incident = await incident_for_roads(state)
    view = await depot_out(
        state.context(), incident, DepotOutageCreate(depot=depot, reason="scenario")
    )
    state.outages[depot] = view.id
    state.record("depot_out", depot)
    state.replan_soon()


async def bring_depot_back(state: ReplayState, depot: str) -> None:
    outage = state.outages.pop(depot, None)
    if outage is None:
        state.record("depot_back", depot, "not out")
        return
    await depot_back(state.context(), outage)
    state.record("depot_back", depot)
    state.replan_soon()
