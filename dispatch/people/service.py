"""People: partner units and pairings, people and skills, teams, duty, care households,
matching people to a need, spreadsheets and the synthetic district.

Personal data: phones and addresses are masked in every view, audit row and event; only
`reveal_person` and `reveal_care_household` return them whole, and each reveal is audited.
Care households are read only by commanders and that community's workers, and every read
(list or one) writes an audit row, so reads go through `command()`, not `query()`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from dispatch import spreadsheets
from dispatch.accounts.policy import Actor, Target, authorize, enlistable
from dispatch.clock import SHANGHAI, local
from dispatch.db import Command, Context, command, query
from dispatch.errors import Conflict, Forbidden, InvalidInput, NotFound
from dispatch.people import synthetic
from dispatch.people.eligibility import Worker
from dispatch.people.schemas import (
    Availability,
    CareHouseholdCreate,
    CareHouseholdView,
    CareKind,
    CheckInRequest,
    CheckInView,
    CheckOutRequest,
    CommunityOnDuty,
    CommunityPairings,
    EffectiveStatus,
    ExportKind,
    ImportKind,
    ImportReport,
    OnDutyPerson,
    PairingCreate,
    PairingStatus,
    PairingStatusChange,
    PairingView,
    PersonCreate,
    PersonKind,
    PersonUpdate,
    PersonView,
    Revealed,
    ShiftCreate,
    ShiftPerson,
    ShiftView,
    Shortfall,
    SkillCreate,
    SkillView,
    StreetOnDuty,
    Suggestion,
    SuggestRequest,
    SuggestResponse,
    SyntheticReport,
    TeamCreate,
    TeamKind,
    TeamMembers,
    TeamMemberView,
    TeamView,
    UnitCreate,
    UnitKind,
    UnitView,
)

# --- personal data -----------------------------------------------------------------------


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


def mask_phone(phone: str | None) -> str | None:
    """`100****1234`: enough to tell two people apart on a call list, not to dial."""
    if not phone:
        return None
    if len(phone) < 8:
        return "****"
    return f"{phone[:3]}****{phone[-4:]}"


_FIRST_DIGIT = re.compile(r"\d")


def mask_address(address: str | None) -> str | None:
    """Keep the place (up to the first number, at most 12 characters), hide the door."""
    if not address:
        return None
    found = _FIRST_DIGIT.search(address)
    keep = address[: found.start()] if found and found.start() > 0 else address[: len(address) // 3]
    return keep[:12].rstrip() + "****"


def _today(now: datetime) -> date:
    return now.astimezone(SHANGHAI).date()


def _day_start(now: datetime) -> datetime:
    day = _today(now)
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


# --- scope -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    street: str
    lat: float
    lon: float

    @property
    def target(self) -> Target:
        return Target(street=self.street, community=self.code)


async def _place(
    conn: asyncpg.Connection, code: str, *, field: str = "community", missing: type = InvalidInput
) -> Place:
    row = await conn.fetchrow(
        "SELECT code, name, street, lat, lon FROM community WHERE code=$1", code
    )
    if row is None:
        raise missing(f"unknown community {code}", field=field)
    return Place(**dict(row))


async def _street_exists(conn: asyncpg.Connection, code: str, field: str = "street") -> None:
    if not await conn.fetchval("SELECT 1 FROM street WHERE code=$1", code):
        raise InvalidInput(f"unknown street {code}", field=field)


async def _scope(
    conn: asyncpg.Connection,
    actor: Actor,
    action: str,
    street: str | None,
    community: str | None,
) -> tuple[str | None, str | None]:
    """The (street, community) a list is limited to: what was asked, inside the actor's scope.

    Asking for something outside the scope is refused (403); asking for nothing gives the
    actor's own street or community, or the district for district-wide roles.
    """
    authorize(actor, action)
    if community is not None:
        place = await _place(conn, community, missing=NotFound)
        authorize(actor, action, place.target)
        return None, community
    if street is not None:
        authorize(actor, action, Target(street=street))
        return street, None
    if actor.is_district_wide:
        return None, None
    if actor.street is not None:
        return actor.street, None
    return None, actor.community


def _authorize_row(actor: Actor, action: str, row: asyncpg.Record | dict[str, Any]) -> None:
    authorize(actor, action, Target(street=row["street"], community=row["community"]))


async def _check_skills(conn: asyncpg.Connection, skills: Sequence[str], field: str) -> list[str]:
    wanted = sorted(set(skills))
    if not wanted:
        return []
    known = {
        r["code"] for r in await conn.fetch("SELECT code FROM skill WHERE code = ANY($1)", wanted)
    }
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise InvalidInput(f"unknown skill {', '.join(unknown)}", field=field)
    return wanted


# --- skills ------------------------------------------------------------------------------


async def list_skills(ctx: Context) -> list[SkillView]:
    authorize(ctx.actor, "skills.read")
    async with query(ctx) as conn:
        rows = await conn.fetch("SELECT code, name, builtin FROM skill ORDER BY NOT builtin, code")
    return [SkillView(**dict(r)) for r in rows]


async def create_skill(ctx: Context, new: SkillCreate) -> SkillView:
    """A commander extends the fixed list (first_aid, driving, ...)."""
    authorize(ctx.actor, "skills.manage")
    async with command(ctx) as cmd:
        if await cmd.connection.fetchval("SELECT 1 FROM skill WHERE code=$1", new.code):
            raise Conflict(f"skill {new.code} exists", field="code")
        await cmd.connection.execute(
            "INSERT INTO skill (code, name, builtin, created_at) VALUES ($1, $2, false, $3)",
            new.code,
            new.name,
            cmd.now,
        )
        view = SkillView(code=new.code, name=new.name, builtin=False)
        await cmd.audit("skills.create", "skill", new.code, None, msgspec.to_builtins(view))
        cmd.emit("skill.created", {"code": new.code})
    return view


# --- partner units and pairings ----------------------------------------------------------

UNIT_COLUMNS = "u.id, u.code, u.name, u.kind, u.contact_name, u.contact_phone"
COUNTING = "p.status = 'active' AND p.valid_from <= $1 AND p.valid_until >= $1"


def _unit_view(row: asyncpg.Record) -> UnitView:
    return UnitView(
        id=row["id"],
        code=row["code"],
        name=row["name"],
        kind=UnitKind(row["kind"]),
        contact_name=row["contact_name"],
        contact_phone=mask_phone(row["contact_phone"]),
        pairings_counting=row["counting"],
        communities=list(row["communities"] or []),
    )


async def list_units(ctx: Context, kind: UnitKind | None = None) -> list[UnitView]:
    authorize(ctx.actor, "units.read")
    async with query(ctx) as conn:
        rows = await conn.fetch(
            f"""
            SELECT {UNIT_COLUMNS}, count(p.id)::int AS counting,
                   array_remove(array_agg(p.community ORDER BY p.community), NULL) AS communities
            FROM partner_unit u LEFT JOIN pairing p ON p.unit_id = u.id AND {COUNTING}
            WHERE $2::varchar IS NULL OR u.kind = $2
            GROUP BY u.id ORDER BY u.code
            """,
            _today(ctx.now()),
            kind.value if kind else None,
        )
    return [_unit_view(r) for r in rows]


async def get_unit(ctx: Context, unit_id: int) -> UnitView:
    authorize(ctx.actor, "units.read")
    async with query(ctx) as conn:
        row = await conn.fetchrow(
            f"""
            SELECT {UNIT_COLUMNS}, count(p.id)::int AS counting,
                   array_remove(array_agg(p.community ORDER BY p.community), NULL) AS communities
            FROM partner_unit u LEFT JOIN pairing p ON p.unit_id = u.id AND {COUNTING}
            WHERE u.id = $2 GROUP BY u.id
            """,
            _today(ctx.now()),
            unit_id,
        )
    if row is None:
        raise NotFound(f"no partner unit {unit_id}", field="unit_id")
    return _unit_view(row)


def _unit_audit(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "contact_phone": mask_phone(row.get("contact_phone"))}


async def create_unit(ctx: Context, new: UnitCreate) -> UnitView:
    authorize(ctx.actor, "units.manage")
    async with command(ctx) as cmd:
        clash = await cmd.connection.fetchrow(
            "SELECT code, name FROM partner_unit WHERE code=$1 OR name=$2", new.code, new.name
        )
        if clash is not None:
            field = "code" if clash["code"] == new.code else "name"
            raise Conflict(f"a partner unit with this {field} exists", field=field)
        unit_id = await cmd.connection.fetchval(
            """
            INSERT INTO partner_unit (code, name, kind, contact_name, contact_phone, created_at)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
            """,
            new.code,
            new.name,
            new.kind.value,
            new.contact_name,
            new.contact_phone,
            cmd.now,
        )
        await cmd.audit(
            "units.create", "partner_unit", unit_id, None, _unit_audit(msgspec.to_builtins(new))
        )
        cmd.emit("unit.created", {"id": unit_id, "code": new.code})
    return await get_unit(ctx, unit_id)


PAIRING_SELECT = """
    SELECT p.id, p.unit_id, u.code AS unit_code, u.name AS unit_name, u.kind AS unit_kind,
           p.community, c.name AS community_name, p.street, p.signed_on, p.valid_from,
           p.valid_until, p.pledged_people, p.pledged_skills, p.status, p.note
    FROM pairing p JOIN partner_unit u ON u.id = p.unit_id JOIN community c ON c.code = p.community
