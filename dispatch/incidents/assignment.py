"""Putting people on a task by the rules the suggestions follow
(`people.eligibility`), a commander's audited override, and the suggestions."""

from __future__ import annotations

from typing import Any

import asyncpg

from dispatch.accounts.policy import Role, Target, authorize, enlistable
from dispatch.branches.matching import assisting_members, suggest_assisting_first
from dispatch.db import Command, Context, command, query
from dispatch.errors import Conflict, Forbidden, InvalidInput
from dispatch.incidents.records import require_active
from dispatch.incidents.schemas import TaskAssign, TaskKind, TaskView
from dispatch.incidents.tasks import get_task, locked_task, move_task
from dispatch.people.eligibility import (
    HOURS_LIMIT,
    Job,
    Rule,
    Worker,
    misfits,
    placeable,
    task_hours,
)
from dispatch.people.schemas import SuggestRequest
from dispatch.people.service import check_enlistable, load_workers, suggest_for_needs
from dispatch.roads import road_state


def _job(row: asyncpg.Record) -> Job:
    return Job(
        task=row["id"],
        street=row["street"],
        community=row["community"],
        skills=frozenset(row["skills"]),
        hours=task_hours(row["minutes"]),
        concurrent=row["concurrent"],
    )


def _refusal(row: asyncpg.Record, worker: Worker, rule: Rule) -> InvalidInput | Conflict:
    """422 for a person who does not fit the task, 409 for one already on another."""
    job = _job(row)
    params: dict[str, Any] = {"person": worker.name, "person_id": worker.id, "task": row["id"]}
    if rule is Rule.SKILLS:
        params["skills"] = ", ".join(sorted(job.skills - worker.skills))
        why = f"lacks {params['skills']}"
    elif rule is Rule.HOURS:
        params.update(hours=round(worker.hours_today, 2), task_hours=job.hours, limit=HOURS_LIMIT)
        why = f"has worked {worker.hours_today:.1f} h today; {job.hours:g} h more passes the day"
    elif rule is Rule.ONE_TASK:
        params["tasks"] = ", ".join(str(t) for t in sorted(worker.tasks - {job.task}))
        why = f"is already on task {params['tasks']}"
    else:
        params["street"] = job.street
        why = f"is not of street {job.street} nor of a unit paired with a community there"
    error = Conflict if rule is Rule.ONE_TASK else InvalidInput
    return error(
        f"{worker.name} (person {worker.id}) {why}: the {rule.value} rule",
        field="people",
        code=f"assign.{rule.value}",
        params=params,
        rule=rule.value,
    )


async def _check_assignees(cmd: Command, row: asyncpg.Record, data: TaskAssign) -> list[int]:
    """The people to put on the task, by the rules the suggestions follow; a commander's
    stated reason overrides a refusal, and the override is audited."""
    conn = cmd.connection
    people = sorted(set(data.people))
    # a person is put on one task at a time: concurrent assignments of them queue here
    await conn.execute("SELECT 1 FROM person WHERE id = ANY($1::int[]) FOR UPDATE", people)
    workers = await load_workers(conn, cmd.now, people)
    missing = sorted(set(people) - set(workers))
    if missing:
        raise InvalidInput(f"unknown or inactive people {missing}", field="people")
    check_enlistable(cmd.ctx.actor, list(workers.values()), "people")
    refused = {p: rules for p in people if (rules := misfits(workers[p], _job(row)))}
    if not refused:
        return people
    first = min(refused)
    if data.override_reason is None:
        raise _refusal(row, workers[first], refused[first][0])
    if cmd.ctx.actor.role is not Role.COMMANDER:
        raise Forbidden(
            "only a commander may override the assignment rules",
            field="override_reason",
            code="forbidden.override",
            params={"person": workers[first].name, "rule": refused[first][0].value},
        )
    await cmd.audit(
        "tasks.assign_override",
        "task",
        row["id"],
        None,
        {
            "reason": data.override_reason,
            "overridden": [{"person": p, "rules": [r.value for r in refused[p]]} for p in refused],
        },
    )
    return people


async def assign_task(ctx: Context, task_id: int, data: TaskAssign) -> TaskView:
    """Put people on a task: the same rules as the suggestions (`people.eligibility`)."""
    async with command(ctx) as cmd:
        row = await locked_task(cmd, task_id, "assign", data.version)
        await require_active(cmd.connection, row["incident"], "assigned")
        people = await _check_assignees(cmd, row, data)
        await cmd.connection.execute("DELETE FROM task_assignee WHERE task=$1", task_id)
        await cmd.connection.executemany(
            "INSERT INTO task_assignee (task, person, assigned_at) VALUES ($1, $2, $3)",
            [(task_id, p, cmd.now) for p in people],
        )
        return await move_task(cmd, row, "assign", data.note, len(people))


async def suggest_for_task(ctx: Context, task_id: int, on_duty_only: bool = True) -> Any:
    """People for a task from the exact matching (paired units and residents first, skills,
    hours limit, travel on today's roads with their closures); the assigner picks. A door
    check goes first to the on-duty members of its households' assisting branches."""
    view = await get_task(ctx, task_id)
    authorize(ctx.actor, "tasks.assign", Target(view.street, view.community))
    async with query(ctx) as conn:
        state = await road_state(ctx, conn)
        workers = await load_workers(conn, ctx.now())
    job = Job(
        task=view.id,
        street=view.street,
        community=view.community,
        skills=frozenset(view.skills),
        hours=task_hours(view.minutes),
        concurrent=view.concurrent,
    )
    scope = ctx.actor.scope
    only = frozenset(
        w.id for w in workers.values() if placeable(w, job) and enlistable(scope, w.place, w.paired)
    )
    need = SuggestRequest(
        community=view.community,
        people=min(view.people_needed, 200),
        skills=view.skills,
        duration_h=job.hours,
        on_duty_only=on_duty_only,
    )
    if view.kind == TaskKind.DOOR_CHECK and view.households:
        async with query(ctx) as conn:
            assisting = await assisting_members(conn, view.households)
        return await suggest_assisting_first(ctx, need, state, only, assisting)
    return (await suggest_for_needs(ctx, [need], state, only))[0]
