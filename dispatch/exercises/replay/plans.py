"""Planning and approval: open requests planned per incident when what a plan reads
changed, approved plans leaving with the depot's crew, and deliveries arriving (or failing
on a road closed ahead)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from dispatch.db import query
from dispatch.errors import Conflict, DomainError
from dispatch.exercises.replay.state import ARRIVAL, CREW_OVERRIDE, Delivery, ReplayState
from dispatch.incidents.schemas import IncidentStatus, TaskAssign, TaskComplete, TaskFail, TaskStep
from dispatch.incidents.service import (
    advance_incident,
    assign_task,
    complete_task,
    fail_task,
    step_task,
)
from dispatch.planning.schemas import PlanApproval, PlanCreate, Policy
from dispatch.planning.service import approve_plan, create_plan, road_state
from geo.routing import Route, route_uses_closed_edge


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
            runs=False,
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
    )
    if not view.lines:
        return None
    return view.id


async def approve_latest(state: ReplayState) -> None:
    for key in state.incident_order:
        plan = state.latest_proposed.pop(key, None)
        if plan is not None:
            await approve(state, key, plan)


async def approve(state: ReplayState, key: str, plan_id: int) -> None:
    try:
        view = await approve_plan(state.context(), plan_id, PlanApproval())
    except Conflict as exc:
        state.refuse("approve", exc)
        state.replan_soon()
        return
    state.changed()
    state.record("approve", key, state.plans)
    if key not in state.responding:
        await advance_incident(state.context(), state.incidents[key], IncidentStatus.RESPONDING)
        state.responding.add(key)
    lines = {ln.id: ln for ln in view.lines}
    async with query(state.context()) as conn:
        tasks = await conn.fetch(
            "SELECT id, version, plan_line, request_id, route FROM task "
            "WHERE plan_line = ANY($1::int[]) ORDER BY plan_line",
            sorted(lines),
        )
    for row in tasks:
        line = lines[row["plan_line"]]
        await depart(state, row["id"], row["version"], line)


async def depart(state: ReplayState, task_id: int, version: int, line: Any) -> None:
    """The depot's crew takes the delivery and leaves at once."""
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
        quantity=line.quantity,
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
        line.quantity,
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
