"""Vehicles: the register of each depot's vehicles, read in the reader's scope and changed
by those whose scope holds the depot (a street leader: their street's depot; the district
reserve has no street, so district roles only).

A built-in kind (`tricycle`, `car`, `van`, `truck`) is its own lane class; a user-defined
kind names one of the four, because routing knows no other. Retiring a vehicle keeps its
row and code (what refers to it still can) and releases its crew.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time
from typing import Any

import asyncpg
import msgspec

from dispatch.accounts.policy import STREET_SCOPED, Actor, Target, authorize
from dispatch.db import Command, Context, command, query, view_of
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.fleet.schemas import (
    CrewMember,
    CrewRole,
    LaneClass,
    VehicleCreate,
    VehicleSource,
    VehicleStatus,
    VehicleUpdate,
    VehicleView,
)
from dispatch.incidents.schemas import TaskStatus
from dispatch.places import lookups as places


@dataclass(frozen=True)
class Capacity:
    payload_kg: float
    volume_m3: float
    crew_needed: int


# Illustrative figures for a built-in kind whose capacity is not given (not a survey of
# Dongcheng's vehicles): an electric cargo tricycle, a car with its back seats down, a
# panel van, a light truck.
DEFAULTS: dict[LaneClass, Capacity] = {
    LaneClass.TRICYCLE: Capacity(300.0, 1.5, 1),
    LaneClass.CAR: Capacity(400.0, 1.2, 1),
    LaneClass.VAN: Capacity(1000.0, 6.0, 1),
    LaneClass.TRUCK: Capacity(5000.0, 20.0, 2),
}
BUILTIN_KINDS = frozenset(c.value for c in LaneClass)

VEHICLE_SELECT = """
    SELECT v.id, v.code, v.depot, d.name AS depot_name, d.street, v.kind, v.lane_class,
           v.name, v.payload_kg, v.volume_m3, v.crew_needed, v.status, v.shift_start,
           v.shift_end, v.note, v.source, v.created_at, v.updated_at, v.retired_at
    FROM vehicle v JOIN depot d ON d.code = v.depot
"""
CREW_SELECT = """
    SELECT c.vehicle_id, c.person_id, p.name, c.role, p.skills
    FROM vehicle_crew c JOIN person p ON p.id = c.person_id
    WHERE c.vehicle_id = ANY($1::bigint[]) ORDER BY c.role <> 'driver', c.id
