"""The sandbox's fleet before the clock starts: the vehicles copied from the real world
stood down, then each depot's vehicles of the scenario (`world.fleet` for the depots it
names, the demo's default fleet for every other depot), crewed by replay people with the
`driving` skill, so a replay's figures do not depend on what the real fleet held."""

from __future__ import annotations

import random

from dispatch.db import command, query
from dispatch.exercises import scenario as sc
from dispatch.exercises.replay.state import ReplayState, SandboxVehicle
from dispatch.exercises.replay.world import new_people
from dispatch.fleet.demo import DEMO_SEED, KIND_TAG, demo_kinds
from dispatch.fleet.schemas import CrewAssign, CrewRole, LaneClass, VehicleCreate
from dispatch.fleet.service import assign_crew, create_vehicle
from dispatch.fleet.vehicles import DEFAULTS, DRIVING

NOTE = "演练车辆 / the scenario's vehicle"
TAGS = {**KIND_TAG, LaneClass.CAR: "CR"}


async def stand_down_copied_fleet(state: ReplayState) -> None:
    """Setup, in the sandbox only: the copy's vehicles retired and their crews released."""
    async with command(state.context()) as cmd:
        await cmd.connection.execute("DELETE FROM vehicle_crew")
        retired = await cmd.connection.execute(
            "UPDATE vehicle SET retired_at = $1, updated_at = $1 WHERE retired_at IS NULL",
            state.now,
        )
        await cmd.audit("replay.fleet_stood_down", "vehicle", None, None, {"rows": retired})


def fleet_lines(scenario: sc.Scenario, depots: list[tuple[str, str]]) -> list[sc.FleetLine]:
    """The scenario's vehicles per depot, in the demo's depot order (street depots first,
    then the district reserve), the default drawn as `dispatch demo` draws it."""
    rng = random.Random(DEMO_SEED)
    named = scenario.world.fleet or ()
    out: list[sc.FleetLine] = []
    for code, kind in depots:
        default = [sc.FleetLine(code, lane.value) for lane in demo_kinds(kind, rng)]
        mine = [line for line in named if line.depot == code]
        out += mine if scenario.world.fleet is not None and mine else default
    return out


async def make_fleet(state: ReplayState) -> None:
    await stand_down_copied_fleet(state)
    async with query(state.context()) as conn:
        rows = await conn.fetch(
            "SELECT d.code, d.kind, coalesce(d.street, (SELECT min(code) FROM street)) AS street "
            "FROM depot d ORDER BY d.street IS NULL, d.code"
        )
    streets = {r["code"]: r["street"] for r in rows}
    counts: dict[tuple[str, str], int] = {}
    for line in fleet_lines(state.scenario, [(r["code"], r["kind"]) for r in rows]):
        for _ in range(line.count):
            key = (line.depot, line.kind)
            counts[key] = counts.get(key, 0) + 1
            await add_vehicle(state, line, counts[key], streets[line.depot])
    state.record(
        "fleet",
        [[v.code, v.depot, v.kind, v.payload_kg, v.volume_m3] for v in state.vehicles.values()],
    )


async def add_vehicle(state: ReplayState, line: sc.FleetLine, n: int, street: str) -> None:
    """One vehicle and its crew: a driver first, then the rest of the crew it needs."""
    ctx = state.context()
    lane = LaneClass(line.kind)
    capacity = DEFAULTS[lane]
    view = await create_vehicle(
        ctx,
        VehicleCreate(
            code=f"R{line.depot[-3:]}-{TAGS[lane]}{n}",
            depot=line.depot,
            kind=line.kind,
            payload_kg=line.payload_kg or capacity.payload_kg,
            volume_m3=line.volume_m3 or capacity.volume_m3,
            crew_needed=line.crew or capacity.crew_needed,
            note=NOTE,
        ),
    )
    made = await new_people(state, None, street, view.crew_needed, (DRIVING,), "squad_member")
    for i, (_, person) in enumerate(made):
        role = CrewRole.DRIVER if i == 0 else CrewRole.CREW
        await assign_crew(ctx, view.id, CrewAssign(person_id=person, role=role))
    state.vehicles[view.id] = SandboxVehicle(
        view.id,
        view.code,
        view.depot,
        view.kind,
        view.payload_kg,
        view.volume_m3,
        [person for _, person in made],
    )
