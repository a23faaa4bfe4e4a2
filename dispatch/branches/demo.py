"""The synthetic branches `dispatch demo` seeds (`synthetic.generate`), written once into
empty branch tables in one command; low-income households are added first if the people
demo made fewer than the district's 2,191, and exactly 341 of them get a student.

Bulk rows go in with COPY, their ids drawn from the tables' sequences beforehand (members,
pairings and visit people need them). The community activities and their attendance
(`seed_demo_activities`) go into an empty activity table on their own, so a district seeded
before activities existed gets them too.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from dispatch.accounts.policy import authorize
from dispatch.branches import synthetic
from dispatch.db import Command, Context, command
from dispatch.people.care import CARE_FIELDS
from dispatch.people.lookups import local_day


class DemoBranches(msgspec.Struct):
    loaded: bool
    branches: int = 0
    employer: int = 0
    two_new: int = 0
    households: int = 0  # low-income households assisted
    students: int = 0
    added_households: int = 0
    members: int = 0
    visits: int = 0


async def _ids(conn: asyncpg.Connection, table: str, count: int) -> list[int]:
    """`count` fresh ids of `table` (its serial's sequence)."""
    rows = await conn.fetch(
        "SELECT nextval(pg_get_serial_sequence($1, 'id')) AS id FROM generate_series(1, $2)",
        table,
        count,
    )
    return [r["id"] for r in rows]


async def _add_households(cmd: Command, seed: int) -> int:
    """Synthetic low-income households up to the district's count; returns how many."""
    conn = cmd.connection
    have = await conn.fetchval("SELECT count(*) FROM care_household WHERE kind = 'low_income'")
    places = [
        synthetic.Community(r["code"], r["name"], r["street"])
        for r in await conn.fetch("SELECT code, name, street FROM community ORDER BY code")
    ]
    serial = await conn.fetchval("SELECT count(*) FROM care_household WHERE code LIKE 'HB%'")
    rows = synthetic.new_households(random.Random(seed + 1), places, have, serial)
    await conn.copy_records_to_table(
        "care_household",
        columns=[*CARE_FIELDS, "note", "created_at"],
        records=[(*(h[c] for c in CARE_FIELDS), synthetic.NOTE, cmd.now) for h in rows],
    )
    return len(rows)


async def _inputs(
    conn: asyncpg.Connection,
) -> tuple[list[synthetic.Unit], list[synthetic.Member], list[synthetic.Household]]:
    units = [
        synthetic.Unit(r["id"], r["name"], r["kind"])
        for r in await conn.fetch("SELECT id, name, kind FROM partner_unit ORDER BY id")
    ]
    members = [
        synthetic.Member(r["id"], r["community"], r["street"])
        for r in await conn.fetch(
            "SELECT id, community, street FROM person WHERE kind = 'party_member' AND active"
            " ORDER BY id"
        )
    ]
    households = [
        synthetic.Household(r["id"], r["community"], r["street"])
        for r in await conn.fetch(
            "SELECT id, community, street FROM care_household WHERE kind = 'low_income' ORDER BY id"
        )
    ]
    return units, members, households


async def _write_branches(cmd: Command, plan: synthetic.Plan) -> list[int]:
    conn, now = cmd.connection, cmd.now
    ids = await _ids(conn, "party_branch", len(plan.branches))
    await conn.copy_records_to_table(
        "party_branch",
        columns=[
            "id",
            "code",
            "name",
            "kind",
            "unit_id",
            "organisation",
            "secretary_id",
            "source",
            "created_at",
        ],
        records=[
            (
                ids[b.index],
                b.code,
                b.name,
                b.kind,
                b.unit_id,
                b.organisation,
                b.members[0] if b.members else None,
                "demo",
                now,
            )
            for b in plan.branches
        ],
    )
    await conn.copy_records_to_table(
        "branch_member",
        columns=["branch_id", "person_id", "joined_at"],
        records=[(ids[b.index], p, now) for b in plan.branches for p in b.members],
    )
    await conn.execute(
        "UPDATE person p SET party_branch = b.name FROM branch_member m"
        " JOIN party_branch b ON b.id = m.branch_id WHERE m.person_id = p.id"
    )
    return ids


async def _write_pairings(cmd: Command, plan: synthetic.Plan, branch_ids: list[int]) -> list[int]:
    conn = cmd.connection
    ids = await _ids(conn, "assistance", len(plan.pairings))
    await conn.copy_records_to_table(
        "assistance",
        columns=["id", "branch_id", "household_id", "starts_on", "pledge", "created_at"],
        records=[
            (ids[n], branch_ids[b], h, starts, pledge, cmd.now)
            for n, (b, h, starts, pledge) in enumerate(plan.pairings)
        ],
    )
    await conn.execute(
        "UPDATE care_household h SET paired_branch = b.name FROM assistance a"
        " JOIN party_branch b ON b.id = a.branch_id"
        " WHERE a.household_id = h.id AND a.ends_on IS NULL"
    )
    return ids


async def _write_visits(cmd: Command, plan: synthetic.Plan, pairing_ids: list[int]) -> None:
    conn = cmd.connection
    ids = await _ids(conn, "assistance_visit", len(plan.visits))
    await conn.copy_records_to_table(
        "assistance_visit",
        columns=["id", "assistance_id", "visited_on", "kind", "hours", "note", "created_at"],
        records=[
            (ids[n], pairing_ids[v.household], v.day, v.kind, v.hours, synthetic.NOTE, cmd.now)
            for n, v in enumerate(plan.visits)
        ],
    )
    await conn.copy_records_to_table(
        "visit_person",
        columns=["visit_id", "person_id"],
        records=[(ids[n], p) for n, v in enumerate(plan.visits) for p in v.people],
    )


async def _mark_students(conn: asyncpg.Connection, students: set[int]) -> None:
    """Exactly the chosen low-income households have a student."""
    await conn.execute(
        "UPDATE care_household SET has_student = (id = ANY($1::int[])) WHERE kind = 'low_income'",
        sorted(students),
    )


def _report(plan: synthetic.Plan, students: set[int], added: int) -> DemoBranches:
    return DemoBranches(
        loaded=True,
        branches=len(plan.branches),
        employer=sum(1 for b in plan.branches if b.kind == "employer"),
        two_new=sum(1 for b in plan.branches if b.kind == "two_new"),
        households=len(plan.pairings),
        students=len(students),
        added_households=added,
        members=sum(len(b.members) for b in plan.branches),
        visits=len(plan.visits),
    )


async def seed_demo_branches(ctx: Context, seed: int = synthetic.SEED) -> DemoBranches:
    """The synthetic branches, pairings and visits, only into empty branch tables."""
    authorize(ctx.actor, "branches.demo")
    async with command(ctx) as cmd:
        conn = cmd.connection
        await conn.execute("LOCK TABLE party_branch, care_household IN EXCLUSIVE MODE")
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM party_branch)"):
            return DemoBranches(loaded=False)
        added = await _add_households(cmd, seed)
        units, members, households = await _inputs(conn)
        plan, students = synthetic.generate(units, members, households, local_day(cmd.now), seed)
        branch_ids = await _write_branches(cmd, plan)
        pairing_ids = await _write_pairings(cmd, plan, branch_ids)
        await _write_visits(cmd, plan, pairing_ids)
        await _mark_students(conn, students)
        report = _report(plan, students, added)
        await cmd.audit(
            "branches.demo", "party_branch", str(seed), None, msgspec.to_builtins(report)
        )
        cmd.emit("branches.loaded", msgspec.to_builtins(report))
    return report


