"""Shelters (安置点): the register of places evacuees go to, their intake and discharge.

Occupancy never exceeds capacity, and the database decides it: intake is one guarded
UPDATE (`occupancy + n <= capacity`), so twenty tablets registering at once into the last
places of a shelter take exactly the room there is, and the rest are refused with the
nearest open shelter that still has room. A shelter with no room left is `full`; a
discharge opens it again. Anyone may read where the shelters are; a street leader manages
the shelters of their street, a community worker registers at their community's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

from dispatch.accounts.policy import Target, authorize
from dispatch.db import Command, Context, command, query, view_of
from dispatch.errors import Conflict, DomainError, InvalidInput, NotFound
from dispatch.places import lookups as places
from dispatch.places.lookups import missing_place
from dispatch.preparedness.schemas import (
    IntakeCreate,
    IntakeResult,
    RegistrationView,
    ShelterCreate,
    ShelterStatus,
    ShelterUpdate,
    ShelterView,
    Source,
)
from geo.coords import distance_m

SHELTER_FIELDS = (
    "code",
    "name",
    "community",
    "street",
    "lat",
    "lon",
    "capacity",
    "heating",
    "accessible",
    "medical",
    "status",
)
REGISTRATION_SELECT = """
    SELECT r.id, r.shelter_id, r.household_id, h.code AS household_code, r.people, r.needs,
           r.registered_at, r.registered_by, r.left_at
    FROM shelter_registration r LEFT JOIN care_household h ON h.id = r.household_id
"""
# intake: room is taken only if there is room, in one statement (the row's lock orders it)
INTAKE = """
    UPDATE shelter SET occupancy = occupancy + $2, updated_at = $3,
        status = CASE WHEN occupancy + $2 = capacity THEN 'full' ELSE status END
    WHERE id = $1 AND status = 'open' AND occupancy + $2 <= capacity
    RETURNING *
