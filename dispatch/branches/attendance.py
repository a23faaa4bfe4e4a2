"""Sign-up and attendance of community activities: who comes (within capacity) and when
they came and left, the hours `reports.py` counts.

EXACTLY ONCE, BY THE DATABASE. A sign-up raises the activity's `signed_up` with a guarded
UPDATE (`signed_up < capacity`, the CHECK holds it too) and writes the person's one row
(UNIQUE per activity and person) in the same transaction: of twenty people racing for ten
places, ten get one, and a second sign-up of a person is refused and undoes its count. A
cancellation takes the activity's row first and then the sign-up's, the sign-up's order, so
the two never deadlock. Check-in and check-out are guarded UPDATEs of the sign-up row
(signed up and not yet in; in and not yet out), so a resent tap changes nothing twice.

Who may act: see `activities.py`. Every change writes an audit row and an event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

import asyncpg

from dispatch.accounts.policy import Actor, authorize
from dispatch.branches.activities import (
    ATTENDED_HOURS,
    activity_row,
    authorize_area,
    authorize_organiser,
    status_of,
)
from dispatch.branches.schemas import AttendanceMark, SignupCreate, SignupView
from dispatch.db import Command, Context, command, query, view_of
from dispatch.errors import Conflict, InvalidInput

CLOCK_DRIFT = timedelta(minutes=1)  # a tablet's clock may run this far ahead of ours
OPENS_EARLY = timedelta(hours=1)  # check-in opens an hour before the start
RECORDED_LATE = timedelta(days=7)  # attendance may be recorded up to a week after the end

SIGNUP_SELECT = f"""
    SELECT x.activity_id, x.person_id, p.code AS person_code, p.name AS person_name,
           p.community, x.signed_up_at, x.cancelled_at, x.checked_in_at, x.checked_out_at,
           ({ATTENDED_HOURS.format(now="$2")})::float8 AS hours
    FROM activity_signup x JOIN activity a ON a.id = x.activity_id
    JOIN person p ON p.id = x.person_id
"""


def signup_view(row: asyncpg.Record) -> SignupView:
    return view_of(
        SignupView,
        row,
        status=status_of(row["cancelled_at"], row["checked_in_at"], row["checked_out_at"]),
        hours=round(row["hours"], 2),
    )


async def _signup(cmd: Command, activity_id: int, person_id: int) -> SignupView:
    row = await cmd.connection.fetchrow(
        SIGNUP_SELECT + " WHERE x.activity_id = $1 AND x.person_id = $3",
        activity_id,
        cmd.now,
        person_id,
    )
    return signup_view(row)


def _audit_of(view: SignupView) -> dict[str, Any]:
    return {
        "activity_id": view.activity_id,
        "person_id": view.person_id,
        "status": view.status.value,
        "checked_in_at": view.checked_in_at,
        "checked_out_at": view.checked_out_at,
    }


def _who(actor: Actor, person_id: int | None) -> int:
    person = person_id or actor.person_id
    if person is None:
        raise InvalidInput(
            "your account is no person of the registry: name the person",
            field="person_id",
            code="activities.no_person_linked",
        )
    return person


def _authorize_for(actor: Actor, row: Any, person: int) -> None:
    """Oneself: an activity of one's area; another person: the organiser or a manager."""
    if person == actor.person_id:
        authorize_area(actor, "activities.join", row["street"], row["title"])
    else:
        authorize_organiser(actor, row)


async def _check_person(conn: asyncpg.Connection, person: int) -> None:
    active = await conn.fetchval("SELECT active FROM person WHERE id = $1", person)
    if not active:
        raise InvalidInput(
            f"no active person {person}",
            field="person_id",
            code="branches.no_person",
            params={"person": person},
        )


async def _why_no_place(conn: asyncpg.Connection, row: Any, person: int, now: datetime) -> NoReturn:
    """The guarded count refused: the activity is over, the person is on it, or it is full."""
    if row["ends_at"] <= now:
        raise Conflict(
            f"activity {row['id']} is over",
            field="activity_id",
            code="activities.over",
            params={"activity": row["title"]},
        )
    signed = await conn.fetchval(
        "SELECT 1 FROM activity_signup WHERE activity_id = $1 AND person_id = $2"
        " AND cancelled_at IS NULL",
        row["id"],
        person,
    )
    if signed:
        await _signed_up_already(conn, row, person)
    raise Conflict(
        f"activity {row['id']} is full ({row['capacity']} places)",
        field="activity_id",
        code="activities.full",
        params={"activity": row["title"], "capacity": row["capacity"]},
    )


async def _signed_up_already(conn: asyncpg.Connection, row: Any, person: int) -> NoReturn:
    name = await conn.fetchval("SELECT name FROM person WHERE id = $1", person)
    raise Conflict(
        f"person {person} is signed up for activity {row['id']} already",
        field="person_id",
        code="activities.signed_up",
        params={"person": name, "activity": row["title"]},
    )