"""
# the columns an insert writes, in order (the import writes the same)
VEHICLE_FIELDS = (
    "code",
    "depot",
    "kind",
    "lane_class",
    "name",
    "payload_kg",
    "volume_m3",
    "crew_needed",
    "status",
    "shift_start",
    "shift_end",
    "note",
)


def lane_class_of(kind: str, lane_class: str | None, field: str = "lane_class") -> LaneClass:
    """A built-in kind is its own lane class; a user-defined kind must name one."""
    if kind in BUILTIN_KINDS:
        if lane_class is not None and lane_class != kind:
            raise InvalidInput(
                f"a {kind} is its own lane class; {lane_class} given",
                field=field,
                code="fleet.lane_class_mismatch",
                params={"kind": kind, "lane_class": lane_class},
            )
        return LaneClass(kind)
    if lane_class is None:
        raise InvalidInput(
            f"the user-defined kind {kind} needs its lane class: tricycle, car, van or truck",
            field=field,
            code="fleet.lane_class_needed",
            params={"kind": kind},
        )
    return LaneClass(lane_class)


def capacity_of(
    kind: str, lane: LaneClass, payload_kg: float | None, volume_m3: float | None, crew: int | None
) -> Capacity:
    """What is given, else a built-in kind's illustrative default; a user-defined kind's
    capacity must be given (nothing says what a `minibus` carries)."""
    if kind in BUILTIN_KINDS:
        default = DEFAULTS[lane]
        return Capacity(
            default.payload_kg if payload_kg is None else payload_kg,
            default.volume_m3 if volume_m3 is None else volume_m3,
            default.crew_needed if crew is None else crew,
        )
    if payload_kg is None or volume_m3 is None:
        name = "payload_kg" if payload_kg is None else "volume_m3"
        raise InvalidInput(
            f"the user-defined kind {kind} needs its {name}",
            field=name,
            code="fleet.capacity_needed",
            params={"kind": kind, "field": name},
        )
    return Capacity(payload_kg, volume_m3, 1 if crew is None else crew)


def check_shift(start: time | None, end: time | None, field: str = "shift_end") -> None:
    """A shift has a start and an end (an end before the start runs past midnight)."""
    if (start is None) != (end is None):
        raise InvalidInput(
            "a shift needs both its start and its end",
            field=field if end is None else "shift_start",
            code="fleet.shift_incomplete",
        )
    if start is not None and start == end:
        raise InvalidInput(
            "a shift cannot end when it starts", field=field, code="fleet.shift_empty"
        )


def vehicle_target(row: asyncpg.Record | dict[str, Any]) -> Target:
    """A vehicle is in its depot's scope: the depot's street, or district level."""
    return Target(street=row["street"])


async def crews_of(
    conn: asyncpg.Connection, vehicle_ids: Sequence[int]
) -> dict[int, list[CrewMember]]:
    crews: dict[int, list[CrewMember]] = {i: [] for i in vehicle_ids}
    for r in await conn.fetch(CREW_SELECT, list(vehicle_ids)):
        member = CrewMember(
            person_id=r["person_id"], name=r["name"], role=CrewRole(r["role"]), skills=r["skills"]
        )
        crews[r["vehicle_id"]].append(member)
    return crews


DRIVING = "driving"  # the skill a driver needs (geo.assignment.BUILTIN_SKILLS)


def is_crewed(crew_needed: int, crew: Sequence[CrewMember]) -> bool:
    """A vehicle can go when it has a driver who (still) has the skill `driving` and as
    many people as it needs."""
    drives = any(m.role is CrewRole.DRIVER and DRIVING in m.skills for m in crew)
    return drives and len(crew) >= crew_needed


def to_view(row: asyncpg.Record, crew: list[CrewMember]) -> VehicleView:
    return view_of(
        VehicleView,
        row,
        lane_class=LaneClass(row["lane_class"]),
        status=VehicleStatus(row["status"]),
        source=VehicleSource(row["source"]),
        illustrative=row["source"] == VehicleSource.DEMO,
        crew=crew,
        crewed=is_crewed(row["crew_needed"], crew),
    )


async def views(conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]) -> list[VehicleView]:
    crews = await crews_of(conn, [r["id"] for r in rows])
    return [to_view(r, crews[r["id"]]) for r in rows]


def audit_of(view: VehicleView) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(view)
    return data


async def vehicle_row(
    conn: asyncpg.Connection, vehicle_id: int, *, lock: bool = False
) -> asyncpg.Record:
    """One vehicle (retired or not) with its depot's street; 404 if unknown."""
    row = await conn.fetchrow(
        VEHICLE_SELECT + " WHERE v.id = $1" + (" FOR UPDATE OF v" if lock else ""), vehicle_id
    )
    if row is None:
        raise NotFound(f"no vehicle {vehicle_id}", field="vehicle_id")
    return row


def _read_scope(actor: Actor, street: str | None) -> tuple[bool, str | None]:
    """(limited, street): a street leader reads only their street's vehicles."""
    authorize(actor, "fleet.read", Target(street=street) if street else None)
    if actor.role in STREET_SCOPED:
        return True, actor.street
    return False, street


@dataclass(frozen=True)
class FleetFilter:
    depot: str | None = None
    street: str | None = None
    status: VehicleStatus | None = None
    kind: str | None = None
    include_retired: bool = False