"""


def effective_status(
    status: str, valid_from: date, valid_until: date, today: date
) -> EffectiveStatus:
    """Past its end date an agreement stops counting, and says so."""
    if status != PairingStatus.ACTIVE:
        return EffectiveStatus(status)
    if today < valid_from:
        return EffectiveStatus.PENDING
    if today > valid_until:
        return EffectiveStatus.EXPIRED
    return EffectiveStatus.ACTIVE


def _pairing_view(row: asyncpg.Record, today: date) -> PairingView:
    data = dict(row)
    shown = effective_status(data["status"], data["valid_from"], data["valid_until"], today)
    data["unit_kind"] = UnitKind(data["unit_kind"])
    data["status"] = PairingStatus(data["status"])
    data["pledged_skills"] = list(data["pledged_skills"])
    return PairingView(**data, effective_status=shown, counts=shown is EffectiveStatus.ACTIVE)


async def list_pairings(
    ctx: Context,
    community: str | None = None,
    street: str | None = None,
    unit_id: int | None = None,
    counting: bool | None = None,
) -> list[PairingView]:
    """Pairings, filtered; `counting=true` keeps only agreements in force today."""
    async with query(ctx) as conn:
        street, community = await _scope(conn, ctx.actor, "pairings.read", street, community)
        today = _today(ctx.now())
        rows = await conn.fetch(
            PAIRING_SELECT
            + f"""
            WHERE ($2::varchar IS NULL OR p.community = $2)
              AND ($3::varchar IS NULL OR p.street = $3)
              AND ($4::int IS NULL OR p.unit_id = $4)
              AND ($5::boolean IS NULL OR ({COUNTING}) = $5)
            ORDER BY p.community, p.valid_from, p.id
            """,
            today,
            community,
            street,
            unit_id,
            counting,
        )
    return [_pairing_view(r, today) for r in rows]


async def pairings_by_community(ctx: Context, street: str | None = None) -> list[CommunityPairings]:
    """Every community with its agreements in force: the coverage a commander checks."""
    async with query(ctx) as conn:
        street, community = await _scope(conn, ctx.actor, "pairings.read", street, None)
        rows = await conn.fetch(
            f"""
            SELECT c.code AS community, c.name, c.street,
                   count(p.id) FILTER (WHERE {COUNTING})::int AS counting,
                   count(p.id) FILTER (WHERE NOT ({COUNTING}))::int AS not_counting,
                   coalesce(sum(p.pledged_people) FILTER (WHERE {COUNTING}), 0)::int
                       AS pledged_people,
                   array_remove(array_agg(u.name ORDER BY u.code) FILTER (WHERE {COUNTING}), NULL)
                       AS units
            FROM community c
            LEFT JOIN pairing p ON p.community = c.code
            LEFT JOIN partner_unit u ON u.id = p.unit_id
            WHERE ($2::varchar IS NULL OR c.street = $2) AND ($3::varchar IS NULL OR c.code = $3)
            GROUP BY c.code ORDER BY c.code
            """,
            _today(ctx.now()),
            street,
            community,
        )
    return [CommunityPairings(**{**dict(r), "units": list(r["units"] or [])}) for r in rows]


async def get_pairing(ctx: Context, pairing_id: int) -> PairingView:
    async with query(ctx) as conn:
        row = await conn.fetchrow(PAIRING_SELECT + " WHERE p.id = $1", pairing_id)
    if row is None:
        raise NotFound(f"no pairing {pairing_id}", field="pairing_id")
    _authorize_row(ctx.actor, "pairings.read", row)
    return _pairing_view(row, _today(ctx.now()))


async def create_pairing(ctx: Context, new: PairingCreate) -> PairingView:
    authorize(ctx.actor, "pairings.manage")
    async with command(ctx) as cmd:
        place = await _place(cmd.connection, new.community)
        authorize(ctx.actor, "pairings.manage", place.target)
        if not await cmd.connection.fetchval("SELECT 1 FROM partner_unit WHERE id=$1", new.unit_id):
            raise InvalidInput(f"unknown partner unit {new.unit_id}", field="unit_id")
        if new.valid_until < new.valid_from:
            raise InvalidInput("valid_until is before valid_from", field="valid_until")
        skills = await _check_skills(cmd.connection, new.pledged_skills, "pledged_skills")
        if await cmd.connection.fetchval(
            "SELECT 1 FROM pairing WHERE unit_id=$1 AND community=$2 AND valid_from=$3",
            new.unit_id,
            new.community,
            new.valid_from,
        ):
            raise Conflict("this unit already has an agreement with this community from that date")
        pairing_id = await cmd.connection.fetchval(
            """
            INSERT INTO pairing (unit_id, community, street, signed_on, valid_from, valid_until,
                                 pledged_people, pledged_skills, status, note, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10) RETURNING id
            """,
            new.unit_id,
            new.community,
            place.street,
            new.signed_on,
            new.valid_from,
            new.valid_until,
            new.pledged_people,
            skills,
            new.note,
            cmd.now,
        )
        await cmd.audit("pairings.create", "pairing", pairing_id, None, msgspec.to_builtins(new))
        cmd.emit("pairing.created", {"id": pairing_id}, street=place.street, community=place.code)
        row = await cmd.connection.fetchrow(PAIRING_SELECT + " WHERE p.id = $1", pairing_id)
    return _pairing_view(row, _today(ctx.now()))


async def change_pairing_status(
    ctx: Context, pairing_id: int, change: PairingStatusChange
) -> PairingView:
    authorize(ctx.actor, "pairings.manage")
    async with command(ctx) as cmd:
        row = await cmd.connection.fetchrow(
            "SELECT id, community, street, status, note FROM pairing WHERE id=$1 FOR UPDATE",
            pairing_id,
        )
        if row is None:
            raise NotFound(f"no pairing {pairing_id}", field="pairing_id")
        _authorize_row(ctx.actor, "pairings.manage", row)
        if row["status"] == PairingStatus.TERMINATED and change.status != PairingStatus.TERMINATED:
            raise Conflict(
                "a terminated agreement cannot be reopened; sign a new one", field="status"
            )
        await cmd.connection.execute(
            "UPDATE pairing SET status=$2, note=coalesce($3, note), updated_at=$4 WHERE id=$1",
            pairing_id,
            change.status.value,
            change.note,
            cmd.now,
        )
        await cmd.audit(
            "pairings.status",
            "pairing",
            pairing_id,
            {"status": row["status"]},
            {"status": change.status.value, "note": change.note},
        )
        cmd.emit(
            "pairing.status",
            {"id": pairing_id, "status": change.status.value},
            street=row["street"],
            community=row["community"],
        )
        updated = await cmd.connection.fetchrow(PAIRING_SELECT + " WHERE p.id = $1", pairing_id)
    return _pairing_view(updated, _today(ctx.now()))


# --- people ------------------------------------------------------------------------------

PERSON_COLUMNS = (
    "p.id, p.code, p.name, p.kind, p.phone, p.address, p.street, p.community, p.party_branch, "
    "p.unit_id, p.skills, p.availability, p.active"
)
ON_DUTY = (
    "EXISTS (SELECT 1 FROM check_in ci WHERE ci.person_id = p.id AND ci.checked_out_at IS NULL)"
)


def _person_view(row: asyncpg.Record) -> PersonView:
    return PersonView(
        id=row["id"],
        code=row["code"],
        name=row["name"],
        kind=PersonKind(row["kind"]),
        phone=mask_phone(row["phone"]),
        address=mask_address(row["address"]),
        street=row["street"],
        community=row["community"],
        party_branch=row["party_branch"],
        unit_id=row["unit_id"],
        skills=list(row["skills"]),
        availability=Availability(row["availability"]),
        active=row["active"],
        on_duty=row["on_duty"],
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
        street, community = await _scope(conn, ctx.actor, "people.read", flt.street, flt.community)
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


async def _person_row(
    conn: asyncpg.Connection, person_id: int, *, lock: bool = False
) -> asyncpg.Record:
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
        row = await _person_row(conn, person_id)
    _authorize_row(ctx.actor, "people.read", row)
    return _person_view(row)


async def _home(
    conn: asyncpg.Connection, community: str | None, street: str | None
) -> tuple[str, str | None]:
    """(street, community) of a person: the community decides the street when given."""
    if community is not None:
        place = await _place(conn, community)
        if street is not None and street != place.street:
            raise InvalidInput(f"community {community} is not in street {street}", field="street")
        return place.street, community
    if street is None:
        raise InvalidInput(
            "a person needs a community or, for squad members, a street", field="community"
        )
    await _street_exists(conn, street)
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
    street, community = await _home(conn, new.community, new.street)
    authorize(cmd.ctx.actor, "people.manage", Target(street=street, community=community))
    _check_kind(new.kind, community, new.party_branch, new.unit_id)
    if new.unit_id is not None and not await conn.fetchval(
        "SELECT 1 FROM partner_unit WHERE id=$1", new.unit_id
    ):
        raise InvalidInput(f"unknown partner unit {new.unit_id}", field="unit_id")
    skills = await _check_skills(conn, new.skills, "skills")
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
        view = _person_view(await _person_row(cmd.connection, person_id))
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
        row = await _person_row(conn, person_id, lock=True)
        _authorize_row(ctx.actor, "people.manage", row)
        before = _person_view(row)
        street, community = row["street"], row["community"]
        if change.community is not None and change.community != community:
            street, community = await _home(conn, change.community, None)
            authorize(ctx.actor, "people.manage", Target(street=street, community=community))
        skills = (
            await _check_skills(conn, change.skills, "skills")
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
        after = _person_view(await _person_row(conn, person_id))
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
        row = await _person_row(cmd.connection, person_id)
        _authorize_row(ctx.actor, "people.reveal", row)
        await cmd.audit(
            "people.reveal", "person", person_id, None, {"fields": ["phone", "address"]}
        )
    return Revealed(id=row["id"], name=row["name"], phone=row["phone"], address=row["address"])


# --- teams -------------------------------------------------------------------------------


async def _team_views(conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]) -> list[TeamView]:
    ids = [r["id"] for r in rows]
    members: dict[int, list[TeamMemberView]] = {i: [] for i in ids}
    for m in await conn.fetch(
        """
        SELECT tm.team_id, p.id, p.name, p.kind, p.skills FROM team_member tm
        JOIN person p ON p.id = tm.person_id WHERE tm.team_id = ANY($1) ORDER BY tm.team_id, p.id
        """,
        ids,
    ):
        members[m["team_id"]].append(
            TeamMemberView(
                id=m["id"], name=m["name"], kind=PersonKind(m["kind"]), skills=list(m["skills"])
            )
        )
    return [
        TeamView(
            id=r["id"],
            name=r["name"],
            kind=TeamKind(r["kind"]),
            street=r["street"],
            community=r["community"],
            unit_id=r["unit_id"],
            leader_id=r["leader_id"],
            size=len(members[r["id"]]),
            members=members[r["id"]],
        )
        for r in rows
    ]


TEAM_COLUMNS = "id, name, kind, street, community, unit_id, leader_id"


async def list_teams(
    ctx: Context,
    street: str | None = None,
    community: str | None = None,
    kind: TeamKind | None = None,
) -> list[TeamView]:
    async with query(ctx) as conn:
        street, community = await _scope(conn, ctx.actor, "teams.read", street, community)
        rows = await conn.fetch(
            f"""
            SELECT {TEAM_COLUMNS} FROM team
            WHERE ($1::varchar IS NULL OR street = $1) AND ($2::varchar IS NULL OR community = $2)
              AND ($3::varchar IS NULL OR kind = $3)
            ORDER BY id
            """,
            street,
            community,
            kind.value if kind else None,
        )
        return await _team_views(conn, rows)


async def get_team(ctx: Context, team_id: int) -> TeamView:
    async with query(ctx) as conn:
        row = await conn.fetchrow(f"SELECT {TEAM_COLUMNS} FROM team WHERE id=$1", team_id)
        if row is None:
            raise NotFound(f"no team {team_id}", field="team_id")
        _authorize_row(ctx.actor, "teams.read", row)
        return (await _team_views(conn, [row]))[0]


def check_enlistable(actor: Actor, workers: Sequence[Worker], field: str) -> None:
    """One cannot enlist (on a team, on a task) people outside one's own scope: 403."""
    for worker in workers:
        if not enlistable(actor.scope, worker.place, worker.paired):
            raise Forbidden(
                f"person {worker.id} ({worker.name}) is outside the scope of {actor.username}",
                field=field,
                code="forbidden.person_out_of_scope",
                params={"person": worker.name, "person_id": worker.id},
            )