async def sign_up(ctx: Context, activity_id: int, new: SignupCreate) -> SignupView:
    """A place on the activity for a person (oneself by default), while places are left
    and the activity is not over; once per person."""
    authorize(ctx.actor, "activities.join")
    person = _who(ctx.actor, new.person_id)
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await activity_row(conn, ctx.actor, activity_id)
        _authorize_for(ctx.actor, row, person)
        await _check_person(conn, person)
        counted = await conn.fetchval(
            "UPDATE activity SET signed_up = signed_up + 1"
            " WHERE id = $1 AND signed_up < capacity AND ends_at > $2 RETURNING signed_up",
            activity_id,
            cmd.now,
        )
        if counted is None:
            await _why_no_place(conn, row, person, cmd.now)
        written = await conn.fetchval(
            """
            INSERT INTO activity_signup (activity_id, person_id, signed_up_at, signed_up_by)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (activity_id, person_id) DO UPDATE
                SET cancelled_at = NULL, signed_up_at = EXCLUDED.signed_up_at,
                    signed_up_by = EXCLUDED.signed_up_by
                WHERE activity_signup.cancelled_at IS NOT NULL
            RETURNING id
            """,
            activity_id,
            person,
            cmd.now,
            ctx.actor.username,
        )
        if written is None:  # signed up already: the count above is undone with the rest
            await _signed_up_already(conn, row, person)
        view = await _signup(cmd, activity_id, person)
        await cmd.audit("activity.signup", "activity_signup", written, None, _audit_of(view))
        _emit(cmd, row, "signup", person)
    return view


def _emit(cmd: Command, row: Any, what: str, person: int) -> None:
    cmd.emit(
        f"activity.{what}",
        {"activity": row["id"], "person": person},
        street=row["street"],
        community=row["community"],
    )


async def cancel_signup(ctx: Context, activity_id: int, person_id: int) -> SignupView:
    """Give the place back, before the person has checked in and before the end."""
    authorize(ctx.actor, "activities.join")
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await activity_row(conn, ctx.actor, activity_id, lock=True)
        _authorize_for(ctx.actor, row, person_id)
        if row["ends_at"] <= cmd.now:
            raise Conflict(
                f"activity {activity_id} is over",
                field="activity_id",
                code="activities.over",
                params={"activity": row["title"]},
            )
        before = await conn.fetchrow(
            "SELECT id, cancelled_at, checked_in_at FROM activity_signup"
            " WHERE activity_id = $1 AND person_id = $2 FOR UPDATE",
            activity_id,
            person_id,
        )
        await _refuse_unless(conn, before, row, person_id, attended_ok=False)
        await conn.execute(
            "UPDATE activity_signup SET cancelled_at = $2 WHERE id = $1", before["id"], cmd.now
        )
        await conn.execute(
            "UPDATE activity SET signed_up = signed_up - 1 WHERE id = $1", activity_id
        )
        view = await _signup(cmd, activity_id, person_id)
        await cmd.audit(
            "activity.cancel_signup",
            "activity_signup",
            before["id"],
            {"status": "signed_up"},
            _audit_of(view),
        )
        _emit(cmd, row, "cancelled", person_id)
    return view


async def _refuse_unless(
    conn: asyncpg.Connection, signup: Any, row: Any, person: int, *, attended_ok: bool
) -> None:
    """Refuse (409) a person not signed up, or (unless `attended_ok`) one who came."""
    name = await conn.fetchval("SELECT name FROM person WHERE id = $1", person)
    params = {"person": name or f"#{person}", "activity": row["title"]}
    if signup is None or signup["cancelled_at"] is not None:
        raise Conflict(
            f"person {person} is not signed up for activity {row['id']}",
            field="person_id",
            code="activities.not_signed_up",
            params=params,
        )
    if not attended_ok and signup["checked_in_at"] is not None:
        raise Conflict(
            f"person {person} has checked in: the sign-up stays",
            field="person_id",
            code="activities.attended",
            params=params,
        )


def _moment(mark: AttendanceMark, now: datetime) -> datetime:
    at = mark.at or now
    if at.tzinfo is None:
        raise InvalidInput(
            "at needs a time zone (e.g. +08:00)", field="at", code="activities.zone_needed"
        )
    if at > now + CLOCK_DRIFT:
        raise InvalidInput(
            "at is in the future: check the tablet's clock", field="at", code="activities.future"
        )
    return at


def _check_window(row: Any, at: datetime, now: datetime, *, arriving: bool) -> None:
    """Attendance opens an hour before the start and closes a week after the end; one
    arrives before the end."""
    if now > row["ends_at"] + RECORDED_LATE:
        raise Conflict(
            f"attendance of activity {row['id']} closed a week after its end",
            field="activity_id",
            code="activities.attendance_closed",
            params={"activity": row["title"]},
        )
    if at < row["starts_at"] - OPENS_EARLY or (arriving and at > row["ends_at"]):
        raise InvalidInput(
            f"{at.isoformat()} is outside the activity's time",
            field="at",
            code="activities.outside_time",
            params={"activity": row["title"]},
        )


