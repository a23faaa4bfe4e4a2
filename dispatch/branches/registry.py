"""Branches (党支部): the register, read in the reader's scope (`scope.py`), changed by
commanders; members are active Party members of the people registry, each in one branch.

Adding a member writes the branch's name into the person's `party_branch` (the free text it
replaces), so the people registry and its exports say the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from dispatch.accounts.policy import authorize
from dispatch.branches.schemas import (
    BranchCreate,
    BranchKind,
    BranchMemberView,
    BranchSource,
    BranchUpdate,
    BranchView,
    CommunityMembers,
)
from dispatch.branches.scope import (
    BRANCH_STREETS,
    BRANCHES_IN_STREET,
    authorize_branch,
    limited_street,
)
from dispatch.db import Command, Context, command, query, view_of
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.people.lookups import find_place, mask_phone

BRANCH_SELECT = f"""
    SELECT b.id, b.code, b.name, b.kind, b.unit_id, u.name AS unit_name, b.organisation,
           b.secretary_id, s.name AS secretary_name, b.source, b.created_at, b.updated_at,
           (SELECT count(*) FROM branch_member m WHERE m.branch_id = b.id)::int AS members,
           (SELECT count(*) FROM assistance a
            WHERE a.branch_id = b.id AND a.ends_on IS NULL)::int AS households,
           ARRAY(SELECT x.street FROM ({BRANCH_STREETS.format(b="b.id")}) x ORDER BY 1) AS streets
    FROM party_branch b LEFT JOIN partner_unit u ON u.id = b.unit_id
    LEFT JOIN person s ON s.id = b.secretary_id
"""
MEMBER_SELECT = """
    SELECT p.id AS person_id, p.code, p.name, p.phone, p.street, p.community,
           c.name AS community_name
    FROM branch_member m JOIN person p ON p.id = m.person_id
    LEFT JOIN community c ON c.code = p.community
    WHERE m.branch_id = $1 AND ($2::varchar IS NULL OR p.community = $2)
    ORDER BY p.community NULLS LAST, p.id
"""


def to_view(row: asyncpg.Record) -> BranchView:
    return view_of(
        BranchView,
        row,
        kind=BranchKind(row["kind"]),
        source=BranchSource(row["source"]),
        illustrative=row["source"] == BranchSource.DEMO,
        streets=list(row["streets"]),
    )


def audit_of(view: BranchView) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(view)
    return data


async def branch_row(conn: asyncpg.Connection, branch_id: int, field: str = "branch_id") -> Any:
    row = await conn.fetchrow(BRANCH_SELECT + " WHERE b.id = $1", branch_id)
    if row is None:
        raise NotFound(f"no branch {branch_id}", field=field)
    return row


@dataclass(frozen=True)
class BranchFilter:
    street: str | None = None
    community: str | None = None
    kind: BranchKind | None = None
    unit_id: int | None = None
    limit: int = 200
    offset: int = 0


async def list_branches(ctx: Context, flt: BranchFilter) -> list[BranchView]:
    """Branches by street (lying in it), community (a member lives there), kind or unit,
    within the reader's scope."""
    street = limited_street(ctx.actor, "branches.read", flt.street)
    async with query(ctx) as conn:
        if flt.community is not None:
            place = await find_place(conn, flt.community, missing=NotFound)
            authorize(ctx.actor, "branches.read", place.target)
        rows = await conn.fetch(
            BRANCH_SELECT
            + f"""
            WHERE ($1::varchar IS NULL OR b.id IN ({BRANCHES_IN_STREET.format(s="$1")}))
              AND ($2::varchar IS NULL OR b.id IN (
                  SELECT m.branch_id FROM branch_member m JOIN person p ON p.id = m.person_id
                  WHERE p.community = $2))
              AND ($3::varchar IS NULL OR b.kind = $3) AND ($4::int IS NULL OR b.unit_id = $4)
            ORDER BY b.code LIMIT $5 OFFSET $6
            """,
            street,
            flt.community,
            flt.kind.value if flt.kind else None,
            flt.unit_id,
            flt.limit,
            flt.offset,
        )
    return [to_view(r) for r in rows]


