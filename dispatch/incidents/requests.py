"""Supply requests from communities (or the 12345 hotline): create, cancel, read."""

from __future__ import annotations

from typing import Any

import asyncpg

from dispatch.accounts.policy import Target, authorize
from dispatch.db import Context, command, query, view_of
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.incidents.records import ACTIVE_INCIDENT, community_street, incident_row, scope_clause
from dispatch.incidents.schemas import RequestCancel, RequestCreate, RequestView


def _request_view(row: asyncpg.Record) -> RequestView:
    return view_of(RequestView, row)


async def create_request(ctx: Context, incident_id: int, data: RequestCreate) -> RequestView:
    """A community (or the 12345 hotline, entered by a worker) asks for supplies."""
    async with command(ctx) as cmd:
        conn = cmd.connection
        incident = await incident_row(conn, incident_id)
        street = await community_street(conn, data.community)
        authorize(ctx.actor, "requests.create", Target(street, data.community))
        if incident["status"] not in ACTIVE_INCIDENT:
            raise Conflict(f"incident {incident_id} is {incident['status']}", field="incident_id")
        if not await conn.fetchval("SELECT 1 FROM item WHERE code=$1", data.item):
            raise InvalidInput(f"unknown item {data.item}", field="item")
        await conn.execute(
            "INSERT INTO incident_community (incident, community, street) VALUES ($1,$2,$3) "
            "ON CONFLICT DO NOTHING",
            incident_id,
            data.community,
            street,
        )
        row = await conn.fetchrow(
            """
            INSERT INTO supply_request (incident, community, street, item, quantity, priority,
                need_by, source, note, status, created_at, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $11) RETURNING *
            """,
            incident_id,
            data.community,
            street,
            data.item,
            data.quantity,
            data.priority.value,
            data.need_by,
            data.source.value,
            data.note,
            cmd.now,
            ctx.actor.username,
        )
        view = _request_view(row)
        await cmd.audit(
            "requests.create",
            "supply_request",
            view.id,
            None,
            {
                "community": view.community,
                "item": view.item,
                "quantity": view.quantity,
                "priority": view.priority,
                "source": view.source,
            },
        )
        cmd.emit(
            "request.created",
            {
                "request": view.id,
                "incident": incident_id,
                "item": view.item,
                "quantity": view.quantity,
                "priority": view.priority,
            },
            street=street,
            community=data.community,
        )
        return view


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
        updated = await cmd.connection.fetchrow(
            "UPDATE supply_request SET status='cancelled', unmet_reason=$2 WHERE id=$1 RETURNING *",
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
        return _request_view(updated)


async def list_requests(
    ctx: Context, incident_id: int, status: str | None = None
) -> list[RequestView]:
    authorize(ctx.actor, "requests.read")
    args: list[Any] = [incident_id, status]
    where = scope_clause(ctx, args)
    async with query(ctx) as conn:
        await incident_row(conn, incident_id)
        rows = await conn.fetch(
            f"SELECT * FROM supply_request WHERE incident=$1 AND ($2::varchar IS NULL OR "
            f"status=$2) AND {where} ORDER BY id",
            *args,
        )
    return [_request_view(r) for r in rows]


async def get_request(ctx: Context, request_id: int) -> RequestView:
    authorize(ctx.actor, "requests.read")
    async with query(ctx) as conn:
        row = await conn.fetchrow("SELECT * FROM supply_request WHERE id=$1", request_id)
    if row is None or not ctx.actor.covers(Target(row["street"], row["community"])):
        raise NotFound(f"no request {request_id}", field="request_id")
    return _request_view(row)
