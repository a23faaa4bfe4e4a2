"""Deadlines judged on the service's clock, not the wall's: a fixed clock (as a drill's or
a replay's) moved by hand. A 2-hour response deadline met at 1:59 is met in time, at 2:01
late; the views say overdue and nearly due on that clock; the overdue sweep announces a
ticket once per deadline."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from dispatch.clock import FixedClock
from dispatch.db import Context, Event, set_publisher
from dispatch.hotline import service
from dispatch.hotline.overdue import watch
from dispatch.hotline.schemas import (
    Category,
    DeadlineState,
    ReplyChannel,
    TicketAssign,
    TicketCreate,
    TicketReply,
    TicketStep,
    TicketView,
    Urgency,
)
from tests.dispatch.hotline.helpers import HOME, phone
from tests.support import run, sql, system_context

START = datetime(2031, 7, 1, 2, 0, tzinfo=UTC)  # 10:00 in Beijing, after every other test


def _ctx(clock: FixedClock) -> Context:
    return Context(actor=system_context().actor, clock=clock)


def _received(ctx: Context) -> TicketView:
    body = TicketCreate(
        category=Category.OTHER,
        urgency=Urgency.URGENT,  # 2 h to respond, 24 h to resolve (illustrative)
        content="楼道灯坏了",
        caller_phone=phone(),
        street=HOME,
    )
    made = run(service.create_ticket(ctx, body))
    return run(service.assign_ticket(ctx, made.id, TicketAssign(version=1, street=HOME)))


def _started_after(minutes: int) -> TicketView:
    clock = FixedClock(START)
    ctx = _ctx(clock)
    ticket = _received(ctx)
    clock.advance(timedelta(minutes=minutes))
    return run(service.start_ticket(ctx, ticket.id, TicketStep(version=ticket.version)))


def test_responded_at_1_59_is_in_time_at_2_01_not() -> None:
    assert _started_after(119).response.state is DeadlineState.MET
    assert _started_after(121).response.state is DeadlineState.LATE


def test_the_view_is_judged_on_the_clock() -> None:
    clock = FixedClock(START)
    ctx = _ctx(clock)
    ticket = _received(ctx)
    assert ticket.response.state is DeadlineState.ON_TIME and ticket.response.minutes_left == 120
    clock.advance(timedelta(minutes=89))  # 31 min left of 120: more than a quarter
    assert run(service.get_ticket(ctx, ticket.id)).response.state is DeadlineState.ON_TIME
    clock.advance(timedelta(minutes=1))  # 30 min left: a quarter
    seen = run(service.get_ticket(ctx, ticket.id))
    assert seen.response.state is DeadlineState.NEARLY_DUE and seen.nearly_due
    clock.advance(timedelta(minutes=31))  # a minute past due
    seen = run(service.get_ticket(ctx, ticket.id))
    assert seen.response.state is DeadlineState.OVERDUE and seen.overdue
    assert seen.resolution.state is DeadlineState.ON_TIME
    # the wall clock (years before START) sees it on time: the clock decides, not the wall
    wall = run(service.get_ticket(system_context(), ticket.id))
    assert wall.response.state is DeadlineState.ON_TIME and not wall.overdue


def test_replied_answers_both_deadlines() -> None:
    clock = FixedClock(START)
    ctx = _ctx(clock)
    ticket = _received(ctx)
    clock.advance(timedelta(minutes=30))
    started = run(service.start_ticket(ctx, ticket.id, TicketStep(version=ticket.version)))
    clock.advance(timedelta(hours=30))
    reply = TicketReply(version=started.version, channel=ReplyChannel.SMS, content="已修复")
    replied = run(service.reply_ticket(ctx, ticket.id, reply))
    assert replied.response.state is DeadlineState.MET
    assert replied.resolution.state is DeadlineState.LATE and not replied.overdue


def test_an_overdue_ticket_is_announced_once_per_deadline() -> None:
    heard: list[Event] = []

    async def publish(events: list[Event]) -> None:
        heard.extend(events)

    clock = FixedClock(START + timedelta(days=400))  # after every ticket of the other tests
    ctx = _ctx(clock)
    ticket = _received(ctx)
    set_publisher(publish)
    try:
        run(service.sweep_overdue(ctx))
        clock.advance(timedelta(minutes=121))
        run(service.sweep_overdue(ctx))
        run(service.sweep_overdue(ctx))  # nothing new
        clock.advance(timedelta(hours=23))
        run(service.sweep_overdue(ctx))
    finally:
        set_publisher(None)
    mine = [e for e in heard if e.kind == "hotline.ticket_overdue" and e.data["id"] == ticket.id]
    assert [e.data["deadline"] for e in mine] == ["response", "resolution"]
    assert all(e.street == HOME and "caller_phone" not in e.data for e in mine)


def test_the_watch_sweeps_every_world_it_is_given_and_outlives_a_failing_one() -> None:
    clock = FixedClock(START + timedelta(days=800))
    ctx = _ctx(clock)
    ticket = _received(ctx)
    clock.advance(timedelta(minutes=121))
    rounds: list[int] = []

    async def worlds() -> list[Context]:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise OSError("the database restarts")  # this round is skipped, not the watch
        if len(rounds) > 2:
            raise asyncio.CancelledError
        return [ctx]

    async def go() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await watch(worlds, every=0.01)

    run(go())
    assert len(rounds) == 3
    marked = run(service.get_ticket(ctx, ticket.id))
    assert marked.response.state is DeadlineState.OVERDUE
    row = sql("SELECT response_overdue_at FROM hotline_ticket WHERE id=$1", ticket.id)[0]
    assert row["response_overdue_at"] == clock.now()


def test_a_nearly_due_ticket_is_announced_once_per_deadline_on_the_clock() -> None:
    """Nearly due from the moment a quarter of the window is left (as the views say), once
    per deadline; a deadline met first, or passed unseen, is not announced nearly due."""
    heard: list[Event] = []

    async def publish(events: list[Event]) -> None:
        heard.extend(events)

    clock = FixedClock(START + timedelta(days=1200))  # after every ticket of the other tests
    ctx = _ctx(clock)
    ticket = _received(ctx)  # 2 h to respond, 24 h to resolve
    responded = _received(ctx)
    set_publisher(publish)
    try:
        clock.advance(timedelta(minutes=89))  # 31 min left of 120: not yet
        run(service.sweep_overdue(ctx))
        step = TicketStep(version=responded.version)
        run(service.start_ticket(ctx, responded.id, step))  # met before nearly due
        clock.advance(timedelta(minutes=1))  # 30 min left: a quarter
        run(service.sweep_overdue(ctx))
        run(service.sweep_overdue(ctx))  # nothing new
        clock.advance(timedelta(hours=16, minutes=30))  # 6 h of 24 left: a quarter
        run(service.sweep_overdue(ctx))
    finally:
        set_publisher(None)
    nearly = [e for e in heard if e.kind == "hotline.ticket_nearly_due"]
    mine = [e for e in nearly if e.data["id"] == ticket.id]
    assert [(e.data["deadline"], e.data["minutes_left"]) for e in mine] == [
        ("response", 30),
        ("resolution", 360),
    ]
    assert all(e.street == HOME and "caller_phone" not in e.data for e in mine)
    other = [e.data["deadline"] for e in nearly if e.data["id"] == responded.id]
    assert other == ["resolution"]  # its response was met: only its resolution runs on
    overdue = [e for e in heard if e.kind == "hotline.ticket_overdue" and e.data["id"] == ticket.id]
    assert [e.data["deadline"] for e in overdue] == ["response"]  # 2 h passed meanwhile
    row = sql(
        "SELECT response_nearly_due_at, resolution_nearly_due_at FROM hotline_ticket WHERE id=$1",
        ticket.id,
    )[0]
    assert row["resolution_nearly_due_at"] == clock.now()