async def _check_members(
    cmd: Command, member_ids: Sequence[int], leader_id: int | None
) -> list[int]:
    ids = sorted({*member_ids, *([leader_id] if leader_id else [])})
    found = await load_workers(cmd.connection, cmd.now, ids, active_only=False)
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(f"unknown people {missing[:10]}", field="member_ids")
    check_enlistable(cmd.ctx.actor, list(found.values()), "member_ids")
    return ids


async def _write_members(cmd: Command, team_id: int, ids: Sequence[int]) -> None:
    await cmd.connection.execute("DELETE FROM team_member WHERE team_id=$1", team_id)
    await cmd.connection.executemany(
        "INSERT INTO team_member (team_id, person_id, joined_at) VALUES ($1, $2, $3)",
        [(team_id, i, cmd.now) for i in ids],
    )


async def create_team(ctx: Context, new: TeamCreate) -> TeamView:
    authorize(ctx.actor, "teams.manage")
    async with command(ctx) as cmd:
        conn = cmd.connection
        street, community = new.street, new.community
        if community is not None:
            street, community = await _home(conn, community, street)
        elif street is not None:
            await _street_exists(conn, street)
        if new.kind is TeamKind.STREET_SQUAD and street is None:
            raise InvalidInput("a street squad needs its street", field="street")
        if new.kind is TeamKind.COMMUNITY_TEAM and community is None:
            raise InvalidInput("a community team needs its community", field="community")
        if new.kind is TeamKind.UNIT_TEAM:
            if new.unit_id is None:
                raise InvalidInput("a partner-unit team needs its unit", field="unit_id")
            if not await conn.fetchval("SELECT 1 FROM partner_unit WHERE id=$1", new.unit_id):
                raise InvalidInput(f"unknown partner unit {new.unit_id}", field="unit_id")
        authorize(ctx.actor, "teams.manage", Target(street=street, community=community))
        ids = await _check_members(cmd, new.member_ids, new.leader_id)
        team_id = await conn.fetchval(
            """
            INSERT INTO team (name, kind, street, community, unit_id, leader_id, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
            """,
            new.name,
            new.kind.value,
            street,
            community,
            new.unit_id if new.kind is TeamKind.UNIT_TEAM else None,
            new.leader_id,
            cmd.now,
        )
        await _write_members(cmd, team_id, ids)
        after = {**msgspec.to_builtins(new), "street": street, "member_ids": ids}
        await cmd.audit("teams.create", "team", team_id, None, after)
        cmd.emit("team.created", {"id": team_id}, street=street, community=community)
        row = await conn.fetchrow(f"SELECT {TEAM_COLUMNS} FROM team WHERE id=$1", team_id)
        return (await _team_views(conn, [row]))[0]


