"""Partner units (the central, municipal and state employers and the "two new" organisations
paired with communities) and their pairing agreements.

An agreement counts only while active and in force today (`COUNTING`, `effective_status`);
past its end date it is still shown, marked expired.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg
import msgspec

from dispatch.accounts.policy import authorize
from dispatch.db import Context, command, query, view_of
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.people.lookups import (
    authorize_row,
    find_place,
    limit_to_scope,
    local_day,
    mask_phone,
)
from dispatch.people.schemas import (
    CommunityPairings,
    EffectiveStatus,
    PairingCreate,
    PairingStatus,
    PairingStatusChange,
    PairingView,
    UnitCreate,
    UnitKind,
    UnitView,
)
from dispatch.people.skills import check_skills

UNIT_COLUMNS = "u.id, u.code, u.name, u.kind, u.contact_name, u.contact_phone"
COUNTING = "p.status = 'active' AND p.valid_from <= $1 AND p.valid_until >= $1"


def _unit_view(row: asyncpg.Record) -> UnitView:
    return view_of(
        UnitView,
        row,
        kind=UnitKind(row["kind"]),
        contact_phone=mask_phone(row["contact_phone"]),
        pairings_counting=row["counting"],
        communities=list(row["communities"] or []),
    )


def _units_where(where: str) -> str:
    """Units with their agreements in force today ($1: today), limited by `where` ($2)."""
    return f"""
        SELECT {UNIT_COLUMNS}, count(p.id)::int AS counting,
               array_remove(array_agg(p.community ORDER BY p.community), NULL) AS communities
        FROM partner_unit u LEFT JOIN pairing p ON p.unit_id = u.id AND {COUNTING}
        WHERE {where}
        GROUP BY u.id ORDER BY u.code
    """


async def list_units(ctx: Context, kind: UnitKind | None = None) -> list[UnitView]:
    authorize(ctx.actor, "units.read")
    async with query(ctx) as conn:
        rows = await conn.fetch(
            _units_where("$2::varchar IS NULL OR u.kind = $2"),
            local_day(ctx.now()),
            kind.value if kind else None,
        )
    return [_unit_view(r) for r in rows]


async def get_unit(ctx: Context, unit_id: int) -> UnitView:
    authorize(ctx.actor, "units.read")
    async with query(ctx) as conn:
        row = await conn.fetchrow(_units_where("u.id = $2"), local_day(ctx.now()), unit_id)
    if row is None:
        raise NotFound(f"no partner unit {unit_id}", field="unit_id")
    return _unit_view(row)


async def check_unit(conn: asyncpg.Connection, unit_id: int) -> None:
    """Refuse an unknown partner unit (a pairing, a person or a team names it)."""
    if not await conn.fetchval("SELECT 1 FROM partner_unit WHERE id=$1", unit_id):
        raise InvalidInput(f"unknown partner unit {unit_id}", field="unit_id")


def _unit_audit(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "contact_phone": mask_phone(row.get("contact_phone"))}


async def create_unit(ctx: Context, new: UnitCreate) -> UnitView:
    authorize(ctx.actor, "units.manage")
    async with command(ctx) as cmd:
        clash = await cmd.connection.fetchrow(
            "SELECT code, name FROM partner_unit WHERE code=$1 OR name=$2", new.code, new.name
        )
        if clash is not None:
            field = "code" if clash["code"] == new.code else "name"
            raise Conflict(f"a partner unit with this {field} exists", field=field)
        unit_id = await cmd.connection.fetchval(
            """
            INSERT INTO partner_unit (code, name, kind, contact_name, contact_phone, created_at)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
            """,
            new.code,
            new.name,
            new.kind.value,
            new.contact_name,
            new.contact_phone,
            cmd.now,
        )
        await cmd.audit(
            "units.create", "partner_unit", unit_id, None, _unit_audit(msgspec.to_builtins(new))
        )
        cmd.emit("unit.created", {"id": unit_id, "code": new.code})
    return await get_unit(ctx, unit_id)


# the terms of an agreement, in the order imports, exports and the synthetic district use
PAIRING_TERMS = (
    "signed_on",
    "valid_from",
    "valid_until",
    "pledged_people",
    "pledged_skills",
    "status",
)
# the agreement columns an import and the synthetic district write, in one order
PAIRING_FIELDS = ("unit_id", "community", "street", *PAIRING_TERMS)
PAIRING_SELECT = """
    SELECT p.id, p.unit_id, u.code AS unit_code, u.name AS unit_name, u.kind AS unit_kind,
           p.community, c.name AS community_name, p.street, p.signed_on, p.valid_from,
           p.valid_until, p.pledged_people, p.pledged_skills, p.status, p.note
    FROM pairing p JOIN partner_unit u ON u.id = p.unit_id JOIN community c ON c.code = p.community