async def list_vehicles(ctx: Context, flt: FleetFilter) -> list[VehicleView]:
    """Vehicles by depot, street, status or kind, within the reader's scope."""
    limited, street = _read_scope(ctx.actor, flt.street)
    async with query(ctx) as conn:
        if flt.depot is not None:
            depot = await places.depot(conn, flt.depot, missing=NotFound)
            authorize(ctx.actor, "fleet.read", places.depot_target(depot))
        rows = await conn.fetch(
            VEHICLE_SELECT
            + """
            WHERE ($1::boolean IS false OR d.street = $2) AND ($2::varchar IS NULL OR d.street = $2)
              AND ($3::varchar IS NULL OR v.depot = $3) AND ($4::varchar IS NULL OR v.status = $4)
              AND ($5::varchar IS NULL OR v.kind = $5) AND ($6 OR v.retired_at IS NULL)
            ORDER BY v.depot, v.code
            """,
            limited,
            street,
            flt.depot,
            flt.status.value if flt.status else None,
            flt.kind,
            flt.include_retired,
        )
        return await views(conn, rows)


async def get_vehicle(ctx: Context, vehicle_id: int) -> VehicleView:
    authorize(ctx.actor, "fleet.read")
    async with query(ctx) as conn:
        row = await vehicle_row(conn, vehicle_id)
        authorize(ctx.actor, "fleet.read", vehicle_target(row))
        return (await views(conn, [row]))[0]


async def managed_depot(cmd: Command, code: str, field: str = "depot") -> asyncpg.Record:
    """The depot a vehicle is put at, refused outside the actor's scope."""
    depot = await places.depot(cmd.connection, code, field=field)
    authorize(cmd.ctx.actor, "fleet.manage", places.depot_target(depot))
    return depot


async def check_code_free(conn: asyncpg.Connection, code: str, field: str = "code") -> None:
    if await conn.fetchval("SELECT 1 FROM vehicle WHERE code = $1", code):
        raise Conflict(
            f"vehicle {code} exists", field=field, code="fleet.code_taken", params={"code": code}
        )


def checked_values(new: VehicleCreate) -> dict[str, Any]:
    """The columns of a new vehicle, each rule checked (the import checks the same)."""
    lane = lane_class_of(new.kind, new.lane_class.value if new.lane_class else None)
    capacity = capacity_of(new.kind, lane, new.payload_kg, new.volume_m3, new.crew_needed)
    check_shift(new.shift_start, new.shift_end)
    return {
        "code": new.code,
        "depot": new.depot,
        "kind": new.kind,
        "lane_class": lane.value,
        "name": new.name,
        "payload_kg": capacity.payload_kg,
        "volume_m3": capacity.volume_m3,
        "crew_needed": capacity.crew_needed,
        "status": new.status.value,
        "shift_start": new.shift_start,
        "shift_end": new.shift_end,
        "note": new.note,
    }


async def insert_vehicle(cmd: Command, values: dict[str, Any], source: VehicleSource) -> int:
    columns = ", ".join(VEHICLE_FIELDS)
    marks = ", ".join(f"${i + 1}" for i in range(len(VEHICLE_FIELDS) + 2))
    vehicle_id: int = await cmd.connection.fetchval(
        f"INSERT INTO vehicle ({columns}, source, created_at) VALUES ({marks}) RETURNING id",
        *(values[c] for c in VEHICLE_FIELDS),
        source.value,
        cmd.now,
    )
    return vehicle_id


async def rewrite_vehicle(cmd: Command, vehicle_id: int, values: dict[str, Any]) -> None:
    """Every column but the code from `values` (checked already): an update, an import."""
    sets = ", ".join(f"{c}=${i + 2}" for i, c in enumerate(VEHICLE_FIELDS[1:]))
    await cmd.connection.execute(
        f"UPDATE vehicle SET {sets}, updated_at=${len(VEHICLE_FIELDS) + 1} WHERE id=$1",
        vehicle_id,
        *(values[c] for c in VEHICLE_FIELDS[1:]),
        cmd.now,
    )


async def create_vehicle(ctx: Context, new: VehicleCreate) -> VehicleView:
    authorize(ctx.actor, "fleet.manage")
    async with command(ctx) as cmd:
        depot = await managed_depot(cmd, new.depot)
        values = checked_values(new)
        await check_code_free(cmd.connection, new.code)
        vehicle_id = await insert_vehicle(cmd, values, VehicleSource.ENTERED)
        view = (await views(cmd.connection, [await vehicle_row(cmd.connection, vehicle_id)]))[0]
        await cmd.audit("fleet.create", "vehicle", vehicle_id, None, audit_of(view))
        cmd.emit("vehicle.created", {"id": vehicle_id, "code": new.code}, street=depot["street"])
    return view


