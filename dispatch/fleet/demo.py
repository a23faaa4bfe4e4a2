"""The illustrative fleet `dispatch demo` seeds: each street reserve point gets one or two
tricycles (for hutong lanes) and a van, the district reserve trucks and vans, at the
illustrative capacities of `vehicles.DEFAULTS`; drivers and crews from the synthetic people
of the depot's street. Labelled illustrative (source `demo`), like the depots.
"""

from __future__ import annotations

import random

import asyncpg

from dispatch.accounts.policy import authorize
from dispatch.db import Command, Context, command
from dispatch.fleet.schemas import LaneClass, VehicleSource, VehicleStatus
from dispatch.fleet.vehicles import DEFAULTS, DRIVING, insert_vehicle

DEMO_SEED = 20261203
DISTRICT_RESERVE = "district_reserve"
KIND_ZH = {LaneClass.TRICYCLE: "三轮车", LaneClass.VAN: "面包车", LaneClass.TRUCK: "货车"}
KIND_TAG = {LaneClass.TRICYCLE: "TC", LaneClass.VAN: "VN", LaneClass.TRUCK: "TK"}
NOTE = "示意车辆，非真实车辆 / illustrative, not a real vehicle"


def demo_kinds(depot_kind: str, rng: random.Random) -> list[LaneClass]:
    """The vehicles of one depot: the district reserve's trucks and vans, a street's
    tricycles and van."""
    if depot_kind == DISTRICT_RESERVE:
        return [LaneClass.TRUCK] * 2 + [LaneClass.VAN] * 3
    return [LaneClass.TRICYCLE] * rng.randint(1, 2) + [LaneClass.VAN]


async def _crew(cmd: Command, vehicle_id: int, street: str | None, needed: int) -> None:
    """A driver with `driving` and the rest of the crew from the depot's street (any
    street for the district reserve), among people on no vehicle yet."""
    free = """
        SELECT id FROM person p WHERE p.active AND ($1::varchar IS NULL OR p.street = $1)
          AND NOT EXISTS (SELECT 1 FROM vehicle_crew c WHERE c.person_id = p.id)
          AND ($2::boolean IS false OR $3 = ANY(p.skills))
        ORDER BY p.id LIMIT $4
    """
    conn: asyncpg.Connection = cmd.connection
    driver = await conn.fetchval(free, street, True, DRIVING, 1)
    if driver is None:
        return
    people = [driver, *[r["id"] for r in await conn.fetch(free, street, False, DRIVING, needed)]]
    chosen = list(dict.fromkeys(people))[:needed]
    for i, person in enumerate(chosen):
        await conn.execute(
            "INSERT INTO vehicle_crew (vehicle_id, person_id, role, assigned_at) "
            "VALUES ($1, $2, $3, $4)",
            vehicle_id,
            person,
            "driver" if i == 0 else "crew",
            cmd.now,
        )


async def seed_demo_fleet(ctx: Context, seed: int = DEMO_SEED) -> int:
    """The illustrative fleet, only into an empty fleet; returns the vehicles made."""
    authorize(ctx.actor, "fleet.demo")
    rng = random.Random(seed)
    async with command(ctx) as cmd:
        conn = cmd.connection
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM vehicle)"):
            return 0
        # the streets' depots first: each takes its own street's people before the district
        # reserve draws on whoever is left
        depots = await conn.fetch(
            "SELECT code, name, kind, street FROM depot ORDER BY street IS NULL, code"
        )
        made: list[str] = []
        for depot in depots:
            counts: dict[LaneClass, int] = {}
            for lane in demo_kinds(depot["kind"], rng):
                counts[lane] = counts.get(lane, 0) + 1
                capacity = DEFAULTS[lane]
                code = f"V{depot['code'][-3:]}-{KIND_TAG[lane]}{counts[lane]}"
                values = {
                    "code": code,
                    "depot": depot["code"],
                    "kind": lane.value,
                    "lane_class": lane.value,
                    "name": f"{KIND_ZH[lane]}{counts[lane]}号（示意）",
                    "payload_kg": capacity.payload_kg,
                    "volume_m3": capacity.volume_m3,
                    "crew_needed": capacity.crew_needed,
                    "status": VehicleStatus.AVAILABLE.value,
                    "shift_start": None,
                    "shift_end": None,
                    "note": NOTE,
                }
                vehicle_id = await insert_vehicle(cmd, values, VehicleSource.DEMO)
                await _crew(cmd, vehicle_id, depot["street"], capacity.crew_needed)
                made.append(code)
        await cmd.audit("fleet.demo", "vehicle", None, None, {"seed": seed, "vehicles": made})
        cmd.emit("vehicle.imported", {"created": len(made), "demo": True})
    return len(made)
