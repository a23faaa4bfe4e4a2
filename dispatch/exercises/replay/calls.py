"""12345 calls in a replay: each `call` event is a ticket received through the hotline
service at the call's moment, and the replay actor plays it on to its close on simulated
time, so the report's 响应率、解决率、满意率 mean something.

The rule, the same on every run (the draws are seeded by the scenario's seed and the call's
number, `random.Random(f"dispatch-scenario/{seed}/call/{n}")`, four draws in this order, so
a call's course never depends on any other event):

1. At the call: received (its place given, or matched from its address by the service),
   assigned at once to its community (else the street its address names), and its request,
   if it implies one, made from the ticket (`request_from_ticket`: source `hotline`, linked).
2. Taken up (`start`, the response) after the response window x U(0.2, 1.25), in whole
   minutes (at least 1): in time about 3 calls in 4.
3. Replied by phone after the resolution window x U(0.25, 1.15) from receipt (at least 5
   minutes after the response): in time about 5 in 6. Solved: with a request, whether it
   is fulfilled by then; without, a draw (85 %).
4. The district's return visit (回访) 30 minutes after the reply records the rating, then
   closes the ticket. One draw r: solved and replied in time: 满意 r < 0.75, 基本满意 r <
   0.95, else 不满意; solved late: 0.40 / 0.85; not solved: 0.05 / 0.35.

Steps past the scenario's end do not happen: the ticket stays as it is then, and counts in
the rates as the hotline's figures count it on the clock at the end.

The hotline's deadline sweep (nearly due and overdue events, once per deadline) runs at
each ticket's nearly-due moments and just after its due moments, on the replay's clock; it
is not written into the history (in a live drill the server's watch may sweep first).
"""

from __future__ import annotations

import random
from datetime import timedelta

from dispatch.db import query
from dispatch.errors import DomainError
from dispatch.exercises import scenario as sc
from dispatch.exercises.replay.state import SWEEP, TICKET, ReplayState, TicketRun
from dispatch.hotline import service as hotline
from dispatch.hotline.deadlines import NEARLY_DUE_SHARE
from dispatch.hotline.schemas import (
    Category,
    DeadlineState,
    Rating,
    ReplyChannel,
    TicketAssign,
    TicketCreate,
    TicketRate,
    TicketReply,
    TicketRequest,
    TicketStep,
    TicketView,
    Urgency,
)
from dispatch.incidents.schemas import Priority

RESPONSE_SHARE = (0.2, 1.25)  # of the response window: when the ticket is taken up
RESOLUTION_SHARE = (0.25, 1.15)  # of the resolution window: when the reply is given
REPLY_AFTER_RESPONSE = timedelta(minutes=5)
RETURN_VISIT = timedelta(minutes=30)
SOLVED_WITHOUT_REQUEST = 0.85
# (satisfied below, basically satisfied below, else dissatisfied) for one draw
RATINGS = {"in_time": (0.75, 0.95), "late": (0.40, 0.85), "unsolved": (0.05, 0.35)}
SWEEP_AFTER_DUE = timedelta(seconds=1)  # overdue is strictly after the due moment


def draws(seed: int, number: int) -> random.Random:
    """The call's own stream: its course depends on the seed and its number only."""
    return random.Random(f"dispatch-scenario/{seed}/call/{number}")


def _minutes(window: timedelta, share: float) -> timedelta:
    return timedelta(minutes=max(1, round(window.total_seconds() / 60 * share)))


def plan_ticket(seed: int, number: int, view: TicketView, key: str, event: sc.Call) -> TicketRun:
    """When the ticket is taken up and replied, and the draws for solved and rating."""
    rng = draws(seed, number)
    received = view.received_at
    respond = _minutes(view.response.due - received, rng.uniform(*RESPONSE_SHARE))
    reply = _minutes(view.resolution.due - received, rng.uniform(*RESOLUTION_SHARE))
    reply = max(reply, respond + REPLY_AFTER_RESPONSE)
    return TicketRun(
        key=key,
        ticket=view.id,
        event=event,
        respond_at=received + respond,
        reply_at=received + reply,
        solved_draw=rng.random(),
        rating_draw=rng.random(),
    )


def rating_of(run: TicketRun) -> Rating:
    band = "unsolved" if not run.solved else "in_time" if run.replied_in_time else "late"
    satisfied, basically = RATINGS[band]
    if run.rating_draw < satisfied:
        return Rating.SATISFIED
    if run.rating_draw < basically:
        return Rating.BASICALLY_SATISFIED
    return Rating.DISSATISFIED


def _sweeps(state: ReplayState, view: TicketView) -> None:
    """The hotline's sweep at the moments this ticket turns nearly due or overdue."""
    for deadline in (view.response, view.resolution):
        window = deadline.due - view.received_at
        state.push(deadline.due - window * NEARLY_DUE_SHARE, SWEEP, "sweep")
        state.push(deadline.due + SWEEP_AFTER_DUE, SWEEP, "sweep")