async def set_team_members(ctx: Context, team_id: int, change: TeamMembers) -> TeamView:
    """Replace a team's members (and leader; the leader is always a member)."""
    authorize(ctx.actor, "teams.manage")
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await conn.fetchrow(
            f"SELECT {TEAM_COLUMNS} FROM team WHERE id=$1 FOR UPDATE", team_id
        )
        if row is None:
            raise NotFound(f"no team {team_id}", field="team_id")
        _authorize_row(ctx.actor, "teams.manage", row)
        before = [
            r["person_id"]
            for r in await conn.fetch(
                "SELECT person_id FROM team_member WHERE team_id=$1 ORDER BY person_id", team_id
            )
        ]
        ids = await _check_members(cmd, change.member_ids, change.leader_id)
        await _write_members(cmd, team_id, ids)
        await conn.execute("UPDATE team SET leader_id=$2 WHERE id=$1", team_id, change.leader_id)
        await cmd.audit(
            "teams.members",
            "team",
            team_id,
            {"member_ids": before, "leader_id": row["leader_id"]},
            {"member_ids": ids, "leader_id": change.leader_id},
        )
        cmd.emit(
            "team.members",
            {"id": team_id, "size": len(ids)},
            street=row["street"],
            community=row["community"],
        )
        fresh = await conn.fetchrow(f"SELECT {TEAM_COLUMNS} FROM team WHERE id=$1", team_id)
        return (await _team_views(conn, [fresh]))[0]


# --- duty: rosters, check-in and check-out, who is on duty -------------------------------

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
        place = await _place(cmd.connection, new.community)
        authorize(ctx.actor, "duty.manage", place.target)
        ids = await _check_members(cmd, new.person_ids, None) if new.person_ids else []
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
        street, community = await _scope(conn, ctx.actor, "people.read", street, community)
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


HOURS_TODAY = """
    SELECT person_id,
           sum(extract(epoch FROM least(coalesce(checked_out_at, $2), $2)
                                  - greatest(checked_in_at, $1)) / 3600.0)::float8 AS hours
    FROM check_in WHERE checked_in_at < $2 AND coalesce(checked_out_at, $2) > $1
"""


def _check_in_view(row: asyncpg.Record, name: str, hours: float) -> CheckInView:
    return CheckInView(
        id=row["id"],
        person_id=row["person_id"],
        person_name=name,
        community=row["community"],
        street=row["street"],
        checked_in_at=local(row["checked_in_at"]) or row["checked_in_at"],
        checked_out_at=local(row["checked_out_at"]),
        lat=row["lat"],
        lon=row["lon"],
        hours=round(hours, 2),
    )


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
        person = await _person_row(conn, req.person_id, lock=True)
        code = req.community or person["community"]
        if code is None:
            _authorize_row(ctx.actor, "duty.check_in", person)  # outside the scope: 403 first
            raise InvalidInput("say which community the person reports to", field="community")
        place = await _place(conn, code)
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
        person = await _person_row(conn, req.person_id)
        row = await conn.fetchrow(
            f"SELECT {CHECK_IN_COLUMNS} FROM check_in "
            "WHERE person_id=$1 AND checked_out_at IS NULL FOR UPDATE",
            req.person_id,
        )
        if row is None:
            _authorize_row(ctx.actor, "duty.check_in", person)
            raise Conflict(f"person {req.person_id} is not on duty", field="person_id")
        _authorize_row(ctx.actor, "duty.check_in", row)
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
        place = await _place(conn, community, field="code", missing=NotFound)
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
            _day_start(now),
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


# --- care households ---------------------------------------------------------------------

CARE_COLUMNS = (
    "id, code, kind, community, street, head_name, phone, address, members, needs, "
    "paired_branch, note"
)


def _care_view(row: asyncpg.Record) -> CareHouseholdView:
    data = dict(row)
    data["kind"] = CareKind(data["kind"])
    data["phone"] = mask_phone(data["phone"])
    data["address"] = mask_address(data["address"])
    data["needs"] = list(data["needs"])
    return CareHouseholdView(**data)


async def list_care_households(
    ctx: Context,
    community: str | None = None,
    kind: CareKind | None = None,
    limit: int = 500,
    offset: int = 0,
) -> list[CareHouseholdView]:
    """Only commanders and the community's workers; the read itself is audited."""
    authorize(ctx.actor, "care.read")
    async with command(ctx) as cmd:
        _, code = await _scope(cmd.connection, ctx.actor, "care.read", None, community)
        rows = await cmd.connection.fetch(
            f"""
            SELECT {CARE_COLUMNS} FROM care_household
            WHERE ($1::varchar IS NULL OR community = $1) AND ($2::varchar IS NULL OR kind = $2)
            ORDER BY id LIMIT $3 OFFSET $4
            """,
            code,
            kind.value if kind else None,
            limit,
            offset,
        )
        await cmd.audit(
            "care.read",
            "care_household",
            code or "*",
            None,
            {"count": len(rows), "ids": [r["id"] for r in rows], "kind": kind, "offset": offset},
        )
    return [_care_view(r) for r in rows]


async def _care_row(cmd: Command, household_id: int) -> asyncpg.Record:
    row = await cmd.connection.fetchrow(
        f"SELECT {CARE_COLUMNS} FROM care_household WHERE id=$1", household_id
    )
    if row is None:
        raise NotFound(f"no care household {household_id}", field="household_id")
    return row


async def get_care_household(ctx: Context, household_id: int) -> CareHouseholdView:
    authorize(ctx.actor, "care.read")
    async with command(ctx) as cmd:
        row = await _care_row(cmd, household_id)
        _authorize_row(ctx.actor, "care.read", row)
        await cmd.audit("care.read", "care_household", household_id, None, {"count": 1})
    return _care_view(row)


async def create_care_household(ctx: Context, new: CareHouseholdCreate) -> CareHouseholdView:
    authorize(ctx.actor, "care.manage")
    async with command(ctx) as cmd:
        place = await _place(cmd.connection, new.community)
        authorize(ctx.actor, "care.manage", place.target)
        if await cmd.connection.fetchval("SELECT 1 FROM care_household WHERE code=$1", new.code):
            raise Conflict(f"care household {new.code} exists", field="code")
        row = await cmd.connection.fetchrow(
            f"""
            INSERT INTO care_household (code, kind, community, street, head_name, phone, address,
                                        members, needs, paired_branch, note, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {CARE_COLUMNS}
            """,
            new.code,
            new.kind.value,
            place.code,
            place.street,
            new.head_name,
            new.phone,
            new.address,
            new.members,
            sorted({n.value for n in new.needs}),
            new.paired_branch,
            new.note,
            cmd.now,
        )
        view = _care_view(row)
        await cmd.audit("care.create", "care_household", view.id, None, msgspec.to_builtins(view))
        cmd.emit("care.created", {"id": view.id}, street=place.street, community=place.code)
    return view


