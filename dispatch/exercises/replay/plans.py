"""Planning and approval: open requests planned per incident when what a plan reads
changed, plans carrying the depots' vehicle runs; on approval the runs leave with their
vehicles' crews (`runs`), a load no vehicle of its depot carries leaves as a single-line
delivery with the depot's crew, and a load whose depot's vehicles are all out waits for one
to come back (held out of the approval, planned again when a vehicle is back). Single-line
deliveries arrive after their line's ETA (or fail on a road closed ahead)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from dispatch.db import query
from dispatch.errors import Conflict, DomainError
from dispatch.exercises.replay.runs import start_runs
from dispatch.exercises.replay.state import ARRIVAL, CREW_OVERRIDE, Delivery, ReplayState
from dispatch.incidents.schemas import IncidentStatus, TaskAssign, TaskComplete, TaskFail, TaskStep
from dispatch.incidents.service import (
    advance_incident,
    assign_task,
    complete_task,
    fail_task,
    step_task,
)
from dispatch.planning.runs import RouteOptions
from dispatch.planning.schemas import LineEdit, PlanApproval, PlanCreate, PlanView, Policy
from dispatch.planning.service import approve_plan, create_plan, get_plan, road_state
from geo.routing import Route, route_uses_closed_edge

# PyVRP stops after this many iterations, never on the clock: the same runs on any machine
# (a few hundred without a better plan end it sooner: a depot's stops are few)
ROUTE_ITERATIONS = 1000
# why a depot's vehicles carry no load that they will once one is back at the depot
WAITS = frozenset({"no_vehicle", "no_crew", "over_capacity"})


async def read_open_demand(state: ReplayState) -> dict[int, int]:
    """Incidents (by id) still running with units neither delivered nor on the way."""
    async with query(state.context()) as conn:
        rows = await conn.fetch(
            "SELECT r.incident, sum(r.quantity - r.planned_qty)::int AS open "
            "FROM supply_request r JOIN incident i ON i.id = r.incident "
            "WHERE i.status IN ('declared', 'responding') "
            "AND r.status IN ('open', 'planned', 'partially_fulfilled') "
            "AND r.quantity > r.planned_qty GROUP BY r.incident ORDER BY r.incident"
        )
    return {r["incident"]: r["open"] for r in rows}


async def replan(state: ReplayState) -> None:
    open_demand = await read_open_demand(state)
    for key in state.incident_order:
        incident = state.incidents[key]
        if key in state.stood_down or incident not in open_demand:
            continue
        if state.planned_version.get(key) == state.version:
            continue  # nothing a plan reads changed since this incident's last plan
        state.planned_version[key] = state.version
        plan = await make_plan(state, key)
        if plan is None:
            continue
        if state.scenario.policy.auto_approve:
            await approve(state, key, plan)
            state.planned_version[key] = state.version
        else:
            state.latest_proposed[key] = plan


async def make_plan(state: ReplayState, key: str) -> int | None:
    policy = state.scenario.policy
    began = time.perf_counter()
    try:
        view = await create_plan(
            state.context(),
            state.incidents[key],
            PlanCreate(policy=Policy(state.planner)),
            policy.vehicle_speed_kmh,
            policy.handling_minutes,
            runs=True,
            route=RouteOptions(ROUTE_ITERATIONS, policy.vehicle_speed_kmh),
        )
    except DomainError as exc:
        state.refuse("plan", exc)
        return None
    finally:
        state.plan_seconds += time.perf_counter() - began
    state.plans += 1
    for unmet in view.unmet:
        state.last_unmet[int(unmet["request"])] = str(unmet["reason"])
    state.record(
        "plan",
        key,
        state.plans,
        [
            [ln.depot, state.requests.get(ln.request), ln.item, ln.quantity, round(ln.eta_s)]
            for ln in view.lines
        ],
        [[state.requests.get(int(u["request"])), u["quantity"], u["reason"]] for u in view.unmet],
        runs_key(state, view),
    )
    if not view.lines:
        return None
    return view.id


async def approve_latest(state: ReplayState) -> None:
    for key in state.incident_order:
        plan = state.latest_proposed.pop(key, None)
        if plan is not None:
            await approve(state, key, plan)


def runs_key(state: ReplayState, view: PlanView) -> list[Any]:
    """A plan's runs as the history names them: per depot, each vehicle's trips' stops,
    and the stops no vehicle serves, with why."""
    return [
        [
            entry["depot"],
            [
                [r["vehicle"], [[s["community"] for s in t["stops"]] for t in r["trips"]]]
                for r in entry["runs"]
            ],
            [[u["community"], u["reason"]] for u in entry["unserved"]],
        ]
        for entry in view.runs or []
    ]


def held_back(state: ReplayState, view: PlanView) -> list[LineEdit]:
    """Lines whose (depot, community) no run serves while some vehicle of that depot is
    out, or leaves on this plan's runs: they wait for it (quantity 0 in the approval)
    rather than leave without a vehicle."""
    out_at = {state.vehicles[v].depot for v in state.busy}
    out_at |= {entry["depot"] for entry in view.runs or [] if entry["runs"]}
    waiting = {
        (entry["depot"], u["community"])
        for entry in view.runs or []
        if entry["depot"] in out_at
        for u in entry["unserved"]
        if u["reason"] in WAITS
    }
    held = [ln for ln in view.lines if (ln.depot, ln.community) in waiting]
    for ln in held:
        state.held_since.setdefault(ln.request, state.now)
    if held:
        state.record(
            "wait",
            sorted({(ln.depot, ln.community) for ln in held}),
            sorted({state.requests.get(ln.request, 0) for ln in held}),
        )
    return [LineEdit(line=ln.id, quantity=0) for ln in held]


async def approve(state: ReplayState, key: str, plan_id: int) -> None:
    proposed = await get_plan(state.context(), plan_id)
    edits = held_back(state, proposed)
    if len(edits) == len(proposed.lines):
        return  # every load waits for a vehicle: planned again when one is back
    try:
        view = await approve_plan(state.context(), plan_id, PlanApproval(lines=edits))
    except Conflict as exc:
        state.refuse("approve", exc)
        state.replan_soon()
        return
    state.changed()
    state.record("approve", key, state.plans)
    if key not in state.responding:
        await advance_incident(state.context(), state.incidents[key], IncidentStatus.RESPONDING)
        state.responding.add(key)
    await start_runs(state, state.incidents[key], view, state.now)
    lines = {ln.id: ln for ln in view.lines}
    async with query(state.context()) as conn:
        tasks = await conn.fetch(
            "SELECT t.id, t.version, t.plan_line, (SELECT sum(p.qty_sent) FROM "
            "stock_transfer_pick p WHERE p.transfer = t.transfer_id)::int AS qty FROM task t "
            "WHERE t.plan_line = ANY($1::int[]) ORDER BY t.plan_line",
            sorted(lines),
        )
    for row in tasks:
        line = lines[row["plan_line"]]
        await depart(state, row["id"], row["version"], line, row["qty"])


async def depart(state: ReplayState, task_id: int, version: int, line: Any, qty: int) -> None:
    """The depot's crew takes a load no vehicle of its depot carries, and leaves at once."""
    ctx = state.context()
    # The depot's crew stands for its vehicles and drives every delivery it sends, so
    # it is on several at once, wherever they go: a commander's override, audited.
    body = TaskAssign(
        version=version, people=state.crews[line.depot], override_reason=CREW_OVERRIDE
    )
    view = await assign_task(ctx, task_id, body)
    view = await step_task(ctx, task_id, "accept", TaskStep(version=view.version))
    view = await step_task(ctx, task_id, "start", TaskStep(version=view.version))
    number = len(state.deliveries) + 1
    arrives = state.now + timedelta(seconds=float(line.eta_s))
    state.deliveries[task_id] = Delivery(
        number=number,
        task=task_id,
        version=view.version,
        request=line.request,
        depot=line.depot,
        community=line.community,
        item=line.item,
        quantity=qty,
        departed=state.now,
        arrives=arrives,
        route=dict(line.route),
    )
    state.push(arrives, ARRIVAL, "arrival", (task_id, 0))
    state.record(
        "depart",
        number,
        state.requests.get(line.request),
        line.depot,
        line.community,
        line.item,
        qty,
        state.offset(arrives),
    )


async def arrive(state: ReplayState, payload: tuple[int, int]) -> None:
    task_id, generation = payload
    delivery = state.deliveries[task_id]
    if generation != delivery.rerouted or delivery.arrived or delivery.failed:
        return  # superseded by a reroute
    ctx = state.context()
    async with query(ctx) as conn:
        roads_now = await road_state(ctx, conn)
    ahead = tuple(int(n) for n in delivery.route.get("nodes", []))[delivery.passed :]
    route = Route(ahead, 0.0, 0.0)
    try:
        if len(ahead) >= 2 and route_uses_closed_edge(roads_now, route):
            reason = "road closed on the route, no way through"
            await fail_task(ctx, task_id, TaskFail(version=delivery.version, reason=reason))
            delivery.failed = reason
            state.record("failed", delivery.number, reason)
            state.replan_soon()
            return
        view = await complete_task(ctx, task_id, TaskComplete(version=delivery.version))
    except DomainError as exc:
        state.refuse("deliver", exc)
        return
    delivery.version = view.version
    delivery.delivered = view.delivered_qty
    delivery.arrived = state.now
    state.record("arrive", delivery.number, view.delivered_qty)