class DemoActivities(msgspec.Struct):
    loaded: bool
    activities: int = 0
    signups: int = 0
    attended: int = 0


async def _residents(conn: asyncpg.Connection) -> dict[str, list[int]]:
    """Active people by home community: who joins a community's activities."""
    rows = await conn.fetch(
        "SELECT community, array_agg(id ORDER BY id) AS people FROM person"
        " WHERE active AND community IS NOT NULL GROUP BY community"
    )
    return {r["community"]: list(r["people"]) for r in rows}


ACTIVITY_COLUMNS = [
    "id",
    "community",
    "street",
    "title",
    "kind",
    "starts_at",
    "ends_at",
    "place",
    "capacity",
    "signed_up",
    "organiser_id",
    "note",
    "source",
    "created_by",
    "created_at",
]
SIGNUP_COLUMNS = [
    "activity_id",
    "person_id",
    "signed_up_at",
    "signed_up_by",
    "cancelled_at",
    "checked_in_at",
    "checked_in_by",
    "checked_out_at",
    "checked_out_by",
]


def _activity_record(
    activity_id: int, a: synthetic.PlannedActivity, now: datetime
) -> tuple[Any, ...]:
    return (
        activity_id,
        a.community.code,
        a.community.street,
        a.title,
        a.kind,
        a.starts,
        a.ends,
        a.place,
        a.capacity,
        a.signed_up,
        a.organiser,
        synthetic.NOTE,
        "demo",
        "system",
        min(a.starts, now) - timedelta(days=7),  # planned a week ahead
    )


def _signup_record(
    activity_id: int, a: synthetic.PlannedActivity, p: synthetic.Attendee, now: datetime
) -> tuple[Any, ...]:
    return (
        activity_id,
        p.person,
        min(a.starts, now) - timedelta(days=2),
        "system",
        a.starts - timedelta(days=1) if p.cancelled else None,
        p.checked_in,
        "system" if p.checked_in else None,
        p.checked_out,
        "system" if p.checked_out else None,
    )


async def _write_activities(cmd: Command, planned: list[synthetic.PlannedActivity]) -> None:
    conn = cmd.connection
    ids = await _ids(conn, "activity", len(planned))
    await conn.copy_records_to_table(
        "activity",
        columns=ACTIVITY_COLUMNS,
        records=[_activity_record(ids[n], a, cmd.now) for n, a in enumerate(planned)],
    )
    await conn.copy_records_to_table(
        "activity_signup",
        columns=SIGNUP_COLUMNS,
        records=[
            _signup_record(ids[n], a, p, cmd.now) for n, a in enumerate(planned) for p in a.people
        ],
    )


async def seed_demo_activities(ctx: Context, seed: int = synthetic.SEED) -> DemoActivities:
    """A quarter of synthetic community activities behind today and two weeks ahead, with
    their sign-ups and attendance, only into an empty activity table."""
    authorize(ctx.actor, "activities.demo")
    async with command(ctx) as cmd:
        conn = cmd.connection
        await conn.execute("LOCK TABLE activity IN EXCLUSIVE MODE")
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM activity)"):
            return DemoActivities(loaded=False)
        places = [
            synthetic.Community(r["code"], r["name"], r["street"])
            for r in await conn.fetch("SELECT code, name, street FROM community ORDER BY code")
        ]
        planned = synthetic.activities(places, await _residents(conn), cmd.now, seed)
        await _write_activities(cmd, planned)
        report = DemoActivities(
            loaded=True,
            activities=len(planned),
            signups=sum(len(a.people) for a in planned),
            attended=sum(1 for a in planned for p in a.people if p.checked_in),
        )
        await cmd.audit("activities.demo", "activity", str(seed), None, msgspec.to_builtins(report))
        cmd.emit("activities.loaded", msgspec.to_builtins(report))
    return report