async def count_branches(ctx: Context, street: str | None = None) -> int:
    """How many branches lie in the reader's scope (in `street` if given)."""
    limited = limited_street(ctx.actor, "branches.read", street)
    async with query(ctx) as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM party_branch b WHERE $1::varchar IS NULL OR b.id IN ("
            + BRANCHES_IN_STREET.format(s="$1")
            + ")",
            limited,
        )
    return count


async def get_branch(ctx: Context, branch_id: int) -> BranchView:
    authorize(ctx.actor, "branches.read")
    async with query(ctx) as conn:
        row = await branch_row(conn, branch_id)
    authorize_branch(ctx.actor, "branches.read", row["code"], row["streets"])
    return to_view(row)


def _member_view(row: asyncpg.Record) -> BranchMemberView:
    return view_of(BranchMemberView, row, phone=mask_phone(row["phone"]))


async def branch_members(
    ctx: Context, branch_id: int, community: str | None = None
) -> list[CommunityMembers]:
    """The branch's members grouped by home community (双报到), phones masked; a street
    leader meets only the members of their street."""
    authorize(ctx.actor, "branches.read")
    async with query(ctx) as conn:
        row = await branch_row(conn, branch_id)
        authorize_branch(ctx.actor, "branches.read", row["code"], row["streets"])
        street = limited_street(ctx.actor, "branches.read", None)
        rows = await conn.fetch(MEMBER_SELECT, branch_id, community)
    groups: dict[str | None, CommunityMembers] = {}
    for r in rows:
        if street is not None and r["street"] != street:
            continue
        group = groups.setdefault(
            r["community"],
            CommunityMembers(r["community"], r["community_name"], r["street"], []),
        )
        group.members.append(_member_view(r))
    return list(groups.values())


# --- changes ------------------------------------------------------------------------------


async def _check_unit(conn: asyncpg.Connection, unit_id: int | None) -> None:
    if unit_id is not None and not await conn.fetchval(
        "SELECT 1 FROM partner_unit WHERE id = $1", unit_id
    ):
        raise InvalidInput(f"no partner unit {unit_id}", field="unit_id")


def check_kind(kind: BranchKind, unit_id: int | None, organisation: str | None) -> None:
    """An employer's branch has its partner unit; a two-new branch names its organisation
    unless it is a partner unit itself."""
    if kind is BranchKind.EMPLOYER and unit_id is None:
        raise InvalidInput(
            "an employer's branch names its partner unit",
            field="unit_id",
            code="branches.unit_needed",
        )
    if unit_id is None and organisation is None:
        raise InvalidInput(
            "a two-new branch names its organisation or partner unit",
            field="organisation",
            code="branches.organisation_needed",
        )


async def _check_free(conn: asyncpg.Connection, code: str | None, name: str | None) -> None:
    for column, value in (("code", code), ("name", name)):
        if value is not None and await conn.fetchval(
            f"SELECT 1 FROM party_branch WHERE {column} = $1", value
        ):
            raise Conflict(
                f"a branch with {column} {value} exists",
                field=column,
                code=f"branches.{column}_taken",
                params={column: value},
            )


async def _checked_members(cmd: Command, branch_id: int | None, ids: Sequence[int]) -> list[int]:
    """The people, locked in id order (two changes adding one person queue), each an active
    Party member in no other branch."""
    wanted = sorted(set(ids))
    rows = await cmd.connection.fetch(
        """
        SELECT p.id, p.name, p.kind, p.active, m.branch_id, b.name AS branch_name
        FROM person p LEFT JOIN branch_member m ON m.person_id = p.id
        LEFT JOIN party_branch b ON b.id = m.branch_id
        WHERE p.id = ANY($1::int[]) ORDER BY p.id FOR UPDATE OF p
        """,
        wanted,
    )
    found = {r["id"]: r for r in rows}
    for person in wanted:
        _check_member(found.get(person), person, branch_id)
    return wanted


def _check_member(row: asyncpg.Record | None, person: int, branch_id: int | None) -> None:
    if row is None:
        raise InvalidInput(f"no person {person}", field="members", params={"person": person})
    if row["kind"] != "party_member" or not row["active"]:
        raise InvalidInput(
            f"{row['name']} is not an active Party member",
            field="members",
            code="branches.not_party_member",
            params={"person": row["name"]},
        )
    if row["branch_id"] is not None and row["branch_id"] != branch_id:
        raise Conflict(
            f"{row['name']} is a member of {row['branch_name']}",
            field="members",
            code="branches.member_taken",
            params={"person": row["name"], "branch": row["branch_name"]},
        )


