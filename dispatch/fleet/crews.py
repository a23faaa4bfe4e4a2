"""Crews: the people of the registry who drive and ride a vehicle.

A driver needs the skill `driving`; a person crews at most one vehicle (the table's unique
rule), so no plan counts one driver twice; and an actor puts on a vehicle only people
inside their own scope (a street leader: people of their street), as teams do.
"""

from __future__ import annotations

import asyncpg

from dispatch.accounts.policy import Target, authorize, enlistable
from dispatch.db import Command, Context, command
from dispatch.errors import Conflict, Forbidden, InvalidInput, NotFound
from dispatch.fleet.schemas import CrewAssign, CrewRole, VehicleView
from dispatch.fleet.vehicles import DRIVING, audit_of, live_row, vehicle_row, views


async def _person(cmd: Command, person_id: int) -> asyncpg.Record:
    """The person to put on a vehicle: known, active and inside the actor's scope."""
    row = await cmd.connection.fetchrow(
        "SELECT id, name, street, community, skills, active FROM person WHERE id = $1 FOR SHARE",
        person_id,
    )
    if row is None:
        raise InvalidInput(f"no person {person_id}", field="person_id")
    if not row["active"]:
        raise InvalidInput(
            f"{row['name']} is not active in the registry",
            field="person_id",
            code="fleet.person_inactive",
            params={"person": row["name"]},
        )
    actor = cmd.ctx.actor
    if not enlistable(actor.scope, Target(street=row["street"], community=row["community"])):
        raise Forbidden(
            f"{row['name']} is outside the scope of {actor.username}",
            field="person_id",
            code="forbidden.person_out_of_scope",
            params={"person": row["name"]},
        )
    return row


def _check_role(person: asyncpg.Record, role: CrewRole, vehicle: str) -> None:
    if role is CrewRole.DRIVER and DRIVING not in person["skills"]:
        raise InvalidInput(
            f"{person['name']} cannot drive {vehicle}: a driver needs the skill {DRIVING}",
            field="role",
            code="fleet.driver_skill",
            params={"person": person["name"], "vehicle": vehicle, "skill": DRIVING},
        )


async def _elsewhere(cmd: Command, person: asyncpg.Record, vehicle_id: int) -> None:
    other = await cmd.connection.fetchrow(
        "SELECT v.id, v.code FROM vehicle_crew c JOIN vehicle v ON v.id = c.vehicle_id "
        "WHERE c.person_id = $1",
        person["id"],
    )
    if other is not None and other["id"] != vehicle_id:
        raise Conflict(
            f"{person['name']} already crews vehicle {other['code']}: one vehicle per person",
            field="person_id",
            code="fleet.crew_elsewhere",
            params={"person": person["name"], "vehicle": other["code"]},
        )


async def assign_crew(ctx: Context, vehicle_id: int, assign: CrewAssign) -> VehicleView:
    """Put a person on a vehicle as driver or crew (again: their role changes)."""
    authorize(ctx.actor, "fleet.manage")
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await live_row(cmd, vehicle_id)
        person = await _person(cmd, assign.person_id)
        _check_role(person, assign.role, row["code"])
        await _elsewhere(cmd, person, vehicle_id)
        before = (await views(conn, [row]))[0]
        await conn.execute(
            """
            INSERT INTO vehicle_crew (vehicle_id, person_id, role, assigned_at)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (person_id) DO UPDATE SET role = EXCLUDED.role
            """,
            vehicle_id,
            person["id"],
            assign.role.value,
            cmd.now,
        )
        after = (await views(conn, [row]))[0]
        await cmd.audit(
            "fleet.crew_assign", "vehicle", vehicle_id, audit_of(before), audit_of(after)
        )
        data = {"id": vehicle_id, "person_id": person["id"], "role": assign.role.value}
        cmd.emit("vehicle.crew", data, street=row["street"])
    return after


async def unassign_crew(ctx: Context, vehicle_id: int, person_id: int) -> VehicleView:
    """Take a person off a vehicle's crew."""
    authorize(ctx.actor, "fleet.manage")
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await live_row(cmd, vehicle_id)
        before = (await views(conn, [row]))[0]
        removed = await conn.fetchval(
            "DELETE FROM vehicle_crew WHERE vehicle_id = $1 AND person_id = $2 RETURNING id",
            vehicle_id,
            person_id,
        )
        if removed is None:
            raise NotFound(
                f"person {person_id} is not on the crew of {row['code']}",
                field="person_id",
                code="fleet.not_crew",
                params={"person_id": person_id, "vehicle": row["code"]},
            )
        after = (await views(conn, [await vehicle_row(conn, vehicle_id)]))[0]
        await cmd.audit(
            "fleet.crew_unassign", "vehicle", vehicle_id, audit_of(before), audit_of(after)
        )
        data = {"id": vehicle_id, "person_id": person_id, "role": None}
        cmd.emit("vehicle.crew", data, street=row["street"])
    return after
