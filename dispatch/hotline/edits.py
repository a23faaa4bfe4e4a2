"""Changes to a ticket besides its steps: corrections (with the version, 412 when stale),
the community a person chooses when the address named none, links to the requests and
tasks the call gave rise to, and the audited reveal of the caller's number."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from dispatch.accounts.policy import Target
from dispatch.db import Command, Context, command
from dispatch.errors import Conflict, InvalidInput
from dispatch.hotline.deadlines import dues
from dispatch.hotline.records import (
    allow,
    allow_row,
    announce,
    audit_of,
    locked,
    normal_phone,
    record_step,
    ticket_row,
    view,
)
from dispatch.hotline.schemas import (
    Category,
    LinkKind,
    PlaceSource,
    Revealed,
    TicketLink,
    TicketMerge,
    TicketStatus,
    TicketUpdate,
    TicketView,
    Urgency,
)
from dispatch.hotline.tickets import check_incident, given_place, matched_place

S = TicketStatus
EDITABLE = frozenset({S.RECEIVED, S.ASSIGNED, S.IN_PROGRESS, S.REPLIED, S.RETURNED})
PLACE_BY_PERSON = frozenset({S.RECEIVED, S.RETURNED})  # later, the place moves by `assign`
FIELDS = ("caller_name", "caller_phone", "address", "category", "urgency", "content", "incident")


async def _new_place(
    cmd: Command, row: asyncpg.Record, change: TicketUpdate, values: dict[str, Any]
) -> dict[str, Any]:
    """The place after the change: the community a person chose, or the new address's
    match while nobody has placed the ticket by hand; unchanged otherwise."""
    conn = cmd.connection
    if change.community is not None:
        if row["status"] not in PLACE_BY_PERSON:
            raise Conflict(
                f"ticket {row['number']} is {row['status']}: dispatch it elsewhere by assigning",
                field="community",
                code="hotline.place_via_assign",
                params={"ticket": row["number"], "status": row["status"]},
            )
        street, community, name = await given_place(conn, None, change.community)
        allow(
            cmd.ctx.actor,
            "hotline.edit",
            Target(street, community),
            ticket=row["number"],
            place=name,
        )
        return {"street": street, "community": community, "place_source": PlaceSource.PERSON}
    unplaced = row["place_source"] in (None, PlaceSource.ADDRESS.value)
    if change.address is not None and unplaced and row["status"] == S.RECEIVED:
        match = await matched_place(conn, values["address"])
        if match.street is not None:
            # a scoped actor's correction may not carry the ticket out of their scope
            _, _, name = await given_place(conn, match.street, match.community)
            target = Target(match.street, match.community)
            allow(cmd.ctx.actor, "hotline.edit", target, ticket=row["number"], place=name)
            return {
                "street": match.street,
                "community": match.community,
                "place_source": PlaceSource.ADDRESS,
            }
    return {}


async def update_ticket(ctx: Context, ticket_id: int, change: TicketUpdate) -> TicketView:
    """Change what is given; a new category or urgency fixes the deadlines again from the
    time the call was received."""
    allow(ctx.actor, "hotline.edit")
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await locked(cmd, ticket_id, "hotline.edit", change.version, "edit", EDITABLE)
        values = {f: getattr(change, f) for f in FIELDS}
        values = {f: row[f] if v is None else v for f, v in values.items()}
        values["caller_phone"] = normal_phone(values["caller_phone"])
        for enum in ("category", "urgency"):
            values[enum] = str(values[enum])
        await check_incident(conn, change.incident)
        values.update(await _new_place(cmd, row, change, values))
        if "place_source" in values:
            values["place_source"] = values["place_source"].value
        response_due, resolution_due = await dues(
            conn, row["received_at"], Urgency(values["urgency"]), Category(values["category"])
        )
        values.update(response_due=response_due, resolution_due=resolution_due)
        sets = ", ".join(f"{name}=${i + 2}" for i, name in enumerate(values))
        await conn.execute(
            f"UPDATE hotline_ticket SET {sets}, version=version+1, updated_at=${len(values) + 2} "
            "WHERE id=$1",
            ticket_id,
            *values.values(),
            cmd.now,
        )
        new = await ticket_row(conn, ticket_id)
        changed = sorted(
            k for k, v in msgspec.structs.asdict(change).items() if v is not None and k != "version"
        )
        await record_step(cmd, row, "edit", row["status"], ", ".join(changed))
        await cmd.audit("hotline.edit", "hotline_ticket", ticket_id, audit_of(row), audit_of(new))
        announce(cmd, "hotline.ticket_edit", new)
        return await view(conn, ticket_id, cmd.now, ctx.actor)


async def reveal_caller(ctx: Context, ticket_id: int) -> Revealed:
    """The caller's whole number, for those who must call back, in scope; audited."""
    allow(ctx.actor, "hotline.reveal")
    async with command(ctx) as cmd:
        row = await ticket_row(cmd.connection, ticket_id)
        allow_row(ctx.actor, "hotline.reveal", row)
        await cmd.audit(
            "hotline.reveal", "hotline_ticket", ticket_id, None, {"fields": ["caller_phone"]}
        )
    return Revealed(
        id=row["id"],
        number=row["number"],
        caller_name=row["caller_name"],
        caller_phone=row["caller_phone"],
    )


