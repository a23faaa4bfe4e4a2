"""Community activities (社区活动): ordinary community service — weekend clean-ups, waste-
sorting duty, patrols — planned in a community, with a place, a time, a capacity and an
organiser; people sign up and the organiser takes attendance (`attendance.py`), and the hours
attended count in the service records (`reports.py`).

WHO MAY DO WHAT (checked here, not only at the route):
- read: everyone, in their area: a street leader their street, a community worker or a
  volunteer their community's street (a clean-up next door is theirs to join), district
  roles everywhere;
- create: commanders, the street leader of the activity's street, the community worker of
  its community (`activities.manage` on the community);
- sign oneself up, or cancel one's sign-up: anyone linked to a person, for an activity of
  their area; sign up or cancel another person, and check people in and out: the organiser
  (the person the user is; on their own activity wherever they live) or a manager of the
  activity's community.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from dispatch.accounts.policy import (
    COMMUNITY_SCOPED,
    STREET_SCOPED,
    Actor,
    Target,
    authorize,
)
from dispatch.branches.schemas import (
    ActivityCreate,
    ActivityKind,
    ActivitySource,
    ActivityView,
    SignupStatus,
)
from dispatch.clock import SHANGHAI
from dispatch.db import Command, Context, command, query, view_of
from dispatch.errors import Forbidden, InvalidInput, NotFound
from dispatch.people.lookups import find_place, local_day

LONGEST = timedelta(hours=24)
LISTED_DAYS = 30  # the list shows today and the next 30 days unless told
MAX_LISTED_DAYS = 400

# the hours a sign-up row `x` of activity `a` has given ({now}: the clock's moment): from
# check-in to check-out, both clipped to the activity's time; a person never checked out
# counts to the activity's end once it has ended, and nothing while it runs
ATTENDED_HOURS = """
    CASE WHEN x.checked_in_at IS NULL THEN 0.0
         WHEN x.checked_out_at IS NULL AND a.ends_at > {now} THEN 0.0
         ELSE greatest(0.0, extract(epoch FROM least(x.checked_out_at, a.ends_at)
                                   - greatest(x.checked_in_at, a.starts_at)) / 3600.0)
    END
"""
ACTIVITY_SELECT = """
    SELECT a.id, a.community, c.name AS community_name, a.street, s.name AS street_name,
           a.title, a.kind, a.starts_at, a.ends_at, a.place, a.capacity, a.signed_up,
           a.organiser_id, o.name AS organiser_name, a.note, a.source, a.created_at,
           (SELECT count(*) FROM activity_signup x
            WHERE x.activity_id = a.id AND x.checked_in_at IS NOT NULL)::int AS attended,
           m.cancelled_at AS my_cancelled_at, m.checked_in_at AS my_in_at,
           m.checked_out_at AS my_out_at, m.id AS my_signup
    FROM activity a JOIN community c ON c.code = a.community
    JOIN street s ON s.code = a.street JOIN person o ON o.id = a.organiser_id
    LEFT JOIN activity_signup m ON m.activity_id = a.id AND m.person_id = $1
"""


def status_of(cancelled: Any, checked_in: Any, checked_out: Any) -> SignupStatus:
    if cancelled is not None:
        return SignupStatus.CANCELLED
    if checked_out is not None:
        return SignupStatus.CHECKED_OUT
    if checked_in is not None:
        return SignupStatus.CHECKED_IN
    return SignupStatus.SIGNED_UP


def area_street(actor: Actor) -> str | None:
    """The street an actor reads activities of (None: the whole district)."""
    if actor.role in STREET_SCOPED:
        return actor.street
    if actor.role in COMMUNITY_SCOPED:
        return actor.community_street
    return None


def target_of(row: Any) -> Target:
    return Target(street=row["street"], community=row["community"])


def authorize_area(actor: Actor, action: str, street: str, where: str) -> None:
    """Refuse (403) an activity outside the actor's area (`area_street`)."""
    authorize(actor, action)
    area = area_street(actor)
    if actor.is_district_wide or area == street:
        return
    raise Forbidden(
        f"{where} is outside the scope of {actor.username}",
        code="forbidden.scope",
        params={"where": where},
    )


