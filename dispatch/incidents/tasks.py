"""The task state machine: the transitions and their time stamps, versions so two
tablets never silently overwrite each other, the progress trail, creating tasks
(by hand and the door checks of care households) and reading them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from dispatch.accounts.policy import Target, authorize, authorize_task
from dispatch.clock import local
from dispatch.db import Command, Context, command, query, view_of
from dispatch.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from dispatch.incidents.positions import POSITION_COLUMNS, latest_fix
from dispatch.incidents.records import (
    community_street,
    incident_row,
    require_active,
    scope_clause,
    task_target,
)
from dispatch.incidents.run_records import run_vehicle, stop_views
from dispatch.incidents.schemas import (
    PositionView,
    ProgressView,
    TaskCreate,
    TaskKind,
    TaskNote,
    TaskStatus,
    TaskStep,
    TaskView,
)
from dispatch.preparedness.evacuation import chosen_shelter, task_shelter

TASK_ACTIVE = ("open", "assigned", "accepted", "en_route")
TRANSITIONS: dict[str, tuple[frozenset[str], TaskStatus | None]] = {
    "assign": (frozenset({"open", "assigned"}), TaskStatus.ASSIGNED),
    "accept": (frozenset({"assigned"}), TaskStatus.ACCEPTED),
    "start": (frozenset({"accepted"}), TaskStatus.EN_ROUTE),
    "complete": (frozenset({"accepted", "en_route"}), TaskStatus.DONE),
    "fail": (frozenset(TASK_ACTIVE), TaskStatus.FAILED),
    "cancel": (frozenset(TASK_ACTIVE), TaskStatus.CANCELLED),
    "note": (frozenset(TASK_ACTIVE), None),
    "stop": (frozenset({"en_route"}), None),  # a run's stop unloaded; the run goes on
}
IN_PROGRESS = frozenset({"accepted", "en_route"})
STAMPS = {
    TaskStatus.ASSIGNED: "assigned_at",
    TaskStatus.ACCEPTED: "accepted_at",
    TaskStatus.EN_ROUTE: "en_route_at",
    TaskStatus.DONE: "finished_at",
    TaskStatus.FAILED: "finished_at",
    TaskStatus.CANCELLED: "finished_at",
}
DOOR_CHECK_GROUP = 8  # households per door-check task


async def task_view(conn: asyncpg.Connection, row: asyncpg.Record) -> TaskView:
    people = await conn.fetch(
        "SELECT person FROM task_assignee WHERE task=$1 ORDER BY person", row["id"]
    )
    fix = await latest_fix(conn, row["id"]) if row["status"] == "en_route" else None
    run = row["vehicle_id"] is not None
    return view_of(
        TaskView,
        row,
        skills=list(row["skills"]),
        transfer=row["transfer_id"],
        request=row["request_id"],
        route=None if row["route"] is None else json.loads(row["route"]),
        households=list(row["households"]),
        assignees=[r["person"] for r in people],
        position=None if fix is None else view_of(PositionView, fix),
        vehicle=await run_vehicle(conn, row["vehicle_id"]) if run else None,
        stops=await stop_views(conn, row["id"]) if run else [],
        shelter=await task_shelter(conn, await _shelter_of(conn, row)),
    )


async def _shelter_of(conn: asyncpg.Connection, row: asyncpg.Record) -> int | None:
    """Where the task's people or goods go when it is a shelter: an evacuation's own, or
    the shelter a delivery's request asks for."""
    if row.get("shelter_id") is not None or row["request_id"] is None:
        return row.get("shelter_id")
    shelter: int | None = await conn.fetchval(
        "SELECT shelter_id FROM supply_request WHERE id=$1", row["request_id"]
    )
    return shelter


