"""Tickets becoming overdue, announced once: a sweep on a world's clock marks each ticket
whose response or resolution deadline has passed unmet (`response_overdue_at`,
`resolution_overdue_at`) and raises `hotline.ticket_overdue` to its street, its community
and the district; a ticket whose requests and tasks are all finished raises
`hotline.reply_reminder` once. The mark is the system's note on the ticket, not an
actor's change, so it writes no audit row (the trail of what people did stays theirs).

The server sweeps the real world on its clock and each playing drill on the drill's
simulated clock (`watch`), so a drill's tickets fall overdue in drill time. What a view
says (overdue, nearly due) never waits for a sweep: it is judged on the reader's clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from dispatch.db import Command, Context, command
from dispatch.hotline.records import REPLY_DUE, announce

log = logging.getLogger("dispatch.hotline")

MARKS = {
    "response": """
        UPDATE hotline_ticket SET response_overdue_at = $1
        WHERE response_overdue_at IS NULL AND responded_at IS NULL AND replied_at IS NULL
          AND response_due < $1 AND status NOT IN ('closed', 'merged')
        RETURNING id, number, status, version, category, urgency, street, community,
                  response_due AS due
    """,
    "resolution": """
        UPDATE hotline_ticket SET resolution_overdue_at = $1
        WHERE resolution_overdue_at IS NULL AND replied_at IS NULL
          AND resolution_due < $1 AND status NOT IN ('closed', 'merged')
        RETURNING id, number, status, version, category, urgency, street, community,
                  resolution_due AS due
    """,
}


async def sweep_overdue(ctx: Context) -> int:
    """Mark, audit and announce the tickets newly overdue on `ctx`'s clock; how many."""
    found = 0
    async with command(ctx) as cmd:
        for deadline, mark in MARKS.items():
            for row in await cmd.connection.fetch(mark, cmd.now):
                found += 1
                data = {
                    "id": row["id"],
                    "number": row["number"],
                    "deadline": deadline,
                    "due": row["due"].isoformat(),
                    "status": row["status"],
                    "category": row["category"],
                    "urgency": row["urgency"],
                }
                cmd.emit(
                    "hotline.ticket_overdue",
                    data,
                    street=row["street"],
                    community=row["community"],
                )
        found += await _remind(cmd)
    return found


REMIND = f"""
    UPDATE hotline_ticket t SET reply_reminded_at = $1
    WHERE t.reply_reminded_at IS NULL AND {REPLY_DUE}
    RETURNING id, number, status, version, category, urgency, street, community
"""


async def _remind(cmd: Command) -> int:
    """Tickets whose requests and tasks are all finished: their owner is reminded to reply
    (once; a new link starts the wait again)."""
    rows = await cmd.connection.fetch(REMIND, cmd.now)
    for row in rows:
        announce(cmd, "hotline.reply_reminder", row)
    return len(rows)


Worlds = Callable[[], Awaitable[list[Context]]]


async def watch(worlds: Worlds, every: float) -> None:
    """Sweep every world `worlds` gives, then wait; a failing world is logged and the
    watch goes on (a drill deleted meanwhile, the database restarting)."""
    while True:
        for ctx in await _worlds_or_none(worlds):
            try:
                await sweep_overdue(ctx)
            except Exception as exc:  # one world's failure must not stop the others
                log.warning("overdue sweep of %s failed: %s", ctx.exercise or "public", exc)
        await asyncio.sleep(every)


async def _worlds_or_none(worlds: Worlds) -> list[Context]:
    try:
        return await worlds()
    except Exception as exc:  # the database may be down: try again next time
        log.warning("overdue sweep: worlds not listed: %s", exc)
        return []
