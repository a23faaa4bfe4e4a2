"""The life of a ticket: `received → assigned → in_progress → replied → closed`, or
`returned` (wrong jurisdiction, with the reason: back to the district, which dispatches it
again). Every step names the version it was built on (412 when stale, as tasks), is refused
from a status it does not start from (409), is audited, kept in the ticket's trail and
announced.

Who: the district dispatches (a street leader may pass its street's ticket on to one of
its communities); the street or community it is dispatched to takes it up, replies, or
returns it; the district records the caller's rating on its return visit and closes it.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from dispatch.accounts.policy import Target
from dispatch.db import Command, Context, command
from dispatch.errors import Conflict, InvalidInput
from dispatch.hotline.records import (
    allow,
    announce,
    audit_of,
    locked,
    record_step,
    ticket_row,
    view,
)
from dispatch.hotline.schemas import (
    TicketAssign,
    TicketRate,
    TicketReply,
    TicketReturn,
    TicketStatus,
    TicketStep,
    TicketView,
)
from dispatch.hotline.tickets import given_place

S = TicketStatus
# step -> (the statuses it starts from, the status it leads to, the permission it needs)
STEPS: dict[str, tuple[frozenset[str], TicketStatus, str]] = {
    "assign": (frozenset({S.RECEIVED, S.ASSIGNED, S.RETURNED}), S.ASSIGNED, "hotline.assign"),
    "start": (frozenset({S.ASSIGNED}), S.IN_PROGRESS, "hotline.work"),
    "reply": (frozenset({S.IN_PROGRESS}), S.REPLIED, "hotline.work"),
    "rate": (frozenset({S.REPLIED}), S.REPLIED, "hotline.rate"),
    "close": (frozenset({S.REPLIED}), S.CLOSED, "hotline.close"),
    "return": (frozenset({S.ASSIGNED, S.IN_PROGRESS}), S.RETURNED, "hotline.work"),
}


async def _move(
    cmd: Command,
    row: asyncpg.Record,
    step: str,
    note: str | None = None,
    **sets: Any,
) -> TicketView:
    """Write the step: the new status and columns, version + 1, trail, audit, event."""
    _, after, _ = STEPS[step]
    assignments = {"status": after.value, "updated_at": cmd.now, **sets}
    clause = ", ".join(f"{name}=${i + 2}" for i, name in enumerate(assignments))
    await cmd.connection.execute(
        f"UPDATE hotline_ticket SET {clause}, version=version+1 WHERE id=$1",
        row["id"],
        *assignments.values(),
    )
    await record_step(cmd, row, step, after.value, note)
    new = await ticket_row(cmd.connection, row["id"])
    await cmd.audit(f"hotline.{step}", "hotline_ticket", row["id"], audit_of(row), audit_of(new))
    announce(cmd, f"hotline.ticket_{step}", new)
    if row["street"] != new["street"] and row["street"] is not None:
        # the street (or community) it left hears that it left their list
        where = {"street": row["street"], "community": row["community"]}
        announce(cmd, f"hotline.ticket_{step}", {**dict(new), **where})
    return await view(cmd.connection, row["id"], cmd.now, cmd.ctx.actor)


async def _locked(cmd: Command, ticket_id: int, step: str, version: int) -> asyncpg.Record:
    allowed, _, permission = STEPS[step]
    allow(cmd.ctx.actor, permission)
    return await locked(cmd, ticket_id, permission, version, step, allowed)


async def assign_ticket(ctx: Context, ticket_id: int, data: TicketAssign) -> TicketView:
    """Dispatch to a street or community: both the ticket and where it goes must be in the
    actor's scope (a street leader keeps it inside their street)."""
    async with command(ctx) as cmd:
        row = await _locked(cmd, ticket_id, "assign", data.version)
        if data.street is None and data.community is None:
            raise InvalidInput(
                "say which street or community the ticket goes to",
                field="street",
                code="hotline.assign_where",
            )
        street, community, name = await given_place(cmd.connection, data.street, data.community)
        allow(
            ctx.actor,
            "hotline.assign",
            Target(street, community),
            ticket=row["number"],
            place=name,
        )
        return await _move(
            cmd,
            row,
            "assign",
            data.note,
            street=street,
            community=community,
            place_source="person" if row["place_source"] is None else row["place_source"],
            assigned_at=cmd.now,
        )


async def start_ticket(ctx: Context, ticket_id: int, data: TicketStep) -> TicketView:
    """Taken up: the caller has been contacted. This is the response the response
    deadline is judged on (the first one counts)."""
    async with command(ctx) as cmd:
        row = await _locked(cmd, ticket_id, "start", data.version)
        return await _move(
            cmd, row, "start", data.note, responded_at=row["responded_at"] or cmd.now
        )


async def reply_ticket(ctx: Context, ticket_id: int, data: TicketReply) -> TicketView:
    """The answer to the caller: how and what, now, by the actor (the resolution deadline
    is judged on it)."""
    async with command(ctx) as cmd:
        row = await _locked(cmd, ticket_id, "reply", data.version)
        return await _move(
            cmd,
            row,
            "reply",
            None,
            replied_at=cmd.now,
            reply_channel=data.channel.value,
            reply_content=data.content,
            replied_by=ctx.actor.username,
        )


async def rate_ticket(ctx: Context, ticket_id: int, data: TicketRate) -> TicketView:
    """The caller's rating and whether it was solved, once (the return visit's record)."""
    async with command(ctx) as cmd:
        row = await _locked(cmd, ticket_id, "rate", data.version)
        if row["rating"] is not None:
            raise Conflict(
                f"ticket {row['number']} is rated already",
                field="rating",
                code="hotline.rated_already",
                params={"ticket": row["number"]},
            )
        return await _move(
            cmd,
            row,
            "rate",
            None,
            rating=data.rating.value,
            solved=data.solved,
            rated_at=cmd.now,
            rated_by=ctx.actor.username,
        )


async def close_ticket(ctx: Context, ticket_id: int, data: TicketStep) -> TicketView:
    """Closed once the caller's rating is recorded (409 before)."""
    async with command(ctx) as cmd:
        row = await _locked(cmd, ticket_id, "close", data.version)
        if row["rating"] is None:
            raise Conflict(
                f"ticket {row['number']} has no rating yet: record the return visit first",
                field="rating",
                code="hotline.not_rated",
                params={"ticket": row["number"]},
            )
        return await _move(cmd, row, "close", data.note, closed_at=cmd.now)


async def return_ticket(ctx: Context, ticket_id: int, data: TicketReturn) -> TicketView:
    """Not ours (wrong jurisdiction): back to the district with the reason; it leaves the
    street's and community's lists, its trail keeps where it came back from."""
    async with command(ctx) as cmd:
        row = await _locked(cmd, ticket_id, "return", data.version)
        return await _move(
            cmd,
            row,
            "return",
            data.reason,
            street=None,
            community=None,
            returned_at=cmd.now,
            return_reason=data.reason,
        )
