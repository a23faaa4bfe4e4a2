"""Answering a call-out step, by whichever way it reached its recipient:

- through the API (a logged-in page, the squad tablet): the recipient themselves, or
  someone who may answer for others in the call-out's scope (`callouts.authorize_answer`);
- through the one-time link, by whoever holds it (the link is the authority);

and recording that it was delivered (the tablet showed it, the link was opened). A decline
or a "no answer" escalates at once, in the same command (the sweep would on its next
round); an acknowledgement ends the call-out.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from dispatch.accounts.policy import Actor, Role, authorize
from dispatch.clock import Clock, local
from dispatch.db import Context, command, query
from dispatch.errors import NotFound
from dispatch.preparedness import links
from dispatch.preparedness.callouts import (
    authorize_answer,
    record_answer,
    record_delivery,
    step_row,
    views,
)
from dispatch.preparedness.escalation import escalate
from dispatch.preparedness.schemas import CalloutLink, CalloutState, CalloutView, Via

LINK_ACTOR = Actor(user_id=None, username="link", role=Role.VOLUNTEER)  # a link's holder


def _may_answer_some(actor: Actor) -> None:
    """Before reading the step: the actor may answer their own, or others' in a scope."""
    authorize(actor, "callouts.answer_own" if actor.person_id else "callouts.answer")


async def answer_callout(
    ctx: Context,
    callout_id: int,
    state: CalloutState,
    eta_minutes: int | None = None,
    reason: str | None = None,
) -> CalloutView:
    """Record the answer to a step that is still open (409 `callout.answered` if it was
    answered or escalated); a decline or no-answer escalates it at once."""
    _may_answer_some(ctx.actor)
    async with command(ctx) as cmd:
        row = await step_row(cmd.connection, callout_id)
        authorize_answer(ctx.actor, row)
        updated = await record_answer(cmd, row, state, Via.APP, eta_minutes, reason)
        if state is not CalloutState.ACKNOWLEDGED:
            await escalate(cmd, only=callout_id)
            updated = await step_row(cmd.connection, callout_id)
        return (await views(cmd.connection, [updated]))[0]


async def mark_delivered(ctx: Context, callout_id: int) -> CalloutView:
    """The recipient's tablet showed the step: `sent → delivered` (a repeat changes nothing)."""
    _may_answer_some(ctx.actor)
    async with command(ctx) as cmd:
        row = await step_row(cmd.connection, callout_id)
        authorize_answer(ctx.actor, row)
        updated = await record_delivery(cmd, row, Via.APP)
        return (await views(cmd.connection, [updated]))[0]


async def callout_link(ctx: Context, callout_id: int) -> CalloutLink:
    """The step's one-time link, for someone who may answer it to pass on (it lets its
    holder answer, so it is theirs alone to hand out)."""
    async with query(ctx) as conn:
        row = await step_row(conn, callout_id)
    authorize_answer(ctx.actor, row)
    if ctx.exercise is not None:
        raise NotFound("a drill's call-outs have no links", field="callout_id")
    expires = links.expiry_of(row["sent_at"])
    url = links.url_of(links.sign(callout_id, expires))
    return CalloutLink(callout_id, url, local(expires) or expires)


@dataclass(frozen=True)
class LinkedStep:
    """What the link's page shows: the step, with names (never codes)."""

    view: CalloutView
    incident_title: str
    community_name: str


def check_link(clock: Clock, token: str) -> int:
    """The step a genuine, unexpired link names (403 otherwise), before anything else is
    read from the request that carries it."""
    return links.read(token, clock.now()).callout


async def open_link(clock: Clock, token: str) -> LinkedStep:
    """The step a genuine link names, now `delivered` if it was only `sent` (whoever opens
    the link has it); 403 for a forged or expired link. Always the real world's."""
    claims = links.read(token, clock.now())
    async with command(Context(LINK_ACTOR, clock)) as cmd:
        row = await step_row(cmd.connection, claims.callout)
        row = await record_delivery(cmd, row, Via.LINK)
        return await _linked(cmd.connection, row)


async def answer_by_link(
    clock: Clock,
    token: str,
    state: CalloutState,
    eta_minutes: int | None = None,
    reason: str | None = None,
) -> LinkedStep:
    """The link holder's answer, once: the step's guarded update refuses a second use
    (409 `callout.answered`); a decline escalates at once."""
    claims = links.read(token, clock.now())
    async with command(Context(LINK_ACTOR, clock)) as cmd:
        row = await step_row(cmd.connection, claims.callout)
        updated = await record_answer(cmd, row, state, Via.LINK, eta_minutes, reason)
        if state is CalloutState.DECLINED:
            await escalate(cmd, only=claims.callout)
            updated = await step_row(cmd.connection, claims.callout)
        return await _linked(cmd.connection, updated)


async def _linked(conn: asyncpg.Connection, row: asyncpg.Record) -> LinkedStep:
    names = await conn.fetchrow(
        "SELECT i.title, c.name FROM incident i, community c WHERE i.id=$1 AND c.code=$2",
        row["incident"],
        row["community"],
    )
    view = (await views(conn, [row]))[0]
    return LinkedStep(view, names["title"] if names else "", names["name"] if names else "")
