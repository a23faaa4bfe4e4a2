"""Community emergency plans (应急工作预案): versioned per community, drafted within scope,
approved by a street leader of the plan's street or a commander.

A new version is a draft until approved; approving it supersedes the version approved
before, and the database keeps one approved plan per community (a partial unique index),
so two approvals at once cannot both stand. Every reference is checked before the plan is
written (`references`).
"""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from dispatch.accounts.policy import Target, authorize
from dispatch.db import Command, Context, command, query
from dispatch.errors import Conflict, NotFound
from dispatch.incidents.records import scope_clause
from dispatch.places import lookups as places
from dispatch.preparedness.plan_views import plan_views
from dispatch.preparedness.references import check_plan
from dispatch.preparedness.schemas import (
    PlanCreate,
    PlanStatus,
    PlanView,
    Source,
)


async def insert_plan(
    cmd: Command, data: PlanCreate, street: str, source: Source, *, approved: bool = False
) -> int:
    """The plan and its parts, as the next version of its community's plan."""
    conn = cmd.connection
    who = cmd.ctx.actor.username
    plan_id: int = await conn.fetchval(
        """
        INSERT INTO community_plan (community, street, version, title, status, source,
            created_at, created_by, approved_at, approved_by)
        SELECT $1::varchar, $2::varchar, coalesce(max(version), 0) + 1, $3::varchar,
            $4::varchar, $5::varchar, $6::timestamptz, $7::varchar, $8::timestamptz, $9::varchar
        FROM community_plan WHERE community = $1::varchar
        RETURNING id
        """,
        data.community,
        street,
        data.title,
        PlanStatus.APPROVED.value if approved else PlanStatus.DRAFT.value,
        source.value,
        cmd.now,
        who,
        cmd.now if approved else None,
        who if approved else None,
    )
    await conn.executemany(
        "INSERT INTO plan_hazard (plan_id, type, min_level) VALUES ($1, $2, $3)",
        [(plan_id, h.type.value, h.min_level.value) for h in data.hazards],
    )
    await conn.executemany(
        "INSERT INTO plan_role (plan_id, seq, role, holder_kind, holder_id, deputy_kind, "
        "deputy_id, ack_minutes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [
            (
                plan_id,
                i,
                r.role,
                r.holder.kind.value,
                r.holder.id,
                r.deputy.kind.value,
                r.deputy.id,
                r.ack_minutes,
            )
            for i, r in enumerate(data.roles, 1)
        ],
    )
    await conn.executemany(
        "INSERT INTO plan_shelter (plan_id, shelter_id) VALUES ($1, $2)",
        [(plan_id, s) for s in data.shelters],
    )
    await conn.executemany(
        "INSERT INTO plan_task (plan_id, seq, kind, people, skills, minutes, note) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [
            (plan_id, i, t.kind.value, t.people, list(t.skills), t.minutes, t.note)
            for i, t in enumerate(data.tasks, 1)
        ],
    )
    await conn.executemany(
        "INSERT INTO plan_assembly_point (plan_id, seq, name, lat, lon, note) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        [(plan_id, i, a.name, a.lat, a.lon, a.note) for i, a in enumerate(data.assembly_points, 1)],
    )
    await conn.executemany(
        "INSERT INTO plan_pledge (plan_id, seq, unit_id, item, quantity) "
        "VALUES ($1, $2, $3, $4, $5)",
        [(plan_id, i, x.unit, x.item, x.quantity) for i, x in enumerate(data.pledges, 1)],
    )
    return plan_id


async def plan_row(conn: asyncpg.Connection, plan_id: int, *, lock: bool = False) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT * FROM community_plan WHERE id=$1" + (" FOR UPDATE" if lock else ""), plan_id
    )
    if row is None:
        raise NotFound(f"no plan {plan_id}", field="plan_id")
    return row


def _audit_of(view: PlanView) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(view)
    for role in data["roles"]:  # the audit trail keeps no phone, masked or not
        role["holder"].pop("phone", None)
        role["deputy"].pop("phone", None)
    return data