async def reveal_care_household(ctx: Context, household_id: int) -> Revealed:
    authorize(ctx.actor, "care.reveal")
    async with command(ctx) as cmd:
        row = await _care_row(cmd, household_id)
        _authorize_row(ctx.actor, "care.reveal", row)
        await cmd.audit(
            "care.reveal", "care_household", household_id, None, {"fields": ["phone", "address"]}
        )
    return Revealed(id=row["id"], name=row["head_name"], phone=row["phone"], address=row["address"])


# --- matching people to a need (geo.assignment, exact) -----------------------------------


@dataclass
class _Roads:
    network: Any
    router: Any
    state: Any
    snapper: Any


_roads: _Roads | None = None


def _prepare_roads(network: Any) -> _Roads:
    from geo.assignment import WALK_OR_RIDE
    from geo.network import RoadState, Snapper
    from geo.routing import Router

    snapper = Snapper(network, network.usable_nodes(WALK_OR_RIDE))
    return _Roads(network, Router(network), RoadState(network), snapper)


async def roads(ctx: Context) -> _Roads:
    """The active road network (places) with a router and a snapper, kept per process and
    rebuilt (off the event loop) only when another network becomes active."""
    from dispatch.places.service import active_road_network

    global _roads
    network = await active_road_network(ctx)
    if _roads is None or _roads.network is not network:
        _roads = await asyncio.to_thread(_prepare_roads, network)
    return _roads


# the communities (and their streets) each partner unit is paired with today ($3: today)
PAIRED_TODAY = """
    SELECT p.unit_id, array_agg(p.community ORDER BY p.community) AS communities,
           array_agg(p.street ORDER BY p.community) AS streets FROM pairing p
    WHERE p.status = 'active' AND p.valid_from <= $3 AND p.valid_until >= $3
    GROUP BY p.unit_id
"""
# people on an active task that allows no other, by person
ON_TASKS = """
    SELECT a.person, array_agg(a.task ORDER BY a.task) AS tasks
    FROM task_assignee a JOIN task t ON t.id = a.task
    WHERE t.status IN ('assigned', 'accepted', 'en_route') AND NOT t.concurrent
    GROUP BY a.person
"""


async def load_workers(
    conn: asyncpg.Connection,
    now: datetime,
    ids: Sequence[int] | None = None,
    *,
    active_only: bool = True,
) -> dict[int, Worker]:
    """People (the given ones, or all) as the assignment rules see them: skills, place,
    pairings, hours worked today and the tasks they are on; what suggestions count too."""
    rows = await conn.fetch(
        f"""
        WITH hours AS ({HOURS_TODAY} GROUP BY person_id), paired AS ({PAIRED_TODAY}),
        busy AS ({ON_TASKS})
        SELECT p.id, p.name, p.street, p.community, p.skills,
               coalesce(h.hours, 0)::float8 AS hours, pr.communities, pr.streets, b.tasks
        FROM person p
        LEFT JOIN hours h ON h.person_id = p.id
        LEFT JOIN paired pr ON pr.unit_id = p.unit_id
        LEFT JOIN busy b ON b.person = p.id
        WHERE ($4::int[] IS NULL OR p.id = ANY($4)) AND (p.active OR NOT $5)
        ORDER BY p.id
        """,
        _day_start(now),
        now,
        _today(now),
        None if ids is None else list(ids),
        active_only,
    )
    return {
        r["id"]: Worker(
            id=r["id"],
            name=r["name"],
            place=Target(street=r["street"], community=r["community"]),
            skills=frozenset(r["skills"]),
            paired=frozenset(
                Target(street=st, community=c)
                for c, st in zip(r["communities"] or [], r["streets"] or [], strict=True)
            ),
            hours_today=max(float(r["hours"]), 0.0),
            tasks=frozenset(r["tasks"] or []),
        )
        for r in rows
    }


async def _candidates(
    conn: asyncpg.Connection, now: datetime, on_duty_only: bool
) -> list[asyncpg.Record]:
    """Active people with where they are (check-in point, duty community or home) and hours."""
    return list(
        await conn.fetch(
            f"""
            WITH hours AS ({HOURS_TODAY} GROUP BY person_id), paired AS ({PAIRED_TODAY})
            SELECT p.id, p.name, p.kind, p.community, p.skills,
                   coalesce(ci.lat, cc.lat, hc.lat, s.lat) AS lat,
                   coalesce(ci.lon, cc.lon, hc.lon, s.lon) AS lon,
                   coalesce(h.hours, 0)::float8 AS hours,
                   coalesce(pr.communities, '{{}}') AS paired
            FROM person p
            JOIN street s ON s.code = p.street
            LEFT JOIN check_in ci ON ci.person_id = p.id AND ci.checked_out_at IS NULL
            LEFT JOIN community cc ON cc.code = ci.community
            LEFT JOIN community hc ON hc.code = p.community
            LEFT JOIN hours h ON h.person_id = p.id
            LEFT JOIN paired pr ON pr.unit_id = p.unit_id
            WHERE p.active AND (NOT $4 OR ci.id IS NOT NULL)
            ORDER BY p.id
            """,
            _day_start(now),
            now,
            _today(now),
            on_duty_only,
        )
    )


def _candidate_id(person_id: int) -> str:
    return f"P{person_id:09d}"


async def suggest_for_needs(
    ctx: Context,
    requests: Sequence[SuggestRequest],
    state: Any = None,
    only: frozenset[int] | None = None,
) -> list[SuggestResponse]:
    """People for several needs at once (the incidents domain calls this for its tasks).

    Exact matching (min-cost max-flow in `geo.assignment`): as many people as possible,
    then the community's paired units and residents first, then the shortest travel, within
    skills and the daily hours limit; every need left short says why. `state` is a
    `geo.network.RoadState` with closures, default: all roads open; `only`, the people
    who may be offered at all (for a task: those `eligibility.placeable` on it).
    """
    from geo.assignment import AssignOptions, Candidate, Need, assign_people

    authorize(ctx.actor, "people.suggest")
    if not requests:
        return []
    now = ctx.now()
    async with query(ctx) as conn:
        places = []
        for k, req in enumerate(requests):
            place = await _place(conn, req.community)
            authorize(ctx.actor, "people.suggest", place.target)
            await _check_skills(
                conn, req.skills, "skills" if len(requests) == 1 else f"[{k}].skills"
            )
            places.append(place)
        on_duty_only = all(r.on_duty_only for r in requests)
        rows = await _candidates(conn, now, on_duty_only)
    if only is not None:
        rows = [r for r in rows if r["id"] in only]
    road = await roads(ctx)
    needs = [
        Need(
            id=f"N{k:04d}",
            community=req.community,
            people=req.people,
            skills=frozenset(req.skills),
            duration_h=req.duration_h,
            lat=place.lat,
            lon=place.lon,
        )
        for k, (req, place) in enumerate(zip(requests, places, strict=True))
    ]
    people = {_candidate_id(r["id"]): r for r in rows}
    candidates = [
        Candidate(
            id=cid,
            skills=frozenset(r["skills"]),
            community=r["community"],
            paired_communities=frozenset(r["paired"]),
            hours_worked=max(float(r["hours"]), 0.0),
            lat=r["lat"],
            lon=r["lon"],
        )
        for cid, r in people.items()
    ]
    limits = [r.max_travel_min for r in requests if r.max_travel_min is not None]
    options = AssignOptions(policy="exact", max_travel_s=min(limits) * 60 if limits else None)
    result = await asyncio.to_thread(
        assign_people,
        needs,
        candidates,
        state or road.state,
        road.router,
        options,
        None,
        road.snapper,
    )
    out = []
    for need, req in zip(needs, requests, strict=True):
        suggestions = []
        for a in result.assignments:
            if a.need_id != need.id:
                continue
            r = people[a.candidate_id]
            suggestions.append(
                Suggestion(
                    person_id=r["id"],
                    name=r["name"],
                    kind=PersonKind(r["kind"]),
                    community=r["community"],
                    skills=list(r["skills"]),
                    hours_today=round(max(float(r["hours"]), 0.0), 2),
                    travel_min=round(a.travel_s / 60, 1),
                    preferred=a.preferred,
                    explanation=a.explanation.replace(a.candidate_id, r["name"]),
                )
            )
        short = [
            Shortfall(missing=s.missing, reason=s.reason, explanation=s.explanation)
            for s in result.short
            if s.need_id == need.id
        ]
        out.append(
            SuggestResponse(
                community=req.community,
                wanted=req.people,
                staffed=len(suggestions),
                considered=len(candidates),
                suggestions=suggestions,
                short=short,
            )
        )
    return out


