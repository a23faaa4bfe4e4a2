"""Duty: rosters (shifts), check-in and check-out, and who is on duty where, now.

A person is on duty from check-in to check-out, in one community at a time; hours today
count from Beijing midnight (`lookups.HOURS_TODAY`) and feed the daily hours limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import asyncpg
import msgspec

from dispatch.accounts.policy import authorize
from dispatch.clock import SHANGHAI, local
from dispatch.db import Context, command, query, view_of
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.people.lookups import (
    HOURS_TODAY,
    authorize_row,
    day_start,
    find_place,
    limit_to_scope,
)
from dispatch.people.registry import person_row
from dispatch.people.schemas import (
    CheckInRequest,
    CheckInView,
    CheckOutRequest,
    CommunityOnDuty,
    OnDutyPerson,
    PersonKind,
    ShiftCreate,
    ShiftPerson,
    ShiftView,
    StreetOnDuty,
)
from dispatch.people.teams import check_members

MAX_SHIFT = timedelta(hours=24)


async def _shift_views(conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]) -> list[ShiftView]:
    people: dict[int, list[ShiftPerson]] = {r["id"]: [] for r in rows}
    for p in await conn.fetch(
        """
        SELECT sp.shift_id, p.id, p.name FROM duty_shift_person sp
        JOIN person p ON p.id = sp.person_id
        WHERE sp.shift_id = ANY($1) ORDER BY sp.shift_id, p.id
        """,
        list(people),
    ):
        people[p["shift_id"]].append(ShiftPerson(id=p["id"], name=p["name"]))
    return [
        ShiftView(
            id=r["id"],
            community=r["community"],
            street=r["street"],
            starts_at=local(r["starts_at"]) or r["starts_at"],
            ends_at=local(r["ends_at"]) or r["ends_at"],
            note=r["note"],
            people=people[r["id"]],
        )
        for r in rows
    ]


async def create_shift(ctx: Context, new: ShiftCreate) -> ShiftView:
    """A roster entry: who is on duty in a community from when to when."""
    authorize(ctx.actor, "duty.manage")
    if new.starts_at.tzinfo is None or new.ends_at.tzinfo is None:
        raise InvalidInput(
            "times need a zone offset, e.g. 2026-11-27T08:00:00+08:00", field="starts_at"
        )
    if new.ends_at <= new.starts_at:
        raise InvalidInput("a shift ends after it starts", field="ends_at")
    if new.ends_at - new.starts_at > MAX_SHIFT:
        raise InvalidInput("a shift lasts at most 24 hours", field="ends_at")
    async with command(ctx) as cmd:
        place = await find_place(cmd.connection, new.community)
        authorize(ctx.actor, "duty.manage", place.target)
        ids = await check_members(cmd, new.person_ids, None) if new.person_ids else []
        row = await cmd.connection.fetchrow(
            """
            INSERT INTO duty_shift (community, street, starts_at, ends_at, note, created_at)
            VALUES ($1, $2, $3, $4, $5, $6)
            RETURNING id, community, street, starts_at, ends_at, note
            """,
            place.code,
            place.street,
            new.starts_at,
            new.ends_at,
            new.note,
            cmd.now,
        )
        await cmd.connection.executemany(
            "INSERT INTO duty_shift_person (shift_id, person_id) VALUES ($1, $2)",
            [(row["id"], i) for i in ids],
        )
        await cmd.audit(
            "duty.shift_create",
            "duty_shift",
            row["id"],
            None,
            {**msgspec.to_builtins(new), "person_ids": ids},
        )
        cmd.emit("duty.shift", {"id": row["id"]}, street=place.street, community=place.code)
        return (await _shift_views(cmd.connection, [row]))[0]


async def list_shifts(
    ctx: Context, community: str | None = None, street: str | None = None, day: date | None = None
) -> list[ShiftView]:
    async with query(ctx) as conn:
        street, community = await limit_to_scope(conn, ctx.actor, "people.read", street, community)
        start = None
        if day is not None:
            start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
        rows = await conn.fetch(
            """
            SELECT id, community, street, starts_at, ends_at, note FROM duty_shift
            WHERE ($1::varchar IS NULL OR street = $1) AND ($2::varchar IS NULL OR community = $2)
              AND ($3::timestamptz IS NULL OR (starts_at < $3 + interval '1 day' AND ends_at > $3))
            ORDER BY starts_at, id LIMIT 1000
            """,
            street,
            community,
            start,
        )
        return await _shift_views(conn, rows)


def _check_in_view(row: asyncpg.Record, name: str, hours: float) -> CheckInView:
    return view_of(CheckInView, row, person_name=name, hours=round(hours, 2))


CHECK_IN_COLUMNS = "id, person_id, community, street, checked_in_at, checked_out_at, lat, lon"


async def check_in(ctx: Context, req: CheckInRequest) -> CheckInView:
    """A person reports for duty in a community (default: where they live), now."""
    authorize(ctx.actor, "duty.check_in")
    if (req.lat is None) != (req.lon is None):
        raise InvalidInput(
            "give both lat and lon, or neither", field="lon" if req.lon is None else "lat"
        )
    async with command(ctx) as cmd:
        conn = cmd.connection
        person = await person_row(conn, req.person_id, lock=True)
        code = req.community or person["community"]
        if code is None:
            authorize_row(ctx.actor, "duty.check_in", person)  # outside the scope: 403 first
            raise InvalidInput("say which community the person reports to", field="community")
        place = await find_place(conn, code)
        authorize(ctx.actor, "duty.check_in", place.target)
        if not person["active"]:
            raise Conflict(f"person {req.person_id} is inactive", field="person_id")
        open_at = await conn.fetchval(
            "SELECT community FROM check_in WHERE person_id=$1 AND checked_out_at IS NULL",
            req.person_id,
        )
        if open_at is not None:
            raise Conflict(
                f"person {req.person_id} is already on duty in {open_at}", field="person_id"
            )
        row = await conn.fetchrow(
            f"""
            INSERT INTO check_in (person_id, community, street, checked_in_at, lat, lon)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {CHECK_IN_COLUMNS}
            """,
            req.person_id,
            place.code,
            place.street,
            cmd.now,
            req.lat,
            req.lon,
        )
        await cmd.audit(
            "duty.check_in",
            "person",
            req.person_id,
            None,
            {"community": place.code, "at": cmd.now, "position": req.lat is not None},
        )
        cmd.emit(
            "duty.checked_in",
            {"person_id": req.person_id, "community": place.code},
            street=place.street,
            community=place.code,
        )
    return _check_in_view(row, person["name"], 0.0)


async def check_out(ctx: Context, req: CheckOutRequest) -> CheckInView:
    authorize(ctx.actor, "duty.check_in")
    async with command(ctx) as cmd:
        conn = cmd.connection
        person = await person_row(conn, req.person_id)
        row = await conn.fetchrow(
            f"SELECT {CHECK_IN_COLUMNS} FROM check_in "
            "WHERE person_id=$1 AND checked_out_at IS NULL FOR UPDATE",
            req.person_id,
        )
        if row is None:
            authorize_row(ctx.actor, "duty.check_in", person)
            raise Conflict(f"person {req.person_id} is not on duty", field="person_id")
        authorize_row(ctx.actor, "duty.check_in", row)
        closed = await conn.fetchrow(
            f"UPDATE check_in SET checked_out_at=$2 WHERE id=$1 RETURNING {CHECK_IN_COLUMNS}",
            row["id"],
            max(cmd.now, row["checked_in_at"]),
        )
        await cmd.audit(
            "duty.check_out",
            "person",
            req.person_id,
            {"community": row["community"]},
            {"at": cmd.now},
        )
        cmd.emit(
            "duty.checked_out",
            {"person_id": req.person_id, "community": row["community"]},
            street=row["street"],
            community=row["community"],
        )
    hours = (closed["checked_out_at"] - closed["checked_in_at"]).total_seconds() / 3600
    return _check_in_view(closed, person["name"], hours)


async def _skill_counts(conn: asyncpg.Connection, by: str) -> dict[str, dict[str, int]]:
    rows = await conn.fetch(
        f"""
        SELECT ci.{by} AS key, s.skill, count(*)::int AS n
        FROM check_in ci JOIN person p ON p.id = ci.person_id, unnest(p.skills) AS s(skill)
        WHERE ci.checked_out_at IS NULL GROUP BY 1, 2 ORDER BY 1, 2
        """
    )
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["key"], {})[r["skill"]] = r["n"]
    return out


async def on_duty_by_community(ctx: Context, street: str | None = None) -> list[CommunityOnDuty]:
    """Every community with how many are on duty there now, and their skills."""
    authorize(ctx.actor, "duty.read")
    async with query(ctx) as conn:
        rows = await conn.fetch(
            """
            SELECT c.code, c.name, c.street, count(ci.id)::int AS on_duty FROM community c
            LEFT JOIN check_in ci ON ci.community = c.code AND ci.checked_out_at IS NULL
            WHERE $1::varchar IS NULL OR c.street = $1 GROUP BY c.code ORDER BY c.code
            """,
            street,
        )
        skills = await _skill_counts(conn, "community")
    return [
        CommunityOnDuty(
            community=r["code"],
            name=r["name"],
            street=r["street"],
            on_duty=r["on_duty"],
            skills=skills.get(r["code"], {}),
        )
        for r in rows
    ]


async def on_duty_by_street(ctx: Context) -> list[StreetOnDuty]:
    authorize(ctx.actor, "duty.read")
    async with query(ctx) as conn:
        rows = await conn.fetch(
            """
            SELECT s.code, s.name,
                   (SELECT count(*) FROM community c WHERE c.street = s.code)::int AS communities,
                   count(ci.id)::int AS on_duty
            FROM street s LEFT JOIN check_in ci ON ci.street = s.code AND ci.checked_out_at IS NULL
            GROUP BY s.code ORDER BY s.code
            """
        )
        skills = await _skill_counts(conn, "street")
    return [
        StreetOnDuty(
            street=r["code"],
            name=r["name"],
            communities=r["communities"],
            on_duty=r["on_duty"],
            skills=skills.get(r["code"], {}),
        )
        for r in rows
    ]


async def on_duty_people(ctx: Context, community: str) -> list[OnDutyPerson]:
    """Who is on duty in one community now (names: for those who may read people there)."""
    async with query(ctx) as conn:
        place = await find_place(conn, community, field="code", missing=NotFound)
        authorize(ctx.actor, "people.read", place.target)
        now = ctx.now()
        rows = await conn.fetch(
            f"""
            WITH hours AS ({HOURS_TODAY} GROUP BY person_id)
            SELECT p.id, p.name, p.kind, p.skills, ci.community, ci.checked_in_at,
                   coalesce(h.hours, 0) AS hours
            FROM check_in ci JOIN person p ON p.id = ci.person_id
            LEFT JOIN hours h ON h.person_id = p.id
            WHERE ci.community = $3 AND ci.checked_out_at IS NULL ORDER BY ci.checked_in_at, p.id
            """,
            day_start(now),
            now,
            place.code,
        )
    return [
        OnDutyPerson(
            person_id=r["id"],
            name=r["name"],
            kind=PersonKind(r["kind"]),
            skills=list(r["skills"]),
            community=r["community"],
            checked_in_at=local(r["checked_in_at"]) or r["checked_in_at"],
            hours_today=round(max(r["hours"], 0.0), 2),
        )
        for r in rows
    ]
