"""From call to action in one step: a supply request or a door-check / evacuation task
prefilled from the ticket (its incident and community, the note naming the ticket),
created by the incidents service in the same transaction and linked to the ticket. When
every request and task a ticket gave rise to is finished, its view says `reply_reminder`
and the sweep (`overdue.sweep_overdue`) reminds its street or community once, live.
"""

from __future__ import annotations

import asyncpg

from dispatch.db import Command, Context, command
from dispatch.errors import Conflict, InvalidInput
from dispatch.hotline.records import allow, allow_row, announce, ticket_row, view
from dispatch.hotline.schemas import (
    LinkKind,
    TicketRequest,
    TicketStatus,
    TicketTask,
    TicketView,
)
from dispatch.incidents import service as incidents
from dispatch.incidents.schemas import RequestCreate, RequestSource, TaskCreate, TaskKind

S = TicketStatus
ACTING = frozenset({S.RECEIVED, S.ASSIGNED, S.IN_PROGRESS})


async def _acting_ticket(cmd: Command, ticket_id: int) -> asyncpg.Record:
    row = await ticket_row(cmd.connection, ticket_id, lock=True)
    allow_row(cmd.ctx.actor, "hotline.edit", row)
    if row["status"] not in ACTING:
        raise Conflict(
            f"a ticket that is {row['status']} gives rise to nothing more",
            field="status",
            code="hotline.illegal_step",
            params={"ticket": row["number"], "status": row["status"], "step": "act"},
        )
    return row


def _where(row: asyncpg.Record, incident: int | None, community: str | None) -> tuple[int, str]:
    """The incident and community of the action: as given, else the ticket's."""
    incident = incident or row["incident"]
    community = community or row["community"]
    if incident is None:
        raise InvalidInput(
            f"ticket {row['number']} is of no incident: name one",
            field="incident",
            code="hotline.incident_needed",
            params={"ticket": row["number"]},
        )
    if community is None:
        raise InvalidInput(
            f"ticket {row['number']} has no community yet: name one",
            field="community",
            code="hotline.community_needed",
            params={"ticket": row["number"]},
        )
    return incident, community


def _note(row: asyncpg.Record) -> str:
    return f"12345 工单 {row['number']}：{row['content']}"[:500]


async def _linked(
    cmd: Command, row: asyncpg.Record, kind: LinkKind, target: int, incident: int
) -> TicketView:
    conn = cmd.connection
    await conn.execute(
        "INSERT INTO hotline_ticket_link (ticket, kind, target, linked_at, linked_by) "
        "VALUES ($1, $2, $3, $4, $5)",
        row["id"],
        kind.value,
        target,
        cmd.now,
        cmd.ctx.actor.username,
    )
    await conn.execute(
        "UPDATE hotline_ticket SET incident = coalesce(incident, $2), version = version + 1, "
        "updated_at = $3, reply_reminded_at = NULL WHERE id = $1",
        row["id"],
        incident,
        cmd.now,
    )
    after = {"kind": kind.value, "id": target, "incident": incident}
    await cmd.audit(f"hotline.{kind.value}", "hotline_ticket", row["id"], None, after)
    announce(cmd, "hotline.ticket_linked", await ticket_row(conn, row["id"]))
    return await view(conn, row["id"], cmd.now, cmd.ctx.actor)


async def request_from_ticket(ctx: Context, ticket_id: int, data: TicketRequest) -> TicketView:
    """A supply request the call asks for (source `hotline`), linked to the ticket."""
    allow(ctx.actor, "hotline.edit")
    async with command(ctx) as cmd:
        row = await _acting_ticket(cmd, ticket_id)
        incident, community = _where(row, data.incident, data.community)
        body = RequestCreate(
            community=community,
            item=data.item,
            quantity=data.quantity,
            priority=data.priority,
            source=RequestSource.HOTLINE,
            note=_note(row),
        )
        made = await incidents.create_request(ctx, incident, body)
        return await _linked(cmd, row, LinkKind.REQUEST, made.id, incident)


async def task_from_ticket(ctx: Context, ticket_id: int, data: TicketTask) -> TicketView:
    """A door check or evacuation the call asks for, linked to the ticket."""
    allow(ctx.actor, "hotline.edit")
    async with command(ctx) as cmd:
        row = await _acting_ticket(cmd, ticket_id)
        incident, community = _where(row, data.incident, data.community)
        body = TaskCreate(
            kind=TaskKind(data.kind.value),
            community=community,
            people=data.people,
            minutes=data.minutes,
            skills=data.skills,
            note=_note(row),
        )
        made = await incidents.create_task(ctx, incident, body)
        return await _linked(cmd, row, LinkKind.TASK, made.id, incident)