async def suggest_people(ctx: Context, req: SuggestRequest, state: Any = None) -> SuggestResponse:
    """People for one need: suggestions, and the reason for any shortfall."""
    return (await suggest_for_needs(ctx, [req], state))[0]


# --- spreadsheets ------------------------------------------------------------------------

PEOPLE_COLUMNS = (
    "code",
    "name",
    "kind",
    "phone",
    "address",
    "community",
    "street",
    "party_branch",
    "unit_code",
    "skills",
    "availability",
)
UNIT_IMPORT_COLUMNS = ("code", "name", "kind", "contact_name", "contact_phone")
PAIRING_COLUMNS = (
    "unit_code",
    "community",
    "signed_on",
    "valid_from",
    "valid_until",
    "pledged_people",
    "pledged_skills",
    "status",
    "note",
)
REQUIRED = {
    ImportKind.PEOPLE: ("code", "name", "kind"),
    ImportKind.UNITS: ("code", "name", "kind"),
    ImportKind.PAIRINGS: ("unit_code", "community", "signed_on", "valid_from", "valid_until"),
}
COLUMNS = {
    ImportKind.PEOPLE: PEOPLE_COLUMNS,
    ImportKind.UNITS: UNIT_IMPORT_COLUMNS,
    ImportKind.PAIRINGS: PAIRING_COLUMNS,
}
MASKED = re.compile(r"\*")
PHONE = re.compile(r"^1\d{10}$")
CODE = re.compile(r"^[A-Za-z0-9_\-]{1,20}$")


class _RowErrors:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, row: int, column: str, message: str) -> None:
        self.items.append({"row": row, "column": column, "message": message})


def _list_cell(value: str) -> list[str]:
    return sorted({v.strip() for v in re.split(r"[;,；，、\s]+", value) if v.strip()})


def _date_cell(value: str) -> date:
    return date.fromisoformat(value.strip()[:10])


@dataclass
class _Lookups:
    communities: dict[str, str]  # code -> street
    streets: set[str]
    skills: set[str]
    units: dict[str, int]  # code -> id


async def _lookups(conn: asyncpg.Connection) -> _Lookups:
    return _Lookups(
        communities={
            r["code"]: r["street"] for r in await conn.fetch("SELECT code, street FROM community")
        },
        streets={r["code"] for r in await conn.fetch("SELECT code FROM street")},
        skills={r["code"] for r in await conn.fetch("SELECT code FROM skill")},
        units={r["code"]: r["id"] for r in await conn.fetch("SELECT code, id FROM partner_unit")},
    )


def _check_text(
    errors: _RowErrors, n: int, column: str, value: str, most: int, required: bool = False
) -> None:
    if required and not value:
        errors.add(n, column, "required")
    elif len(value) > most:
        errors.add(n, column, f"at most {most} characters")


def _phone_cell(errors: _RowErrors, n: int, column: str, value: str) -> None:
    if value and MASKED.search(value):
        errors.add(
            n, column, "a masked number (with ****) cannot be imported; give the full number"
        )
    elif value and not PHONE.match(value):
        errors.add(n, column, "expected an 11-digit mobile number")


def _person_cells(
    errors: _RowErrors, n: int, cell: dict[str, str], look: _Lookups
) -> dict[str, Any]:
    _check_text(errors, n, "name", cell["name"], 50, required=True)
    _check_text(errors, n, "address", cell["address"], 200)
    _check_text(errors, n, "party_branch", cell["party_branch"], 120)
    _phone_cell(errors, n, "phone", cell["phone"])
    kind = cell["kind"]
    if kind not in {k.value for k in PersonKind}:
        errors.add(n, "kind", f"expected one of {', '.join(k.value for k in PersonKind)}")
    availability = cell["availability"] or "any"
    if availability not in {a.value for a in Availability}:
        errors.add(n, "availability", f"expected one of {', '.join(a.value for a in Availability)}")
    community, street = cell["community"] or None, cell["street"] or None
    if community is not None:
        if community not in look.communities:
            errors.add(n, "community", f"unknown community {community}")
        elif street is not None and look.communities[community] != street:
            errors.add(n, "street", f"community {community} is not in street {street}")
        street = look.communities.get(community, street)
    elif street is None:
        errors.add(n, "community", "a community (or, for squad members, a street) is required")
    elif street not in look.streets:
        errors.add(n, "street", f"unknown street {street}")
    unit_id = None
    if cell["unit_code"]:
        unit_id = look.units.get(cell["unit_code"])
        if unit_id is None:
            errors.add(n, "unit_code", f"unknown partner unit {cell['unit_code']}")
    skills = _list_cell(cell["skills"])
    unknown = [s for s in skills if s not in look.skills]
    if unknown:
        errors.add(n, "skills", f"unknown skill {', '.join(unknown)}")
    if kind == PersonKind.PARTY_MEMBER and not cell["party_branch"]:
        errors.add(n, "party_branch", "an on-duty Party member names their employer's branch")
    if kind == PersonKind.PARTY_MEMBER and community is None:
        errors.add(n, "community", "an on-duty Party member registers in a home community")
    if kind == PersonKind.COMMUNITY_WORKER and community is None:
        errors.add(n, "community", "a community worker needs a community")
    if kind == PersonKind.UNIT_MEMBER and not cell["unit_code"]:
        errors.add(n, "unit_code", "a partner-unit team member needs the unit")
    return {
        "code": cell["code"],
        "name": cell["name"],
        "kind": kind,
        "phone": cell["phone"] or None,
        "address": cell["address"] or None,
        "street": street,
        "community": community,
        "party_branch": cell["party_branch"] or None,
        "unit_id": unit_id,
        "skills": skills,
        "availability": availability,
    }


def _unit_cells(errors: _RowErrors, n: int, cell: dict[str, str], look: _Lookups) -> dict[str, Any]:
    _check_text(errors, n, "name", cell["name"], 120, required=True)
    _check_text(errors, n, "contact_name", cell["contact_name"], 50)
    _phone_cell(errors, n, "contact_phone", cell["contact_phone"])
    if cell["kind"] not in {k.value for k in UnitKind}:
        errors.add(n, "kind", f"expected one of {', '.join(k.value for k in UnitKind)}")
    return {
        "code": cell["code"],
        "name": cell["name"],
        "kind": cell["kind"],
        "contact_name": cell["contact_name"] or None,
        "contact_phone": cell["contact_phone"] or None,
    }


def _pairing_cells(
    errors: _RowErrors, n: int, cell: dict[str, str], look: _Lookups
) -> dict[str, Any]:
    unit_id = look.units.get(cell["unit_code"])
    if unit_id is None:
        errors.add(n, "unit_code", f"unknown partner unit {cell['unit_code']}")
    if cell["community"] not in look.communities:
        errors.add(n, "community", f"unknown community {cell['community']}")
    dates: dict[str, date | None] = {}
    for column in ("signed_on", "valid_from", "valid_until"):
        try:
            dates[column] = _date_cell(cell[column])
        except ValueError:
            errors.add(n, column, "expected a date like 2026-11-27")
            dates[column] = None
    if dates["valid_from"] and dates["valid_until"] and dates["valid_until"] < dates["valid_from"]:
        errors.add(n, "valid_until", "is before valid_from")
    pledged = 0
    if cell["pledged_people"]:
        try:
            pledged = int(cell["pledged_people"])
            if not 0 <= pledged <= 10000:
                raise ValueError
        except ValueError:
            errors.add(n, "pledged_people", "expected a whole number from 0 to 10000")
    skills = _list_cell(cell["pledged_skills"])
    unknown = [s for s in skills if s not in look.skills]
    if unknown:
        errors.add(n, "pledged_skills", f"unknown skill {', '.join(unknown)}")
    status = cell["status"] or "active"
    if status not in {s.value for s in PairingStatus}:
        errors.add(n, "status", f"expected one of {', '.join(s.value for s in PairingStatus)}")
    _check_text(errors, n, "note", cell["note"], 500)
    return {
        "unit_id": unit_id,
        "community": cell["community"],
        "street": look.communities.get(cell["community"]),
        **dates,
        "pledged_people": pledged,
        "pledged_skills": skills,
        "status": status,
        "note": cell["note"] or None,
    }


