"""Community plans as a sheet (CSV or XLSX), one row per part of a plan, so a street can
keep its plans in a spreadsheet and send them back: what is exported imports again.

Each row names its community and its `part`: `hazard` (type, min_level), `role` (role,
holder_kind and holder, deputy_kind and deputy), `task` (task_kind, people, minutes,
skills separated by `;`, note), `shelter` (shelter: its code), `assembly` (name, lat, lon,
note) or `pledge` (unit: the partner unit's code, item, quantity). A holder is named by
the person's or unit's code, a team by its number, the street squad by its street's code.
A community's rows become one new draft version of its plan, through `create_plan` (the
same checks and scope as a plan entered by hand); one bad row refuses the whole file, and
the refusal names every bad row and column.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from dispatch import spreadsheets
from dispatch.accounts.policy import authorize
from dispatch.db import Command, Context, command, query
from dispatch.errors import DomainError, Forbidden
from dispatch.people.sheets import Export
from dispatch.preparedness.plan_views import plan_views
from dispatch.preparedness.plans import create_plan
from dispatch.preparedness.schemas import (
    AssemblyPoint,
    HazardSpec,
    HolderKind,
    PlanCreate,
    PlanImportResult,
    PlanStatus,
    PlanView,
    PledgeSpec,
    RoleSpec,
    TaskTemplate,
)
from dispatch.sheet_rows import BadCell, Lookups, convert_cells
from dispatch.spreadsheets import RowErrors, checked_header

COLUMNS = (
    "community",
    "title",
    "part",
    "type",
    "min_level",
    "role",
    "holder_kind",
    "holder",
    "deputy_kind",
    "deputy",
    "task_kind",
    "people",
    "minutes",
    "skills",
    "shelter",
    "unit",
    "item",
    "quantity",
    "name",
    "lat",
    "lon",
    "note",
)
REQUIRED = ("community", "part")
ALIASES = {
    "社区": "community",
    "预案名称": "title",
    "部分": "part",
    "灾种": "type",
    "最低级别": "min_level",
    "角色": "role",
    "A角类型": "holder_kind",
    "A角": "holder",
    "B角类型": "deputy_kind",
    "B角": "deputy",
    "任务类型": "task_kind",
    "人数": "people",
    "时长分钟": "minutes",
    "技能": "skills",
    "安置点": "shelter",
    "结对单位": "unit",
    "物资": "item",
    "数量": "quantity",
    "名称": "name",
    "纬度": "lat",
    "经度": "lon",
    "备注": "note",
}
PART_ALIASES = {
    "灾种": "hazard",
    "角色": "role",
    "任务": "task",
    "安置点": "shelter",
    "集合点": "assembly",
    "承诺物资": "pledge",
}
# the plan's list each part goes to, and the column a refusal of it names first
SECTIONS = {
    "hazard": ("hazards", "type"),
    "role": ("roles", "role"),
    "task": ("tasks", "task_kind"),
    "shelter": ("shelters", "shelter"),
    "assembly": ("assembly_points", "name"),
    "pledge": ("pledges", "unit"),
}
# a refusal's field inside a part (roles[2].holder) -> the column it comes from
FIELD_COLUMNS = {"kind": "task_kind", "id": "holder"}


@dataclass
class _Draft:
    """One community's rows gathered into a plan body, and which row gave which part."""

    community: str
    first_row: int
    title: str | None = None
    parts: dict[str, list[Any]] = field(default_factory=dict)
    rows: dict[str, list[int]] = field(default_factory=dict)

    def add(self, section: str, value: Any, row: int) -> None:
        self.parts.setdefault(section, []).append(value)
        self.rows.setdefault(section, []).append(row)


# --- reading a row into a part ------------------------------------------------------------
async def _holder(look: Lookups, kind: str, ref: str, column: str) -> dict[str, Any]:
    try:
        holder_kind = HolderKind(kind)
    except ValueError:
        raise BadCell(f"{column}_kind", f"unknown kind {kind!r}") from None
    if not ref:
        raise BadCell(column, "required")
    if holder_kind is HolderKind.PERSON:
        found = await look.id_of("person", ref)
    elif holder_kind is HolderKind.UNIT:
        found = await look.id_of("partner_unit", ref)
    elif holder_kind is HolderKind.STREET_SQUAD:
        found = await look.conn.fetchval(
            "SELECT min(id) FROM team WHERE kind = 'street_squad' AND street = $1", ref
        )
    else:
        found = int(ref) if ref.isdigit() and await look.id_of("team", ref, "id") else None
    if found is None:
        raise BadCell(column, f"unknown {holder_kind.value} {ref}")
    return {"kind": holder_kind.value, "id": found}


async def _role(look: Lookups, raw: dict[str, str]) -> RoleSpec:
    body = {
        "role": raw["role"],
        "holder": await _holder(look, raw["holder_kind"], raw["holder"], "holder"),
        "deputy": await _holder(look, raw["deputy_kind"], raw["deputy"], "deputy"),
    }
    return convert_cells(body, RoleSpec)