"""


def shelter_view(row: asyncpg.Record) -> ShelterView:
    return view_of(
        ShelterView,
        row,
        room=row["capacity"] - row["occupancy"],
        status=ShelterStatus(row["status"]),
        illustrative=row["source"] == Source.DEMO,
    )


def shelter_target(row: asyncpg.Record | dict[str, Any]) -> Target:
    return Target(street=row["street"], community=row["community"])


def _manage_target(row: asyncpg.Record | dict[str, Any]) -> Target:
    """Managing a shelter is the street's: a street leader manages their street's."""
    return Target(street=row["street"])


async def shelter_row(
    conn: asyncpg.Connection,
    shelter_id: int,
    *,
    lock: bool = False,
    field: str = "shelter_id",
    missing: type[DomainError] = NotFound,
) -> asyncpg.Record:
    """The shelter, or `missing` naming `field`: 404 for the one a path names, 422 for a
    reference a body gives (checked before it is written)."""
    row = await conn.fetchrow(
        "SELECT * FROM shelter WHERE id=$1" + (" FOR UPDATE" if lock else ""), shelter_id
    )
    if row is None:
        raise missing_place("shelter", str(shelter_id), field, missing)
    return row


async def insert_shelter(cmd: Command, values: dict[str, Any], source: Source) -> asyncpg.Record:
    columns = [*SHELTER_FIELDS, "source", "created_at"]
    args = [*(values[c] for c in SHELTER_FIELDS), source.value, cmd.now]
    placeholders = ", ".join(f"${i + 1}" for i in range(len(args)))
    row: asyncpg.Record = await cmd.connection.fetchrow(
        f"INSERT INTO shelter ({', '.join(columns)}) VALUES ({placeholders}) RETURNING *", *args
    )
    return row


async def create_shelter(ctx: Context, data: ShelterCreate) -> ShelterView:
    authorize(ctx.actor, "shelters.manage")
    if data.status is ShelterStatus.FULL:
        raise InvalidInput(
            "a new shelter holds nobody: it cannot be full",
            field="status",
            code="shelter.status_full",
        )
    async with command(ctx) as cmd:
        conn = cmd.connection
        place = await places.community(conn, data.community)
        authorize(ctx.actor, "shelters.manage", Target(street=place["street"]))
        if await conn.fetchval("SELECT 1 FROM shelter WHERE code=$1", data.code):
            raise Conflict(
                f"shelter {data.code} exists",
                field="code",
                code="shelter.code_taken",
                params={"code": data.code},
            )
        values = {**msgspec.to_builtins(data), "street": place["street"]}
        row = await insert_shelter(cmd, values, Source.ENTERED)
        view = shelter_view(row)
        await cmd.audit("shelters.create", "shelter", row["id"], None, msgspec.to_builtins(view))
        cmd.emit(
            "shelter.created",
            {"shelter": row["id"], "status": row["status"]},
            street=row["street"],
            community=row["community"],
        )
        return view


async def list_shelters(
    ctx: Context, street: str | None = None, status: ShelterStatus | None = None
) -> list[ShelterView]:
    """Every shelter (where people can go is no secret), by street or status."""
    authorize(ctx.actor, "shelters.read")
    async with query(ctx) as conn:
        rows = await conn.fetch(
            "SELECT * FROM shelter WHERE ($1::varchar IS NULL OR street=$1) "
            "AND ($2::varchar IS NULL OR status=$2) ORDER BY street, code",
            street,
            None if status is None else status.value,
        )
        return [shelter_view(r) for r in rows]


async def get_shelter(ctx: Context, shelter_id: int) -> ShelterView:
    authorize(ctx.actor, "shelters.read")
    async with query(ctx) as conn:
        return shelter_view(await shelter_row(conn, shelter_id))


def _new_status(row: asyncpg.Record, wanted: ShelterStatus | None, capacity: int) -> str:
    """The status a change leaves: `full` follows occupancy; closing needs it empty."""
    status = ShelterStatus(row["status"]) if wanted is None else wanted
    if status is ShelterStatus.FULL and wanted is not None:
        raise InvalidInput(
            "full follows occupancy: open the shelter instead",
            field="status",
            code="shelter.status_full",
        )
    if status in (ShelterStatus.CLOSED, ShelterStatus.READY) and row["occupancy"] > 0:
        raise Conflict(
            f"shelter {row['code']} still holds {row['occupancy']} people",
            field="status",
            code="shelter.occupied",
            params={"shelter": row["name"], "occupancy": row["occupancy"]},
        )
    if status in (ShelterStatus.OPEN, ShelterStatus.FULL):
        return "full" if row["occupancy"] >= capacity else "open"
    return status.value


async def update_shelter(ctx: Context, shelter_id: int, data: ShelterUpdate) -> ShelterView:
    authorize(ctx.actor, "shelters.manage")
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await shelter_row(conn, shelter_id, lock=True)
        authorize(ctx.actor, "shelters.manage", _manage_target(row))
        given = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        capacity = given.get("capacity", row["capacity"])
        if capacity < row["occupancy"]:
            raise Conflict(
                f"shelter {row['code']} holds {row['occupancy']}: capacity {capacity} is less",
                field="capacity",
                code="shelter.capacity_below_occupancy",
                params={"shelter": row["name"], "occupancy": row["occupancy"]},
            )
        given["status"] = _new_status(row, given.get("status"), capacity)
        sets = ", ".join(f"{name}=${i + 2}" for i, name in enumerate(given))
        updated = await conn.fetchrow(
            f"UPDATE shelter SET {sets}, updated_at=${len(given) + 2} WHERE id=$1 RETURNING *",
            shelter_id,
            *[v.value if isinstance(v, ShelterStatus) else v for v in given.values()],
            cmd.now,
        )
        before, after = shelter_view(row), shelter_view(updated)
        await cmd.audit(
            "shelters.update",
            "shelter",
            shelter_id,
            msgspec.to_builtins(before),
            msgspec.to_builtins(after),
        )
        _emit_occupancy(cmd, updated)
        return after


def _emit_occupancy(cmd: Command, row: asyncpg.Record) -> None:
    cmd.emit(
        "shelter.occupancy",
        {
            "shelter": row["id"],
            "status": row["status"],
            "occupancy": row["occupancy"],
            "capacity": row["capacity"],
        },
        street=row["street"],
        community=row["community"],
    )


async def nearest_with_room(
    conn: asyncpg.Connection,
    here: tuple[float, float],
    people: int,
    *,
    besides: int | None = None,
) -> tuple[asyncpg.Record, float] | None:
    """The open shelter nearest to `here` (straight line) with room for `people`, other
    than `besides`; with its distance in metres."""
    rows = await conn.fetch(
        "SELECT * FROM shelter WHERE status='open' AND capacity - occupancy >= $1 "
        "AND id IS DISTINCT FROM $2",
        people,
        besides,
    )
    ranked = sorted((distance_m(here, (r["lat"], r["lon"])), r["id"], r) for r in rows)
    if not ranked:
        return None
    metres, _, row = ranked[0]
    return row, metres


async def refusal(
    conn: asyncpg.Connection,
    shelter_id: int,
    people: int,
    *,
    fields: tuple[str, str] = ("shelter_id", "people"),
) -> Conflict:
    """Why a shelter takes no one (more): it is not open, or has less room than asked
    (naming the nearest open shelter with room, if any). `fields` name the request's
    shelter and head count."""
    row = await shelter_row(conn, shelter_id)
    if row["status"] not in ("open", "full"):
        return Conflict(
            f"shelter {row['code']} is {row['status']}, not open",
            field=fields[0],
            code="shelter.not_open",
            params={"shelter": row["name"], "status": row["status"]},
        )
    room = row["capacity"] - row["occupancy"]
    params: dict[str, Any] = {"shelter": row["name"], "room": room, "people": people}
    nearest = await nearest_with_room(conn, (row["lat"], row["lon"]), people, besides=row["id"])
    if nearest is None:
        return Conflict(
            f"shelter {row['code']} has room for {room}, and no open shelter has room for {people}",
            field=fields[1],
            code="shelter.full_none_open",
            params=params,
        )
    other, metres = nearest
    params |= {
        "nearest_id": other["id"],
        "nearest_code": other["code"],
        "nearest": other["name"],
        "nearest_room": other["capacity"] - other["occupancy"],
        "distance_m": round(metres),
    }
    return Conflict(
        f"shelter {row['code']} has room for {room}; nearest open with room: {other['code']} "
        f"({round(metres)} m)",
        field=fields[1],
        code="shelter.full",
        params=params,
    )


async def registration_view(conn: asyncpg.Connection, registration_id: int) -> RegistrationView:
    row = await conn.fetchrow(REGISTRATION_SELECT + " WHERE r.id=$1", registration_id)
    if row is None:
        raise NotFound(f"no registration {registration_id}", field="registration_id")
    return view_of(RegistrationView, row)


async def _check_household(conn: asyncpg.Connection, household_id: int | None) -> None:
    if household_id is None:
        return
    if not await conn.fetchval("SELECT 1 FROM care_household WHERE id=$1", household_id):
        raise InvalidInput(
            f"no care household {household_id}",
            field="household_id",
            code="reference.unknown",
            params={"kind": "关爱户", "id": household_id},
        )
    placed = await conn.fetchval(
        "SELECT shelter_id FROM shelter_registration WHERE household_id=$1 AND left_at IS NULL",
        household_id,
    )
    if placed is not None:
        raise Conflict(
            f"care household {household_id} is registered at shelter {placed}",
            field="household_id",
            code="shelter.household_registered",
            params={"household": household_id, "shelter": placed},
        )


async def intake(ctx: Context, shelter_id: int, data: IntakeCreate) -> IntakeResult:
    """Register one household at the shelter; 409 if it is not open or has no room."""
    authorize(ctx.actor, "shelters.intake")
    async with command(ctx) as cmd:
        conn = cmd.connection
        place = await shelter_row(conn, shelter_id)
        authorize(ctx.actor, "shelters.intake", shelter_target(place))
        await _check_household(conn, data.household_id)
        row = await conn.fetchrow(INTAKE, shelter_id, data.people, cmd.now)
        if row is None:
            raise await refusal(conn, shelter_id, data.people)
        registration_id: int = await conn.fetchval(
            "INSERT INTO shelter_registration (shelter_id, household_id, people, needs, "
            "registered_at, registered_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            shelter_id,
            data.household_id,
            data.people,
            data.needs,
            cmd.now,
            ctx.actor.username,
        )
        registration = await registration_view(conn, registration_id)
        await cmd.audit(
            "shelters.intake",
            "shelter_registration",
            registration_id,
            None,
            {"shelter": shelter_id, "people": data.people, "household": data.household_id},
        )
        _emit_occupancy(cmd, row)
        return IntakeResult(registration, shelter_view(row))


async def discharge(ctx: Context, shelter_id: int, registration_id: int) -> IntakeResult:
    """The household leaves: its people no longer count, a full shelter opens again."""
    authorize(ctx.actor, "shelters.intake")
    async with command(ctx) as cmd:
        conn = cmd.connection
        place = await shelter_row(conn, shelter_id)
        authorize(ctx.actor, "shelters.intake", shelter_target(place))
        people = await conn.fetchval(
            "UPDATE shelter_registration SET left_at=$3 WHERE id=$2 AND shelter_id=$1 "
            "AND left_at IS NULL RETURNING people",
            shelter_id,
            registration_id,
            cmd.now,
        )
        if people is None:
            await registration_view(conn, registration_id)  # 404 if there is none
            raise Conflict(
                f"registration {registration_id} is not present at shelter {shelter_id}",
                field="registration_id",
                code="shelter.not_present",
                params={"registration": registration_id, "shelter": place["name"]},
            )
        row = await conn.fetchrow(
            "UPDATE shelter SET occupancy = occupancy - $2, updated_at=$3, "
            "status = CASE WHEN status='full' THEN 'open' ELSE status END "
            "WHERE id=$1 RETURNING *",
            shelter_id,
            people,
            cmd.now,
        )
        await cmd.audit(
            "shelters.discharge",
            "shelter_registration",
            registration_id,
            {"present": True},
            {"shelter": shelter_id, "people": people},
        )
        _emit_occupancy(cmd, row)
        return IntakeResult(await registration_view(conn, registration_id), shelter_view(row))


async def list_registrations(
    ctx: Context, shelter_id: int, present: bool = True
) -> list[RegistrationView]:
    """The shelter's register (household codes, head counts, needs; never names or
    phones), to those who register there."""
    authorize(ctx.actor, "shelters.intake")
    async with query(ctx) as conn:
        place = await shelter_row(conn, shelter_id)
        authorize(ctx.actor, "shelters.intake", shelter_target(place))
        rows = await conn.fetch(
            REGISTRATION_SELECT
            + " WHERE r.shelter_id=$1 AND ($2::boolean IS false OR r.left_at IS NULL) "
            "ORDER BY r.id",
            shelter_id,
            present,
        )
        return [view_of(RegistrationView, r) for r in rows]


async def open_shelters(cmd: Command, shelter_ids: Sequence[int]) -> list[int]:
    """Open the shelters (ready ones; open or full stay as they are; closed ones too, a
    plan's activation reopens them): the ids it opened, in id order."""
    rows = await cmd.connection.fetch(
        "UPDATE shelter SET status = CASE WHEN occupancy >= capacity THEN 'full' ELSE 'open' END, "
        "updated_at=$2 WHERE id IN (SELECT id FROM shelter WHERE id = ANY($1::int[]) "
        "AND status IN ('ready', 'closed') ORDER BY id FOR UPDATE) "
        "RETURNING *",
        list(shelter_ids),
        cmd.now,
    )
    for row in rows:
        _emit_occupancy(cmd, row)
    return sorted(r["id"] for r in rows)
