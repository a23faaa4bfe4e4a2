"""Escalation on the service clock: a call-out step nobody acknowledged by its due time
(its role's limit after it was sent, 10 minutes unless the plan says otherwise) — or that
was declined, or marked unanswered — is closed (`no_answer` if it was still open) and the
call-out goes on to the next recipient: from the holder to the role's deputy, then to the
street squad leader (the leader of the street's `street_squad` team). Someone already
called in the chain is not called again; with nobody left, the call-out is `exhausted`.

Exactly once, by the database: the sweep takes the due steps `FOR UPDATE SKIP LOCKED` and
closes them in the same statement (`escalated_at` set, guarded on it being unset), and the
next step's row is unique per step it escalates from. Two sweeps at once, or a sweep and
an answer at the same instant, cannot both act on a step: one waits or skips, and the
other finds it changed. Only call-outs of incidents still declared or responding escalate.

`sweep(ctx)` runs on `ctx`'s clock (a test's fixed one, a drill's simulated one, the
server's wall clock); `watch` calls it periodically for every world from the app's
lifespan. Each escalation is audited and announced (`callout.escalated`,
`callout.exhausted`; a step the clock closed also `callout.answered` with `no_answer`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from dispatch.clock import FixedClock
from dispatch.db import Command, Context, command
from dispatch.preparedness.callouts import event_target, insert_step
from dispatch.preparedness.channels import contact_of
from dispatch.preparedness.schemas import Holder, HolderKind

log = logging.getLogger("dispatch.preparedness")

# $1 the clock's now, $2 one step only (an answer that closes it) or NULL for all due
CLOSE_DUE = """
    WITH due AS (
        SELECT c.id, c.state FROM plan_callout c JOIN incident i ON i.id = c.incident
        WHERE c.escalated_at IS NULL AND i.status IN ('declared', 'responding')
          AND (c.state IN ('declined', 'no_answer')
               OR (c.state IN ('sent', 'delivered') AND c.due_at <= $1))
          AND ($2::bigint IS NULL OR c.id = $2)
        ORDER BY c.id
        FOR UPDATE OF c SKIP LOCKED
    )
    UPDATE plan_callout c SET escalated_at = $1,
        state = CASE WHEN due.state IN ('sent', 'delivered') THEN 'no_answer' ELSE c.state END,
        answered_at = coalesce(c.answered_at, $1),
        answered_by = coalesce(c.answered_by, 'system'),
        answered_via = CASE WHEN due.state IN ('sent', 'delivered') THEN 'sweep'
                            ELSE c.answered_via END
    FROM due WHERE c.id = due.id
    RETURNING c.*, due.state AS was
"""

SQUAD_LEADER = """
    SELECT t.leader_id FROM team t JOIN person p ON p.id = t.leader_id AND p.active
    WHERE t.kind = 'street_squad' AND t.street = $1 ORDER BY t.id LIMIT 1
"""


@dataclass
class SweepReport:
    """What one sweep did: the steps it closed, the steps it sent, the call-outs left with
    nobody more to call."""

    closed: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    exhausted: list[int] = field(default_factory=list)


async def _candidates(conn: asyncpg.Connection, row: asyncpg.Record) -> list[tuple[int, Holder]]:
    """Who comes after this step, in order: the deputy (after the holder), then the squad
    leader of the call-out's street."""
    found: list[tuple[int, Holder]] = []
    if row["step"] == 0 and row["plan_role_id"] is not None:
        deputy = await conn.fetchrow(
            "SELECT deputy_kind, deputy_id FROM plan_role WHERE id=$1", row["plan_role_id"]
        )
        if deputy is not None:
            found.append((1, Holder(HolderKind(deputy["deputy_kind"]), deputy["deputy_id"])))
    if row["step"] < 2:
        leader = await conn.fetchval(SQUAD_LEADER, row["street"])
        if leader is not None:
            found.append((2, Holder(HolderKind.PERSON, leader)))
    return found


