"""Supply requests from communities (or the 12345 hotline): create, cancel, read. A request
may be for one of the community's shelters (安置点): the planner then delivers it there."""

from __future__ import annotations

from typing import Any

import asyncpg

from dispatch.accounts.policy import Target, authorize
from dispatch.db import Command, Context, command, query, view_of
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.incidents.records import ACTIVE_INCIDENT, community_street, incident_row, scope_clause
from dispatch.incidents.schemas import RequestCancel, RequestCreate, RequestView, ShelterRef

# a request as shown: with the name of the shelter it is for, if any (a subquery, so the
# scope clause's unqualified `street` and `community` stay the request's)
REQUEST_SELECT = """
    SELECT r.*, (SELECT s.name FROM shelter s WHERE s.id = r.shelter_id) AS shelter_name
    FROM supply_request r
"""
# a shelter takes requests while it holds people (open, or full); not ready or closed
SHELTER_TAKES_REQUESTS = ("open", "full")


def _request_view(row: asyncpg.Record) -> RequestView:
    shelter = row["shelter_id"]
    ref = None if shelter is None else ShelterRef(id=shelter, name=row["shelter_name"])
    return view_of(RequestView, row, shelter=ref)


async def request_view(conn: asyncpg.Connection, request_id: int) -> RequestView:
    row = await conn.fetchrow(REQUEST_SELECT + " WHERE r.id=$1", request_id)
    if row is None:
        raise NotFound(f"no request {request_id}", field="request_id")
    return _request_view(row)


async def check_shelter(conn: asyncpg.Connection, shelter_id: int, community: str) -> None:
    """A request for a shelter: the shelter exists, is of the request's community, and
    holds people (open or full); each refusal names the field `shelter`."""
    row = await conn.fetchrow("SELECT * FROM shelter WHERE id=$1", shelter_id)
    if row is None:
        raise InvalidInput(
            f"no shelter {shelter_id}",
            field="shelter",
            code="request.shelter_unknown",
            params={"id": shelter_id},
        )
    if row["community"] != community:
        raise InvalidInput(
            f"shelter {row['code']} is of community {row['community']}, not {community}",
            field="shelter",
            code="request.shelter_elsewhere",
            params={"shelter": row["name"], "community": community},
        )
    if row["status"] not in SHELTER_TAKES_REQUESTS:
        raise Conflict(
            f"shelter {row['code']} is {row['status']}: it takes no supply requests",
            field="shelter",
            code="request.shelter_not_open",
            params={"shelter": row["name"], "status": row["status"]},
        )


async def insert_request(
    cmd: Command, incident: asyncpg.Record, street: str, data: RequestCreate
) -> RequestView:
    """The request written, audited and announced (the caller checked scope and input)."""
    conn = cmd.connection
    await conn.execute(
        "INSERT INTO incident_community (incident, community, street) VALUES ($1,$2,$3) "
        "ON CONFLICT DO NOTHING",
        incident["id"],
        data.community,
        street,
    )
    request_id: int = await conn.fetchval(
        """
        INSERT INTO supply_request (incident, community, street, item, quantity, priority,
            need_by, source, note, status, created_at, created_by, shelter_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $11, $12) RETURNING id
        """,
        incident["id"],
        data.community,
        street,
        data.item,
        data.quantity,
        data.priority.value,
        data.need_by,
        data.source.value,
        data.note,
        cmd.now,
        cmd.ctx.actor.username,
        data.shelter,
    )
    view = await request_view(conn, request_id)
    audited = {
        "community": view.community,
        "item": view.item,
        "quantity": view.quantity,
        "priority": view.priority,
        "source": view.source,
    }
    if data.shelter is not None:
        audited["shelter"] = data.shelter
    await cmd.audit("requests.create", "supply_request", view.id, None, audited)
    announced: dict[str, Any] = {
        "request": view.id,
        "incident": incident["id"],
        "item": view.item,
        "quantity": view.quantity,
        "priority": view.priority,
    }
    if data.shelter is not None:
        announced["shelter"] = data.shelter
    cmd.emit("request.created", announced, street=street, community=data.community)
    return view


async def create_request(ctx: Context, incident_id: int, data: RequestCreate) -> RequestView:
    """A community (or the 12345 hotline, entered by a worker) asks for supplies, for the
    community's committee or for one of its shelters (`shelter`)."""
    async with command(ctx) as cmd:
        conn = cmd.connection
        incident = await incident_row(conn, incident_id)
        street = await community_street(conn, data.community)
        authorize(ctx.actor, "requests.create", Target(street, data.community))
        if incident["status"] not in ACTIVE_INCIDENT:
            raise Conflict(f"incident {incident_id} is {incident['status']}", field="incident_id")
        if not await conn.fetchval("SELECT 1 FROM item WHERE code=$1", data.item):
            raise InvalidInput(f"unknown item {data.item}", field="item")
        if data.shelter is not None:
            await check_shelter(conn, data.shelter, data.community)
        return await insert_request(cmd, incident, street, data)


async def cancel_request(ctx: Context, request_id: int, data: RequestCancel) -> RequestView:
    async with command(ctx) as cmd:
        row = await cmd.connection.fetchrow(
            "SELECT * FROM supply_request WHERE id=$1 FOR UPDATE", request_id
        )
        if row is None:
            raise NotFound(f"no request {request_id}", field="request_id")
        authorize(ctx.actor, "requests.create", Target(row["street"], row["community"]))
        if row["status"] != "open":
            raise Conflict(
                f"request {request_id} is {row['status']}; only open requests can be cancelled",
                field="request_id",
            )
        await cmd.connection.execute(
            "UPDATE supply_request SET status='cancelled', unmet_reason=$2 WHERE id=$1",
            request_id,
            data.reason,
        )
        await cmd.audit(
            "requests.cancel",
            "supply_request",
            request_id,
            {"status": "open"},
            {"status": "cancelled", "reason": data.reason},
        )
        cmd.emit(
            "request.cancelled",
            {"request": request_id},
            street=row["street"],
            community=row["community"],
        )
        return await request_view(cmd.connection, request_id)


async def list_requests(
    ctx: Context, incident_id: int, status: str | None = None
) -> list[RequestView]:
    authorize(ctx.actor, "requests.read")
    args: list[Any] = [incident_id, status]
    where = scope_clause(ctx, args)
    async with query(ctx) as conn:
        await incident_row(conn, incident_id)
        rows = await conn.fetch(
            f"{REQUEST_SELECT} WHERE r.incident=$1 AND ($2::varchar IS NULL OR "
            f"r.status=$2) AND {where} ORDER BY r.id",
            *args,
        )
    return [_request_view(r) for r in rows]


async def get_request(ctx: Context, request_id: int) -> RequestView:
    authorize(ctx.actor, "requests.read")
    async with query(ctx) as conn:
        row = await conn.fetchrow(REQUEST_SELECT + " WHERE r.id=$1", request_id)
    if row is None or not ctx.actor.covers(Target(row["street"], row["community"])):
        raise NotFound(f"no request {request_id}", field="request_id")
    return _request_view(row)