def _ticket_body(state: ReplayState, event: sc.Call) -> TicketCreate:
    given = not event.matched
    return TicketCreate(
        category=Category(event.category),
        content=event.content,
        urgency=Urgency(event.urgency),
        caller_name=event.caller,
        caller_phone=event.phone,
        address=event.address,
        community=event.community if given else None,
        street=None if given or event.community else event.street,
        incident=None if event.incident is None else state.incidents.get(event.incident),
    )


async def call(state: ReplayState, event: sc.Call) -> None:
    """The call received, dispatched, its request made; its later steps on the agenda."""
    ctx = state.context()
    number = len(state.tickets) + 1
    key = f"C{number}"
    view = await hotline.create_ticket(ctx, _ticket_body(state, event))
    run = plan_ticket(state.scenario.seed, number, view, key, event)
    state.tickets[key] = run
    state.record("call", key, view.community or view.street, event.category, event.urgency)
    where = TicketAssign(version=view.version, community=view.community, street=view.street)
    view = await hotline.assign_ticket(ctx, view.id, where)
    state.record("ticket", key, "assign", view.community or view.street)
    if event.request is not None:
        try:
            await _request(state, run, event.request)
        except DomainError as exc:  # e.g. its incident was refused: the ticket goes on
            state.refuse("call_request", exc, event.index)
    _sweeps(state, view)
    state.push(run.respond_at, TICKET, "ticket", (key, "start"))
    state.push(run.reply_at, TICKET, "ticket", (key, "reply"))


async def _request(state: ReplayState, run: TicketRun, asked: sc.ImpliedRequest) -> None:
    body = TicketRequest(
        item=asked.item, quantity=asked.quantity, priority=Priority(asked.priority)
    )
    view = await hotline.request_from_ticket(state.context(), run.ticket, body)
    made = max(link.id for link in view.links if link.kind == "request")
    state.changed()
    number = len(state.requests) + 1
    state.requests[made] = number
    incident = run.event.incident or ""
    state.request_incident[made] = incident
    run.request = made
    community = view.community
    state.record(
        "request", number, incident, community, asked.item, asked.quantity, asked.priority, run.key
    )


async def _start(state: ReplayState, run: TicketRun) -> None:
    ctx = state.context()
    version = (await hotline.get_ticket(ctx, run.ticket)).version
    view = await hotline.start_ticket(ctx, run.ticket, TicketStep(version=version))
    state.record("ticket", run.key, "start", view.response.state.value)


async def _solved(state: ReplayState, run: TicketRun) -> bool:
    if run.request is None:
        return run.solved_draw < SOLVED_WITHOUT_REQUEST
    async with query(state.context()) as conn:
        status = await conn.fetchval("SELECT status FROM supply_request WHERE id=$1", run.request)
    return bool(status == "fulfilled")


async def _reply(state: ReplayState, run: TicketRun) -> None:
    ctx = state.context()
    run.solved = await _solved(state, run)
    content = (
        "您反映的问题已办理完毕，感谢来电。"
        if run.solved
        else "您反映的问题已转相关部门，正在协调处理，请耐心等待。"
    )
    version = (await hotline.get_ticket(ctx, run.ticket)).version
    body = TicketReply(version=version, channel=ReplyChannel.PHONE, content=content)
    view = await hotline.reply_ticket(ctx, run.ticket, body)
    run.replied_in_time = view.resolution.state is DeadlineState.MET
    state.record("ticket", run.key, "reply", view.resolution.state.value, run.solved)
    state.push(state.now + RETURN_VISIT, TICKET, "ticket", (run.key, "rate"))


async def _rate(state: ReplayState, run: TicketRun) -> None:
    ctx = state.context()
    rating = rating_of(run)
    version = (await hotline.get_ticket(ctx, run.ticket)).version
    body = TicketRate(version=version, rating=rating, solved=run.solved)
    view = await hotline.rate_ticket(ctx, run.ticket, body)
    await hotline.close_ticket(ctx, run.ticket, TicketStep(version=view.version))
    state.record("ticket", run.key, "close", rating.value, run.solved)


TICKET_STEPS = {"start": _start, "reply": _reply, "rate": _rate}


async def ticket_step(state: ReplayState, payload: tuple[str, str]) -> None:
    """One step of a call's ticket; a refusal is recorded (e.g. a trainee moved it)."""
    key, step = payload
    try:
        await TICKET_STEPS[step](state, state.tickets[key])
    except DomainError as exc:
        state.refuse(f"ticket_{step}", exc)


async def sweep(state: ReplayState, _: object = None) -> None:
    """The hotline's sweep on the replay's clock (its live events; not in the history)."""
    await hotline.sweep_overdue(state.context())
