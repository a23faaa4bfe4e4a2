"""The rows every part of incidents reads: an incident and its view, the communities
it covers, whether it still takes work, what a scoped actor may see, who a task
is for, and the road network in force (or none)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from dispatch.accounts.policy import TaskTarget
from dispatch.clock import local
from dispatch.db import Context
from dispatch.errors import Conflict, NotFound
from dispatch.incidents.schemas import IncidentView
from dispatch.places import lookups as places
from dispatch.places.service import active_road_network
from geo.network import RoadNetwork

ACTIVE_INCIDENT = ("declared", "responding")


async def incident_row(
    conn: asyncpg.Connection, incident_id: int, lock: bool = False
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT * FROM incident WHERE id=$1" + (" FOR UPDATE" if lock else ""), incident_id
    )
    if row is None:
        raise NotFound(f"no incident {incident_id}", field="incident_id")
    return row


async def incident_view(conn: asyncpg.Connection, row: asyncpg.Record) -> IncidentView:
    communities = await conn.fetch(
        "SELECT community FROM incident_community WHERE incident=$1 ORDER BY community", row["id"]
    )
    return IncidentView(
        id=row["id"],
        type=row["type"],
        level=row["level"],
        title=row["title"],
        status=row["status"],
        communities=[r["community"] for r in communities],
        declared_at=local(row["declared_at"]) or row["declared_at"],
        responding_at=local(row["responding_at"]),
        stood_down_at=local(row["stood_down_at"]),
        closed_at=local(row["closed_at"]),
        declared_by=row["declared_by"],
        summary=None if row["summary"] is None else json.loads(row["summary"]),
    )


async def community_street(conn: asyncpg.Connection, code: str) -> str:
    """The street a community belongs to; an unknown community is bad input (422)."""
    row = await places.community(conn, code)
    street: str = row["street"]
    return street


async def community_streets(conn: asyncpg.Connection, codes: Sequence[str]) -> dict[str, str]:
    found = await places.communities(conn, codes)
    return {code: row["street"] for code, row in found.items()}


async def require_active(conn: asyncpg.Connection, incident_id: int, doing: str) -> None:
    """Nothing is assigned, created or begun in an incident stood down or closed (409)."""
    status = await conn.fetchval("SELECT status FROM incident WHERE id=$1", incident_id)
    if status not in ACTIVE_INCIDENT:
        raise Conflict(
            f"incident {incident_id} is {status}: nothing more is {doing} in it",
            field="incident_id",
            code="incident.not_active",
            params={"incident": incident_id, "status": status},
        )


def scope_clause(ctx: Context, args: list[Any]) -> str:
    """Rows a scoped actor may see: their street's, or their community's."""
    actor = ctx.actor
    if actor.is_district_wide:
        return "TRUE"
    if actor.street is not None:
        args.append(actor.street)
        return f"street = ${len(args)}"
    args.append(actor.community)
    return f"community = ${len(args)}"


async def task_target(conn: asyncpg.Connection, row: asyncpg.Record) -> TaskTarget:
    people = await conn.fetch("SELECT person FROM task_assignee WHERE task=$1", row["id"])
    return TaskTarget(
        row["id"], row["street"], row["community"], frozenset(r["person"] for r in people)
    )


async def network_or_none(ctx: Context) -> RoadNetwork | None:
    try:
        return await active_road_network(ctx)
    except NotFound:
        return None