def _parse_rows(
    what: ImportKind, header: list[str], body: list[tuple[int, list[str]]], look: _Lookups
) -> list[dict[str, Any]]:
    """Every row checked; any error anywhere refuses the whole file, naming row and column."""
    errors = _RowErrors()
    columns = COLUMNS[what]
    missing = [c for c in REQUIRED[what] if c not in header]
    unknown = [h for h in header if h and h not in columns]
    if missing or unknown:
        for c in missing:
            errors.add(1, c, "required column is missing")
        for c in unknown:
            errors.add(1, c, f"unknown column; expected {', '.join(columns)}")
        raise InvalidInput("the header row is wrong", field="file", errors=errors.items)
    position = {h: i for i, h in enumerate(header) if h}
    parse = {
        ImportKind.PEOPLE: _person_cells,
        ImportKind.UNITS: _unit_cells,
        ImportKind.PAIRINGS: _pairing_cells,
    }[what]
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for n, raw in body:  # n: the row number the spreadsheet shows
        if len(raw) > len(header):
            errors.add(n, header[-1] or "?", "more cells than columns in the header")
        cell = {
            c: (raw[position[c]].strip() if c in position and position[c] < len(raw) else "")
            for c in columns
        }
        if "code" in columns:
            if not CODE.match(cell["code"]):
                errors.add(n, "code", "expected 1-20 letters, digits, _ or -")
            elif cell["code"] in seen:
                errors.add(n, "code", f"duplicate of row {seen[cell['code']]}")
            seen.setdefault(cell["code"], n)
        rows.append(parse(errors, n, cell, look))
    if not rows:
        raise InvalidInput("the file has no data rows", field="file")
    if errors.items:
        bad = len({e["row"] for e in errors.items})
        first = errors.items[0]
        raise InvalidInput(
            f"{bad} of {len(rows)} rows have errors (first: row {first['row']}, column "
            f"{first['column']}: {first['message']}); nothing was imported",
            field="file",
            errors=errors.items[:500],
        )
    return rows


async def _upsert_rows(
    cmd: Command, what: ImportKind, rows: list[dict[str, Any]]
) -> tuple[int, int, list[str]]:
    conn = cmd.connection
    created = updated = 0
    keys: list[str] = []
    for row in rows:
        if what is ImportKind.PEOPLE:
            inserted = await conn.fetchval(
                """
                INSERT INTO person (code, name, kind, phone, address, street, community,
                                    party_branch, unit_id, skills, availability, active, created_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, true, $12)
                ON CONFLICT (code) DO UPDATE SET name=EXCLUDED.name, kind=EXCLUDED.kind,
                    phone=EXCLUDED.phone, address=EXCLUDED.address, street=EXCLUDED.street,
                    community=EXCLUDED.community, party_branch=EXCLUDED.party_branch,
                    unit_id=EXCLUDED.unit_id, skills=EXCLUDED.skills,
                    availability=EXCLUDED.availability, updated_at=EXCLUDED.created_at
                RETURNING (xmax = 0)
                """,
                *(row[c] for c in PERSON_FIELDS),
                cmd.now,
            )
            keys.append(row["code"])
        elif what is ImportKind.UNITS:
            inserted = await conn.fetchval(
                """
                INSERT INTO partner_unit (code, name, kind, contact_name, contact_phone, created_at)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (code) DO UPDATE SET name=EXCLUDED.name, kind=EXCLUDED.kind,
                    contact_name=EXCLUDED.contact_name, contact_phone=EXCLUDED.contact_phone,
                    updated_at=EXCLUDED.created_at
                RETURNING (xmax = 0)
                """,
                row["code"],
                row["name"],
                row["kind"],
                row["contact_name"],
                row["contact_phone"],
                cmd.now,
            )
            keys.append(row["code"])
        else:
            inserted = await conn.fetchval(
                """
                INSERT INTO pairing (unit_id, community, street, signed_on, valid_from, valid_until,
                                     pledged_people, pledged_skills, status, note, created_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                ON CONFLICT (unit_id, community, valid_from) DO UPDATE SET
                    signed_on=EXCLUDED.signed_on, valid_until=EXCLUDED.valid_until,
                    pledged_people=EXCLUDED.pledged_people, pledged_skills=EXCLUDED.pledged_skills,
                    status=EXCLUDED.status, note=EXCLUDED.note, updated_at=EXCLUDED.created_at
                RETURNING (xmax = 0)
                """,
                *(
                    row[c]
                    for c in (
                        "unit_id",
                        "community",
                        "street",
                        "signed_on",
                        "valid_from",
                        "valid_until",
                        "pledged_people",
                        "pledged_skills",
                        "status",
                        "note",
                    )
                ),
                cmd.now,
            )
            keys.append(f"{row['unit_id']}:{row['community']}:{row['valid_from']}")
        created += bool(inserted)
        updated += not inserted
    return created, updated, keys


