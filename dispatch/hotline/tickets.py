"""Tickets: a call received (its number given or generated, its place given or matched
from the address), read in the reader's scope, corrected, linked to the requests and tasks
it gave rise to, and the caller's number revealed (audited).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from dispatch.accounts.policy import Actor, Target
from dispatch.clock import SHANGHAI
from dispatch.db import Command, Context, command, query, view_of
from dispatch.errors import Conflict, InvalidInput
from dispatch.hotline.access import scope_clause
from dispatch.hotline.deadlines import dues
from dispatch.hotline.matching import Match, Named, match_address
from dispatch.hotline.records import (
    TICKET_SELECT,
    allow,
    allow_row,
    announce,
    audit_of,
    normal_phone,
    record_step,
    ticket_row,
    view,
    views,
)
from dispatch.hotline.schemas import (
    PlaceSource,
    StepView,
    TicketCreate,
    TicketStatus,
    TicketView,
)
from dispatch.places import lookups as places


async def place_names(conn: asyncpg.Connection) -> tuple[list[Named], list[Named]]:
    """The district's communities (with their streets) and streets, by name."""
    communities = [
        Named(r["code"], r["name"], r["street"])
        for r in await conn.fetch("SELECT code, name, street FROM community ORDER BY code")
    ]
    streets = [
        Named(r["code"], r["name"]) for r in await conn.fetch("SELECT code, name FROM street")
    ]
    return communities, streets


async def matched_place(conn: asyncpg.Connection, address: str | None) -> Match:
    """The community (or street) the address names, among the district's."""
    communities, streets = await place_names(conn)
    return match_address(address, communities, streets)


async def given_place(
    conn: asyncpg.Connection, street: str | None, community: str | None
) -> tuple[str | None, str | None, str | None]:
    """(street, community, name) of what was given; a community brings its street, and one
    of another street than the one given is refused."""
    if community is not None:
        row = await places.community(conn, community)
        if street is not None and street != row["street"]:
            raise InvalidInput(
                f"community {row['name']} is not in street {street}",
                field="community",
                code="hotline.community_not_in_street",
                params={"community": row["name"], "street": street},
            )
        return row["street"], community, row["name"]
    if street is not None:
        return street, None, (await places.street(conn, street))["name"]
    return None, None, None


async def placed(
    conn: asyncpg.Connection, actor: Actor, data: TicketCreate
) -> tuple[str | None, str | None, PlaceSource | None]:
    """Where a new ticket is: as given, else matched from the address; a street or
    community worker's unplaced call is their own street's or community's."""
    street, community, _ = await given_place(conn, data.street, data.community)
    if street is not None:
        return street, community, PlaceSource.GIVEN
    match = await matched_place(conn, data.address)
    if match.street is not None:
        return match.street, match.community, PlaceSource.ADDRESS
    if actor.is_district_wide:
        return None, None, None
    if actor.street is not None:
        return actor.street, None, PlaceSource.GIVEN
    return actor.community_street, actor.community, PlaceSource.GIVEN


async def check_incident(conn: asyncpg.Connection, incident: int | None) -> None:
    if incident is not None and not await conn.fetchval(
        "SELECT 1 FROM incident WHERE id=$1", incident
    ):
        raise InvalidInput(
            f"no incident {incident}",
            field="incident",
            code="hotline.no_incident",
            params={"incident": incident},
        )


async def ticket_number(cmd: Command, given: str | None, received_at: datetime) -> tuple[int, str]:
    """The new row's id and number: the platform's, else `DC<Beijing date><id>`."""
    ticket_id: int = await cmd.connection.fetchval(
        "SELECT nextval(pg_get_serial_sequence('hotline_ticket', 'id'))"
    )
    if given is None:
        return ticket_id, f"DC{received_at.astimezone(SHANGHAI):%Y%m%d}{ticket_id:06d}"
    if await cmd.connection.fetchval("SELECT 1 FROM hotline_ticket WHERE number=$1", given):
        raise Conflict(
            f"ticket {given} exists",
            field="number",
            code="hotline.number_taken",
            params={"number": given},
        )
    return ticket_id, given


def received_moment(given: datetime | None, now: datetime) -> datetime:
    if given is None:
        return now
    if given.tzinfo is None:
        raise InvalidInput(
            "received_at needs its time zone", field="received_at", code="hotline.naive_time"
        )
    if given > now:
        raise InvalidInput(
            "a call cannot be received in the future",
            field="received_at",
            code="hotline.received_in_future",
            params={"received_at": given.isoformat()},
        )
    return given


INSERT = """
INSERT INTO hotline_ticket (id, number, received_at, caller_name, caller_phone, address,
    community, street, place_source, category, urgency, content, incident, response_due,
    resolution_due, created_at, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
"""


