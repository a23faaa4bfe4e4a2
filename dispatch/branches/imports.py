"""Branches, assistance pairings and visits imported from a CSV or XLSX sheet (one kind per
file): all rows or none, every bad cell named by row and column.

Each row passes the rules one entered by hand passes, through the same service functions
(`registry`, `assistance`), inside the import's one transaction: a refusal of any row rolls
back every row before it. People, units, households and branches are named by their codes;
lists (members, people) are separated by `;`. A branch row whose code exists redefines that
branch. Commanders import (branches are district records).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

import msgspec

from dispatch import spreadsheets
from dispatch.accounts.policy import authorize
from dispatch.branches.assistance import add_visit, create_assistance
from dispatch.branches.registry import create_branch, update_branch
from dispatch.branches.schemas import (
    AssistanceCreate,
    BranchCreate,
    BranchSource,
    BranchUpdate,
    VisitCreate,
)
from dispatch.db import Command, Context, command
from dispatch.errors import DomainError
from dispatch.sheet_rows import BadCell, Lookups, convert_cells
from dispatch.spreadsheets import RowErrors, checked_header


class ImportKind(StrEnum):
    BRANCHES = "branches"
    ASSISTANCE = "assistance"
    VISITS = "visits"


class BranchImportResult(msgspec.Struct):
    what: ImportKind
    rows: int
    created: int
    updated: int


COLUMNS: dict[ImportKind, tuple[str, ...]] = {
    ImportKind.BRANCHES: (
        "code",
        "name",
        "kind",
        "unit_code",
        "organisation",
        "secretary_code",
        "member_codes",
    ),
    ImportKind.ASSISTANCE: ("branch_code", "household_code", "starts_on", "ends_on", "pledge"),
    ImportKind.VISITS: (
        "branch_code",
        "household_code",
        "visited_on",
        "kind",
        "hours",
        "people",
        "note",
    ),
}
REQUIRED: dict[ImportKind, tuple[str, ...]] = {
    ImportKind.BRANCHES: ("code", "name", "kind"),
    ImportKind.ASSISTANCE: ("branch_code", "household_code", "starts_on"),
    ImportKind.VISITS: ("branch_code", "household_code", "visited_on", "kind", "hours", "people"),
}
ALIASES = {
    "编号": "code",
    "支部编号": "code",
    "支部名称": "name",
    "名称": "name",
    "类型": "kind",
    "共建单位编号": "unit_code",
    "所属组织": "organisation",
    "书记编号": "secretary_code",
    "党员编号": "member_codes",
    "支部": "branch_code",
    "住户编号": "household_code",
    "开始日期": "starts_on",
    "结束日期": "ends_on",
    "承诺": "pledge",
    "日期": "visited_on",
    "走访类型": "kind",
    "时长": "hours",
    "人员编号": "people",
    "备注": "note",
}


async def _ids(look: Lookups, table: str, column: str, cell: str) -> list[int]:
    found = []
    for code in (c.strip() for c in cell.split(";") if c.strip()):
        person = await look.id_of(table, code)
        if person is None:
            raise BadCell(column, f"unknown code {code}")
        found.append(person)
    return found


async def _one(look: Lookups, table: str, column: str, cell: str) -> int | None:
    if not cell:
        return None
    return (await _ids(look, table, column, cell))[0]


async def _branch_row(cmd: Command, look: Lookups, raw: dict[str, str]) -> bool:
    """Create or redefine one branch; True if it was created."""
    members = await _ids(look, "person", "member_codes", raw.get("member_codes", ""))
    values = {
        "name": raw.get("name"),
        "unit_id": await _one(look, "partner_unit", "unit_code", raw.get("unit_code", "")),
        "organisation": raw.get("organisation") or None,
        "secretary_id": await _one(look, "person", "secretary_code", raw.get("secretary_code", "")),
        "members": members,
    }
    current = await look.id_of("party_branch", raw["code"])
    if current is not None:
        await update_branch(cmd.ctx, current, convert_cells(values, BranchUpdate))
        return False
    new = convert_cells({**values, "code": raw["code"], "kind": raw.get("kind")}, BranchCreate)
    await create_branch(cmd.ctx, new, source=BranchSource.IMPORT)
    look.forget("party_branch")
    return True


async def _pair_ids(look: Lookups, raw: dict[str, str]) -> tuple[int, int]:
    branch = await _one(look, "party_branch", "branch_code", raw.get("branch_code", ""))
    household = await _one(look, "care_household", "household_code", raw.get("household_code", ""))
    if branch is None or household is None:
        raise BadCell("branch_code" if branch is None else "household_code", "required")
    return branch, household


async def _assistance_row(cmd: Command, look: Lookups, raw: dict[str, str]) -> bool:
    branch, household = await _pair_ids(look, raw)
    body: dict[str, Any] = {k: raw.get(k) for k in ("starts_on", "ends_on", "pledge")}
    body |= {"branch_id": branch, "household_id": household}
    await create_assistance(cmd.ctx, convert_cells(body, AssistanceCreate))
    return True


async def _visit_row(cmd: Command, look: Lookups, raw: dict[str, str]) -> bool:
    branch, household = await _pair_ids(look, raw)
    pairing = await cmd.connection.fetchval(
        "SELECT id FROM assistance WHERE branch_id = $1 AND household_id = $2"
        " ORDER BY ends_on IS NULL DESC, starts_on DESC LIMIT 1",
        branch,
        household,
    )
    if pairing is None:
        raise BadCell("household_code", "the branch has never assisted this household")
    people = await _ids(look, "person", "people", raw.get("people", ""))
    body = {k: raw.get(k) for k in ("visited_on", "kind", "hours", "note")}
    await add_visit(cmd.ctx, pairing, convert_cells({**body, "people": people}, VisitCreate))
    return True


ROW_WRITERS: dict[ImportKind, Callable[[Command, Lookups, dict[str, str]], Awaitable[bool]]] = {
    ImportKind.BRANCHES: _branch_row,
    ImportKind.ASSISTANCE: _assistance_row,
    ImportKind.VISITS: _visit_row,
}


async def _write(
    cmd: Command, what: ImportKind, rows: list[tuple[int, dict[str, str]]]
) -> tuple[int, int]:
    """Every row through its service function; any refusal noted by row and column, and
    the file refused (the transaction rolls back) if there is one."""
    errors = RowErrors(COLUMNS[what])
    look = Lookups(cmd.connection)
    created = updated = 0
    for n, raw in rows:
        try:
            async with cmd.connection.transaction():  # a savepoint: a refused row leaves none
                made = await ROW_WRITERS[what](cmd, look, raw)
        except BadCell as exc:
            errors.add(n, exc.column, str(exc))
            continue
        except DomainError as exc:
            errors.add(n, _column(what, exc.field), exc.detail)
            continue
        created, updated = created + made, updated + (not made)
    if errors.items:
        raise errors.refusal(len(rows))
    return created, updated


def _column(what: ImportKind, field: str | None) -> str:
    """The sheet's column a service refusal's field comes from."""
    named = {
        "members": "member_codes",
        "secretary_id": "secretary_code",
        "unit_id": "unit_code",
        "branch_id": "branch_code",
        "household_id": "household_code",
    }
    column = named.get(field or "", field or "")
    return column if column in COLUMNS[what] else COLUMNS[what][0]


async def import_sheet(
    ctx: Context, what: ImportKind, filename: str, content: bytes
) -> BranchImportResult:
    """One kind of record from a sheet (columns as `COLUMNS`, or their Chinese names)."""
    authorize(ctx.actor, "branches.import")
    header, body = await spreadsheets.read_table_off_loop(content, filename)
    _, position = checked_header(
        header, len(body), columns=COLUMNS[what], required=REQUIRED[what], aliases=ALIASES
    )
    rows = [
        (n, {c: values[i].strip() if i < len(values) else "" for c, i in position.items()})
        for n, values in body
    ]
    async with command(ctx) as cmd:
        created, updated = await _write(cmd, what, rows)
        await cmd.audit(
            "branches.import",
            "file",
            filename[:80] or None,
            None,
            {"what": what.value, "rows": len(rows), "created": created, "updated": updated},
        )
    return BranchImportResult(what=what, rows=len(rows), created=created, updated=updated)
