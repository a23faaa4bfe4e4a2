"""The scenario's events, one handler per event kind in `HANDLERS` (a table from the
event's class to the function that issues its command); a refusal is recorded, not raised."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from dispatch.db import query
from dispatch.errors import DomainError
from dispatch.exercises import scenario as sc
from dispatch.exercises.replay.calls import call
from dispatch.exercises.replay.people import staff
from dispatch.exercises.replay.plans import approve_latest
from dispatch.exercises.replay.preparedness import plans_raised, plans_started
from dispatch.exercises.replay.roads import bring_depot_back, close, reopen, take_depot_out
from dispatch.exercises.replay.state import STAFF, PeopleTask, ReplayState
from dispatch.exercises.replay.world import arrive_on_duty
from dispatch.incidents.schemas import (
    IncidentCreate,
    IncidentStatus,
    IncidentType,
    Level,
    LevelRaise,
    Priority,
    RequestCreate,
    TaskCreate,
    TaskKind,
)
from dispatch.incidents.service import (
    advance_incident,
    create_request,
    create_task,
    declare_incident,
    raise_level,
)
from dispatch.people.schemas import CheckOutRequest
from dispatch.people.service import check_out
from dispatch.stock.schemas import ReceiptCreate, ReceiptLine
from dispatch.stock.service import receive


async def incident(state: ReplayState, event: sc.Incident) -> None:
    view = await declare_incident(
        state.context(),
        IncidentCreate(
            type=IncidentType(event.type),
            level=Level(event.level),
            title=event.title[:200],
            communities=list(event.communities),
        ),
    )
    state.incidents[event.key] = view.id
    state.incident_order.append(event.key)
    state.record("incident", event.key, event.type, event.level, sorted(event.communities))
    if state.scenario.plans_run:  # the declaration started the plans that answer it
        await plans_started(state, event, view.id)


async def request(state: ReplayState, event: sc.Request) -> None:
    need_by = None if event.need_by is None else state.scenario.start + event.need_by
    view = await create_request(
        state.context(),
        state.incidents[event.incident],
        RequestCreate(
            community=event.community,
            item=event.item,
            quantity=event.quantity,
            priority=Priority(event.priority),
            need_by=need_by,
        ),
    )
    state.changed()
    number = len(state.requests) + 1
    state.requests[view.id] = number
    state.request_incident[view.id] = event.incident
    state.record(
        "request",
        number,
        event.incident,
        event.community,
        event.item,
        event.quantity,
        event.priority,
    )


async def task(state: ReplayState, event: sc.Task) -> None:
    view = await create_task(
        state.context(),
        state.incidents[event.incident],
        TaskCreate(
            kind=TaskKind(event.kind),
            community=event.community,
            people=event.people,
            minutes=event.minutes,
            skills=list(event.skills),
            note=f"第 {event.index} 条情景事件 / scenario event {event.index}",
        ),
    )
    key = f"T{len(state.tasks) + 1}"
    state.tasks[view.id] = PeopleTask(
        key, view.id, view.version, event.community, event.kind, event.people, event.minutes
    )
    state.record("task", key, event.incident, event.community, event.kind, event.people)
    if state.scenario.policy.assign_people:
        await staff(state, view.id)


async def receive_stock(state: ReplayState, event: sc.Receive) -> None:
    expires = event.expires
    if expires is None:
        async with query(state.context()) as conn:
            days = await conn.fetchval("SELECT shelf_life_days FROM item WHERE code=$1", event.item)
        expires = None if not days else state.now.date() + timedelta(days=int(days))
    await receive(
        state.context(),
        ReceiptCreate(
            depot=event.depot,
            lines=[
                ReceiptLine(
                    item=event.item,
                    lot=f"REPLAY-E{event.index}-{event.item}",
                    qty=event.quantity,
                    expires_on=expires,
                )
            ],
            note=f"第 {event.index} 条情景事件 / scenario event {event.index}",
        ),
    )
    state.record("receive", event.index, event.depot, event.item, event.quantity)
    state.replan_soon()


async def leave_duty(state: ReplayState, event: sc.CheckOut) -> None:
    busy = {p for t in state.tasks.values() if not t.done for p in t.assigned}
    here = state.on_duty.get(event.community, [])
    order = sorted(here, key=lambda cp: (cp[1] in busy, cp[0]), reverse=False)
    leaving = [cp for cp in order if cp[1] not in busy][-event.people :]
    if len(leaving) < event.people:
        rest = [cp for cp in order if cp not in leaving]
        leaving += rest[-(event.people - len(leaving)) :]
    for code, person in leaving[: event.people]:
        await check_out(state.context(), CheckOutRequest(person_id=person))
        here.remove((code, person))
    state.record("check_out", event.community, sorted(c for c, _ in leaving[: event.people]))


async def stand_down(state: ReplayState, event: sc.StandDown) -> None:
    incident = state.incidents[event.incident]
    if event.incident not in state.responding:
        await advance_incident(state.context(), incident, IncidentStatus.RESPONDING)
        state.responding.add(event.incident)
    await advance_incident(state.context(), incident, IncidentStatus.STOOD_DOWN)
    state.stood_down.add(event.incident)
    state.latest_proposed.pop(event.incident, None)
    state.record("stand_down", event.incident)


async def level_raised(state: ReplayState, event: sc.RaiseLevel) -> None:
    """The incident grows graver: the plans that answer only the new level start."""
    await raise_level(
        state.context(), state.incidents[event.incident], LevelRaise(level=Level(event.level))
    )
    state.record("raise_level", event.incident, event.level)
    if state.scenario.plans_run:
        await plans_raised(state, event.incident, state.incidents[event.incident])


async def close_road(state: ReplayState, event: sc.CloseRoad) -> None:
    await close(state, event.closure, event.index)


async def open_road(state: ReplayState, event: sc.OpenRoad) -> None:
    await reopen(state, event.closure, event.index)


async def depot_out(state: ReplayState, event: sc.DepotOut) -> None:
    await take_depot_out(state, event.depot)


async def depot_back(state: ReplayState, event: sc.DepotBack) -> None:
    await bring_depot_back(state, event.depot)


async def check_in(state: ReplayState, event: sc.CheckIn) -> None:
    await arrive_on_duty(state, event.community, event.people, event.skills, f"E{event.index}")
    state.push(state.now, STAFF, "staff")


async def approve(state: ReplayState, event: sc.Approve) -> None:
    await approve_latest(state)


Handler = Callable[[ReplayState, Any], Awaitable[None]]
# one handler per event kind: the event's class -> the function that issues its command
HANDLERS: dict[type[sc.Event], Handler] = {
    sc.Incident: incident,
    sc.Request: request,
    sc.Task: task,
    sc.CloseRoad: close_road,
    sc.OpenRoad: open_road,
    sc.DepotOut: depot_out,
    sc.DepotBack: depot_back,
    sc.Receive: receive_stock,
    sc.CheckIn: check_in,
    sc.CheckOut: leave_duty,
    sc.Approve: approve,
    sc.StandDown: stand_down,
    sc.RaiseLevel: level_raised,
    sc.Call: call,
}


async def apply_event(state: ReplayState, event: sc.Event) -> None:
    """The event's command; a refusal is recorded (the history says what and why)."""
    try:
        await HANDLERS[type(event)](state, event)
    except DomainError as exc:
        state.refuse(event.action, exc, event.index)