async def _set_members(cmd: Command, branch_id: int, name: str, members: list[int]) -> None:
    conn = cmd.connection
    await conn.execute(
        "DELETE FROM branch_member WHERE branch_id = $1 AND person_id <> ALL($2::int[])",
        branch_id,
        members,
    )
    await conn.execute(
        """
        INSERT INTO branch_member (branch_id, person_id, joined_at)
        SELECT $1, x, $3 FROM unnest($2::int[]) x ON CONFLICT (person_id) DO NOTHING
        """,
        branch_id,
        members,
        cmd.now,
    )
    await conn.execute(
        "UPDATE person SET party_branch = $2, updated_at = $3 WHERE id = ANY($1::int[])"
        " AND party_branch IS DISTINCT FROM $2",
        members,
        name,
        cmd.now,
    )


def _with_secretary(members: list[int], secretary: int | None) -> list[int]:
    """The secretary is a member of their branch."""
    return sorted({*members, secretary}) if secretary is not None else members


async def create_branch(
    ctx: Context, new: BranchCreate, *, source: BranchSource = BranchSource.ENTERED
) -> BranchView:
    authorize(ctx.actor, "branches.manage")
    check_kind(new.kind, new.unit_id, new.organisation)
    async with command(ctx) as cmd:
        conn = cmd.connection
        await _check_unit(conn, new.unit_id)
        await _check_free(conn, new.code, new.name)
        members = await _checked_members(cmd, None, _with_secretary(new.members, new.secretary_id))
        branch_id = await conn.fetchval(
            """
            INSERT INTO party_branch (code, name, kind, unit_id, organisation, secretary_id,
                                      source, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id
            """,
            new.code,
            new.name,
            new.kind.value,
            new.unit_id,
            new.organisation,
            new.secretary_id,
            source.value,
            cmd.now,
        )
        await _set_members(cmd, branch_id, new.name, members)
        view = to_view(await branch_row(conn, branch_id))
        await cmd.audit("branches.create", "party_branch", branch_id, None, audit_of(view))
        cmd.emit("branch.created", {"id": branch_id, "code": new.code})
    return view


def _given(value: Any, current: Any) -> Any:
    return current if value is msgspec.UNSET else value


async def update_branch(ctx: Context, branch_id: int, change: BranchUpdate) -> BranchView:
    """Change what is given; `members` replaces the list (the secretary stays in it)."""
    authorize(ctx.actor, "branches.manage")
    async with command(ctx) as cmd:
        conn = cmd.connection
        await conn.execute("SELECT 1 FROM party_branch WHERE id = $1 FOR UPDATE", branch_id)
        row = await branch_row(conn, branch_id)
        before = to_view(row)
        name = _given(change.name, row["name"])
        unit_id = _given(change.unit_id, row["unit_id"])
        organisation = _given(change.organisation, row["organisation"])
        secretary = _given(change.secretary_id, row["secretary_id"])
        check_kind(BranchKind(row["kind"]), unit_id, organisation)
        await _check_unit(conn, unit_id)
        await _check_free(conn, None, name if name != row["name"] else None)
        current = [r["person_id"] for r in await conn.fetch(MEMBER_SELECT, branch_id, None)]
        wanted = _with_secretary(_given(change.members, current), secretary)
        members = await _checked_members(cmd, branch_id, wanted)
        await conn.execute(
            "UPDATE party_branch SET name = $2, unit_id = $3, organisation = $4,"
            " secretary_id = $5, updated_at = $6 WHERE id = $1",
            branch_id,
            name,
            unit_id,
            organisation,
            secretary,
            cmd.now,
        )
        await _set_members(cmd, branch_id, name, members)
        after = to_view(await branch_row(conn, branch_id))
        await cmd.audit(
            "branches.update", "party_branch", branch_id, audit_of(before), audit_of(after)
        )
        cmd.emit("branch.updated", {"id": branch_id, "code": after.code})
    return after
