"""Repeated calls: an open ticket received within `WINDOW` of this one from the same phone,
or about the same address and category, is offered as a duplicate. Nothing is merged
until a person confirms (`edits.merge_ticket`); a merged call keeps its row and number,
and the ticket it joined lists it.

The window is illustrative (this project's choice, not an official rule): 48 hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import asyncpg

from dispatch.accounts.policy import Actor
from dispatch.clock import local
from dispatch.hotline.access import scope_clause
from dispatch.hotline.schemas import DuplicateReason, DuplicateView, TicketStatus

WINDOW = timedelta(hours=48)
CANDIDATES = """
SELECT t.id AS of, o.id, o.number, o.received_at, o.status,
       CASE WHEN o.caller_phone = t.caller_phone THEN 'phone' ELSE 'address' END AS reason
FROM hotline_ticket t
JOIN hotline_ticket o ON o.id <> t.id AND o.status NOT IN ('closed', 'merged')
    AND o.received_at BETWEEN t.received_at - $2::interval AND t.received_at + $2::interval
    AND ((t.caller_phone IS NOT NULL AND o.caller_phone = t.caller_phone)
         OR (t.address IS NOT NULL AND o.address = t.address AND o.category = t.category))
WHERE t.id = ANY($1::bigint[]) AND t.status NOT IN ('closed', 'merged') AND {scope}
ORDER BY t.id, o.received_at, o.id
"""


async def duplicates_of(
    conn: asyncpg.Connection, ids: Sequence[int], actor: Actor
) -> dict[int, list[DuplicateView]]:
    found: dict[int, list[DuplicateView]] = {i: [] for i in ids}
    args: list[Any] = [list(ids), WINDOW]
    scope = scope_clause(actor, args, alias="o")  # only duplicates inside their own scope
    for r in await conn.fetch(CANDIDATES.format(scope=scope), *args):
        found[r["of"]].append(
            DuplicateView(
                id=r["id"],
                number=r["number"],
                received_at=local(r["received_at"]) or r["received_at"],
                status=TicketStatus(r["status"]),
                reason=DuplicateReason(r["reason"]),
            )
        )
    return found


async def merged_numbers(conn: asyncpg.Connection, ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {i: [] for i in ids}
    rows = await conn.fetch(
        "SELECT merged_into, number FROM hotline_ticket WHERE merged_into = ANY($1::bigint[]) "
        "ORDER BY merged_into, received_at, id",
        list(ids),
    )
    for r in rows:
        found[r["merged_into"]].append(r["number"])
    return found