async def record_progress(
    cmd: Command,
    task_id: int,
    event: str,
    from_status: str | None,
    to_status: str | None,
    quantity: int | None,
    note: str | None,
) -> None:
    await cmd.connection.execute(
        """
        INSERT INTO task_progress (task, at, actor, event, from_status, to_status, quantity, note)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        task_id,
        cmd.now,
        cmd.ctx.actor.username,
        event,
        from_status,
        to_status,
        quantity,
        note,
    )


async def insert_task(
    cmd: Command,
    incident: int,
    kind: TaskKind,
    community: str,
    street: str,
    people: int,
    skills: Sequence[str],
    minutes: int,
    **extra: Any,
) -> int:
    columns = [
        "incident",
        "kind",
        "community",
        "street",
        "people_needed",
        "skills",
        "minutes",
        "status",
        "created_at",
        *extra,
    ]
    values = [
        incident,
        kind.value,
        community,
        street,
        people,
        list(skills),
        minutes,
        "open",
        cmd.now,
        *extra.values(),
    ]
    placeholders = ", ".join(f"${i + 1}" for i in range(len(values)))
    task_id: int = await cmd.connection.fetchval(
        f"INSERT INTO task ({', '.join(columns)}) VALUES ({placeholders}) RETURNING id", *values
    )
    await record_progress(cmd, task_id, "created", None, "open", None, None)
    cmd.emit(
        "task.created",
        {"task": task_id, "incident": incident, "kind": kind.value, "status": "open"},
        street=street,
        community=community,
    )
    return task_id


async def create_task(ctx: Context, incident_id: int, data: TaskCreate) -> TaskView:
    async with command(ctx) as cmd:
        conn = cmd.connection
        incident = await incident_row(conn, incident_id)
        street = await community_street(conn, data.community)
        authorize(ctx.actor, "tasks.create", Target(street, data.community))
        await require_active(conn, incident["id"], "created")
        if data.kind is TaskKind.DELIVERY:
            raise InvalidInput("delivery tasks come from approved plans", field="kind")
        known = {r["code"] for r in await conn.fetch("SELECT code FROM skill")}
        for i, skill in enumerate(data.skills):
            if skill not in known:
                raise InvalidInput(f"unknown skill {skill}", field=f"skills[{i}]")
        shelter = await _evacuation_shelter(conn, data)
        task_id = await insert_task(
            cmd,
            incident_id,
            data.kind,
            data.community,
            street,
            data.people,
            data.skills,
            data.minutes,
            note=data.note,
            concurrent=data.concurrent,
            shelter_id=shelter,
        )
        await cmd.audit(
            "tasks.create",
            "task",
            task_id,
            None,
            {
                "kind": data.kind.value,
                "community": data.community,
                "people": data.people,
                "shelter": shelter,
            },
        )
        return await task_view(conn, await conn.fetchrow("SELECT * FROM task WHERE id=$1", task_id))


async def _evacuation_shelter(conn: asyncpg.Connection, data: TaskCreate) -> int | None:
    """An evacuation names where it takes people; only an evacuation names a shelter."""
    if data.kind is not TaskKind.EVACUATION:
        if data.shelter is not None:
            raise InvalidInput(
                "only an evacuation task names a shelter",
                field="shelter",
                code="task.shelter_not_evacuation",
            )
        return None
    return await chosen_shelter(conn, data.community, data.shelter)


async def create_door_checks(cmd: Command, incident: int, communities: Sequence[str]) -> list[int]:
    """Care households first: grouped door checks per community, nearest to the centre first;
    elderly households need `elderly_care`, others `first_aid`."""
    created = []
    for community in communities:
        rows = await cmd.connection.fetch(
            "SELECT h.id, h.kind, h.street FROM care_household h WHERE h.community=$1 "
            "ORDER BY h.kind = 'elderly_alone' DESC, h.id",
            community,
        )
        for start in range(0, len(rows), DOOR_CHECK_GROUP):
            group = rows[start : start + DOOR_CHECK_GROUP]
            elderly = any(r["kind"] == "elderly_alone" for r in group)
            task_id = await insert_task(
                cmd,
                incident,
                TaskKind.DOOR_CHECK,
                community,
                group[0]["street"],
                2,
                ["elderly_care"] if elderly else ["first_aid"],
                15 * len(group),
                households=[r["id"] for r in group],
            )
            created.append(task_id)
    return created


async def locked_task(cmd: Command, task_id: int, action: str, version: int) -> asyncpg.Record:
    """The task row, locked, after who-may-act (403), version (412) and transition (409)
    checks."""
    row = await cmd.connection.fetchrow("SELECT * FROM task WHERE id=$1 FOR UPDATE", task_id)
    if row is None:
        raise NotFound(f"no task {task_id}", field="task_id")
    authorize_task(cmd.ctx.actor, action, await task_target(cmd.connection, row))
    if row["version"] != version:
        raise PreconditionFailed(
            f"task {task_id} changed since version {version}; it is at version "
            f"{row['version']} ({row['status']}): reload and retry",
            field="version",
            current_version=row["version"],
            task_status=row["status"],
        )
    allowed, _ = TRANSITIONS[action]
    if row["status"] not in allowed:
        raise Conflict(
            f"a task that is {row['status']} cannot {action}",
            field="status",
            task_status=row["status"],
        )
    return row


async def move_task(
    cmd: Command,
    row: asyncpg.Record,
    action: str,
    remark: str | None,
    quantity: int | None = None,
    **sets: Any,
) -> TaskView:
    _, target = TRANSITIONS[action]
    status = row["status"] if target is None else target.value
    assignments = {"status": status, **sets}
    if target is not None and target in STAMPS:
        assignments[STAMPS[target]] = cmd.now
    names = list(assignments)
    clause = ", ".join(f"{n}=${i + 2}" for i, n in enumerate(names))
    updated = await cmd.connection.fetchrow(
        f"UPDATE task SET {clause}, version=version+1 WHERE id=$1 RETURNING *",
        row["id"],
        *assignments.values(),
    )
    await record_progress(cmd, row["id"], action, row["status"], status, quantity, remark)
    await cmd.audit(
        f"tasks.{action}",
        "task",
        row["id"],
        {"status": row["status"], "version": row["version"]},
        {
            "status": status,
            "version": updated["version"],
            **({"quantity": quantity} if quantity is not None else {}),
        },
    )
    cmd.emit(
        f"task.{status if target is not None else action}",
        {
            "task": row["id"],
            "incident": row["incident"],
            "status": status,
            "version": updated["version"],
            "kind": row["kind"],
        },
        street=row["street"],
        community=row["community"],
    )
    return await task_view(cmd.connection, updated)


async def step_task(ctx: Context, task_id: int, action: str, data: TaskStep) -> TaskView:
    """accept (the assignee takes it on the tablet) or start (picked up, en route)."""
    async with command(ctx) as cmd:
        row = await locked_task(cmd, task_id, action, data.version)
        await require_active(cmd.connection, row["incident"], "begun")
        return await move_task(cmd, row, action, data.note)


async def note_task(ctx: Context, task_id: int, data: TaskNote) -> TaskView:
    async with command(ctx) as cmd:
        row = await locked_task(cmd, task_id, "note", data.version)
        return await move_task(cmd, row, "note", data.note, note=data.note)


async def list_tasks(
    ctx: Context, incident_id: int | None = None, status: str | None = None
) -> list[TaskView]:
    authorize(ctx.actor, "tasks.read")
    args: list[Any] = [incident_id, status]
    where = scope_clause(ctx, args)
    async with query(ctx) as conn:
        rows = await conn.fetch(
            f"SELECT * FROM task WHERE ($1::bigint IS NULL OR incident=$1) AND "
            f"($2::varchar IS NULL OR status=$2) AND {where} ORDER BY id",
            *args,
        )
        return [await task_view(conn, r) for r in rows]


async def get_task(ctx: Context, task_id: int) -> TaskView:
    authorize(ctx.actor, "tasks.read")
    async with query(ctx) as conn:
        row = await conn.fetchrow("SELECT * FROM task WHERE id=$1", task_id)
        if row is None or not ctx.actor.covers(Target(row["street"], row["community"])):
            raise NotFound(f"no task {task_id}", field="task_id")
        return await task_view(conn, row)


async def task_track(ctx: Context, task_id: int) -> list[PositionView]:
    """Where the team was seen on its way, fix by fix in time order: for the map while it
    drives, and for the review after."""
    await get_task(ctx, task_id)  # scope: another street's task is not there (404)
    async with query(ctx) as conn:
        rows = await conn.fetch(
            f"SELECT {POSITION_COLUMNS} FROM task_position WHERE task=$1 ORDER BY at, id",
            task_id,
        )
    return [view_of(PositionView, r) for r in rows]


async def task_history(ctx: Context, task_id: int) -> list[ProgressView]:
    await get_task(ctx, task_id)
    async with query(ctx) as conn:
        rows = await conn.fetch("SELECT * FROM task_progress WHERE task=$1 ORDER BY id", task_id)
    return [
        ProgressView(
            id=r["id"],
            at=local(r["at"]) or r["at"],
            actor=r["actor"],
            event=r["event"],
            from_status=r["from_status"],
            to_status=r["to_status"],
            quantity=r["quantity"],
            note=r["note"],
        )
        for r in rows
    ]