@dataclass(frozen=True)
class _Mark:
    """One direction of attendance: the guarded update that records it, the refusal when
    it matches no row, and how it is audited."""

    arriving: bool
    update: str
    refuse: Callable[[asyncpg.Connection, Any, int], Awaitable[NoReturn]]
    action: str
    before: str


async def _record(
    ctx: Context, activity_id: int, person_id: int, mark: AttendanceMark, how: _Mark
) -> SignupView:
    """Check in or out by the organiser or a manager, once (a guarded update decides)."""
    authorize(ctx.actor, "activities.read")
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await activity_row(conn, ctx.actor, activity_id)
        authorize_organiser(ctx.actor, row)
        at = _moment(mark, cmd.now)
        _check_window(row, at, cmd.now, arriving=how.arriving)
        signup = await conn.fetchval(how.update, activity_id, person_id, at, ctx.actor.username)
        if signup is None:
            await how.refuse(conn, row, person_id)
        view = await _signup(cmd, activity_id, person_id)
        before = {"status": how.before}
        await cmd.audit(how.action, "activity_signup", signup, before, _audit_of(view))
        _emit(cmd, row, "attendance", person_id)
    return view


async def check_in(
    ctx: Context, activity_id: int, person_id: int, mark: AttendanceMark
) -> SignupView:
    """The person came (at the moment given, or now): by the organiser or a manager."""
    return await _record(ctx, activity_id, person_id, mark, CHECK_IN)


async def _why_not(
    conn: asyncpg.Connection, row: Any, person: int
) -> tuple[asyncpg.Record, dict[str, Any]]:
    """A check-in or check-out that matched no row: the sign-up as it stands (refused at
    once when there is none, or it was cancelled) and the refusal's params."""
    state = await conn.fetchrow(
        "SELECT cancelled_at, checked_in_at, checked_out_at FROM activity_signup"
        " WHERE activity_id = $1 AND person_id = $2",
        row["id"],
        person,
    )
    await _refuse_unless(conn, state, row, person, attended_ok=True)
    name = await conn.fetchval("SELECT name FROM person WHERE id = $1", person)
    return state, {"person": name, "activity": row["title"]}


async def _not_checked_in(conn: asyncpg.Connection, row: Any, person: int) -> NoReturn:
    _, params = await _why_not(conn, row, person)
    raise Conflict(
        f"person {person} has checked in already",
        field="person_id",
        code="activities.checked_in",
        params=params,
    )


async def check_out(
    ctx: Context, activity_id: int, person_id: int, mark: AttendanceMark
) -> SignupView:
    """The person left (at the moment given, or now), after checking in."""
    return await _record(ctx, activity_id, person_id, mark, CHECK_OUT)


async def _not_checked_out(conn: asyncpg.Connection, row: Any, person: int) -> NoReturn:
    state, params = await _why_not(conn, row, person)
    if state["checked_in_at"] is None:
        raise Conflict(
            f"person {person} has not checked in",
            field="person_id",
            code="activities.not_checked_in",
            params=params,
        )
    if state["checked_out_at"] is not None:
        raise Conflict(
            f"person {person} has checked out already",
            field="person_id",
            code="activities.checked_out",
            params=params,
        )
    raise InvalidInput(
        "the check-out is before the check-in", field="at", code="activities.out_before_in"
    )


async def list_signups(ctx: Context, activity_id: int) -> list[SignupView]:
    """The attendance list: the people signed up (not those who cancelled), in the order
    they signed up; for the organiser and the community's managers."""
    authorize(ctx.actor, "activities.read")
    async with query(ctx) as conn:
        row = await activity_row(conn, ctx.actor, activity_id)
        authorize_organiser(ctx.actor, row)
        rows = await conn.fetch(
            SIGNUP_SELECT
            + " WHERE x.activity_id = $1 AND x.cancelled_at IS NULL"
            + " ORDER BY x.signed_up_at, x.id",
            activity_id,
            ctx.now(),
        )
    return [signup_view(r) for r in rows]


CHECK_IN = _Mark(
    True,
    "UPDATE activity_signup SET checked_in_at = $3, checked_in_by = $4"
    " WHERE activity_id = $1 AND person_id = $2 AND cancelled_at IS NULL"
    " AND checked_in_at IS NULL RETURNING id",
    _not_checked_in,
    "activity.check_in",
    "signed_up",
)
CHECK_OUT = _Mark(
    False,
    "UPDATE activity_signup SET checked_out_at = $3, checked_out_by = $4"
    " WHERE activity_id = $1 AND person_id = $2 AND checked_in_at <= $3"
    " AND checked_out_at IS NULL RETURNING id",
    _not_checked_out,
    "activity.check_out",
    "checked_in",
)
