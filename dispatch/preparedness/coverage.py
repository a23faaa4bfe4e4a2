"""The coverage figure the district reports: communities with an approved plan, overall and
per hazard, per street. A scoped reader sees their own street."""

from __future__ import annotations

from typing import Any

from dispatch.accounts.policy import authorize
from dispatch.db import Context, query
from dispatch.incidents.schemas import IncidentType
from dispatch.preparedness.schemas import Coverage, StreetCoverage

STREETS = """
    SELECT c.street, s.name, count(*) AS communities, count(p.id) AS with_plan
    FROM community c JOIN street s ON s.code = c.street
    LEFT JOIN community_plan p ON p.community = c.code AND p.status = 'approved'
    WHERE $1::varchar IS NULL OR c.street = $1
    GROUP BY c.street, s.name ORDER BY c.street
"""
HAZARDS = """
    SELECT p.street, h.type, count(DISTINCT p.community) AS n
    FROM community_plan p JOIN plan_hazard h ON h.plan_id = p.id
    WHERE p.status = 'approved' AND ($1::varchar IS NULL OR p.street = $1)
    GROUP BY p.street, h.type
"""


def _zero() -> dict[str, int]:
    return {t.value: 0 for t in IncidentType}


async def coverage(ctx: Context) -> Coverage:
    authorize(ctx.actor, "preparedness.read")
    actor = ctx.actor
    street = None if actor.is_district_wide else (actor.street or actor.community_street)
    async with query(ctx) as conn:
        streets = await conn.fetch(STREETS, street)
        hazards = await conn.fetch(HAZARDS, street)
    by_street: dict[str, dict[str, int]] = {r["street"]: _zero() for r in streets}
    total = _zero()
    for h in hazards:
        by_street.setdefault(h["street"], _zero())[h["type"]] = h["n"]
        total[h["type"]] += h["n"]
    rows: list[Any] = [
        StreetCoverage(
            street=r["street"],
            name=r["name"],
            communities=r["communities"],
            with_plan=r["with_plan"],
            by_hazard=by_street[r["street"]],
        )
        for r in streets
    ]
    return Coverage(
        communities=sum(r.communities for r in rows),
        with_plan=sum(r.with_plan for r in rows),
        by_hazard=total,
        streets=rows,
    )
