"""Care households: low-income families, students and elderly people living alone, with
their needs and the Party branch paired with them.

Read only by commanders and that community's workers, and every read (list or one) writes
an audit row, so reads go through `command()`, not `query()`.
"""

from __future__ import annotations

import asyncpg
import msgspec

from dispatch.accounts.policy import authorize
from dispatch.db import Command, Context, command, view_of
from dispatch.errors import Conflict, NotFound
from dispatch.people.lookups import (
    authorize_row,
    find_place,
    limit_to_scope,
    mask_address,
    mask_phone,
)
from dispatch.people.schemas import CareHouseholdCreate, CareHouseholdView, CareKind, Revealed

# the household columns an export and the synthetic district write, in one order
CARE_FIELDS = (
    "code",
    "kind",
    "community",
    "street",
    "head_name",
    "phone",
    "address",
    "members",
    "needs",
    "paired_branch",
)
CARE_COLUMNS = (
    "id, code, kind, community, street, head_name, phone, address, members, needs, "
    "paired_branch, note"
)


def care_view(row: asyncpg.Record) -> CareHouseholdView:
    return view_of(
        CareHouseholdView,
        row,
        kind=CareKind(row["kind"]),
        phone=mask_phone(row["phone"]),
        address=mask_address(row["address"]),
        needs=list(row["needs"]),
    )


async def list_care_households(
    ctx: Context,
    community: str | None = None,
    kind: CareKind | None = None,
    limit: int = 500,
    offset: int = 0,
) -> list[CareHouseholdView]:
    """Only commanders and the community's workers; the read itself is audited."""
    authorize(ctx.actor, "care.read")
    async with command(ctx) as cmd:
        _, code = await limit_to_scope(cmd.connection, ctx.actor, "care.read", None, community)
        rows = await cmd.connection.fetch(
            f"""
            SELECT {CARE_COLUMNS} FROM care_household
            WHERE ($1::varchar IS NULL OR community = $1) AND ($2::varchar IS NULL OR kind = $2)
            ORDER BY id LIMIT $3 OFFSET $4
            """,
            code,
            kind.value if kind else None,
            limit,
            offset,
        )
        await cmd.audit(
            "care.read",
            "care_household",
            code or "*",
            None,
            {"count": len(rows), "ids": [r["id"] for r in rows], "kind": kind, "offset": offset},
        )
    return [care_view(r) for r in rows]


async def _care_row(cmd: Command, household_id: int) -> asyncpg.Record:
    row = await cmd.connection.fetchrow(
        f"SELECT {CARE_COLUMNS} FROM care_household WHERE id=$1", household_id
    )
    if row is None:
        raise NotFound(f"no care household {household_id}", field="household_id")
    return row


async def get_care_household(ctx: Context, household_id: int) -> CareHouseholdView:
    authorize(ctx.actor, "care.read")
    async with command(ctx) as cmd:
        row = await _care_row(cmd, household_id)
        authorize_row(ctx.actor, "care.read", row)
        await cmd.audit("care.read", "care_household", household_id, None, {"count": 1})
    return care_view(row)


async def create_care_household(ctx: Context, new: CareHouseholdCreate) -> CareHouseholdView:
    authorize(ctx.actor, "care.manage")
    async with command(ctx) as cmd:
        place = await find_place(cmd.connection, new.community)
        authorize(ctx.actor, "care.manage", place.target)
        if await cmd.connection.fetchval("SELECT 1 FROM care_household WHERE code=$1", new.code):
            raise Conflict(f"care household {new.code} exists", field="code")
        row = await cmd.connection.fetchrow(
            f"""
            INSERT INTO care_household (code, kind, community, street, head_name, phone, address,
                                        members, needs, paired_branch, note, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {CARE_COLUMNS}
            """,
            new.code,
            new.kind.value,
            place.code,
            place.street,
            new.head_name,
            new.phone,
            new.address,
            new.members,
            sorted({n.value for n in new.needs}),
            new.paired_branch,
            new.note,
            cmd.now,
        )
        view = care_view(row)
        await cmd.audit("care.create", "care_household", view.id, None, msgspec.to_builtins(view))
        cmd.emit("care.created", {"id": view.id}, street=place.street, community=place.code)
    return view


async def reveal_care_household(ctx: Context, household_id: int) -> Revealed:
    authorize(ctx.actor, "care.reveal")
    async with command(ctx) as cmd:
        row = await _care_row(cmd, household_id)
        authorize_row(ctx.actor, "care.reveal", row)
        await cmd.audit(
            "care.reveal", "care_household", household_id, None, {"fields": ["phone", "address"]}
        )
    return Revealed(id=row["id"], name=row["head_name"], phone=row["phone"], address=row["address"])
