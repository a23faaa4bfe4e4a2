"""Runs on the simulated clock: an approved plan's vehicle runs picked up by their crews,
each stop signed for when its run says the vehicle leaves it (its ETA plus the handling
time: unloaded, stop by stop, as a squad does on the tablet), a stop a closure cut off
left for its stock to return, and the vehicle out until it is back at its depot after its
last trip: only then may a plan route it again.

A run's task is made by approval (`planning.run_approval`); this module only decides when
each of its steps is issued, through the same services the API uses.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dispatch.db import query
from dispatch.errors import DomainError
from dispatch.exercises.replay.state import (
    ARRIVAL,
    CREW_OVERRIDE,
    Delivery,
    ReplayState,
    RunTrack,
    Trip,
    as_minutes,
)
from dispatch.fleet.schemas import VehicleStatus, VehicleUpdate
from dispatch.fleet.service import update_vehicle
from dispatch.incidents.schemas import StopComplete, TaskAssign, TaskFail, TaskStep
from dispatch.incidents.service import assign_task, complete_stop, fail_task, get_task, step_task
from dispatch.planning.schemas import PlanView

RECEIVER = "演练接收人"
CUT_OFF = "road closed on the run, no way through"
STOPS = (
    "SELECT id, seq, trip, community, eta_at, depart_at, kg, m3, unreachable FROM task_stop "
    "WHERE task = $1 ORDER BY seq"
)
TRANSFERS = (
    "SELECT t.id, t.stop_id, t.request_id, t.source, t.dest_community, p.item, "
    "sum(p.qty_sent)::int AS sent FROM stock_transfer t "
    "JOIN stock_transfer_pick p ON p.transfer = t.id WHERE t.task_id = $1 "
    "GROUP BY t.id, p.item ORDER BY t.id"
)


def _trips_of(runs: list[dict[str, Any]] | None) -> dict[int, list[dict[str, Any]]]:
    """The plan's trips per vehicle id, in order (a run stop's `trip` counts from 1)."""
    return {
        int(run["vehicle_id"]): list(run["trips"]) for entry in runs or [] for run in entry["runs"]
    }


async def start_runs(
    state: ReplayState,
    incident: int,
    view: PlanView,
    approved: datetime,
) -> None:
    """The approval's run tasks: crewed (the vehicle's crew; a commander's override where the
    assignment rules left someone off), picked up, and their stops put on the agenda. Each
    delivery keeps its plan line's depot-to-community route, for the report's map."""
    routes = {(ln.request, ln.depot): dict(ln.route) for ln in view.lines}
    async with query(state.context()) as conn:
        rows = await conn.fetch(
            "SELECT id, vehicle_id FROM task WHERE incident = $1 AND vehicle_id IS NOT NULL "
            "AND id <> ALL($2::bigint[]) ORDER BY id",
            incident,
            sorted(state.runs),
        )
    trips = _trips_of(view.runs)
    for row in rows:
        try:
            await _start_run(state, row["id"], row["vehicle_id"], (trips, routes), approved)
        except DomainError as exc:
            state.refuse("run", exc)


async def _start_run(
    state: ReplayState,
    task_id: int,
    vehicle_id: int,
    plan: tuple[dict[int, list[dict[str, Any]]], dict[tuple[int, str], dict[str, Any]]],
    approved: datetime,
) -> None:
    ctx = state.context()
    trips, routes = plan
    vehicle = state.vehicles[vehicle_id]
    view = await get_task(ctx, task_id)
    if view.status == "open":
        body = TaskAssign(version=view.version, people=vehicle.crew, override_reason=CREW_OVERRIDE)
        view = await assign_task(ctx, task_id, body)
    view = await step_task(ctx, task_id, "accept", TaskStep(version=view.version))
    view = await step_task(ctx, task_id, "start", TaskStep(version=view.version))
    state.busy.add(vehicle_id)
    async with query(ctx) as conn:
        stops = await conn.fetch(STOPS, task_id)
        transfers = await conn.fetch(TRANSFERS, task_id)
    mine = trips.get(vehicle_id, [])
    last = stops[-1]
    back_at = approved + timedelta(minutes=float(mine[last["trip"] - 1]["return_min"]))
    run = RunTrack(task_id, view.version, vehicle_id, {}, back_at - last["depart_at"])
    state.runs[task_id] = run
    for trip_no in sorted({s["trip"] for s in stops}):
        trip = mine[trip_no - 1]
        on = [s for s in stops if s["trip"] == trip_no]
        kg, m3 = sum(s["kg"] for s in on), sum(s["m3"] for s in on)
        state.trips.append(Trip(vehicle_id, float(trip["km"]), kg, m3))
    leaves = {
        n: approved + timedelta(minutes=float(t["depart_min"])) for n, t in enumerate(mine, 1)
    }
    for stop in stops:
        run.stops[stop["id"]] = []
        for t in (t for t in transfers if t["stop_id"] == stop["id"]):
            route = routes.get((t["request_id"], vehicle.depot), {})
            run.stops[stop["id"]].append(
                _track(state, (task_id, stop, t), leaves[stop["trip"]], vehicle.depot, route)
            )
        state.push(stop["depart_at"], ARRIVAL, "stop", (task_id, stop["id"], 0))
    state.record(
        "run",
        vehicle.code,
        [[s["seq"], s["trip"], s["community"], state.offset(s["depart_at"])] for s in stops],
        [state.deliveries[k].number for keys in run.stops.values() for k in keys],
    )


def _track(
    state: ReplayState,
    where: tuple[int, Any, Any],
    leaves: datetime,
    depot: str,
    route: dict[str, Any],
) -> int:
    """One transfer of a stop as a delivery of the report, and how long its load waited."""
    task_id, stop, t = where
    ready = min(state.held_since.pop(t["request_id"], state.now), state.now)
    number = len(state.deliveries) + 1
    key = -int(t["id"])
    state.deliveries[key] = Delivery(
        number=number,
        task=task_id,
        version=0,
        request=t["request_id"],
        depot=depot,
        community=stop["community"],
        item=t["item"],
        quantity=t["sent"],
        departed=leaves,
        arrives=stop["depart_at"],
        route=route,
        stop=stop["id"],
        waited_minutes=max(0.0, as_minutes(leaves - ready)),
    )
    state.record(
        "depart",
        number,
        state.requests.get(t["request_id"]),
        depot,
        stop["community"],
        t["item"],
        t["sent"],
        state.offset(stop["depart_at"]),
    )
    return key


async def stop_arrival(state: ReplayState, payload: tuple[int, int, int]) -> None:
    """The vehicle at a stop: unloaded and signed for, or found cut off by a closure."""
    task_id, stop_id, generation = payload
    run = state.runs[task_id]
    if generation != run.generation or stop_id in run.handled:
        return  # superseded by a reroute, or already handled
    ctx = state.context()
    async with query(ctx) as conn:
        unreachable = await conn.fetchval(
            "SELECT unreachable FROM task_stop WHERE id = $1", stop_id
        )
    run.handled.add(stop_id)
    if unreachable:
        run.cut_off.add(stop_id)
        for key in run.stops[stop_id]:
            state.deliveries[key].failed = CUT_OFF
            state.record("failed", state.deliveries[key].number, CUT_OFF)
    else:
        try:
            view = await complete_stop(
                ctx, task_id, stop_id, StopComplete(version=run.version, receiver=RECEIVER)
            )
        except DomainError as exc:
            state.refuse("stop", exc)
            return
        run.version = view.version
        for key in run.stops[stop_id]:
            delivery = state.deliveries[key]
            delivery.delivered = delivery.quantity
            delivery.arrived = state.now
            state.record("arrive", delivery.number, delivery.quantity)
        state.changed()
    if len(run.handled) == len(run.stops):
        await _run_over(state, run)


async def _run_over(state: ReplayState, run: RunTrack) -> None:
    """Every stop handled: a run with a stop cut off fails (its stock returns, its requests
    are open again); the vehicle drives back and is free once it is at its depot."""
    ctx = state.context()
    if run.cut_off:
        try:
            await fail_task(ctx, run.task, TaskFail(version=run.version, reason=CUT_OFF))
        except DomainError as exc:
            state.refuse("run", exc)
        state.replan_soon()
    async with query(ctx) as conn:
        last = await conn.fetchval("SELECT max(depart_at) FROM task_stop WHERE task = $1", run.task)
    back = max(state.now, last + run.back_after)
    vehicle = state.vehicles[run.vehicle]
    # the service frees the vehicle with its last stop; it is still on the road
    await update_vehicle(ctx, run.vehicle, VehicleUpdate(status=VehicleStatus.OUT))
    state.push(back, ARRIVAL, "vehicle_back", run.vehicle)
    state.record("run_done", vehicle.code, state.offset(back), sorted(run.cut_off))


async def vehicle_back(state: ReplayState, vehicle_id: int) -> None:
    """The vehicle is back at its depot: free for the next plan."""
    await update_vehicle(state.context(), vehicle_id, VehicleUpdate(status=VehicleStatus.AVAILABLE))
    state.busy.discard(vehicle_id)
    state.record("vehicle_back", state.vehicles[vehicle_id].code)
    state.replan_soon()


async def refresh_runs(state: ReplayState, task_ids: list[int]) -> list[int]:
    """Runs a closure re-sequenced: their stops not yet reached at their new ETAs."""
    rerouted = []
    for task_id in task_ids:
        run = state.runs.get(task_id)
        if run is None or len(run.handled) == len(run.stops):
            continue
        view = await get_task(state.context(), task_id)
        run.version = view.version
        run.generation += 1
        async with query(state.context()) as conn:
            stops = await conn.fetch(STOPS, task_id)
        for stop in stops:
            if stop["id"] in run.handled:
                continue
            at = max(state.now, stop["depart_at"])
            for key in run.stops.get(stop["id"], []):
                state.deliveries[key].arrives = at
            state.push(at, ARRIVAL, "stop", (task_id, stop["id"], run.generation))
        rerouted.append(task_id)
    return rerouted
