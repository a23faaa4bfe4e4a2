"""What every hotline module shares: the ticket row with its place's names, its view (phone
masked, deadlines judged on the clock), its audit form, who may act on it (403 naming the
rule), the step trail and the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from dispatch.accounts.policy import Actor, Target
from dispatch.db import Command, view_of
from dispatch.errors import Conflict, NotFound, PreconditionFailed
from dispatch.hotline.access import allow
from dispatch.hotline.deadlines import judged
from dispatch.hotline.duplicates import duplicates_of, merged_numbers
from dispatch.hotline.schemas import (
    DeadlineState,
    DuplicateView,
    LinkKind,
    LinkView,
    PlaceSource,
    Rating,
    ReplyChannel,
    TicketStatus,
    TicketView,
)
from dispatch.people.lookups import mask_phone

TICKET_SELECT = """
    SELECT t.*, c.name AS community_name, s.name AS street_name
    FROM hotline_ticket t
    LEFT JOIN community c ON c.code = t.community
    LEFT JOIN street s ON s.code = t.street
"""
# the columns an audit row keeps (the phone masked)
AUDITED = (
    "number",
    "status",
    "version",
    "street",
    "community",
    "category",
    "urgency",
    "caller_name",
    "caller_phone",
    "address",
    "incident",
    "response_due",
    "resolution_due",
    "reply_channel",
    "rating",
    "solved",
    "return_reason",
)


def normal_phone(phone: str | None) -> str | None:
    """A phone kept as digits (and a leading +): one caller is one number however typed."""
    return None if phone is None else phone.replace(" ", "").replace("-", "")


def target_of(row: asyncpg.Record | dict[str, Any]) -> Target:
    return Target(street=row["street"], community=row["community"])


def place_name(row: asyncpg.Record | dict[str, Any]) -> str:
    return str(row.get("community_name") or row.get("street_name") or "区级（未派单）")


def allow_row(actor: Actor, action: str, row: asyncpg.Record | dict[str, Any]) -> None:
    allow(actor, action, target_of(row), ticket=row["number"], place=place_name(row))


async def ticket_row(
    conn: asyncpg.Connection, ticket_id: int, *, lock: bool = False
) -> asyncpg.Record:
    row = await conn.fetchrow(
        TICKET_SELECT + " WHERE t.id = $1" + (" FOR UPDATE OF t" if lock else ""), ticket_id
    )
    if row is None:
        raise NotFound(f"no ticket {ticket_id}", field="ticket_id", code="hotline.no_ticket")
    return row


FINISHED = frozenset({"fulfilled", "unmet", "cancelled", "done", "failed"})
LINKS = """
SELECT l.ticket, l.kind, l.target, coalesce(r.status, k.status) AS status
FROM hotline_ticket_link l
LEFT JOIN supply_request r ON l.kind = 'request' AND r.id = l.target
LEFT JOIN task k ON l.kind = 'task' AND k.id = l.target
WHERE l.ticket = ANY($1::bigint[]) ORDER BY l.ticket, l.kind, l.target
"""
# open tickets whose requests and tasks are all finished and that are not yet replied
REPLY_DUE = """
    t.status IN ('assigned', 'in_progress') AND EXISTS (
        SELECT 1 FROM hotline_ticket_link l WHERE l.ticket = t.id)
    AND NOT EXISTS (
        SELECT 1 FROM hotline_ticket_link l
        LEFT JOIN supply_request r ON l.kind = 'request' AND r.id = l.target
        LEFT JOIN task k ON l.kind = 'task' AND k.id = l.target
        WHERE l.ticket = t.id AND coalesce(r.status, k.status, 'gone') NOT IN
            ('fulfilled', 'unmet', 'cancelled', 'done', 'failed'))
