"""The fleet a planner can send now: vehicles available at given depots, with what they
carry, the lanes they fit and who crews them."""

from __future__ import annotations

from collections.abc import Sequence

from dispatch.accounts.policy import authorize
from dispatch.db import Context, query
from dispatch.errors import NotFound
from dispatch.fleet.schemas import AvailableVehicle, LaneClass
from dispatch.fleet.vehicles import VEHICLE_SELECT, crews_of, is_crewed
from dispatch.places import lookups as places


async def available_at(
    ctx: Context, depots: Sequence[str], *, crewed_only: bool = False
) -> list[AvailableVehicle]:
    """Vehicles of `depots` whose status is `available` (not out, not in maintenance, not
    retired), by depot and code; `crewed_only` leaves out those without a full crew.

    Every depot must exist and lie in the caller's scope, as a read of the fleet does."""
    authorize(ctx.actor, "fleet.read")
    async with query(ctx) as conn:
        for i, code in enumerate(depots):
            depot = await places.depot(conn, code, field=f"depots[{i}]", missing=NotFound)
            authorize(ctx.actor, "fleet.read", places.depot_target(depot))
        rows = await conn.fetch(
            VEHICLE_SELECT + " WHERE v.depot = ANY($1::varchar[]) AND v.status = 'available'"
            " AND v.retired_at IS NULL ORDER BY v.depot, v.code",
            list(depots),
        )
        crews = await crews_of(conn, [r["id"] for r in rows])
    found = [
        AvailableVehicle(
            id=r["id"],
            code=r["code"],
            depot=r["depot"],
            kind=r["kind"],
            lane_class=LaneClass(r["lane_class"]),
            payload_kg=r["payload_kg"],
            volume_m3=r["volume_m3"],
            crew_needed=r["crew_needed"],
            shift_start=r["shift_start"],
            shift_end=r["shift_end"],
            crew=crews[r["id"]],
            crewed=is_crewed(r["crew_needed"], crews[r["id"]]),
        )
        for r in rows
    ]
    return [v for v in found if v.crewed or not crewed_only]
