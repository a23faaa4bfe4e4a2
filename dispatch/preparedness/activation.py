"""Activation: an incident declared in a community with an approved plan for its type, at
the plan's minimum level or graver, starts the plan — its task templates become tasks, its
shelters open, its roles' holders are called out, and one activation record says what
was done.

All of it runs on the declaring command (same transaction): a failure anywhere leaves no
incident, no task and no activation. Raising an incident's level runs it again: the plans
that answer only the graver level start then, a plan already started is not (one
activation per plan and incident, a unique constraint). The roles' holders and the
community's paired units pledging people are called out. Audited once per declaration as
`preparedness.activate`, listing every activation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from dispatch.accounts.policy import authorize
from dispatch.db import Command, Context, query, view_of
from dispatch.incidents.records import scope_clause
from dispatch.incidents.schemas import IncidentType, Level, TaskKind
from dispatch.incidents.tasks import insert_task
from dispatch.preparedness.callouts import call_paired_units, send_callouts
from dispatch.preparedness.evacuation import plan_shelter
from dispatch.preparedness.schemas import ActivationView
from dispatch.preparedness.shelters import open_shelters

# the national scale: I is the gravest; a plan for level III also answers II and I
LEVEL_RANK = {Level.IV: 1, Level.III: 2, Level.II: 3, Level.I: 4}

MATCHING = """
    SELECT p.id, p.community, p.street, h.min_level
    FROM community_plan p JOIN plan_hazard h ON h.plan_id = p.id
    WHERE p.status = 'approved' AND p.community = ANY($1::varchar[]) AND h.type = $2
      AND NOT EXISTS (SELECT 1 FROM plan_activation a WHERE a.plan_id = p.id
                      AND a.incident = $3)
    ORDER BY p.community
"""


def answers(min_level: Level, level: Level) -> bool:
    """Whether a plan for `min_level` answers an incident at `level`."""
    return LEVEL_RANK[level] >= LEVEL_RANK[min_level]


async def _plan_tasks(
    cmd: Command, plan: asyncpg.Record, incident: int, shelters: Sequence[int]
) -> list[int]:
    """The plan's task templates as tasks; its evacuations name one of its `shelters`."""
    templates = await cmd.connection.fetch(
        "SELECT * FROM plan_task WHERE plan_id=$1 ORDER BY seq", plan["id"]
    )
    made = []
    for t in templates:
        note = t["note"] or f"应急预案 #{plan['id']} 启动"
        shelter = None
        if t["kind"] == TaskKind.EVACUATION:
            shelter = await plan_shelter(cmd.connection, plan["community"], shelters)
        made.append(
            await insert_task(
                cmd,
                incident,
                TaskKind(t["kind"]),
                plan["community"],
                plan["street"],
                t["people"],
                list(t["skills"]),
                t["minutes"],
                note=note,
                shelter_id=shelter,
            )
        )
    return made


async def record_activation(
    cmd: Command, plan: asyncpg.Record, incident: int, tasks: list[int], shelters: list[int]
) -> int:
    activation_id: int = await cmd.connection.fetchval(
        "INSERT INTO plan_activation (plan_id, incident, community, street, tasks, shelters, "
        "activated_at, activated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        plan["id"],
        incident,
        plan["community"],
        plan["street"],
        tasks,
        shelters,
        cmd.now,
        cmd.ctx.actor.username,
    )
    return activation_id


async def activate_plans(
    cmd: Command,
    incident: int,
    kind: IncidentType,
    level: Level,
    streets: Mapping[str, str],
) -> list[int]:
    """Start every matching plan of the incident's communities; the activations' ids.

    In the real world always; in a sandbox only when its context says plans run there
    (`Context.plans_run`: a replay whose scenario turns `preparedness` on). A drill's
    sandbox holds a copy of the plans, but starting them in every drill would change
    what trainees work with and every replayed scenario's history."""
    if not cmd.ctx.plans_run:
        return []
    rows = await cmd.connection.fetch(MATCHING, sorted(streets), kind.value, incident)
    plans = [r for r in rows if answers(Level(r["min_level"]), level)]
    done: list[dict[str, Any]] = []
    for plan in plans:
        wanted = await cmd.connection.fetch(
            "SELECT shelter_id FROM plan_shelter WHERE plan_id=$1 ORDER BY shelter_id", plan["id"]
        )
        own = [r["shelter_id"] for r in wanted]
        tasks = await _plan_tasks(cmd, plan, incident, own)
        shelters = await open_shelters(cmd, own)
        activation = await record_activation(cmd, plan, incident, tasks, shelters)
        called = await send_callouts(cmd, activation, plan, incident)
        called += await call_paired_units(cmd, activation, plan, incident)
        done.append(
            {
                "activation": activation,
                "plan": plan["id"],
                "community": plan["community"],
                "tasks": tasks,
                "shelters": shelters,
                "callouts": called,
            }
        )
        cmd.emit(
            "plan.activated",
            {"activation": activation, "plan": plan["id"], "incident": incident},
            street=plan["street"],
            community=plan["community"],
        )
    if done:
        await cmd.audit("preparedness.activate", "incident", incident, None, {"activations": done})
    return [d["activation"] for d in done]


async def list_activations(ctx: Context, incident: int | None = None) -> list[ActivationView]:
    """Activations (of one incident), inside the reader's scope."""
    authorize(ctx.actor, "preparedness.read")
    args: list[Any] = [incident]
    where = scope_clause(ctx, args)
    async with query(ctx) as conn:
        rows = await conn.fetch(
            "SELECT * FROM plan_activation WHERE ($1::bigint IS NULL OR incident=$1) "
            f"AND {where} ORDER BY id",
            *args,
        )
        return [
            view_of(ActivationView, r, tasks=list(r["tasks"]), shelters=list(r["shelters"]))
            for r in rows
        ]