def _given(value: Any, current: Any) -> Any:
    return current if value is msgspec.UNSET else value


def updated_values(row: asyncpg.Record, change: VehicleUpdate) -> dict[str, Any]:
    """The vehicle's columns after `change`, each rule checked on the result."""
    kind = _given(change.kind, row["kind"])
    lane_given = _given(change.lane_class, None)
    if lane_given is None and kind not in BUILTIN_KINDS:
        lane_given = row["lane_class"]  # a user-defined kind keeps its lane class
    lane = lane_class_of(kind, lane_given)
    values = {c: _given(getattr(change, c, msgspec.UNSET), row[c]) for c in VEHICLE_FIELDS}
    values.update(kind=kind, lane_class=lane.value, code=row["code"])
    values["status"] = VehicleStatus(values["status"]).value
    check_shift(values["shift_start"], values["shift_end"])
    return values


async def update_vehicle(ctx: Context, vehicle_id: int, change: VehicleUpdate) -> VehicleView:
    """Change what is given, the status too; a move to another depot must be inside the
    actor's scope as well."""
    authorize(ctx.actor, "fleet.manage")
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await live_row(cmd, vehicle_id)
        values = updated_values(row, change)
        depot = values["depot"]
        street = row["street"]
        if depot != row["depot"]:
            street = (await managed_depot(cmd, depot))["street"]
        before = (await views(conn, [row]))[0]
        await rewrite_vehicle(cmd, vehicle_id, values)
        after = (await views(conn, [await vehicle_row(conn, vehicle_id)]))[0]
        await cmd.audit("fleet.update", "vehicle", vehicle_id, audit_of(before), audit_of(after))
        data = {"id": vehicle_id, "code": after.code, "status": after.status.value}
        cmd.emit("vehicle.updated", data, street=street)
    return after


async def live_row(cmd: Command, vehicle_id: int) -> asyncpg.Record:
    """A vehicle not retired, locked, inside the actor's scope."""
    row = await vehicle_row(cmd.connection, vehicle_id, lock=True)
    authorize(cmd.ctx.actor, "fleet.manage", vehicle_target(row))
    if row["retired_at"] is not None:
        raise Conflict(
            f"vehicle {row['code']} is retired",
            field="vehicle_id",
            code="fleet.retired",
            params={"code": row["code"]},
        )
    return row


async def _not_on_a_run(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
    """A vehicle on a run that has not ended stays until the run does (its row is locked:
    an approval taking it waits, or has committed and is seen here)."""
    task = await conn.fetchval(
        "SELECT min(id) FROM task WHERE vehicle_id = $1 AND status <> ALL($2::varchar[])",
        row["id"],
        [TaskStatus.DONE.value, TaskStatus.FAILED.value, TaskStatus.CANCELLED.value],
    )
    if task is not None:
        raise Conflict(
            f"vehicle {row['code']} is on run task {task}: retire it once the run has ended",
            field="vehicle_id",
            code="fleet.on_run",
            params={"code": row["code"], "task": task},
        )


async def retire_vehicle(ctx: Context, vehicle_id: int) -> VehicleView:
    """The vehicle leaves the fleet: its row and code stay, its crew is released."""
    authorize(ctx.actor, "fleet.manage")
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await live_row(cmd, vehicle_id)
        await _not_on_a_run(conn, row)
        before = (await views(conn, [row]))[0]
        await conn.execute("DELETE FROM vehicle_crew WHERE vehicle_id = $1", vehicle_id)
        await conn.execute(
            "UPDATE vehicle SET retired_at = $2, updated_at = $2 WHERE id = $1", vehicle_id, cmd.now
        )
        after = (await views(conn, [await vehicle_row(conn, vehicle_id)]))[0]
        await cmd.audit("fleet.retire", "vehicle", vehicle_id, audit_of(before), audit_of(after))
        cmd.emit("vehicle.retired", {"id": vehicle_id, "code": row["code"]}, street=row["street"])
    return after
