"""Which care households a branch assists, and coverage per street as a figure.

Coverage counts low-income households (低保/低收入家庭, the households 结对帮扶 pairs):
those with an assistance in force over all of them, per street. Every household without one
is flagged in the household list, whatever its kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from dispatch.accounts.policy import authorize
from dispatch.branches.assistance import HOUSEHOLD_COLUMNS, household_brief, shows_contact
from dispatch.branches.schemas import HouseholdCover, StreetCoverage
from dispatch.branches.scope import limited_street
from dispatch.db import Context, command, query
from dispatch.errors import NotFound
from dispatch.people.lookups import find_place

COVERAGE = """
    SELECT s.code AS street, s.name AS street_name,
           count(h.id) FILTER (WHERE h.kind = 'low_income')::int AS low_income,
           count(h.id) FILTER (WHERE h.kind = 'low_income' AND h.has_student)::int AS students,
           count(h.id) FILTER (WHERE h.kind = 'low_income' AND EXISTS (
               SELECT 1 FROM assistance a WHERE a.household_id = h.id AND a.ends_on IS NULL
           ))::int AS assisted
    FROM street s LEFT JOIN care_household h ON h.street = s.code
    WHERE ($1::varchar IS NULL OR s.code = $1)
    GROUP BY s.code, s.name ORDER BY s.code
"""


def coverage_of(row: asyncpg.Record) -> StreetCoverage:
    total = row["low_income"]
    pct = 100.0 if total == 0 else round(100.0 * row["assisted"] / total, 1)
    return StreetCoverage(
        street=row["street"],
        street_name=row["street_name"],
        low_income=total,
        students=row["students"],
        assisted=row["assisted"],
        coverage_pct=pct,
    )


async def street_coverage(ctx: Context, street: str | None = None) -> list[StreetCoverage]:
    """Per street: low-income households, those with a student, those assisted, and the
    share assisted (a figure, no household data)."""
    limited = limited_street(ctx.actor, "service.report", street)
    async with query(ctx) as conn:
        rows = await conn.fetch(COVERAGE, limited)
    return [coverage_of(r) for r in rows]


@dataclass(frozen=True)
class CoverFilter:
    street: str | None = None
    community: str | None = None
    unassisted: bool = False
    limit: int = 500
    offset: int = 0


async def household_cover(ctx: Context, flt: CoverFilter) -> list[HouseholdCover]:
    """Care households of the reader's scope with their assisting branch; `assisted` False
    flags one no branch assists. Audited and masked like every household read."""
    street = limited_street(ctx.actor, "assistance.read", flt.street)
    async with command(ctx) as cmd:
        conn = cmd.connection
        if flt.community is not None:
            place = await find_place(conn, flt.community, missing=NotFound)
            authorize(ctx.actor, "assistance.read", place.target)
        rows = await conn.fetch(
            f"""
            SELECT {HOUSEHOLD_COLUMNS}, a.branch_id, b.name AS branch_name
            FROM care_household h
            LEFT JOIN assistance a ON a.household_id = h.id AND a.ends_on IS NULL
            LEFT JOIN party_branch b ON b.id = a.branch_id
            WHERE ($1::varchar IS NULL OR h.street = $1)
              AND ($2::varchar IS NULL OR h.community = $2)
              AND ($3 IS false OR a.id IS NULL)
            ORDER BY h.id LIMIT $4 OFFSET $5
            """,
            street,
            flt.community,
            flt.unassisted,
            flt.limit,
            flt.offset,
        )
        ids = [r["h_id"] for r in rows]
        await cmd.audit(
            "care.read", "care_household", street or "*", None, {"count": len(ids), "ids": ids}
        )
    contact = shows_contact(ctx.actor)
    return [
        HouseholdCover(
            household=household_brief(r, contact),
            assisted=r["branch_id"] is not None,
            branch_id=r["branch_id"],
            branch_name=r["branch_name"],
        )
        for r in rows
    ]
