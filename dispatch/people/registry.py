"""People: the register of on-duty Party members, squad members, partner-unit team members
and community workers, with where they live, their skills and availability.

Views, audit rows and events carry masked phones and addresses; `reveal_person` returns them
whole to roles allowed to call, and is itself audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from dispatch.accounts.policy import Target, authorize
from dispatch.db import Command, Context, command, query, view_of
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.people.lookups import (
    authorize_row,
    check_street,
    find_place,
    limit_to_scope,
    mask_address,
    mask_phone,
)
from dispatch.people.partners import check_unit
from dispatch.people.schemas import (
    Availability,
    PersonCreate,
    PersonKind,
    PersonUpdate,
    PersonView,
    Revealed,
)
from dispatch.people.skills import check_skills

# the person columns an import or the synthetic district writes, in one order
PERSON_FIELDS = (
    "code",
    "name",
    "kind",
    "phone",
    "address",
    "street",
    "community",
    "party_branch",
    "unit_id",
    "skills",
    "availability",
)

PERSON_COLUMNS = (
    "p.id, p.code, p.name, p.kind, p.phone, p.address, p.street, p.community, p.party_branch, "
    "p.unit_id, p.skills, p.availability, p.active"
)
ON_DUTY = (
    "EXISTS (SELECT 1 FROM check_in ci WHERE ci.person_id = p.id AND ci.checked_out_at IS NULL)"
)


def _person_view(row: asyncpg.Record) -> PersonView:
    return view_of(
        PersonView,
        row,
        kind=PersonKind(row["kind"]),
        phone=mask_phone(row["phone"]),
        address=mask_address(row["address"]),
        skills=list(row["skills"]),
        availability=Availability(row["availability"]),
    )


def _person_audit(view: PersonView) -> dict[str, Any]:
    """What an audit row keeps of a person: the masked view, never the full contact."""
    data: dict[str, Any] = msgspec.to_builtins(view)
    data.pop("on_duty", None)
    return data


@dataclass(frozen=True)
class PeopleFilter:
    street: str | None = None
    community: str | None = None
    kind: PersonKind | None = None
    skill: str | None = None
    on_duty: bool | None = None
    unit_id: int | None = None
    q: str | None = None
    limit: int = 200
    offset: int = 0


async def list_people(ctx: Context, flt: PeopleFilter) -> list[PersonView]:
    async with query(ctx) as conn:
        street, community = await limit_to_scope(
            conn, ctx.actor, "people.read", flt.street, flt.community
        )
        rows = await conn.fetch(
            f"""
            SELECT {PERSON_COLUMNS}, {ON_DUTY} AS on_duty FROM person p
            WHERE ($1::varchar IS NULL OR p.street = $1)
              AND ($2::varchar IS NULL OR p.community = $2)
              AND ($3::varchar IS NULL OR p.kind = $3)
              AND ($4::varchar IS NULL OR $4 = ANY(p.skills))
              AND ($5::boolean IS NULL OR {ON_DUTY} = $5)
              AND ($6::int IS NULL OR p.unit_id = $6)
              AND ($7::varchar IS NULL OR p.name LIKE '%' || $7 || '%' OR p.code = $7)
            ORDER BY p.id LIMIT $8 OFFSET $9
            """,
            street,
            community,
            flt.kind.value if flt.kind else None,
            flt.skill,
            flt.on_duty,
            flt.unit_id,
            flt.q,
            flt.limit,
            flt.offset,
        )
    return [_person_view(r) for r in rows]


async def person_row(
    conn: asyncpg.Connection, person_id: int, *, lock: bool = False
) -> asyncpg.Record:
    """One person's row with whether they are on duty (locked when asked); 404 if unknown."""
    row = await conn.fetchrow(
        f"SELECT {PERSON_COLUMNS}, {ON_DUTY} AS on_duty FROM person p WHERE p.id = $1"
        + (" FOR UPDATE OF p" if lock else ""),
        person_id,
    )
    if row is None:
        raise NotFound(f"no person {person_id}", field="person_id")
    return row


async def get_person(ctx: Context, person_id: int) -> PersonView:
    async with query(ctx) as conn:
        row = await person_row(conn, person_id)
    authorize_row(ctx.actor, "people.read", row)
    return _person_view(row)


async def resolve_home(
    conn: asyncpg.Connection, community: str | None, street: str | None
) -> tuple[str, str | None]:
    """(street, community) of a person: the community decides the street when given."""
    if community is not None:
        place = await find_place(conn, community)
        if street is not None and street != place.street:
            raise InvalidInput(f"community {community} is not in street {street}", field="street")
        return place.street, community
    if street is None:
        raise InvalidInput(
            "a person needs a community or, for squad members, a street", field="community"
        )
    await check_street(conn, street)
    return street, None