"""


async def _pairing_row(conn: asyncpg.Connection, pairing_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(PAIRING_SELECT + " WHERE p.id = $1", pairing_id)


def effective_status(
    status: str, valid_from: date, valid_until: date, today: date
) -> EffectiveStatus:
    """Past its end date an agreement stops counting, and says so."""
    if status != PairingStatus.ACTIVE:
        return EffectiveStatus(status)
    if today < valid_from:
        return EffectiveStatus.PENDING
    if today > valid_until:
        return EffectiveStatus.EXPIRED
    return EffectiveStatus.ACTIVE


def pairing_view(row: asyncpg.Record, today: date) -> PairingView:
    data = dict(row)
    shown = effective_status(data["status"], data["valid_from"], data["valid_until"], today)
    data["unit_kind"] = UnitKind(data["unit_kind"])
    data["status"] = PairingStatus(data["status"])
    data["pledged_skills"] = list(data["pledged_skills"])
    return PairingView(**data, effective_status=shown, counts=shown is EffectiveStatus.ACTIVE)


async def list_pairings(
    ctx: Context,
    community: str | None = None,
    street: str | None = None,
    unit_id: int | None = None,
    counting: bool | None = None,
) -> list[PairingView]:
    """Pairings, filtered; `counting=true` keeps only agreements in force today."""
    async with query(ctx) as conn:
        street, community = await limit_to_scope(
            conn, ctx.actor, "pairings.read", street, community
        )
        today = local_day(ctx.now())
        rows = await conn.fetch(
            PAIRING_SELECT
            + f"""
            WHERE ($2::varchar IS NULL OR p.community = $2)
              AND ($3::varchar IS NULL OR p.street = $3)
              AND ($4::int IS NULL OR p.unit_id = $4)
              AND ($5::boolean IS NULL OR ({COUNTING}) = $5)
            ORDER BY p.community, p.valid_from, p.id
            """,
            today,
            community,
            street,
            unit_id,
            counting,
        )
    return [pairing_view(r, today) for r in rows]


async def pairings_by_community(ctx: Context, street: str | None = None) -> list[CommunityPairings]:
    """Every community with its agreements in force: the coverage a commander checks."""
    async with query(ctx) as conn:
        street, community = await limit_to_scope(conn, ctx.actor, "pairings.read", street, None)
        rows = await conn.fetch(
            f"""
            SELECT c.code AS community, c.name, c.street,
                   count(p.id) FILTER (WHERE {COUNTING})::int AS counting,
                   count(p.id) FILTER (WHERE NOT ({COUNTING}))::int AS not_counting,
                   coalesce(sum(p.pledged_people) FILTER (WHERE {COUNTING}), 0)::int
                       AS pledged_people,
                   array_remove(array_agg(u.name ORDER BY u.code) FILTER (WHERE {COUNTING}), NULL)
                       AS units
            FROM community c
            LEFT JOIN pairing p ON p.community = c.code
            LEFT JOIN partner_unit u ON u.id = p.unit_id
            WHERE ($2::varchar IS NULL OR c.street = $2) AND ($3::varchar IS NULL OR c.code = $3)
            GROUP BY c.code ORDER BY c.code
            """,
            local_day(ctx.now()),
            street,
            community,
        )
    return [CommunityPairings(**{**dict(r), "units": list(r["units"] or [])}) for r in rows]


async def get_pairing(ctx: Context, pairing_id: int) -> PairingView:
    async with query(ctx) as conn:
        row = await _pairing_row(conn, pairing_id)
    if row is None:
        raise NotFound(f"no pairing {pairing_id}", field="pairing_id")
    authorize_row(ctx.actor, "pairings.read", row)
    return pairing_view(row, local_day(ctx.now()))


async def create_pairing(ctx: Context, new: PairingCreate) -> PairingView:
    authorize(ctx.actor, "pairings.manage")
    async with command(ctx) as cmd:
        place = await find_place(cmd.connection, new.community)
        authorize(ctx.actor, "pairings.manage", place.target)
        await check_unit(cmd.connection, new.unit_id)
        if new.valid_until < new.valid_from:
            raise InvalidInput("valid_until is before valid_from", field="valid_until")
        skills = await check_skills(cmd.connection, new.pledged_skills, "pledged_skills")
        if await cmd.connection.fetchval(
            "SELECT 1 FROM pairing WHERE unit_id=$1 AND community=$2 AND valid_from=$3",
            new.unit_id,
            new.community,
            new.valid_from,
        ):
            raise Conflict("this unit already has an agreement with this community from that date")
        pairing_id = await cmd.connection.fetchval(
            """
            INSERT INTO pairing (unit_id, community, street, signed_on, valid_from, valid_until,
                                 pledged_people, pledged_skills, status, note, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10) RETURNING id
            """,
            new.unit_id,
            new.community,
            place.street,
            new.signed_on,
            new.valid_from,
            new.valid_until,
            new.pledged_people,
            skills,
            new.note,
            cmd.now,
        )
        await cmd.audit("pairings.create", "pairing", pairing_id, None, msgspec.to_builtins(new))
        cmd.emit("pairing.created", {"id": pairing_id}, street=place.street, community=place.code)
        row = await _pairing_row(cmd.connection, pairing_id)
    return pairing_view(row, local_day(ctx.now()))


async def change_pairing_status(
    ctx: Context, pairing_id: int, change: PairingStatusChange
) -> PairingView:
    authorize(ctx.actor, "pairings.manage")
    async with command(ctx) as cmd:
        row = await cmd.connection.fetchrow(
            "SELECT id, community, street, status, note FROM pairing WHERE id=$1 FOR UPDATE",
            pairing_id,
        )
        if row is None:
            raise NotFound(f"no pairing {pairing_id}", field="pairing_id")
        authorize_row(ctx.actor, "pairings.manage", row)
        if row["status"] == PairingStatus.TERMINATED and change.status != PairingStatus.TERMINATED:
            raise Conflict(
                "a terminated agreement cannot be reopened; sign a new one", field="status"
            )
        await cmd.connection.execute(
            "UPDATE pairing SET status=$2, note=coalesce($3, note), updated_at=$4 WHERE id=$1",
            pairing_id,
            change.status.value,
            change.note,
            cmd.now,
        )
        await cmd.audit(
            "pairings.status",
            "pairing",
            pairing_id,
            {"status": row["status"]},
            {"status": change.status.value, "note": change.note},
        )
        cmd.emit(
            "pairing.status",
            {"id": pairing_id, "status": change.status.value},
            street=row["street"],
            community=row["community"],
        )
        updated = await _pairing_row(cmd.connection, pairing_id)
    return pairing_view(updated, local_day(ctx.now()))