async def _task(look: Lookups, raw: dict[str, str]) -> TaskTemplate:
    skills = [s.strip() for s in raw["skills"].split(";") if s.strip()]
    body = {k: raw[k] for k in ("people", "minutes", "note")}
    return convert_cells({**body, "kind": raw["task_kind"], "skills": skills}, TaskTemplate)


async def _shelter(look: Lookups, raw: dict[str, str]) -> int:
    found = await look.id_of("shelter", raw["shelter"]) if raw["shelter"] else None
    if found is None:
        raise BadCell("shelter", f"unknown shelter {raw['shelter']!r}")
    return found


async def _pledge(look: Lookups, raw: dict[str, str]) -> PledgeSpec:
    unit = await look.id_of("partner_unit", raw["unit"]) if raw["unit"] else None
    if unit is None:
        raise BadCell("unit", f"unknown partner unit {raw['unit']!r}")
    body = {"unit": unit, "item": raw["item"], "quantity": raw["quantity"]}
    return convert_cells(body, PledgeSpec)


async def _hazard(look: Lookups, raw: dict[str, str]) -> HazardSpec:
    body = {k: raw[k] for k in ("type", "min_level")}
    return convert_cells(body, HazardSpec)


async def _assembly(look: Lookups, raw: dict[str, str]) -> AssemblyPoint:
    body = {k: raw[k] for k in ("name", "lat", "lon", "note")}
    return convert_cells(body, AssemblyPoint)


PART_READERS: dict[str, Callable[[Lookups, dict[str, str]], Awaitable[Any]]] = {
    "hazard": _hazard,
    "role": _role,
    "task": _task,
    "shelter": _shelter,
    "assembly": _assembly,
    "pledge": _pledge,
}


async def _gather(
    conn: asyncpg.Connection, rows: list[tuple[int, dict[str, str]]], errors: RowErrors
) -> list[_Draft]:
    """The file's rows by community, in the order communities first appear."""
    look = Lookups(conn)
    drafts: dict[str, _Draft] = {}
    for n, raw in rows:
        draft = drafts.setdefault(raw["community"], _Draft(raw["community"], n))
        if raw["title"] and draft.title is None:
            draft.title = raw["title"]
        part = PART_ALIASES.get(raw["part"], raw["part"])
        if part not in SECTIONS:
            errors.add(n, "part", f"unknown part {raw['part']!r}; expected {', '.join(SECTIONS)}")
            continue
        try:
            draft.add(SECTIONS[part][0], await PART_READERS[part](look, raw), n)
        except BadCell as exc:
            errors.add(n, exc.column, str(exc))
    return list(drafts.values())


# --- writing the drafts -------------------------------------------------------------------
def _refused_at(draft: _Draft, exc: DomainError) -> tuple[int, str]:
    """The row and column a refusal of a draft comes from (`roles[2].holder`: the third
    role row, its holder column); the community's first row when it names no part."""
    found = re.match(r"^(\w+)\[(\d+)\](?:\.(\w+))?", exc.field or "")
    if found is None:
        column = exc.field if exc.field in COLUMNS else "community"
        return draft.first_row, column or "community"
    section, index, inner = found.group(1), int(found.group(2)), found.group(3)
    rows = draft.rows.get(section, [])
    row = rows[index] if index < len(rows) else draft.first_row
    part = next((p for p, (s, _) in SECTIONS.items() if s == section), "hazard")
    column = FIELD_COLUMNS.get(inner or "", inner or SECTIONS[part][1])
    return row, column if column in COLUMNS else SECTIONS[part][1]


async def _write(cmd: Command, drafts: list[_Draft], errors: RowErrors) -> list[int]:
    made = []
    for draft in drafts:
        body = {"community": draft.community, "title": draft.title, **draft.parts}
        try:
            plan = convert_cells(body, PlanCreate)
            async with cmd.connection.transaction():  # a savepoint: a refused plan leaves none
                made.append((await create_plan(cmd.ctx, plan)).id)
        except BadCell as exc:
            errors.add(draft.first_row, exc.column if exc.column in COLUMNS else "part", str(exc))
        except Forbidden:
            raise  # a community outside the importer's scope refuses the file, not a cell
        except DomainError as exc:
            errors.add(*_refused_at(draft, exc), exc.detail)
    return made


def _cells(values: list[str], position: dict[str, int]) -> dict[str, str]:
    """A row's cells by column, every column present (empty when the sheet lacks it)."""
    at = {c: position.get(c, len(values)) for c in COLUMNS}
    return {c: values[i].strip() if i < len(values) else "" for c, i in at.items()}


