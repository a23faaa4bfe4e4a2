"""The synthetic district in the database: `synthetic.generate` makes the rows (pure), this
module writes them once, in one command, mapping codes to the ids the database gives.

Bulk rows go in with COPY; teams one by one, since their members need each team's id.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
import msgspec

from dispatch.accounts.policy import authorize
from dispatch.db import Context, command, query
from dispatch.people import synthetic
from dispatch.people.care import CARE_FIELDS
from dispatch.people.lookups import local_day
from dispatch.people.partners import PAIRING_FIELDS
from dispatch.people.registry import PERSON_FIELDS
from dispatch.people.schemas import SyntheticReport

PEOPLE_PRESENT = (
    "SELECT EXISTS (SELECT 1 FROM person) OR EXISTS (SELECT 1 FROM partner_unit) "
    "OR EXISTS (SELECT 1 FROM care_household)"
)


async def people_tables_empty(ctx: Context) -> bool:
    async with query(ctx) as conn:
        return not await conn.fetchval(PEOPLE_PRESENT)


async def _present(conn: asyncpg.Connection, only_into_empty: bool) -> bool:
    """Whether to stop: any people data (the demo), or the synthetic district itself (tests)."""
    if only_into_empty:
        return bool(await conn.fetchval(PEOPLE_PRESENT))
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM partner_unit WHERE code = $1)", synthetic.FIRST_UNIT
        )
    )


async def _places(
    conn: asyncpg.Connection,
) -> tuple[list[synthetic.Place], list[tuple[str, str]]]:
    """The communities and streets in the database, as the generator takes them."""
    places = [
        synthetic.Place(r["code"], r["name"], r["street"])
        for r in await conn.fetch("SELECT code, name, street FROM community ORDER BY code")
    ]
    streets = [(r["code"], r["name"]) for r in await conn.fetch("SELECT code, name FROM street")]
    return places, streets


async def _codes(conn: asyncpg.Connection, table: str) -> dict[str, int]:
    """code -> id of every row of `person` or `partner_unit`."""
    return {r["code"]: r["id"] for r in await conn.fetch(f"SELECT code, id FROM {table}")}


async def _write_units(
    conn: asyncpg.Connection, district: synthetic.SyntheticDistrict, now: datetime
) -> dict[str, int]:
    """The partner units; returns code -> id of every unit."""
    await conn.copy_records_to_table(
        "partner_unit",
        columns=["code", "name", "kind", "contact_name", "contact_phone", "created_at"],
        records=[
            (u["code"], u["name"], u["kind"], u["contact_name"], u["contact_phone"], now)
            for u in district.units
        ],
    )
    return await _codes(conn, "partner_unit")


async def _write_pairings(
    conn: asyncpg.Connection,
    district: synthetic.SyntheticDistrict,
    units: dict[str, int],
    now: datetime,
) -> None:
    await conn.copy_records_to_table(
        "pairing",
        columns=[*PAIRING_FIELDS, "created_at"],
        records=[
            (
                units[str(p["unit_code"])],
                p["community"],
                p["street"],
                p["signed_on"],
                p["valid_from"],
                p["valid_until"],
                p["pledged_people"],
                p["pledged_skills"],
                "active",
                now,
            )
            for p in district.pairings
        ],
    )


async def _write_people(
    conn: asyncpg.Connection,
    district: synthetic.SyntheticDistrict,
    units: dict[str, int],
    now: datetime,
) -> dict[str, int]:
    """The people; returns code -> id of every person."""
    await conn.copy_records_to_table(
        "person",
        columns=[*PERSON_FIELDS, "active", "created_at"],
        records=[
            (
                p["code"],
                p["name"],
                p["kind"],
                p["phone"],
                p["address"],
                p["street"],
                p["community"],
                p["party_branch"],
                units.get(str(p["unit_code"])),
                p["skills"],
                p["availability"],
                True,
                now,
            )
            for p in district.people
        ],
    )
    return await _codes(conn, "person")


async def _write_teams(
    conn: asyncpg.Connection,
    district: synthetic.SyntheticDistrict,
    units: dict[str, int],
    people: dict[str, int],
    now: datetime,
) -> None:
    """Teams one by one (each member row needs its team's id); the first member leads."""
    members = []
    for team in district.teams:
        codes = [str(c) for c in team["members"]]  # type: ignore[attr-defined]
        team_id = await conn.fetchval(
            """
            INSERT INTO team (name, kind, street, community, unit_id, leader_id, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
            """,
            team["name"],
            team["kind"],
            team["street"],
            team["community"],
            units.get(str(team["unit_code"])),
            people[codes[0]] if codes else None,
            now,
        )
        members += [(team_id, people[c], now) for c in codes]
    await conn.copy_records_to_table(
        "team_member", columns=["team_id", "person_id", "joined_at"], records=members
    )


async def _write_check_ins(
    conn: asyncpg.Connection,
    district: synthetic.SyntheticDistrict,
    people: dict[str, int],
    streets_of: dict[str, str],
    now: datetime,
) -> None:
    """Some people on duty, checked in minutes before now, so on-duty counts start non-zero."""
    await conn.copy_records_to_table(
        "check_in",
        columns=["person_id", "community", "street", "checked_in_at"],
        records=[
            (
                people[str(c["person"])],
                c["community"],
                streets_of[str(c["community"])],
                now - timedelta(minutes=int(str(c["minutes"]))),
            )
            for c in district.check_ins
        ],
    )


async def _write_care(
    conn: asyncpg.Connection, district: synthetic.SyntheticDistrict, now: datetime
) -> None:
    await conn.copy_records_to_table(
        "care_household",
        columns=[*CARE_FIELDS, "created_at"],
        records=[(*(h[c] for c in CARE_FIELDS), now) for h in district.care_households],
    )


def _report(district: synthetic.SyntheticDistrict) -> SyntheticReport:
    return SyntheticReport(
        loaded=True,
        units=len(district.units),
        pairings=len(district.pairings),
        people=len(district.people),
        squads=sum(1 for t in district.teams if t["kind"] == "street_squad"),
        care_households=len(district.care_households),
        checked_in=len(district.check_ins),
    )


async def load_synthetic(
    ctx: Context, seed: int = synthetic.SEED, *, only_into_empty: bool = True
) -> SyntheticReport:
    """Write the synthetic population (fixed seed) once.

    By default only into empty people tables (the demo); `only_into_empty=False` (tests)
    adds it beside other rows unless it is there already. Some people are checked in
    (minutes before now), so on-duty counts start non-zero.
    """
    authorize(ctx.actor, "people.import")
    async with command(ctx) as cmd:
        conn, now = cmd.connection, cmd.now
        await conn.execute("LOCK TABLE person, partner_unit, care_household IN EXCLUSIVE MODE")
        if await _present(conn, only_into_empty):
            return SyntheticReport(False, 0, 0, 0, 0, 0, 0)
        places, streets = await _places(conn)
        district = synthetic.generate(places, streets, local_day(now), seed)
        units = await _write_units(conn, district, now)
        await _write_pairings(conn, district, units, now)
        people = await _write_people(conn, district, units, now)
        await _write_teams(conn, district, units, people, now)
        streets_of = {p.code: p.street for p in places}
        await _write_check_ins(conn, district, people, streets_of, now)
        await _write_care(conn, district, now)
        report = _report(district)
        await cmd.audit(
            "people.load_synthetic", "synthetic", str(seed), None, msgspec.to_builtins(report)
        )
        cmd.emit("people.loaded", msgspec.to_builtins(report))
    return report
