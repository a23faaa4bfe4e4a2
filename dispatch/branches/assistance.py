"""Assistance pairings (结对帮扶): a branch and a care household, from a day until an end is
recorded (in force while it has none; one in force per household, the database decides),
with the branch's pledge; and the visits its people make.

Household data stays as protected as on `/api/care-households`: a pairing shows no name,
the phone and address masked by the people registry's own masking, and every read that
shows households writes an audit row naming them (so reads go through `command()`).
Scope: the household's street (`scope.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from dispatch.accounts.policy import PERMISSIONS, Actor, Target, authorize
from dispatch.branches.schemas import (
    AssistanceCreate,
    AssistanceView,
    HouseholdBrief,
    VisitCreate,
    VisitKind,
    VisitView,
)
from dispatch.branches.scope import limited_street
from dispatch.db import Command, Context, command, view_of
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.people.lookups import local_day, mask_address, mask_phone

HOUSEHOLD_COLUMNS = (
    "h.id AS h_id, h.code AS h_code, h.kind AS h_kind, h.has_student, h.community, h.street, "
    "h.phone, h.address"
)
ASSISTANCE_SELECT = f"""
    SELECT a.id, a.branch_id, b.name AS branch_name, a.starts_on, a.ends_on, a.pledge,
           {HOUSEHOLD_COLUMNS},
           (SELECT count(*) FROM assistance_visit v WHERE v.assistance_id = a.id)::int AS visits,
           (SELECT coalesce(sum(v.hours), 0) FROM assistance_visit v
            WHERE v.assistance_id = a.id)::float8 AS hours
    FROM assistance a JOIN party_branch b ON b.id = a.branch_id
    JOIN care_household h ON h.id = a.household_id
"""
VISIT_SELECT = """
    SELECT v.id, v.assistance_id, v.visited_on, v.kind, v.hours, v.note,
           ARRAY(SELECT vp.person_id FROM visit_person vp WHERE vp.visit_id = v.id
                 ORDER BY 1) AS people
    FROM assistance_visit v