async def create_ticket(ctx: Context, data: TicketCreate) -> TicketView:
    """A call received: placed, deadlines fixed by the rules in force, audited."""
    allow(ctx.actor, "hotline.create")
    async with command(ctx) as cmd:
        conn = cmd.connection
        received = received_moment(data.received_at, cmd.now)
        street, community, source = await placed(conn, ctx.actor, data)
        if street is not None:
            _, _, name = await given_place(conn, street, community)
            allow(ctx.actor, "hotline.create", Target(street, community), place=name)
        await check_incident(conn, data.incident)
        ticket_id, number = await ticket_number(cmd, data.number, received)
        response_due, resolution_due = await dues(conn, received, data.urgency, data.category)
        await conn.execute(
            INSERT,
            ticket_id,
            number,
            received,
            data.caller_name,
            normal_phone(data.caller_phone),
            data.address,
            community,
            street,
            None if source is None else source.value,
            data.category.value,
            data.urgency.value,
            data.content,
            data.incident,
            response_due,
            resolution_due,
            cmd.now,
            ctx.actor.username,
        )
        row = await ticket_row(conn, ticket_id)
        await record_step(cmd, row, "create", row["status"])
        await cmd.audit("hotline.create", "hotline_ticket", ticket_id, None, audit_of(row))
        announce(cmd, "hotline.ticket_received", row)
        return await view(conn, ticket_id, cmd.now, ctx.actor)


@dataclass(frozen=True)
class TicketFilter:
    status: TicketStatus | None = None
    street: str | None = None
    community: str | None = None
    category: str | None = None
    urgency: str | None = None
    incident: int | None = None
    overdue: bool | None = None
    unplaced: bool | None = None  # no street yet: for the district to place
    received_from: datetime | None = None
    received_to: datetime | None = None
    limit: int = 200
    offset: int = 0


OVERDUE = (
    "(t.status <> 'merged' AND ((t.responded_at IS NULL AND t.replied_at IS NULL"
    " AND t.response_due < $1) OR (t.replied_at IS NULL AND t.resolution_due < $1)))"
)


async def _check_filter_scope(conn: asyncpg.Connection, actor: Actor, flt: TicketFilter) -> None:
    """Asking for another street's or community's tickets is refused, not emptied."""
    if flt.community is not None:
        row = await places.community(conn, flt.community, field="community")
        target = Target(row["street"], flt.community)
        allow(actor, "hotline.read", target, place=row["name"])
    elif flt.street is not None:
        row = await places.street(conn, flt.street, field="street")
        allow(actor, "hotline.read", Target(street=flt.street), place=row["name"])


def _where(actor: Actor, flt: TicketFilter, now: datetime) -> tuple[str, list[Any]]:
    args: list[Any] = [now]
    parts = ["$1::timestamptz IS NOT NULL", scope_clause(actor, args)]  # $1 typed always
    given: list[tuple[str, Any]] = [
        ("t.status = ${}", flt.status.value if flt.status else None),
        ("t.street = ${}", flt.street),
        ("t.community = ${}", flt.community),
        ("t.category = ${}", flt.category),
        ("t.urgency = ${}", flt.urgency),
        ("t.incident = ${}", flt.incident),
        ("t.received_at >= ${}", flt.received_from),
        ("t.received_at < ${}", flt.received_to),
    ]
    for clause, value in given:
        if value is not None:
            args.append(value)
            parts.append(clause.format(len(args)))
    if flt.overdue is not None:
        parts.append(OVERDUE if flt.overdue else f"NOT {OVERDUE}")
    if flt.unplaced is not None:
        parts.append("t.street IS NULL" if flt.unplaced else "t.street IS NOT NULL")
    return " AND ".join(parts), args


async def list_tickets(ctx: Context, flt: TicketFilter) -> list[TicketView]:
    """Newest first, within the reader's scope (a street leader: their street's)."""
    allow(ctx.actor, "hotline.read")
    now = ctx.now()
    async with query(ctx) as conn:
        await _check_filter_scope(conn, ctx.actor, flt)
        where, args = _where(ctx.actor, flt, now)
        args += [flt.limit, flt.offset]
        rows = await conn.fetch(
            f"{TICKET_SELECT} WHERE {where} ORDER BY t.received_at DESC, t.id DESC "
            f"LIMIT ${len(args) - 1} OFFSET ${len(args)}",
            *args,
        )
        return await views(conn, rows, now, ctx.actor)


async def get_ticket(ctx: Context, ticket_id: int) -> TicketView:
    allow(ctx.actor, "hotline.read")
    async with query(ctx) as conn:
        row = await ticket_row(conn, ticket_id)
        allow_row(ctx.actor, "hotline.read", row)
        return (await views(conn, [row], ctx.now(), ctx.actor))[0]


async def ticket_steps(ctx: Context, ticket_id: int) -> list[StepView]:
    await get_ticket(ctx, ticket_id)
    async with query(ctx) as conn:
        rows = await conn.fetch(
            "SELECT * FROM hotline_ticket_step WHERE ticket=$1 ORDER BY id", ticket_id
        )
    return [
        view_of(
            StepView,
            r,
            from_status=None if r["from_status"] is None else TicketStatus(r["from_status"]),
            to_status=TicketStatus(r["to_status"]),
        )
        for r in rows
    ]