def _check_kind(
    kind: PersonKind, community: str | None, party_branch: str | None, unit_id: int | None
) -> None:
    if kind is PersonKind.PARTY_MEMBER:
        if community is None:
            raise InvalidInput(
                "an on-duty Party member registers in a home community", field="community"
            )
        if party_branch is None:
            raise InvalidInput(
                "an on-duty Party member names their employer's branch", field="party_branch"
            )
    if kind is PersonKind.UNIT_MEMBER and unit_id is None:
        raise InvalidInput("a partner-unit team member needs the unit", field="unit_id")
    if kind is PersonKind.COMMUNITY_WORKER and community is None:
        raise InvalidInput("a community worker needs a community", field="community")


async def _insert_person(cmd: Command, new: PersonCreate) -> int:
    conn = cmd.connection
    street, community = await resolve_home(conn, new.community, new.street)
    authorize(cmd.ctx.actor, "people.manage", Target(street=street, community=community))
    _check_kind(new.kind, community, new.party_branch, new.unit_id)
    if new.unit_id is not None:
        await check_unit(conn, new.unit_id)
    skills = await check_skills(conn, new.skills, "skills")
    if await conn.fetchval("SELECT 1 FROM person WHERE code=$1", new.code):
        raise Conflict(f"person {new.code} exists", field="code")
    person_id: int = await conn.fetchval(
        """
        INSERT INTO person (code, name, kind, phone, address, street, community, party_branch,
                            unit_id, skills, availability, active, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, true, $12) RETURNING id
        """,
        new.code,
        new.name,
        new.kind.value,
        new.phone,
        new.address,
        street,
        community,
        new.party_branch,
        new.unit_id,
        skills,
        new.availability.value,
        cmd.now,
    )
    return person_id


async def create_person(ctx: Context, new: PersonCreate) -> PersonView:
    authorize(ctx.actor, "people.manage")
    async with command(ctx) as cmd:
        person_id = await _insert_person(cmd, new)
        view = _person_view(await person_row(cmd.connection, person_id))
        await cmd.audit("people.create", "person", person_id, None, _person_audit(view))
        cmd.emit(
            "person.created",
            {"id": person_id, "kind": view.kind.value},
            street=view.street,
            community=view.community,
        )
    return view


async def update_person(ctx: Context, person_id: int, change: PersonUpdate) -> PersonView:
    """Change what is given; a move to another community must be inside the scope too."""
    authorize(ctx.actor, "people.manage")
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await person_row(conn, person_id, lock=True)
        authorize_row(ctx.actor, "people.manage", row)
        before = _person_view(row)
        street, community = row["street"], row["community"]
        if change.community is not None and change.community != community:
            street, community = await resolve_home(conn, change.community, None)
            authorize(ctx.actor, "people.manage", Target(street=street, community=community))
        skills = (
            await check_skills(conn, change.skills, "skills")
            if change.skills is not None
            else list(row["skills"])
        )
        party_branch = change.party_branch or row["party_branch"]
        _check_kind(PersonKind(row["kind"]), community, party_branch, row["unit_id"])
        await conn.execute(
            """
            UPDATE person SET name=$2, phone=$3, address=$4, street=$5, community=$6,
                party_branch=$7, skills=$8, availability=$9, active=$10, updated_at=$11
            WHERE id=$1
            """,
            person_id,
            change.name or row["name"],
            row["phone"] if change.phone is None else (change.phone or None),
            row["address"] if change.address is None else (change.address.strip() or None),
            street,
            community,
            party_branch,
            skills,
            (change.availability or Availability(row["availability"])).value,
            row["active"] if change.active is None else change.active,
            cmd.now,
        )
        after = _person_view(await person_row(conn, person_id))
        await cmd.audit(
            "people.update", "person", person_id, _person_audit(before), _person_audit(after)
        )
        cmd.emit(
            "person.updated", {"id": person_id}, street=after.street, community=after.community
        )
    return after


async def reveal_person(ctx: Context, person_id: int) -> Revealed:
    """The full phone and address of one person, for allowed roles in scope; audited."""
    authorize(ctx.actor, "people.reveal")
    async with command(ctx) as cmd:
        row = await person_row(cmd.connection, person_id)
        authorize_row(ctx.actor, "people.reveal", row)
        await cmd.audit(
            "people.reveal", "person", person_id, None, {"fields": ["phone", "address"]}
        )
    return Revealed(id=row["id"], name=row["name"], phone=row["phone"], address=row["address"])