async def next_recipient(
    conn: asyncpg.Connection, row: asyncpg.Record
) -> tuple[int, Holder] | None:
    """The next step and recipient of this step's call-out; None when everyone it could
    go to has been called (the same holder, or the same person, is never called twice)."""
    origin = row["origin_id"] or row["id"]
    chain = await conn.fetch(
        "SELECT recipient_kind, recipient_id, person_id FROM plan_callout "
        "WHERE id=$1 OR origin_id=$1",
        origin,
    )
    called = {(r["recipient_kind"], r["recipient_id"]) for r in chain}
    persons = {r["person_id"] for r in chain if r["person_id"] is not None}
    for step, holder in await _candidates(conn, row):
        if (holder.kind.value, holder.id) in called:
            continue
        reached = (await contact_of(conn, holder.kind, holder.id)).person_id
        if reached is not None and reached in persons:
            continue
        return step, holder
    return None


async def _escalate_one(cmd: Command, row: asyncpg.Record, report: SweepReport) -> None:
    """Go on from one closed step: the next step sent, or the call-out exhausted; audited."""
    origin = row["origin_id"] or row["id"]
    base = {"incident": row["incident"], "origin": origin, "callout": row["id"]}
    if row["was"] != row["state"]:  # the clock closed it
        cmd.emit(
            "callout.answered",
            {**base, "state": row["state"], "eta_minutes": None, "via": "sweep"},
            **event_target(row),
        )
    before = {"state": row["was"], "step": row["step"], "recipient": _recipient_of(row)}
    following = await next_recipient(cmd.connection, row)
    made = None
    if following is not None:
        made = await insert_step(cmd, row, following[1], following[0], escalated_from=row["id"])
    if made is None:
        report.exhausted.append(origin)
        await cmd.audit("callouts.exhausted", "plan_callout", row["id"], before, {"to": None})
        cmd.emit("callout.exhausted", base, **event_target(row))
        return
    report.escalated.append(made["id"])
    to = {"id": made["id"], "step": made["step"], "recipient": _recipient_of(made)}
    await cmd.audit("callouts.escalate", "plan_callout", row["id"], before, {"to": to})
    cmd.emit(
        "callout.escalated",
        {**base, "to": made["id"], "step": made["step"], "reason": row["state"]},
        **event_target(row),
    )


def _recipient_of(row: asyncpg.Record) -> dict[str, object]:
    return {"kind": row["recipient_kind"], "id": row["recipient_id"]}


async def escalate(cmd: Command, only: int | None = None) -> SweepReport:
    """Close the steps due on the command's clock (or just `only`, answered just now) and
    escalate each, in the command's transaction."""
    report = SweepReport()
    rows = await cmd.connection.fetch(CLOSE_DUE, cmd.now, only)
    for row in rows:
        report.closed.append(row["id"])
        await _escalate_one(cmd, row, report)
    return report


async def sweep(ctx: Context, now: datetime | None = None) -> SweepReport:
    """One sweep of `ctx`'s world on its clock (or at `now`, for a test), in one command."""
    if now is not None:
        ctx = Context(ctx.actor, FixedClock(now), ctx.exercise, durable=ctx.durable)
    async with command(ctx) as cmd:
        return await escalate(cmd)


Worlds = Callable[[], Awaitable[list[Context]]]
Afterwards = Callable[[], Awaitable[object]]


async def watch(worlds: Worlds, every: float, afterwards: Afterwards | None = None) -> None:
    """Sweep every world `worlds` gives, run `afterwards` (the SMS sender), then wait; a
    failing world is logged and the watch goes on."""
    while True:
        try:
            contexts = await worlds()
        except Exception as exc:  # the database restarting: try again next round
            log.warning("call-out watch cannot list worlds: %s", exc)
            contexts = []
        for ctx in contexts:
            try:
                await sweep(ctx)
            except Exception as exc:  # one world's failure must not stop the others
                log.warning("call-out sweep of %s failed: %s", ctx.exercise or "public", exc)
        if afterwards is not None:
            try:
                await afterwards()
            except Exception as exc:  # the gateway or the database: next round
                log.warning("call-out messages not sent this round: %s", exc)
        await asyncio.sleep(every)