async def create_plan(ctx: Context, data: PlanCreate) -> PlanView:
    """A new version of the community's plan, as a draft; every reference checked first."""
    authorize(ctx.actor, "preparedness.draft")
    async with command(ctx) as cmd:
        conn = cmd.connection
        place = await places.community(conn, data.community)
        authorize(ctx.actor, "preparedness.draft", Target(place["street"], data.community))
        await check_plan(conn, data, place["street"], data.community)
        # versions of one community are numbered one at a time
        await conn.execute("SELECT pg_advisory_xact_lock(21, hashtext($1))", data.community)
        plan_id = await insert_plan(cmd, data, place["street"], Source.ENTERED)
        view = (await plan_views(conn, [await plan_row(conn, plan_id)]))[0]
        await cmd.audit(
            "preparedness.plan_create", "community_plan", plan_id, None, _audit_of(view)
        )
        return view


async def approve_plan(ctx: Context, plan_id: int) -> PlanView:
    """Approve a draft: the community's approved version (an older one) is superseded."""
    authorize(ctx.actor, "preparedness.approve")
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await plan_row(conn, plan_id, lock=True)
        authorize(ctx.actor, "preparedness.approve", Target(street=row["street"]))
        if row["status"] != PlanStatus.DRAFT:
            raise Conflict(
                f"plan {plan_id} is {row['status']}: only a draft is approved",
                field="plan_id",
                code="plan.not_draft",
                params={"plan": plan_id, "status": row["status"]},
            )
        current = await conn.fetchrow(
            "SELECT id, version FROM community_plan WHERE community=$1 AND status='approved' "
            "FOR UPDATE",
            row["community"],
        )
        if current is not None and current["version"] > row["version"]:
            raise Conflict(
                f"version {current['version']} is approved: version {row['version']} is older",
                field="plan_id",
                code="plan.older_version",
                params={"version": row["version"], "approved": current["version"]},
            )
        if current is not None:
            await conn.execute(
                "UPDATE community_plan SET status='superseded', superseded_at=$2 WHERE id=$1",
                current["id"],
                cmd.now,
            )
        await conn.execute(
            "UPDATE community_plan SET status='approved', approved_at=$2, approved_by=$3 "
            "WHERE id=$1",
            plan_id,
            cmd.now,
            ctx.actor.username,
        )
        await cmd.audit(
            "preparedness.plan_approve",
            "community_plan",
            plan_id,
            {"status": "draft", "superseding": None if current is None else current["id"]},
            {"status": "approved", "version": row["version"]},
        )
        cmd.emit(
            "plan.approved",
            {"plan": plan_id, "community": row["community"], "version": row["version"]},
            street=row["street"],
            community=row["community"],
        )
        return (await plan_views(conn, [await plan_row(conn, plan_id)]))[0]


async def list_plans(
    ctx: Context,
    community: str | None = None,
    street: str | None = None,
    status: PlanStatus | None = None,
) -> list[PlanView]:
    """Plans inside the reader's scope, newest version first per community."""
    authorize(ctx.actor, "preparedness.read")
    args: list[Any] = [community, street, None if status is None else status.value]
    where = scope_clause(ctx, args)
    async with query(ctx) as conn:
        rows = await conn.fetch(
            "SELECT * FROM community_plan WHERE ($1::varchar IS NULL OR community=$1) "
            "AND ($2::varchar IS NULL OR street=$2) AND ($3::varchar IS NULL OR status=$3) "
            f"AND {where} ORDER BY community, version DESC",
            *args,
        )
        return await plan_views(conn, rows)


async def get_plan(ctx: Context, plan_id: int) -> PlanView:
    authorize(ctx.actor, "preparedness.read")
    async with query(ctx) as conn:
        row = await plan_row(conn, plan_id)
        authorize(ctx.actor, "preparedness.read", Target(row["street"], row["community"]))
        return (await plan_views(conn, [row]))[0]