LINKED = {
    LinkKind.REQUEST: "SELECT id, incident, street, community FROM supply_request WHERE id=$1",
    LinkKind.TASK: "SELECT id, incident, street, community FROM task WHERE id=$1",
}


async def link_ticket(ctx: Context, ticket_id: int, data: TicketLink) -> TicketView:
    """The ticket gave rise to this request or task: both in the actor's scope, of the
    ticket's incident (a ticket without one takes the request's or task's). Linking twice
    changes nothing."""
    allow(ctx.actor, "hotline.edit")
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await ticket_row(conn, ticket_id, lock=True)
        allow_row(ctx.actor, "hotline.edit", row)
        kind = data.kind.value
        target = await conn.fetchrow(LINKED[data.kind], data.id)
        if target is None:
            raise InvalidInput(
                f"no {kind} {data.id}",
                field="id",
                code=f"hotline.no_{kind}",
                params={"id": data.id},
            )
        allow(
            ctx.actor,
            "hotline.edit",
            Target(target["street"], target["community"]),
            ticket=f"{kind} {data.id}",
            place=target["community"],
        )
        if row["incident"] is not None and row["incident"] != target["incident"]:
            raise InvalidInput(
                f"{kind} {data.id} is of incident {target['incident']}, the ticket of "
                f"incident {row['incident']}",
                field="id",
                code="hotline.other_incident",
                params={"kind": kind, "id": data.id, "incident": row["incident"]},
            )
        added = await conn.fetchval(
            "INSERT INTO hotline_ticket_link (ticket, kind, target, linked_at, linked_by) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1",
            ticket_id,
            kind,
            data.id,
            cmd.now,
            ctx.actor.username,
        )
        if added:
            await conn.execute(
                "UPDATE hotline_ticket SET incident = coalesce(incident, $2), "
                "version = version + 1, updated_at = $3, reply_reminded_at = NULL WHERE id = $1",
                ticket_id,
                target["incident"],
                cmd.now,
            )
            after = {"kind": kind, "id": data.id, "incident": target["incident"]}
            await cmd.audit("hotline.link", "hotline_ticket", ticket_id, None, after)
            announce(cmd, "hotline.ticket_linked", await ticket_row(conn, ticket_id))
        return await view(conn, ticket_id, cmd.now, ctx.actor)


MERGEABLE = frozenset({S.RECEIVED, S.ASSIGNED, S.IN_PROGRESS, S.RETURNED})


async def merge_ticket(ctx: Context, ticket_id: int, data: TicketMerge) -> TicketView:
    """A person confirms this call repeats the open ticket `into`: it becomes `merged`
    (its number kept, its deadlines no longer running), `into` lists its number. Both are
    locked in id order, both must be in the actor's scope; audited on both."""
    allow(ctx.actor, "hotline.edit")
    if data.into == ticket_id:
        raise InvalidInput(
            "a ticket cannot be merged into itself", field="into", code="hotline.merge_self"
        )
    async with command(ctx) as cmd:
        conn = cmd.connection
        for first in sorted((ticket_id, data.into)):  # one lock order: no deadlock
            await conn.execute("SELECT 1 FROM hotline_ticket WHERE id=$1 FOR UPDATE", first)
        row = await locked(cmd, ticket_id, "hotline.edit", data.version, "merge", MERGEABLE)
        into = await ticket_row(conn, data.into)
        allow_row(ctx.actor, "hotline.edit", into)
        if into["status"] in (S.CLOSED, S.MERGED):
            raise Conflict(
                f"ticket {into['number']} is {into['status']}: merge into an open ticket",
                field="into",
                code="hotline.merge_into_open",
                params={"ticket": into["number"], "status": into["status"]},
            )
        await conn.execute(
            "UPDATE hotline_ticket SET status='merged', merged_into=$2, merged_at=$3, "
            "updated_at=$3, version=version+1 WHERE id=$1",
            ticket_id,
            data.into,
            cmd.now,
        )
        await conn.execute(
            "UPDATE hotline_ticket SET updated_at=$2, version=version+1 WHERE id=$1",
            data.into,
            cmd.now,
        )
        await record_step(cmd, row, "merge", S.MERGED.value, f"→ {into['number']}")
        await record_step(cmd, into, "absorb", into["status"], f"← {row['number']}")
        new = await ticket_row(conn, ticket_id)
        await cmd.audit("hotline.merge", "hotline_ticket", ticket_id, audit_of(row), audit_of(new))
        absorbed = {"merged": row["number"]}
        await cmd.audit("hotline.absorb", "hotline_ticket", data.into, None, absorbed)
        announce(cmd, "hotline.ticket_merged", new)
        return await view(conn, ticket_id, cmd.now, ctx.actor)
