"""Where an evacuation goes: the shelter (安置点) an evacuation task names.

An evacuation order without a place to take people to leaves the squad to find one at the
door. So every evacuation task names its shelter when it is made, in the command that
makes it:

- a plan's activation names the plan's own shelters first, in the plan's order, the first
  with room (the activation opens them in the same transaction);
- a task made by hand names the shelter the commander chose, which must be open with room
  (else the refusal names the nearest open one that has room), or, chosen for them, the
  open shelter nearest the community's committee with room;
- with no open shelter with room anywhere the task names none, and says so in its view.

Room is counted in places, not kept: intake decides who gets in (`shelters.intake`).
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from dispatch.errors import InvalidInput
from dispatch.incidents.schemas import TaskShelter
from dispatch.places import lookups as places
from dispatch.preparedness.shelters import nearest_with_room, refusal, shelter_row

__all__ = ["chosen_shelter", "plan_shelter", "task_shelter"]

ROOM = 1  # an evacuation's head count is not known when it is ordered: any room at all


async def chosen_shelter(
    conn: asyncpg.Connection, community: str, shelter_id: int | None
) -> int | None:
    """The shelter a task made by hand names: the one asked for, checked (open, with room),
    or the nearest open one with room to the community's committee; None when none has."""
    if shelter_id is not None:
        row = await shelter_row(conn, shelter_id, field="shelter", missing=InvalidInput)
        if row["status"] != "open" or row["capacity"] - row["occupancy"] < ROOM:
            raise await refusal(conn, shelter_id, ROOM, fields=("shelter", "shelter"))
        return shelter_id
    place = await places.community(conn, community)
    nearest = await nearest_with_room(conn, (place["lat"], place["lon"]), ROOM)
    return None if nearest is None else int(nearest[0]["id"])


async def plan_shelter(
    conn: asyncpg.Connection, community: str, shelter_ids: Sequence[int]
) -> int | None:
    """The shelter an activated plan's evacuation names: the plan's first shelter with room
    that is not closed for good (ready and closed ones are opened by the activation), else
    the nearest open one with room."""
    if shelter_ids:
        first: int | None = await conn.fetchval(
            "SELECT id FROM shelter WHERE id = ANY($1::int[]) AND capacity - occupancy >= $2 "
            "ORDER BY array_position($1::int[], id) LIMIT 1",
            list(shelter_ids),
            ROOM,
        )
        if first is not None:
            return first
    return await chosen_shelter(conn, community, None)


async def task_shelter(conn: asyncpg.Connection, shelter_id: int | None) -> TaskShelter | None:
    """The shelter as a task's view shows it (its room now)."""
    if shelter_id is None:
        return None
    row = await shelter_row(conn, shelter_id)
    return TaskShelter(
        id=row["id"],
        code=row["code"],
        name=row["name"],
        community=row["community"],
        lat=row["lat"],
        lon=row["lon"],
        status=row["status"],
        room=row["capacity"] - row["occupancy"],
    )