def is_organiser(actor: Actor, row: Any) -> bool:
    return actor.person_id is not None and actor.person_id == row["organiser_id"]


def authorize_organiser(actor: Actor, row: Any) -> None:
    """The organiser, or a manager of the activity's community (403 otherwise): who signs
    other people up and takes attendance."""
    if is_organiser(actor, row):  # their own activity, wherever they live
        authorize(actor, "activities.read")
        return
    authorize(actor, "activities.manage", target_of(row))


def takes_attendance(actor: Actor, row: Any) -> bool:
    if is_organiser(actor, row):
        return True
    try:
        authorize(actor, "activities.manage", target_of(row))
    except Forbidden:
        return False
    return True


def activity_view(actor: Actor, row: Any) -> ActivityView:
    mine = None
    if row["my_signup"] is not None:
        mine = status_of(row["my_cancelled_at"], row["my_in_at"], row["my_out_at"])
    return view_of(
        ActivityView,
        row,
        kind=ActivityKind(row["kind"]),
        source=ActivitySource(row["source"]),
        illustrative=row["source"] == ActivitySource.DEMO,
        places_left=row["capacity"] - row["signed_up"],
        mine=mine,
        takes_attendance=takes_attendance(actor, row),
    )


async def activity_row(
    conn: asyncpg.Connection, actor: Actor, activity_id: int, *, lock: bool = False
) -> Any:
    """The activity with the reader's own sign-up; `lock`: the row held until commit (its
    sign-up count changes: sign-ups and cancellations of one activity queue here)."""
    row = await conn.fetchrow(
        ACTIVITY_SELECT + " WHERE a.id = $2" + (" FOR NO KEY UPDATE OF a" if lock else ""),
        actor.person_id,
        activity_id,
    )
    if row is None:
        raise NotFound(f"no activity {activity_id}", field="activity_id")
    return row


def _check_times(new: ActivityCreate, now: datetime) -> None:
    if new.starts_at.tzinfo is None or new.ends_at.tzinfo is None:
        raise InvalidInput(
            "times need a zone offset, e.g. 2026-12-05T09:00:00+08:00",
            field="starts_at",
            code="activities.zone_needed",
        )
    if new.ends_at <= new.starts_at or new.ends_at - new.starts_at > LONGEST:
        raise InvalidInput(
            "an activity ends after it starts, within 24 hours",
            field="ends_at",
            code="activities.times",
        )
    if new.ends_at <= now:
        raise InvalidInput(
            "the activity would be over already", field="ends_at", code="activities.past"
        )


async def _organiser(cmd: Command, wanted: int | None) -> int:
    """The organiser: the person given, else the person the user is; active."""
    person = wanted or cmd.ctx.actor.person_id
    if person is None:
        raise InvalidInput(
            "name the organiser (your account is no person of the registry)",
            field="organiser_id",
            code="activities.organiser_needed",
        )
    active = await cmd.connection.fetchval("SELECT active FROM person WHERE id = $1", person)
    if not active:
        raise InvalidInput(
            f"no active person {person}",
            field="organiser_id",
            code="branches.no_person",
            params={"person": person},
        )
    return int(person)


async def create_activity(ctx: Context, new: ActivityCreate) -> ActivityView:
    """An activity in a community of the actor's scope, from now or later."""
    authorize(ctx.actor, "activities.manage")
    async with command(ctx) as cmd:
        _check_times(new, cmd.now)
        place = await find_place(cmd.connection, new.community)
        authorize(ctx.actor, "activities.manage", place.target)
        organiser = await _organiser(cmd, new.organiser_id)
        activity_id = await cmd.connection.fetchval(
            """
            INSERT INTO activity (community, street, title, kind, starts_at, ends_at, place,
                                  capacity, organiser_id, note, source, created_by, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'entered', $11, $12) RETURNING id
            """,
            place.code,
            place.street,
            new.title,
            new.kind.value,
            new.starts_at,
            new.ends_at,
            new.place,
            new.capacity,
            organiser,
            new.note,
            ctx.actor.username,
            cmd.now,
        )
        view = activity_view(ctx.actor, await activity_row(cmd.connection, ctx.actor, activity_id))
        await cmd.audit("activity.create", "activity", activity_id, None, audit_of(view))
        cmd.emit("activity.created", {"id": activity_id}, street=place.street, community=place.code)
    return view