"""


async def links_of(conn: asyncpg.Connection, ids: Sequence[int]) -> dict[int, list[LinkView]]:
    found: dict[int, list[LinkView]] = {i: [] for i in ids}
    for r in await conn.fetch(LINKS, list(ids)):
        status = r["status"] or "gone"
        link = LinkView(
            kind=LinkKind(r["kind"]), id=r["target"], status=status, finished=status in FINISHED
        )
        found[r["ticket"]].append(link)
    return found


@dataclass(frozen=True)
class Related:
    """What a view shows beside the row: links, duplicates offered, calls merged in."""

    links: list[LinkView]
    duplicates: list[DuplicateView]
    merged: list[str]


def to_view(row: asyncpg.Record, related: Related, now: datetime) -> TicketView:
    # a merged call's deadlines stand as they were when it was merged
    response, resolution = judged(row, row["merged_at"] or now)
    states = {response.state, resolution.state}

    def maybe(kind: Any, column: str) -> Any:
        return None if row[column] is None else kind(row[column])

    return view_of(
        TicketView,
        row,
        caller_phone=mask_phone(row["caller_phone"]),
        place_source=maybe(PlaceSource, "place_source"),
        status=TicketStatus(row["status"]),
        reply_channel=maybe(ReplyChannel, "reply_channel"),
        rating=maybe(Rating, "rating"),
        response=response,
        resolution=resolution,
        overdue=DeadlineState.OVERDUE in states,
        nearly_due=DeadlineState.NEARLY_DUE in states and DeadlineState.OVERDUE not in states,
        links=related.links,
        reply_reminder=row["status"] in (TicketStatus.ASSIGNED, TicketStatus.IN_PROGRESS)
        and bool(related.links)
        and all(link.finished for link in related.links),
        duplicates=related.duplicates,
        merged_numbers=related.merged,
    )


async def views(
    conn: asyncpg.Connection, rows: Sequence[asyncpg.Record], now: datetime, actor: Actor
) -> list[TicketView]:
    ids = [r["id"] for r in rows]
    links = await links_of(conn, ids)
    duplicates = await duplicates_of(conn, ids, actor)
    merged = await merged_numbers(conn, ids)
    return [
        to_view(r, Related(links[r["id"]], duplicates[r["id"]], merged[r["id"]]), now) for r in rows
    ]


async def view(conn: asyncpg.Connection, ticket_id: int, now: datetime, actor: Actor) -> TicketView:
    return (await views(conn, [await ticket_row(conn, ticket_id)], now, actor))[0]


def audit_of(row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    """What an audit row keeps of a ticket: never the whole phone."""
    kept = {c: row[c] for c in AUDITED}
    kept["caller_phone"] = mask_phone(kept["caller_phone"])
    return kept


async def record_step(
    cmd: Command,
    row: asyncpg.Record | dict[str, Any],
    step: str,
    to_status: str,
    note: str | None = None,
) -> None:
    """The ticket's trail: who did which step when, and where it was (a return keeps the
    street it came back from)."""
    await cmd.connection.execute(
        "INSERT INTO hotline_ticket_step (ticket, at, actor, step, from_status, to_status, "
        "street, community, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        row["id"],
        cmd.now,
        cmd.ctx.actor.username,
        step,
        None if step == "create" else row["status"],
        to_status,
        row["street"],
        row["community"],
        note,
    )


def announce(cmd: Command, kind: str, row: asyncpg.Record | dict[str, Any]) -> None:
    """A live event after commit, in the ticket's place (no caller data in it)."""
    data = {
        "id": row["id"],
        "number": row["number"],
        "status": row["status"],
        "version": row["version"],
        "category": row["category"],
        "urgency": row["urgency"],
    }
    cmd.emit(kind, data, street=row["street"], community=row["community"])


async def locked(
    cmd: Command, ticket_id: int, action: str, version: int, step: str, allowed: frozenset[str]
) -> asyncpg.Record:
    """The ticket row, locked, after who-may-act (403), version (412) and step (409)
    checks, in that order, as for tasks."""
    row = await ticket_row(cmd.connection, ticket_id, lock=True)
    allow_row(cmd.ctx.actor, action, row)
    if row["version"] != version:
        raise PreconditionFailed(
            f"ticket {row['number']} changed since version {version}; it is at version "
            f"{row['version']} ({row['status']}): reload and retry",
            field="version",
            params={"ticket": row["number"], "version": version, "current": row["version"]},
            current_version=row["version"],
            ticket_status=row["status"],
        )
    if row["status"] not in allowed:
        raise Conflict(
            f"a ticket that is {row['status']} cannot {step}",
            field="status",
            code="hotline.illegal_step",
            params={"ticket": row["number"], "status": row["status"], "step": step},
            ticket_status=row["status"],
        )
    return row
