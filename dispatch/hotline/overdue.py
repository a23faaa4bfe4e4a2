"""Tickets becoming nearly due and overdue, announced once: a sweep on a world's clock marks
each ticket whose response or resolution deadline has passed unmet (`response_overdue_at`,
`resolution_overdue_at`) and raises `hotline.ticket_overdue` to its street, its community
and the district; one whose deadline is still unmet with a quarter of its window or less
left (`deadlines.NEARLY_DUE_SHARE`: the moment every view starts to say `nearly_due`, so
the event and the views agree) is marked `response_nearly_due_at` /
`resolution_nearly_due_at` and raises `hotline.ticket_nearly_due` the same way, with the
minutes left. A ticket the sweep first sees past due is announced overdue only. A ticket
whose requests and tasks are all finished raises `hotline.reply_reminder` once. The marks
are the system's notes on the ticket, not an actor's change, so they write no audit row
(the trail of what people did stays theirs).

The server sweeps the real world on its clock and each playing drill on the drill's
simulated clock (`watch`), so a drill's tickets fall overdue in drill time. What a view
says (overdue, nearly due) never waits for a sweep: it is judged on the reader's clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from dispatch.db import Command, Context, command
from dispatch.hotline.deadlines import NEARLY_DUE_SHARE
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

# $1 the clock's now, $2 the share of the window left from which a deadline is nearly due
NEARLY_DUE = {
    "response": """
        UPDATE hotline_ticket SET response_nearly_due_at = $1
        WHERE response_nearly_due_at IS NULL AND responded_at IS NULL AND replied_at IS NULL
          AND response_due >= $1 AND response_due - (response_due - received_at) * $2 <= $1
          AND status NOT IN ('closed', 'merged')
        RETURNING id, number, status, version, category, urgency, street, community,
                  response_due AS due
    """,
    "resolution": """
        UPDATE hotline_ticket SET resolution_nearly_due_at = $1
        WHERE resolution_nearly_due_at IS NULL AND replied_at IS NULL
          AND resolution_due >= $1
          AND resolution_due - (resolution_due - received_at) * $2 <= $1
          AND status NOT IN ('closed', 'merged')
        RETURNING id, number, status, version, category, urgency, street, community,
                  resolution_due AS due
    """,
}


def _data(row: asyncpg.Record, deadline: str) -> dict[str, Any]:
    return {
        "id": row["id"],
        "number": row["number"],
        "deadline": deadline,
        "due": row["due"].isoformat(),
        "status": row["status"],
        "category": row["category"],
        "urgency": row["urgency"],
    }


async def _nearly_due(cmd: Command) -> int:
    """Tickets newly nearly due on the clock: announced with the whole minutes left."""
    found = 0
    for deadline, mark in NEARLY_DUE.items():
        for row in await cmd.connection.fetch(mark, cmd.now, NEARLY_DUE_SHARE):
            found += 1
            left = int((row["due"] - cmd.now).total_seconds() // 60)
            cmd.emit(
                "hotline.ticket_nearly_due",
                {**_data(row, deadline), "minutes_left": left},
                street=row["street"],
                community=row["community"],
            )
    return found


async def sweep_overdue(ctx: Context) -> int:
    """Mark and announce the tickets newly overdue or nearly due on `ctx`'s clock, and the
    reply reminders due; how many."""
    found = 0
    async with command(ctx) as cmd:
        for deadline, mark in MARKS.items():
            for row in await cmd.connection.fetch(mark, cmd.now):
                found += 1
                cmd.emit(
                    "hotline.ticket_overdue",
                    _data(row, deadline),
                    street=row["street"],
                    community=row["community"],
                )
        found += await _nearly_due(cmd)
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