def audit_of(view: ActivityView) -> dict[str, Any]:
    """What the audit keeps of an activity: everything but the reader's own fields."""
    data: dict[str, Any] = msgspec.to_builtins(view)
    for reader_only in ("mine", "takes_attendance"):
        data.pop(reader_only)
    return data


@dataclass(frozen=True)
class ActivityFilter:
    street: str | None = None
    community: str | None = None
    kind: ActivityKind | None = None
    date_from: date | None = None  # Beijing days; by default today
    date_to: date | None = None  # by default 30 days on
    limit: int = 200
    offset: int = 0


def _days(flt: ActivityFilter, today: date) -> tuple[datetime, datetime]:
    first = flt.date_from or today
    last = flt.date_to or first + timedelta(days=LISTED_DAYS)
    if last < first:
        raise InvalidInput(
            "the period ends before it starts", field="date_from", code="branches.period_order"
        )
    if (last - first).days > MAX_LISTED_DAYS:
        raise InvalidInput(
            f"a list spans at most {MAX_LISTED_DAYS} days",
            field="date_to",
            code="branches.period_long",
            params={"days": MAX_LISTED_DAYS},
        )
    after = last + timedelta(days=1)
    return (
        datetime(first.year, first.month, first.day, tzinfo=SHANGHAI),
        datetime(after.year, after.month, after.day, tzinfo=SHANGHAI),
    )


async def _asked_street(conn: asyncpg.Connection, actor: Actor, flt: ActivityFilter) -> str | None:
    """The street the list is limited to: the one asked (or the community's), inside the
    reader's area (403 otherwise); the reader's area when none is asked."""
    street = flt.street
    if flt.community is not None:
        place = await find_place(conn, flt.community, missing=NotFound)
        if street is not None and street != place.street:
            raise InvalidInput(
                f"community {place.name} is not in street {street}", field="community"
            )
        street = place.street
    if street is not None:
        authorize_area(actor, "activities.read", street, street)
        return street
    return area_street(actor)


async def list_activities(ctx: Context, flt: ActivityFilter) -> list[ActivityView]:
    """Activities under way or to come in a period (today and the next 30 days unless
    told), earliest first, in the reader's area."""
    authorize(ctx.actor, "activities.read")
    starts, ends = _days(flt, local_day(ctx.now()))
    async with query(ctx) as conn:
        street = await _asked_street(conn, ctx.actor, flt)
        rows = await conn.fetch(
            ACTIVITY_SELECT
            + """
            WHERE a.ends_at > $2 AND a.starts_at < $3
              AND ($4::varchar IS NULL OR a.street = $4)
              AND ($5::varchar IS NULL OR a.community = $5)
              AND ($6::varchar IS NULL OR a.kind = $6)
            ORDER BY a.starts_at, a.id LIMIT $7 OFFSET $8
            """,
            ctx.actor.person_id,
            starts,
            ends,
            street,
            flt.community,
            flt.kind.value if flt.kind else None,
            flt.limit,
            flt.offset,
        )
    return [activity_view(ctx.actor, r) for r in rows]


async def get_activity(ctx: Context, activity_id: int) -> ActivityView:
    authorize(ctx.actor, "activities.read")
    async with query(ctx) as conn:
        row = await activity_row(conn, ctx.actor, activity_id)
    if not is_organiser(ctx.actor, row):
        authorize_area(ctx.actor, "activities.read", row["street"], row["title"])
    return activity_view(ctx.actor, row)
