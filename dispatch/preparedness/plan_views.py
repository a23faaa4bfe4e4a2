"""Plans as read: every part of many plans in one query per part table (a street's list
holds dozens of plans), holders and pledging units shown by name, phones masked."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from dispatch.db import view_of
from dispatch.incidents.schemas import IncidentType, Level, TaskKind
from dispatch.preparedness.references import holder_rows, holder_view
from dispatch.preparedness.schemas import (
    DEFAULT_ACK_MINUTES,
    AssemblyPoint,
    HazardSpec,
    Holder,
    HolderKind,
    PlanStatus,
    PlanView,
    PledgeView,
    RoleView,
    Source,
    TaskTemplate,
)

Parts = dict[str, dict[int, list[asyncpg.Record]]]

# (part table, its order within a plan, what is read beside it)
PART_QUERIES = {
    "plan_hazard": "SELECT * FROM plan_hazard WHERE plan_id = ANY($1::int[]) ORDER BY id",
    "plan_role": "SELECT * FROM plan_role WHERE plan_id = ANY($1::int[]) ORDER BY seq",
    "plan_shelter": "SELECT * FROM plan_shelter WHERE plan_id = ANY($1::int[]) ORDER BY id",
    "plan_task": "SELECT * FROM plan_task WHERE plan_id = ANY($1::int[]) ORDER BY seq",
    "plan_assembly_point": (
        "SELECT * FROM plan_assembly_point WHERE plan_id = ANY($1::int[]) ORDER BY seq"
    ),
    "plan_pledge": """
        SELECT x.plan_id, x.unit_id, x.item, x.quantity, u.name AS unit_name,
            i.name_zh, i.name_en, i.unit AS measure
        FROM plan_pledge x JOIN partner_unit u ON u.id = x.unit_id
        JOIN item i ON i.code = x.item
        WHERE x.plan_id = ANY($1::int[]) ORDER BY x.plan_id, x.seq
    """,
}


async def read_parts(conn: asyncpg.Connection, ids: list[int]) -> Parts:
    """Each part table's rows of the plans `ids`, by plan."""
    parts: Parts = {}
    for table, sql in PART_QUERIES.items():
        parts[table] = {i: [] for i in ids}
        for r in await conn.fetch(sql, ids):
            parts[table][r["plan_id"]].append(r)
    return parts


async def plan_views(conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]) -> list[PlanView]:
    """The plans of `rows` (community_plan rows) with all their parts."""
    parts = await read_parts(conn, [r["id"] for r in rows])
    roles = [r for plan in parts["plan_role"].values() for r in plan]
    holders = await holder_rows(
        conn,
        [
            Holder(HolderKind(r[f"{w}_kind"]), r[f"{w}_id"])
            for r in roles
            for w in ("holder", "deputy")
        ],
    )
    return [_plan_view(row, parts, holders) for row in rows]


def _plan_view(
    row: asyncpg.Record, parts: Parts, holders: dict[tuple[HolderKind, int], asyncpg.Record]
) -> PlanView:
    i = row["id"]
    return view_of(
        PlanView,
        row,
        status=PlanStatus(row["status"]),
        illustrative=row["source"] == Source.DEMO,
        hazards=[
            HazardSpec(type=IncidentType(h["type"]), min_level=Level(h["min_level"]))
            for h in parts["plan_hazard"][i]
        ],
        roles=[
            RoleView(
                role=r["role"],
                holder=holder_view(holders, HolderKind(r["holder_kind"]), r["holder_id"]),
                deputy=holder_view(holders, HolderKind(r["deputy_kind"]), r["deputy_id"]),
                ack_minutes=r["ack_minutes"] or DEFAULT_ACK_MINUTES,
            )
            for r in parts["plan_role"][i]
        ],
        shelters=[s["shelter_id"] for s in parts["plan_shelter"][i]],
        tasks=[
            TaskTemplate(
                kind=TaskKind(t["kind"]),
                people=t["people"],
                minutes=t["minutes"],
                skills=list(t["skills"]),
                note=t["note"],
            )
            for t in parts["plan_task"][i]
        ],
        assembly_points=[
            AssemblyPoint(name=a["name"], lat=a["lat"], lon=a["lon"], note=a["note"])
            for a in parts["plan_assembly_point"][i]
        ],
        pledges=[_pledge_view(x) for x in parts["plan_pledge"][i]],
    )


def _pledge_view(row: asyncpg.Record) -> PledgeView:
    return PledgeView(
        unit=row["unit_id"],
        unit_name=row["unit_name"],
        item=row["item"],
        item_name=row["name_zh"],
        item_name_en=row["name_en"],
        measure=row["measure"],
        quantity=row["quantity"],
    )