async def import_table(
    ctx: Context,
    what: ImportKind,
    content: bytes,
    filename: str | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Import people, partner units or pairings from CSV or XLSX: all rows or none.

    A row whose code (people, units) or unit+community+valid_from (pairings) exists updates
    it; any bad cell refuses the file with every error's row and column.
    """
    authorize(ctx.actor, "people.import")
    async with spreadsheets.import_slot(ctx.actor.username):
        header, body = await spreadsheets.read_table_off_loop(content, filename)
        return await _import_rows(ctx, what, header, body, filename, dry_run)


async def _import_rows(
    ctx: Context,
    what: ImportKind,
    header: list[str],
    body: list[tuple[int, list[str]]],
    filename: str | None,
    dry_run: bool,
) -> ImportReport:
    async with command(ctx) as cmd:
        rows = _parse_rows(what, header, body, await _lookups(cmd.connection))
        if dry_run:
            return ImportReport(what=what, rows=len(rows), created=0, updated=0, dry_run=True)
        created, updated, keys = await _upsert_rows(cmd, what, rows)
        await cmd.audit(
            "people.import",
            "import",
            what.value,
            None,
            {
                "file": filename,
                "rows": len(rows),
                "created": created,
                "updated": updated,
                "keys": keys[:5000],
            },
        )
        cmd.emit("people.imported", {"what": what.value, "created": created, "updated": updated})
    return ImportReport(what=what, rows=len(rows), created=created, updated=updated, dry_run=False)


@dataclass(frozen=True)
class Export:
    filename: str
    media_type: str
    content: bytes


async def _export_rows(
    ctx: Context, cmd: Command, what: ExportKind
) -> tuple[list[str], list[list[Any]]]:
    conn = cmd.connection
    actor = ctx.actor
    if what is ExportKind.CARE_HOUSEHOLDS:
        rows = await conn.fetch(f"SELECT {CARE_COLUMNS} FROM care_household ORDER BY id")
        columns = [
            "code",
            "kind",
            "community",
            "street",
            "head_name",
            "phone",
            "address",
            "members",
            "needs",
            "paired_branch",
        ]
        cares = [_care_view(r) for r in rows]
        return columns, [
            [getattr(v, c) if c != "needs" else ";".join(v.needs) for c in columns] for v in cares
        ]
    if what is ExportKind.UNITS:
        rows = await conn.fetch(
            "SELECT code, name, kind, contact_name, contact_phone FROM partner_unit ORDER BY code"
        )
        return list(UNIT_IMPORT_COLUMNS), [
            [*list(r.values())[:4], mask_phone(r["contact_phone"])] for r in rows
        ]
    street, community = await _scope(conn, actor, "people.export", None, None)
    if what is ExportKind.PAIRINGS:
        rows = await conn.fetch(
            PAIRING_SELECT + " WHERE ($1::varchar IS NULL OR p.street = $1)"
            " AND ($2::varchar IS NULL OR p.community = $2)"
            " ORDER BY p.community, p.valid_from, p.id",
            street,
            community,
        )
        today = _today(cmd.now)
        views = [_pairing_view(r, today) for r in rows]
        columns = [*PAIRING_COLUMNS, "effective_status", "counts"]
        return columns, [
            [
                v.unit_code,
                v.community,
                v.signed_on,
                v.valid_from,
                v.valid_until,
                v.pledged_people,
                ";".join(v.pledged_skills),
                v.status.value,
                v.note,
                v.effective_status.value,
                v.counts,
            ]
            for v in views
        ]
    rows = await conn.fetch(
        f"""
        SELECT {PERSON_COLUMNS}, u.code AS unit_code FROM person p
        LEFT JOIN partner_unit u ON u.id = p.unit_id
        WHERE ($1::varchar IS NULL OR p.street = $1) AND ($2::varchar IS NULL OR p.community = $2)
        ORDER BY p.id
        """,
        street,
        community,
    )
    return list(PEOPLE_COLUMNS), [
        [
            r["code"],
            r["name"],
            r["kind"],
            mask_phone(r["phone"]),
            mask_address(r["address"]),
            r["community"],
            r["street"],
            r["party_branch"],
            r["unit_code"],
            ";".join(r["skills"]),
            r["availability"],
        ]
        for r in rows
    ]


async def export_table(ctx: Context, what: ExportKind, fmt: str) -> Export:
    """CSV or XLSX, phones and addresses masked; care households only for a commander who
    asks for them (audited); people and pairings limited to the caller's scope."""
    action = "care.export" if what is ExportKind.CARE_HOUSEHOLDS else "people.export"
    if what is ExportKind.UNITS:
        action = "units.read"
    authorize(ctx.actor, action)
    async with command(ctx) as cmd:
        columns, rows = await _export_rows(ctx, cmd, what)
        await cmd.audit(
            "people.export", "export", what.value, None, {"format": fmt, "rows": len(rows)}
        )
    stamp = _today(ctx.now()).isoformat()
    name = f"{what.value}-{stamp}.{fmt}"
    if fmt == "csv":
        return Export(name, spreadsheets.CSV_MEDIA, spreadsheets.write_csv(columns, rows))
    return Export(
        name, spreadsheets.XLSX_MEDIA, spreadsheets.write_xlsx([(what.value, columns, rows)])
    )


# --- the synthetic district --------------------------------------------------------------


async def people_tables_empty(ctx: Context) -> bool:
    async with query(ctx) as conn:
        return not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM person) OR EXISTS (SELECT 1 FROM partner_unit) "
            "OR EXISTS (SELECT 1 FROM care_household)"
        )


async def load_synthetic(
    ctx: Context, seed: int = synthetic.SEED, *, only_into_empty: bool = True
) -> SyntheticReport:
    """Write the synthetic population (fixed seed) once.

    By default only into empty people tables (the demo); `only_into_empty=False` (tests)
    adds it beside other rows unless it is there already. Some people are checked in
    (minutes before now), so on-duty counts start non-zero.
    """
    authorize(ctx.actor, "people.import")
    async with command(ctx) as cmd:
        conn = cmd.connection
        await conn.execute("LOCK TABLE person, partner_unit, care_household IN EXCLUSIVE MODE")
        if only_into_empty:
            present = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM person) OR EXISTS (SELECT 1 FROM partner_unit) "
                "OR EXISTS (SELECT 1 FROM care_household)"
            )
        else:
            present = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM partner_unit WHERE code = $1)",
                synthetic.FIRST_UNIT,
            )
        if present:
            return SyntheticReport(False, 0, 0, 0, 0, 0, 0)
        places = [
            synthetic.Place(r["code"], r["name"], r["street"])
            for r in await conn.fetch("SELECT code, name, street FROM community ORDER BY code")
        ]
        streets = [
            (r["code"], r["name"]) for r in await conn.fetch("SELECT code, name FROM street")
        ]
        district = synthetic.generate(places, streets, _today(cmd.now), seed)
        now = cmd.now
        await conn.copy_records_to_table(
            "partner_unit",
            columns=["code", "name", "kind", "contact_name", "contact_phone", "created_at"],
            records=[
                (u["code"], u["name"], u["kind"], u["contact_name"], u["contact_phone"], now)
                for u in district.units
            ],
        )
        units = {r["code"]: r["id"] for r in await conn.fetch("SELECT code, id FROM partner_unit")}
        await conn.copy_records_to_table(
            "pairing",
            columns=[
                "unit_id",
                "community",
                "street",
                "signed_on",
                "valid_from",
                "valid_until",
                "pledged_people",
                "pledged_skills",
                "status",
                "created_at",
            ],
            records=[
                (
                    units[p["unit_code"]],
                    p["community"],
                    p["street"],
                    p["signed_on"],
                    p["valid_from"],
                    p["valid_until"],
                    p["pledged_people"],
                    p["pledged_skills"],
                    "active",
                    now,
                )
                for p in district.pairings
            ],
        )
        await conn.copy_records_to_table(
            "person",
            columns=[*PERSON_FIELDS, "active", "created_at"],
            records=[
                (
                    p["code"],
                    p["name"],
                    p["kind"],
                    p["phone"],
                    p["address"],
                    p["street"],
                    p["community"],
                    p["party_branch"],
                    units.get(str(p["unit_code"])),
                    p["skills"],
                    p["availability"],
                    True,
                    now,
                )
                for p in district.people
            ],
        )
        people = {r["code"]: r["id"] for r in await conn.fetch("SELECT code, id FROM person")}
        members = []
        for team in district.teams:
            codes = [str(c) for c in team["members"]]  # type: ignore[attr-defined]
            team_id = await conn.fetchval(
                """
                INSERT INTO team (name, kind, street, community, unit_id, leader_id, created_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
                """,
                team["name"],
                team["kind"],
                team["street"],
                team["community"],
                units.get(str(team["unit_code"])),
                people[codes[0]] if codes else None,
                now,
            )
            members += [(team_id, people[c], now) for c in codes]
        await conn.copy_records_to_table(
            "team_member", columns=["team_id", "person_id", "joined_at"], records=members
        )
        streets_of = {p.code: p.street for p in places}
        await conn.copy_records_to_table(
            "check_in",
            columns=["person_id", "community", "street", "checked_in_at"],
            records=[
                (
                    people[c["person"]],
                    c["community"],
                    streets_of[str(c["community"])],
                    now - timedelta(minutes=int(str(c["minutes"]))),
                )
                for c in district.check_ins
            ],
        )
        await conn.copy_records_to_table(
            "care_household",
            columns=[
                "code",
                "kind",
                "community",
                "street",
                "head_name",
                "phone",
                "address",
                "members",
                "needs",
                "paired_branch",
                "created_at",
            ],
            records=[
                (
                    h["code"],
                    h["kind"],
                    h["community"],
                    h["street"],
                    h["head_name"],
                    h["phone"],
                    h["address"],
                    h["members"],
                    h["needs"],
                    h["paired_branch"],
                    now,
                )
                for h in district.care_households
            ],
        )
        report = SyntheticReport(
            loaded=True,
            units=len(district.units),
            pairings=len(district.pairings),
            people=len(district.people),
            squads=sum(1 for t in district.teams if t["kind"] == "street_squad"),
            care_households=len(district.care_households),
            checked_in=len(district.check_ins),
        )
        await cmd.audit(
            "people.load_synthetic", "synthetic", str(seed), None, msgspec.to_builtins(report)
        )
        cmd.emit("people.loaded", msgspec.to_builtins(report))
    return report