"""


def shows_contact(actor: Actor) -> bool:
    """Whether the reader may see a household's (masked) phone and address: those who may
    read care households (`care.read`); a street leader sees which households, not how to
    reach them."""
    return actor.role in PERMISSIONS["care.read"]


def household_brief(row: asyncpg.Record, contact: bool) -> HouseholdBrief:
    """The household as a pairing shows it: masked like every care household view, its
    contact only to those who may read care households."""
    return HouseholdBrief(
        id=row["h_id"],
        code=row["h_code"],
        kind=row["h_kind"],
        has_student=row["has_student"],
        community=row["community"],
        street=row["street"],
        phone=mask_phone(row["phone"]) if contact else None,
        address=mask_address(row["address"]) if contact else None,
    )


def assistance_view(row: asyncpg.Record, contact: bool) -> AssistanceView:
    return view_of(
        AssistanceView,
        row,
        household=household_brief(row, contact),
        in_force=row["ends_on"] is None,
    )


def visit_view(row: asyncpg.Record) -> VisitView:
    return view_of(VisitView, row, kind=VisitKind(row["kind"]), people=list(row["people"]))


def _target(row: asyncpg.Record) -> Target:
    return Target(street=row["street"], community=row["community"])


async def _assistance_row(cmd: Command, assistance_id: int, *, lock: bool = False) -> Any:
    row = await cmd.connection.fetchrow(
        ASSISTANCE_SELECT + " WHERE a.id = $1" + (" FOR UPDATE OF a" if lock else ""),
        assistance_id,
    )
    if row is None:
        raise NotFound(f"no assistance {assistance_id}", field="assistance_id")
    return row


async def _household(cmd: Command, household_id: int) -> asyncpg.Record:
    """The household, locked: two pairings of one household queue here."""
    row = await cmd.connection.fetchrow(
        f"SELECT {HOUSEHOLD_COLUMNS} FROM care_household h WHERE h.id = $1 FOR UPDATE",
        household_id,
    )
    if row is None:
        raise InvalidInput(f"no care household {household_id}", field="household_id")
    authorize(cmd.ctx.actor, "assistance.manage", _target(row))
    return row


async def _assisted_by(conn: asyncpg.Connection, household_id: int) -> str | None:
    name: str | None = await conn.fetchval(
        "SELECT b.name FROM assistance a JOIN party_branch b ON b.id = a.branch_id"
        " WHERE a.household_id = $1 AND a.ends_on IS NULL",
        household_id,
    )
    return name


async def create_assistance(ctx: Context, new: AssistanceCreate) -> AssistanceView:
    """Pair a branch with a household of the actor's scope; refused while another branch
    assists it (end that pairing first)."""
    authorize(ctx.actor, "assistance.manage")
    if new.ends_on is not None and new.ends_on < new.starts_on:
        raise InvalidInput(
            "the end is before the start", field="ends_on", code="branches.ends_early"
        )
    async with command(ctx) as cmd:
        conn = cmd.connection
        household = await _household(cmd, new.household_id)
        branch = await conn.fetchval("SELECT name FROM party_branch WHERE id = $1", new.branch_id)
        if branch is None:
            raise InvalidInput(f"no branch {new.branch_id}", field="branch_id")
        current = await _assisted_by(conn, new.household_id)
        if current is not None and new.ends_on is None:
            raise Conflict(
                f"household {household['h_code']} is assisted by {current}",
                field="household_id",
                code="branches.household_assisted",
                params={"household": household["h_code"], "branch": current},
            )
        assistance_id = await conn.fetchval(
            "INSERT INTO assistance (branch_id, household_id, starts_on, ends_on, pledge,"
            " created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            new.branch_id,
            new.household_id,
            new.starts_on,
            new.ends_on,
            new.pledge,
            cmd.now,
        )
        if new.ends_on is None:
            await conn.execute(
                "UPDATE care_household SET paired_branch = $2, updated_at = $3 WHERE id = $1",
                new.household_id,
                branch,
                cmd.now,
            )
        view = assistance_view(await _assistance_row(cmd, assistance_id), shows_contact(ctx.actor))
        await cmd.audit("assistance.create", "assistance", assistance_id, None, _audit_of(view))
    return view


def _audit_of(view: AssistanceView) -> dict[str, Any]:
    """What an audit row keeps of a pairing: ids and days, no household data."""
    return {
        "branch_id": view.branch_id,
        "household_id": view.household.id,
        "starts_on": view.starts_on,
        "ends_on": view.ends_on,
        "pledge": view.pledge,
    }


async def end_assistance(ctx: Context, assistance_id: int, ends_on: Any) -> AssistanceView:
    """Record the pairing's last day: the household is then flagged unassisted."""
    authorize(ctx.actor, "assistance.manage")
    async with command(ctx) as cmd:
        row = await _assistance_row(cmd, assistance_id, lock=True)
        authorize(ctx.actor, "assistance.manage", _target(row))
        if row["ends_on"] is not None:
            raise Conflict(
                f"assistance {assistance_id} has ended",
                field="assistance_id",
                code="branches.assistance_ended",
                params={"assistance": assistance_id},
            )
        if ends_on < row["starts_on"]:
            raise InvalidInput(
                "the end is before the start", field="ends_on", code="branches.ends_early"
            )
        await cmd.connection.execute(
            "UPDATE assistance SET ends_on = $2, updated_at = $3 WHERE id = $1",
            assistance_id,
            ends_on,
            cmd.now,
        )
        before = assistance_view(row, shows_contact(ctx.actor))
        after = assistance_view(await _assistance_row(cmd, assistance_id), shows_contact(ctx.actor))
        await cmd.audit(
            "assistance.end", "assistance", assistance_id, _audit_of(before), _audit_of(after)
        )
    return after


@dataclass(frozen=True)
class AssistanceFilter:
    branch_id: int | None = None
    street: str | None = None
    community: str | None = None
    in_force: bool | None = None
    limit: int = 200
    offset: int = 0


