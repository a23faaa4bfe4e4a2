"""Call-outs of a plan's roles, one row per recipient ("step"): on activation each role's
holder, and each paired unit pledging people, is called out (step 0); unanswered in time
the call-out escalates to the deputy (step 1), then to the street squad leader (step 2)
(`escalation`). Each step's state is
`sent → delivered → acknowledged (coming, ETA) | declined (reason) | no_answer`.

A step is written and sent on its channels (`channels`) in one command; its delivery and
its answer are each recorded once by a guarded update (`record_delivery`,
`record_answer`), whichever channel brings them — two answers at once cannot both stand,
and the answer and the escalation sweep cannot both win either.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from dispatch.accounts.policy import Actor, Target, authorize
from dispatch.db import Command, Context, query, view_of
from dispatch.errors import Conflict, NotFound
from dispatch.logs import redact
from dispatch.people.lookups import mask_phone
from dispatch.preparedness.channels import contact_of, send_step
from dispatch.preparedness.references import holder_rows, holder_view
from dispatch.preparedness.schemas import (
    DEFAULT_ACK_MINUTES,
    CalloutState,
    CalloutView,
    Holder,
    HolderKind,
    ReplyOutcome,
    ReplyView,
    SmsStatus,
    SmsView,
    Via,
)

OPEN = "('sent', 'delivered')"  # the states still waiting for an answer, in SQL

INSERT_STEP = """
    INSERT INTO plan_callout (activation_id, incident, community, street, role, plan_role_id,
        recipient_kind, recipient_id, person_id, sent_at, ack_minutes, due_at, step,
        escalated_from, origin_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
    ON CONFLICT (escalated_from) DO NOTHING
    RETURNING *
"""


async def insert_step(
    cmd: Command,
    base: asyncpg.Record,
    recipient: Holder,
    step: int = 0,
    escalated_from: int | None = None,
) -> asyncpg.Record | None:
    """Write a step to `recipient` for the call-out `base` describes (a plan role joined to
    its activation, or the step it escalates from) and send it; None if the step it
    escalates from has escalated already (the unique constraint decides)."""
    contact = await contact_of(cmd.connection, recipient.kind, recipient.id)
    minutes = base["ack_minutes"] or DEFAULT_ACK_MINUTES
    origin = None if escalated_from is None else base["origin_id"] or base["id"]
    row: asyncpg.Record | None = await cmd.connection.fetchrow(
        INSERT_STEP,
        base["activation_id"],
        base["incident"],
        base["community"],
        base["street"],
        base["role"],
        base["plan_role_id"],
        recipient.kind.value,
        recipient.id,
        contact.person_id,
        cmd.now,
        minutes,
        cmd.now + timedelta(minutes=minutes),
        step,
        escalated_from,
        origin,
    )
    if row is not None:
        await send_step(cmd, row, contact)
    return row


async def send_callouts(cmd: Command, activation: int, plan: asyncpg.Record, incident: int) -> int:
    """One call-out per role of the plan, to its holder, sent on its channels; how many."""
    roles = await cmd.connection.fetch(
        """
        SELECT $1::bigint AS activation_id, $2::bigint AS incident, $3::varchar AS community,
               $4::varchar AS street, r.role, r.id AS plan_role_id, r.ack_minutes,
               r.holder_kind, r.holder_id
        FROM plan_role r WHERE r.plan_id = $5 ORDER BY r.seq
        """,
        activation,
        incident,
        plan["community"],
        plan["street"],
        plan["id"],
    )
    for role in roles:
        await insert_step(cmd, role, Holder(HolderKind(role["holder_kind"]), role["holder_id"]))
    return len(roles)


PAIRED_ROLE = "结对共建单位"  # a plan role name, as the plans write theirs


async def call_paired_units(
    cmd: Command, activation: int, plan: asyncpg.Record, incident: int
) -> int:
    """One call-out to every partner unit paired with the community (an agreement in force
    that pledges people) that no role of the plan already calls: the pairing agreement
    (结对共建) is a standing promise to come when the community's plan starts. No plan role
    stands behind it, so unanswered it escalates to the street squad leader."""
    units = await cmd.connection.fetch(
        """
        SELECT DISTINCT ON (g.unit_id) $1::bigint AS activation_id, $2::bigint AS incident,
            $3::varchar AS community, $4::varchar AS street, $5::varchar AS role,
            NULL::integer AS plan_role_id, NULL::integer AS ack_minutes, g.unit_id
        FROM pairing g
        WHERE g.community = $3::varchar AND g.status = 'active' AND g.pledged_people > 0
          AND g.valid_from <= $6::timestamptz::date AND g.valid_until >= $6::timestamptz::date
          AND NOT EXISTS (SELECT 1 FROM plan_role r WHERE r.plan_id = $7
                          AND r.holder_kind = 'unit' AND r.holder_id = g.unit_id)
        ORDER BY g.unit_id
        """,
        activation,
        incident,
        plan["community"],
        plan["street"],
        PAIRED_ROLE,
        cmd.now,
        plan["id"],
    )
    for unit in units:
        await insert_step(cmd, unit, Holder(HolderKind.UNIT, unit["unit_id"]))
    return len(units)


def _recipient(row: asyncpg.Record) -> dict[str, Any]:
    return {"kind": row["recipient_kind"], "id": row["recipient_id"]}


def event_target(row: asyncpg.Record) -> dict[str, Any]:
    """Where a step's events go: its street and community, and the person it reaches."""
    return {"street": row["street"], "community": row["community"], "person": row["person_id"]}


async def record_answer(
    cmd: Command,
    row: asyncpg.Record,
    state: CalloutState,
    via: Via,
    eta_minutes: int | None = None,
    reason: str | None = None,
) -> asyncpg.Record:
    """The step's answer, if it is still open (409 `callout.answered` otherwise), audited
    and announced."""
    updated = await cmd.connection.fetchrow(
        "UPDATE plan_callout SET state=$2, eta_minutes=$3, reason=$4, answered_at=$5, "
        f"answered_by=$6, answered_via=$7 WHERE id=$1 AND state IN {OPEN} RETURNING *",
        row["id"],
        state.value,
        eta_minutes,
        reason,
        cmd.now,
        cmd.ctx.actor.username,
        via.value,
    )
    if updated is None:
        current = await cmd.connection.fetchval(
            "SELECT state FROM plan_callout WHERE id=$1", row["id"]
        )
        raise Conflict(
            f"call-out {row['id']} is already {current}",
            field="callout_id",
            code="callout.answered",
            params={"callout": row["id"], "state": current},
        )
    await cmd.audit(
        "callouts.answer",
        "plan_callout",
        row["id"],
        {"state": row["state"]},
        {"state": state.value, "eta_minutes": eta_minutes, "reason": reason, "via": via.value},
    )
    cmd.emit(
        "callout.answered",
        {
            "callout": row["id"],
            "origin": row["origin_id"] or row["id"],
            "state": state.value,
            "incident": row["incident"],
            "eta_minutes": eta_minutes,
            "via": via.value,
        },
        **event_target(row),
    )
    return updated


async def record_delivery(cmd: Command, row: asyncpg.Record, via: Via) -> asyncpg.Record:
    """`sent → delivered`, once; a step delivered or answered already stays as it is (a
    tablet or a gateway may report the same delivery twice)."""
    updated = await cmd.connection.fetchrow(
        "UPDATE plan_callout SET state='delivered', delivered_at=$2, delivered_via=$3 "
        "WHERE id=$1 AND state='sent' RETURNING *",
        row["id"],
        cmd.now,
        via.value,
    )
    if updated is None:
        return row
    cmd.emit(
        "callout.delivered",
        {"callout": row["id"], "incident": row["incident"], "via": via.value},
        **event_target(row),
    )
    return updated


async def step_row(conn: asyncpg.Connection, callout_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM plan_callout WHERE id=$1", callout_id)
    if row is None:
        raise NotFound(f"no call-out {callout_id}", field="callout_id")
    return row


def is_recipient(actor: Actor, row: asyncpg.Record) -> bool:
    return actor.person_id is not None and actor.person_id == row["person_id"]


def authorize_answer(actor: Actor, row: asyncpg.Record) -> None:
    """The person the step reaches answers it wherever it is; anyone else needs the right
    to answer for others inside the call-out's scope."""
    if is_recipient(actor, row):
        authorize(actor, "callouts.answer_own")
        return
    authorize(actor, "callouts.answer", Target(row["street"], row["community"]))


def _sms_view(row: asyncpg.Record) -> SmsView:
    status = SmsStatus(row["status"])
    return view_of(
        SmsView,
        row,
        phone=mask_phone(row["phone"]),
        status=status,
        next_attempt_at=row["next_attempt_at"] if status is SmsStatus.PENDING else None,
    )


def _reply_view(row: asyncpg.Record) -> ReplyView:
    return view_of(ReplyView, row, text=redact(row["text"]), outcome=ReplyOutcome(row["outcome"]))


async def views(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> list[CalloutView]:
    """The board's rows: each step with its recipient (phone masked), its SMS (masked, no
    text) and the replies that came (any phone in them masked)."""
    holders = await holder_rows(
        conn, [Holder(HolderKind(r["recipient_kind"]), r["recipient_id"]) for r in rows]
    )
    ids = [r["id"] for r in rows]
    sms = {
        r["callout_id"]: _sms_view(r)
        for r in await conn.fetch("SELECT * FROM callout_sms WHERE callout_id = ANY($1)", ids)
    }
    replies: dict[int, list[ReplyView]] = {}
    for r in await conn.fetch(
        "SELECT * FROM callout_reply WHERE callout_id = ANY($1) ORDER BY id", ids
    ):
        replies.setdefault(r["callout_id"], []).append(_reply_view(r))
    return [
        view_of(
            CalloutView,
            r,
            recipient=holder_view(holders, HolderKind(r["recipient_kind"]), r["recipient_id"]),
            state=CalloutState(r["state"]),
            origin_id=r["origin_id"] or r["id"],
            delivered_via=Via(r["delivered_via"]) if r["delivered_via"] else None,
            answered_via=Via(r["answered_via"]) if r["answered_via"] else None,
            sms=sms.get(r["id"]),
            replies=replies.get(r["id"], []),
        )
        for r in rows
    ]


async def list_callouts(ctx: Context, incident: int | None = None) -> list[CalloutView]:
    """Call-outs (of one incident) inside the reader's scope: the board of who answered,
    every step of every role, in the order they were sent."""
    authorize(ctx.actor, "callouts.read")
    actor = ctx.actor
    args: list[Any] = [incident]
    where = "TRUE"
    if not actor.is_district_wide:
        args.append(actor.street or actor.community)
        where = f"{'street' if actor.street else 'community'} = $2"
    async with query(ctx) as conn:
        rows = await conn.fetch(
            "SELECT * FROM plan_callout WHERE ($1::bigint IS NULL OR incident=$1) "
            f"AND {where} ORDER BY id",
            *args,
        )
        return await views(conn, list(rows))


async def my_callouts(ctx: Context, open_only: bool = True) -> list[CalloutView]:
    """The steps that reach the caller (as the person, or as the team leader): the tablet's
    alerts. A user who is no person has none."""
    authorize(ctx.actor, "callouts.read_own")
    if ctx.actor.person_id is None:
        return []
    async with query(ctx) as conn:
        rows = await conn.fetch(
            "SELECT * FROM plan_callout WHERE person_id=$1 "
            f"AND (NOT $2 OR state IN {OPEN}) ORDER BY id",
            ctx.actor.person_id,
            open_only,
        )
        return await views(conn, list(rows))


async def get_callout(ctx: Context, callout_id: int) -> CalloutView:
    """One step: for its recipient, or a reader in its scope (one who can be neither is
    refused before the step is looked up)."""
    authorize(ctx.actor, "callouts.read_own" if ctx.actor.person_id else "callouts.read")
    async with query(ctx) as conn:
        row = await step_row(conn, callout_id)
        if not is_recipient(ctx.actor, row):
            authorize(ctx.actor, "callouts.read", Target(row["street"], row["community"]))
        return (await views(conn, [row]))[0]