async def import_plans(ctx: Context, filename: str, content: bytes) -> PlanImportResult:
    """Plans from a sheet (columns as `COLUMNS`, or their Chinese names): one new draft per
    community, all or none."""
    authorize(ctx.actor, "preparedness.draft")
    header, body = await spreadsheets.read_table_off_loop(content, filename)
    errors, position = checked_header(
        header, len(body), columns=COLUMNS, required=REQUIRED, aliases=ALIASES
    )
    rows = [(n, _cells(values, position)) for n, values in body]
    async with command(ctx) as cmd:
        drafts = await _gather(cmd.connection, rows, errors)
        made = [] if errors.items else await _write(cmd, drafts, errors)
        if errors.items:
            raise errors.refusal(len(rows))
        await cmd.audit(
            "preparedness.plan_import",
            "file",
            filename[:80] or None,
            None,
            {"rows": len(rows), "plans": made},
        )
    return PlanImportResult(rows=len(rows), plans=made)


# --- export -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Codes:
    """The codes the sheet names records by, for the ids the plans hold."""

    people: dict[int, str]
    units: dict[int, str]
    squads: dict[int, str]  # a street squad's team id -> its street
    shelters: dict[int, str]

    def holder(self, kind: str, ref: int) -> str:
        table = {"person": self.people, "unit": self.units, "street_squad": self.squads}
        return table[kind].get(ref, str(ref)) if kind in table else str(ref)


async def _codes(conn: asyncpg.Connection, plans: list[PlanView]) -> _Codes:
    # holders of every kind by id; `holder()` picks the table by the holder's kind
    held = {h.id for p in plans for r in p.roles for h in (r.holder, r.deputy)}
    units = held | {x.unit for p in plans for x in p.pledges}
    shelters = {s for p in plans for s in p.shelters}

    async def pairs(sql: str, ids: set[int]) -> dict[int, str]:
        return {r["id"]: r["code"] for r in await conn.fetch(sql, sorted(ids))}

    return _Codes(
        await pairs("SELECT id, code FROM person WHERE id = ANY($1::int[])", held),
        await pairs("SELECT id, code FROM partner_unit WHERE id = ANY($1::int[])", units),
        await pairs("SELECT id, street AS code FROM team WHERE id = ANY($1::int[])", held),
        await pairs("SELECT id, code FROM shelter WHERE id = ANY($1::int[])", shelters),
    )


def _plan_rows(plan: PlanView, codes: _Codes) -> list[dict[str, Any]]:
    head = {"community": plan.community, "title": plan.title}
    rows: list[dict[str, Any]] = []
    rows += [{"part": "hazard", "type": h.type, "min_level": h.min_level} for h in plan.hazards]
    for r in plan.roles:
        rows.append(
            {
                "part": "role",
                "role": r.role,
                "holder_kind": r.holder.kind,
                "holder": codes.holder(r.holder.kind, r.holder.id),
                "deputy_kind": r.deputy.kind,
                "deputy": codes.holder(r.deputy.kind, r.deputy.id),
            }
        )
    for t in plan.tasks:
        rows.append(
            {
                "part": "task",
                "task_kind": t.kind,
                "people": t.people,
                "minutes": t.minutes,
                "skills": ";".join(t.skills),
                "note": t.note,
            }
        )
    rows += [{"part": "shelter", "shelter": codes.shelters.get(s, s)} for s in plan.shelters]
    rows += [
        {"part": "assembly", "name": a.name, "lat": a.lat, "lon": a.lon, "note": a.note}
        for a in plan.assembly_points
    ]
    rows += [
        {"part": "pledge", "unit": codes.units.get(x.unit), "item": x.item, "quantity": x.quantity}
        for x in plan.pledges
    ]
    return [head | r for r in rows]


async def export_plans(ctx: Context, fmt: str, street: str | None = None) -> Export:
    """The approved plans in the reader's scope (of one street), one row per part."""
    authorize(ctx.actor, "preparedness.read")
    scope = ctx.actor.street or ctx.actor.community
    async with query(ctx) as conn:
        rows = await conn.fetch(
            "SELECT * FROM community_plan WHERE status = $1 "
            "AND ($2::varchar IS NULL OR street = $2) "
            "AND ($3::varchar IS NULL OR street = $3 OR community = $3) ORDER BY community",
            PlanStatus.APPROVED.value,
            street,
            None if ctx.actor.is_district_wide else scope,
        )
        plans = await plan_views(conn, rows)
        codes = await _codes(conn, plans)
    table = [[r.get(c) for c in COLUMNS] for p in plans for r in _plan_rows(p, codes)]
    async with command(ctx) as cmd:
        await cmd.audit(
            "preparedness.plan_export",
            "export",
            "plans",
            None,
            {"format": fmt, "plans": len(plans), "rows": len(table), "street": street},
        )
    name = f"plans-{street or scope or 'district'}.{fmt}"
    if fmt == "csv":
        return Export(name, spreadsheets.CSV_MEDIA, spreadsheets.write_csv(COLUMNS, table))
    book = spreadsheets.write_xlsx([("plans", COLUMNS, table)])
    return Export(name, spreadsheets.XLSX_MEDIA, book)