async def list_assistances(ctx: Context, flt: AssistanceFilter) -> list[AssistanceView]:
    """Pairings of households in the reader's scope; the read is audited (households)."""
    street = limited_street(ctx.actor, "assistance.read", flt.street)
    async with command(ctx) as cmd:
        rows = await cmd.connection.fetch(
            ASSISTANCE_SELECT
            + """
            WHERE ($1::int IS NULL OR a.branch_id = $1) AND ($2::varchar IS NULL OR h.street = $2)
              AND ($3::varchar IS NULL OR h.community = $3)
              AND ($4::boolean IS NULL OR (a.ends_on IS NULL) = $4)
            ORDER BY a.id LIMIT $5 OFFSET $6
            """,
            flt.branch_id,
            street,
            flt.community,
            flt.in_force,
            flt.limit,
            flt.offset,
        )
        await _audit_read(cmd, [r["h_id"] for r in rows], street or "*")
    contact = shows_contact(ctx.actor)
    return [assistance_view(r, contact) for r in rows]


async def _audit_read(cmd: Command, households: list[int], where: str) -> None:
    await cmd.audit(
        "care.read", "care_household", where, None, {"count": len(households), "ids": households}
    )


# --- visits -------------------------------------------------------------------------------


async def _check_visitors(conn: asyncpg.Connection, people: list[int]) -> list[int]:
    wanted = sorted(set(people))
    found = {
        r["id"]: r["active"]
        for r in await conn.fetch("SELECT id, active FROM person WHERE id = ANY($1::int[])", wanted)
    }
    for person in wanted:
        if not found.get(person):
            raise InvalidInput(
                f"no active person {person}",
                field="people",
                code="branches.no_person",
                params={"person": person},
            )
    return wanted


def _check_visit(row: asyncpg.Record, new: VisitCreate, today: Any) -> None:
    """A visit is on a day of the pairing, not in the future; tutoring needs a student."""
    if new.visited_on > today or new.visited_on < row["starts_on"]:
        raise InvalidInput(
            f"a visit on {new.visited_on} is outside the pairing",
            field="visited_on",
            code="branches.visit_day",
            params={"day": new.visited_on.isoformat()},
        )
    if row["ends_on"] is not None and new.visited_on > row["ends_on"]:
        raise InvalidInput(
            "the pairing had ended by then",
            field="visited_on",
            code="branches.visit_day",
            params={"day": new.visited_on.isoformat()},
        )
    if new.kind is VisitKind.TUTORING and not row["has_student"]:
        raise InvalidInput(
            "tutoring is for a household with a student",
            field="kind",
            code="branches.no_student",
            params={"household": row["h_code"]},
        )


async def add_visit(ctx: Context, assistance_id: int, new: VisitCreate) -> VisitView:
    """A visit to the pairing's household: when, who went, what was done, for how long."""
    authorize(ctx.actor, "assistance.manage")
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await _assistance_row(cmd, assistance_id)
        authorize(ctx.actor, "assistance.manage", _target(row))
        _check_visit(row, new, local_day(cmd.now))
        people = await _check_visitors(conn, new.people)
        visit_id = await conn.fetchval(
            "INSERT INTO assistance_visit (assistance_id, visited_on, kind, hours, note,"
            " created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            assistance_id,
            new.visited_on,
            new.kind.value,
            new.hours,
            new.note,
            cmd.now,
        )
        await conn.execute(
            "INSERT INTO visit_person (visit_id, person_id) SELECT $1, x FROM unnest($2::int[]) x",
            visit_id,
            people,
        )
        view = visit_view(await conn.fetchrow(VISIT_SELECT + " WHERE v.id = $1", visit_id))
        await cmd.audit("assistance.visit", "assistance_visit", visit_id, None, _visit_audit(view))
    return view


def _visit_audit(view: VisitView) -> dict[str, Any]:
    return {
        "assistance_id": view.assistance_id,
        "visited_on": view.visited_on,
        "kind": view.kind.value,
        "hours": view.hours,
        "people": view.people,
    }


async def list_visits(ctx: Context, assistance_id: int) -> list[VisitView]:
    authorize(ctx.actor, "assistance.read")
    async with command(ctx) as cmd:
        row = await _assistance_row(cmd, assistance_id)
        authorize(ctx.actor, "assistance.read", _target(row))
        rows = await cmd.connection.fetch(
            VISIT_SELECT + " WHERE v.assistance_id = $1 ORDER BY v.visited_on, v.id",
            assistance_id,
        )
        await _audit_read(cmd, [row["h_id"]], str(row["h_id"]))
    return [visit_view(r) for r in rows]
