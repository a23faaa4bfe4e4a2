"""Incidents themselves: declare, respond, stand down, close; list and read them."""

from __future__ import annotations

import json

from dispatch.accounts.policy import authorize
from dispatch.db import Command, Context, command, query
from dispatch.errors import Conflict, InvalidInput
from dispatch.incidents.records import community_streets, incident_row, incident_view
from dispatch.incidents.schemas import (
    IncidentAdvance,
    IncidentCreate,
    IncidentStatus,
    IncidentType,
    IncidentView,
    Level,
    LevelRaise,
)
from dispatch.incidents.standdown import settle_open_work
from dispatch.incidents.summary import incident_summary, summary_dict
from dispatch.incidents.tasks import create_door_checks
from dispatch.preparedness.activation import LEVEL_RANK, activate_plans

NEXT_STATUS = {
    IncidentStatus.RESPONDING: ("declared", "responding_at"),
    IncidentStatus.STOOD_DOWN: ("responding", "stood_down_at"),
    IncidentStatus.CLOSED: ("stood_down", "closed_at"),
}


async def declare_incident(ctx: Context, data: IncidentCreate) -> IncidentView:
    authorize(ctx.actor, "incidents.manage")
    async with command(ctx) as cmd:
        conn = cmd.connection
        streets = await community_streets(conn, data.communities)
        incident_id: int = await conn.fetchval(
            """
            INSERT INTO incident (type, level, title, status, declared_at, declared_by)
            VALUES ($1, $2, $3, 'declared', $4, $5) RETURNING id
            """,
            data.type.value,
            data.level.value,
            data.title,
            cmd.now,
            ctx.actor.username,
        )
        await conn.executemany(
            "INSERT INTO incident_community (incident, community, street) VALUES ($1, $2, $3)",
            [(incident_id, code, street) for code, street in sorted(streets.items())],
        )
        row = await incident_row(conn, incident_id)
        view = await incident_view(conn, row)
        await cmd.audit(
            "incidents.declare",
            "incident",
            incident_id,
            None,
            {
                "type": view.type,
                "level": view.level,
                "title": view.title,
                "communities": view.communities,
            },
        )
        cmd.emit(
            "incident.declared",
            {
                "incident": incident_id,
                "title": data.title,
                "type": data.type.value,
                "level": data.level.value,
            },
        )
        for code, street in sorted(streets.items()):
            cmd.emit(
                "incident.community",
                {"incident": incident_id, "community": code},
                street=street,
                community=code,
            )
        if data.door_checks:
            await create_door_checks(cmd, incident_id, sorted(streets))
        # the communities' emergency plans start in this same transaction
        await activate_plans(cmd, incident_id, data.type, data.level, streets)
    return view


async def raise_level(ctx: Context, incident_id: int, data: LevelRaise) -> IncidentView:
    """Raise the level of an open incident: the communities' plans that answer only the
    graver level start now, in this transaction (a plan already started for the incident
    is not started again: one activation per plan and incident, a unique constraint)."""
    authorize(ctx.actor, "incidents.manage")
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await incident_row(conn, incident_id, lock=True)
        if row["status"] not in ("declared", "responding"):
            raise Conflict(
                f"incident {incident_id} is {row['status']}: its level is no longer raised",
                field="status",
                code="incident.level_closed",
                params={"incident": incident_id, "status": row["status"]},
            )
        before = Level(row["level"])
        if LEVEL_RANK[data.level] <= LEVEL_RANK[before]:
            raise Conflict(
                f"level {data.level.value} is not graver than {before.value}",
                field="level",
                code="incident.level_not_raised",
                params={"level": data.level.value, "current": before.value},
            )
        await conn.execute("UPDATE incident SET level=$2 WHERE id=$1", incident_id, data.level)
        await cmd.audit(
            "incidents.raise_level",
            "incident",
            incident_id,
            {"level": before.value},
            {"level": data.level.value},
        )
        cmd.emit(
            "incident.level_raised",
            {"incident": incident_id, "level": data.level.value, "before": before.value},
        )
        streets = dict(
            await conn.fetch(
                "SELECT community, street FROM incident_community WHERE incident=$1",
                incident_id,
            )
        )
        await activate_plans(cmd, incident_id, IncidentType(row["type"]), data.level, streets)
        return await incident_view(conn, await incident_row(conn, incident_id))


async def advance_incident(
    ctx: Context,
    incident_id: int,
    target: IncidentStatus,
    data: IncidentAdvance | None = None,
) -> IncidentView:
    """declared -> responding -> stood_down -> closed, each step timed and audited.

    Standing down or closing with work still under way (deliveries on the road, tasks in
    progress) is refused, listing it, unless the caller cancels it (`cancel_open`)."""
    authorize(ctx.actor, "incidents.manage")
    if target not in NEXT_STATUS:
        raise InvalidInput(f"an incident cannot be moved to {target.value}", field="status")
    data = data or IncidentAdvance()
    if data.cancel_open and data.reason is None:
        raise InvalidInput(
            "say why the open tasks and deliveries are cancelled",
            field="reason",
            code="incident.cancel_needs_reason",
        )
    expected, stamp = NEXT_STATUS[target]
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await incident_row(conn, incident_id, lock=True)
        if row["status"] != expected:
            raise Conflict(
                f"incident {incident_id} is {row['status']}; {target.value} follows {expected}",
                field="status",
            )
        if target is not IncidentStatus.RESPONDING:
            await settle_open_work(cmd, incident_id, data)
            await _close_open_requests(cmd, incident_id, f"incident {target.value}")
        summary = None
        if target is IncidentStatus.CLOSED:
            summary = await incident_summary(conn, incident_id)
        await conn.execute(
            f"UPDATE incident SET status=$2, {stamp}=$3, summary=COALESCE($4::jsonb, summary) "
            "WHERE id=$1",
            incident_id,
            target.value,
            cmd.now,
            None if summary is None else json.dumps(summary_dict(summary), ensure_ascii=False),
        )
        await cmd.audit(
            f"incidents.{target.value}",
            "incident",
            incident_id,
            {"status": row["status"]},
            {"status": target.value},
        )
        cmd.emit(f"incident.{target.value}", {"incident": incident_id})
        return await incident_view(conn, await incident_row(conn, incident_id))


async def _close_open_requests(cmd: Command, incident_id: int, reason: str) -> None:
    """Standing down closes what was never planned as unmet, so the summary says so (and
    closing, what a cancelled delivery opened again)."""
    rows = await cmd.connection.fetch(
        """
        UPDATE supply_request SET status='unmet', unmet_reason=$2
        WHERE incident=$1 AND status='open' RETURNING id, street, community
        """,
        incident_id,
        reason,
    )
    for r in rows:
        cmd.emit(
            "request.unmet",
            {"request": r["id"], "reason": reason},
            street=r["street"],
            community=r["community"],
        )


async def list_incidents(ctx: Context, status: str | None = None) -> list[IncidentView]:
    authorize(ctx.actor, "incidents.read")
    async with query(ctx) as conn:
        rows = await conn.fetch(
            "SELECT * FROM incident WHERE $1::varchar IS NULL OR status=$1 ORDER BY id DESC",
            status,
        )
        return [await incident_view(conn, r) for r in rows]


async def get_incident(ctx: Context, incident_id: int) -> IncidentView:
    authorize(ctx.actor, "incidents.read")
    async with query(ctx) as conn:
        return await incident_view(conn, await incident_row(conn, incident_id))
