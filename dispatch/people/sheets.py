"""Spreadsheets: import of people, partner units and pairings (CSV or XLSX, all rows or
none, every bad cell named by row and column) and export with phones and addresses masked.

Reading and writing the files themselves is `dispatch.spreadsheets`, shared with stock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from dispatch import spreadsheets
from dispatch.accounts.policy import authorize
from dispatch.db import Command, Context, command
from dispatch.people.care import CARE_COLUMNS, CARE_FIELDS, care_view
from dispatch.people.lookups import limit_to_scope, local_day, mask_address, mask_phone
from dispatch.people.partners import PAIRING_FIELDS, PAIRING_SELECT, PAIRING_TERMS, pairing_view
from dispatch.people.registry import PERSON_COLUMNS, PERSON_FIELDS
from dispatch.people.schemas import (
    Availability,
    ExportKind,
    ImportKind,
    ImportReport,
    PairingStatus,
    PersonKind,
    UnitKind,
)

PEOPLE_COLUMNS = (
    "code",
    "name",
    "kind",
    "phone",
    "address",
    "community",
    "street",
    "party_branch",
    "unit_code",
    "skills",
    "availability",
)
UNIT_IMPORT_COLUMNS = ("code", "name", "kind", "contact_name", "contact_phone")
PAIRING_COLUMNS = ("unit_code", "community", *PAIRING_TERMS, "note")
REQUIRED = {
    ImportKind.PEOPLE: ("code", "name", "kind"),
    ImportKind.UNITS: ("code", "name", "kind"),
    ImportKind.PAIRINGS: ("unit_code", "community", "signed_on", "valid_from", "valid_until"),
}
COLUMNS = {
    ImportKind.PEOPLE: PEOPLE_COLUMNS,
    ImportKind.UNITS: UNIT_IMPORT_COLUMNS,
    ImportKind.PAIRINGS: PAIRING_COLUMNS,
}
MASKED = re.compile(r"\*")
PHONE = re.compile(r"^1\d{10}$")
CODE = re.compile(r"^[A-Za-z0-9_\-]{1,20}$")


# the headers a Chinese office's own sheet has, read as the documented columns
_PERSON_ALIASES = {
    "编号": "code",
    "人员编号": "code",
    "姓名": "name",
    "类别": "kind",
    "人员类别": "kind",
    "电话": "phone",
    "手机": "phone",
    "手机号": "phone",
    "联系电话": "phone",
    "住址": "address",
    "地址": "address",
    "社区": "community",
    "所在社区": "community",
    "街道": "street",
    "党支部": "party_branch",
    "所在党支部": "party_branch",
    "单位编号": "unit_code",
    "共建单位编号": "unit_code",
    "技能": "skills",
    "服务时间": "availability",
    "可服务时间": "availability",
}
_UNIT_ALIASES = {
    "编号": "code",
    "单位编号": "code",
    "名称": "name",
    "单位名称": "name",
    "类别": "kind",
    "单位类别": "kind",
    "联系人": "contact_name",
    "联系电话": "contact_phone",
}
_PAIRING_ALIASES = {
    "单位编号": "unit_code",
    "共建单位编号": "unit_code",
    "社区": "community",
    "签约日期": "signed_on",
    "生效日期": "valid_from",
    "有效期至": "valid_until",
    "承诺人数": "pledged_people",
    "承诺技能": "pledged_skills",
    "状态": "status",
    "备注": "note",
}
ALIASES = {
    ImportKind.PEOPLE: _PERSON_ALIASES,
    ImportKind.UNITS: _UNIT_ALIASES,
    ImportKind.PAIRINGS: _PAIRING_ALIASES,
}


def _list_cell(value: str) -> list[str]:
    return sorted({v.strip() for v in re.split(r"[;,；，、\s]+", value) if v.strip()})


def _date_cell(value: str) -> date:
    return date.fromisoformat(value.strip()[:10])


@dataclass
class _Lookups:
    communities: dict[str, str]  # code -> street
    streets: set[str]
    skills: set[str]
    units: dict[str, int]  # code -> id


async def _lookups(conn: asyncpg.Connection) -> _Lookups:
    return _Lookups(
        communities={
            r["code"]: r["street"] for r in await conn.fetch("SELECT code, street FROM community")
        },
        streets={r["code"] for r in await conn.fetch("SELECT code FROM street")},
        skills={r["code"] for r in await conn.fetch("SELECT code FROM skill")},
        units={r["code"]: r["id"] for r in await conn.fetch("SELECT code, id FROM partner_unit")},
    )


def _check_text(
    errors: spreadsheets.RowErrors,
    n: int,
    column: str,
    value: str,
    most: int,
    required: bool = False,
) -> None:
    if required and not value:
        errors.add(n, column, "required")
    elif len(value) > most:
        errors.add(n, column, f"at most {most} characters")


def _phone_cell(errors: spreadsheets.RowErrors, n: int, column: str, value: str) -> None:
    if value and MASKED.search(value):
        errors.add(
            n, column, "a masked number (with ****) cannot be imported; give the full number"
        )
    elif value and not PHONE.match(value):
        errors.add(n, column, "expected an 11-digit mobile number")


def _skills_cell(
    errors: spreadsheets.RowErrors, n: int, column: str, value: str, look: _Lookups
) -> list[str]:
    skills = _list_cell(value)
    unknown = [s for s in skills if s not in look.skills]
    if unknown:
        errors.add(n, column, f"unknown skill {', '.join(unknown)}")
    return skills


def _person_cells(
    errors: spreadsheets.RowErrors, n: int, cell: dict[str, str], look: _Lookups
) -> dict[str, Any]:
    _check_text(errors, n, "name", cell["name"], 50, required=True)
    _check_text(errors, n, "address", cell["address"], 200)
    _check_text(errors, n, "party_branch", cell["party_branch"], 120)
    _phone_cell(errors, n, "phone", cell["phone"])
    kind = cell["kind"]
    if kind not in {k.value for k in PersonKind}:
        errors.add(n, "kind", f"expected one of {', '.join(k.value for k in PersonKind)}")
    availability = cell["availability"] or "any"
    if availability not in {a.value for a in Availability}:
        errors.add(n, "availability", f"expected one of {', '.join(a.value for a in Availability)}")
    community, street = cell["community"] or None, cell["street"] or None
    if community is not None:
        if community not in look.communities:
            errors.add(n, "community", f"unknown community {community}")
        elif street is not None and look.communities[community] != street:
            errors.add(n, "street", f"community {community} is not in street {street}")
        street = look.communities.get(community, street)
    elif street is None:
        errors.add(n, "community", "a community (or, for squad members, a street) is required")
    elif street not in look.streets:
        errors.add(n, "street", f"unknown street {street}")
    unit_id = None
    if cell["unit_code"]:
        unit_id = look.units.get(cell["unit_code"])
        if unit_id is None:
            errors.add(n, "unit_code", f"unknown partner unit {cell['unit_code']}")
    skills = _skills_cell(errors, n, "skills", cell["skills"], look)
    if kind == PersonKind.PARTY_MEMBER and not cell["party_branch"]:
        errors.add(n, "party_branch", "an on-duty Party member names their employer's branch")
    if kind == PersonKind.PARTY_MEMBER and community is None:
        errors.add(n, "community", "an on-duty Party member registers in a home community")
    if kind == PersonKind.COMMUNITY_WORKER and community is None:
        errors.add(n, "community", "a community worker needs a community")
    if kind == PersonKind.UNIT_MEMBER and not cell["unit_code"]:
        errors.add(n, "unit_code", "a partner-unit team member needs the unit")
    return {
        "code": cell["code"],
        "name": cell["name"],
        "kind": kind,
        "phone": cell["phone"] or None,
        "address": cell["address"] or None,
        "street": street,
        "community": community,
        "party_branch": cell["party_branch"] or None,
        "unit_id": unit_id,
        "skills": skills,
        "availability": availability,
    }


def _unit_cells(
    errors: spreadsheets.RowErrors, n: int, cell: dict[str, str], look: _Lookups
) -> dict[str, Any]:
    _check_text(errors, n, "name", cell["name"], 120, required=True)
    _check_text(errors, n, "contact_name", cell["contact_name"], 50)
    _phone_cell(errors, n, "contact_phone", cell["contact_phone"])
    if cell["kind"] not in {k.value for k in UnitKind}:
        errors.add(n, "kind", f"expected one of {', '.join(k.value for k in UnitKind)}")
    return {
        "code": cell["code"],
        "name": cell["name"],
        "kind": cell["kind"],
        "contact_name": cell["contact_name"] or None,
        "contact_phone": cell["contact_phone"] or None,
    }


def _pairing_cells(
    errors: spreadsheets.RowErrors, n: int, cell: dict[str, str], look: _Lookups
) -> dict[str, Any]:
    unit_id = look.units.get(cell["unit_code"])
    if unit_id is None:
        errors.add(n, "unit_code", f"unknown partner unit {cell['unit_code']}")
    if cell["community"] not in look.communities:
        errors.add(n, "community", f"unknown community {cell['community']}")
    dates: dict[str, date | None] = {}
    for column in ("signed_on", "valid_from", "valid_until"):
        try:
            dates[column] = _date_cell(cell[column])
        except ValueError:
            errors.add(n, column, "expected a date like 2026-11-27")
            dates[column] = None
    if dates["valid_from"] and dates["valid_until"] and dates["valid_until"] < dates["valid_from"]:
        errors.add(n, "valid_until", "is before valid_from")
    pledged = 0
    if cell["pledged_people"]:
        try:
            pledged = int(cell["pledged_people"])
            if not 0 <= pledged <= 10000:
                raise ValueError
        except ValueError:
            errors.add(n, "pledged_people", "expected a whole number from 0 to 10000")
    skills = _skills_cell(errors, n, "pledged_skills", cell["pledged_skills"], look)
    status = cell["status"] or "active"
    if status not in {s.value for s in PairingStatus}:
        errors.add(n, "status", f"expected one of {', '.join(s.value for s in PairingStatus)}")
    _check_text(errors, n, "note", cell["note"], 500)
    return {
        "unit_id": unit_id,
        "community": cell["community"],
        "street": look.communities.get(cell["community"]),
        **dates,
        "pledged_people": pledged,
        "pledged_skills": skills,
        "status": status,
        "note": cell["note"] or None,
    }


def _parse_rows(
    what: ImportKind, header: list[str], body: list[tuple[int, list[str]]], look: _Lookups
) -> list[dict[str, Any]]:
    """Every row checked; any error anywhere refuses the whole file, naming row and column."""
    columns = COLUMNS[what]
    errors, position = spreadsheets.checked_header(
        header, len(body), columns=columns, required=REQUIRED[what], aliases=ALIASES[what]
    )
    parse = {
        ImportKind.PEOPLE: _person_cells,
        ImportKind.UNITS: _unit_cells,
        ImportKind.PAIRINGS: _pairing_cells,
    }[what]
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for n, raw in body:  # n: the row number the spreadsheet shows
        if len(raw) > len(header):
            errors.add(n, header[-1] or "?", "more cells than columns in the header")
        cell = {
            c: (raw[position[c]].strip() if c in position and position[c] < len(raw) else "")
            for c in columns
        }
        if "code" in columns:
            if not CODE.match(cell["code"]):
                errors.add(n, "code", "expected 1-20 letters, digits, _ or -")
            elif cell["code"] in seen:
                errors.add(n, "code", f"duplicate of row {seen[cell['code']]}")
            seen.setdefault(cell["code"], n)
        rows.append(parse(errors, n, cell, look))
    if errors.items:
        raise errors.refusal(len(rows))
    return rows


async def _upsert_person(cmd: Command, row: dict[str, Any]) -> tuple[bool, str]:
    """Insert or update one person by code: (inserted, key)."""
    inserted = await cmd.connection.fetchval(
        """
        INSERT INTO person (code, name, kind, phone, address, street, community,
                            party_branch, unit_id, skills, availability, active, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, true, $12)
        ON CONFLICT (code) DO UPDATE SET name=EXCLUDED.name, kind=EXCLUDED.kind,
            phone=EXCLUDED.phone, address=EXCLUDED.address, street=EXCLUDED.street,
            community=EXCLUDED.community, party_branch=EXCLUDED.party_branch,
            unit_id=EXCLUDED.unit_id, skills=EXCLUDED.skills,
            availability=EXCLUDED.availability, updated_at=EXCLUDED.created_at
        RETURNING (xmax = 0)
        """,
        *(row[c] for c in PERSON_FIELDS),
        cmd.now,
    )
    return bool(inserted), row["code"]


async def _upsert_unit(cmd: Command, row: dict[str, Any]) -> tuple[bool, str]:
    """Insert or update one partner unit by code: (inserted, key)."""
    inserted = await cmd.connection.fetchval(
        """
        INSERT INTO partner_unit (code, name, kind, contact_name, contact_phone, created_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (code) DO UPDATE SET name=EXCLUDED.name, kind=EXCLUDED.kind,
            contact_name=EXCLUDED.contact_name, contact_phone=EXCLUDED.contact_phone,
            updated_at=EXCLUDED.created_at
        RETURNING (xmax = 0)
        """,
        row["code"],
        row["name"],
        row["kind"],
        row["contact_name"],
        row["contact_phone"],
        cmd.now,
    )
    return bool(inserted), row["code"]


async def _upsert_pairing(cmd: Command, row: dict[str, Any]) -> tuple[bool, str]:
    """Insert or update one pairing by unit, community and start: (inserted, key)."""
    inserted = await cmd.connection.fetchval(
        """
        INSERT INTO pairing (unit_id, community, street, signed_on, valid_from, valid_until,
                             pledged_people, pledged_skills, status, note, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (unit_id, community, valid_from) DO UPDATE SET
            signed_on=EXCLUDED.signed_on, valid_until=EXCLUDED.valid_until,
            pledged_people=EXCLUDED.pledged_people, pledged_skills=EXCLUDED.pledged_skills,
            status=EXCLUDED.status, note=EXCLUDED.note, updated_at=EXCLUDED.created_at
        RETURNING (xmax = 0)
        """,
        *(row[c] for c in (*PAIRING_FIELDS, "note")),
        cmd.now,
    )
    return bool(inserted), f"{row['unit_id']}:{row['community']}:{row['valid_from']}"


async def _upsert_rows(
    cmd: Command, what: ImportKind, rows: list[dict[str, Any]]
) -> tuple[int, int, list[str]]:
    upsert = {
        ImportKind.PEOPLE: _upsert_person,
        ImportKind.UNITS: _upsert_unit,
        ImportKind.PAIRINGS: _upsert_pairing,
    }[what]
    created = updated = 0
    keys: list[str] = []
    for row in rows:
        inserted, key = await upsert(cmd, row)
        keys.append(key)
        created += inserted
        updated += not inserted
    return created, updated, keys


async def import_table(
    ctx: Context,
    what: ImportKind,
    content: bytes,
    filename: str | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Import people, partner units or pairings from CSV or XLSX: all rows or none.

    A row whose code (people, units) or unit+community+valid_from (pairings) exists updates
    it; any bad cell refuses the file with every error's row and column.
    """
    authorize(ctx.actor, "people.import")
    header, body = await spreadsheets.read_table_off_loop(content, filename)
    return await _import_rows(ctx, what, header, body, filename, dry_run)


async def _import_rows(
    ctx: Context,
    what: ImportKind,
    header: list[str],
    body: list[tuple[int, list[str]]],
    filename: str | None,
    dry_run: bool,
) -> ImportReport:
    async with command(ctx) as cmd:
        rows = _parse_rows(what, header, body, await _lookups(cmd.connection))
        if dry_run:
            return ImportReport(what=what, rows=len(rows), created=0, updated=0, dry_run=True)
        created, updated, keys = await _upsert_rows(cmd, what, rows)
        await cmd.audit(
            "people.import",
            "import",
            what.value,
            None,
            {
                "file": filename,
                "rows": len(rows),
                "created": created,
                "updated": updated,
                "keys": keys[:5000],
            },
        )
        cmd.emit("people.imported", {"what": what.value, "created": created, "updated": updated})
    return ImportReport(what=what, rows=len(rows), created=created, updated=updated, dry_run=False)


@dataclass(frozen=True)
class Export:
    filename: str
    media_type: str
    content: bytes


Rows = tuple[list[str], list[list[Any]]]


async def _export_care(conn: asyncpg.Connection) -> Rows:
    rows = await conn.fetch(f"SELECT {CARE_COLUMNS} FROM care_household ORDER BY id")
    columns = list(CARE_FIELDS)
    cares = [care_view(r) for r in rows]
    return columns, [
        [getattr(v, c) if c != "needs" else ";".join(v.needs) for c in columns] for v in cares
    ]


async def _export_units(conn: asyncpg.Connection) -> Rows:
    rows = await conn.fetch(
        "SELECT code, name, kind, contact_name, contact_phone FROM partner_unit ORDER BY code"
    )
    return list(UNIT_IMPORT_COLUMNS), [
        [*list(r.values())[:4], mask_phone(r["contact_phone"])] for r in rows
    ]


async def _export_pairings(
    conn: asyncpg.Connection, street: str | None, community: str | None, today: date
) -> Rows:
    rows = await conn.fetch(
        PAIRING_SELECT + " WHERE ($1::varchar IS NULL OR p.street = $1)"
        " AND ($2::varchar IS NULL OR p.community = $2)"
        " ORDER BY p.community, p.valid_from, p.id",
        street,
        community,
    )
    views = [pairing_view(r, today) for r in rows]
    columns = [*PAIRING_COLUMNS, "effective_status", "counts"]
    return columns, [
        [
            v.unit_code,
            v.community,
            v.signed_on,
            v.valid_from,
            v.valid_until,
            v.pledged_people,
            ";".join(v.pledged_skills),
            v.status.value,
            v.note,
            v.effective_status.value,
            v.counts,
        ]
        for v in views
    ]


async def _export_people(
    conn: asyncpg.Connection, street: str | None, community: str | None
) -> Rows:
    rows = await conn.fetch(
        f"""
        SELECT {PERSON_COLUMNS}, u.code AS unit_code FROM person p
        LEFT JOIN partner_unit u ON u.id = p.unit_id
        WHERE ($1::varchar IS NULL OR p.street = $1) AND ($2::varchar IS NULL OR p.community = $2)
        ORDER BY p.id
        """,
        street,
        community,
    )
    return list(PEOPLE_COLUMNS), [
        [
            r["code"],
            r["name"],
            r["kind"],
            mask_phone(r["phone"]),
            mask_address(r["address"]),
            r["community"],
            r["street"],
            r["party_branch"],
            r["unit_code"],
            ";".join(r["skills"]),
            r["availability"],
        ]
        for r in rows
    ]


async def _export_rows(ctx: Context, cmd: Command, what: ExportKind) -> Rows:
    """The header and rows of one export; people and pairings limited to the caller's scope."""
    conn = cmd.connection
    if what is ExportKind.CARE_HOUSEHOLDS:
        return await _export_care(conn)
    if what is ExportKind.UNITS:
        return await _export_units(conn)
    street, community = await limit_to_scope(conn, ctx.actor, "people.export", None, None)
    if what is ExportKind.PAIRINGS:
        return await _export_pairings(conn, street, community, local_day(cmd.now))
    return await _export_people(conn, street, community)


async def export_table(ctx: Context, what: ExportKind, fmt: str) -> Export:
    """CSV or XLSX, phones and addresses masked; care households only for a commander who
    asks for them (audited); people and pairings limited to the caller's scope."""
    action = "care.export" if what is ExportKind.CARE_HOUSEHOLDS else "people.export"
    if what is ExportKind.UNITS:
        action = "units.read"
    authorize(ctx.actor, action)
    async with command(ctx) as cmd:
        columns, rows = await _export_rows(ctx, cmd, what)
        await cmd.audit(
            "people.export", "export", what.value, None, {"format": fmt, "rows": len(rows)}
        )
    stamp = local_day(ctx.now()).isoformat()
    name = f"{what.value}-{stamp}.{fmt}"
    if fmt == "csv":
        return Export(name, spreadsheets.CSV_MEDIA, spreadsheets.write_csv(columns, rows))
    return Export(
        name, spreadsheets.XLSX_MEDIA, spreadsheets.write_xlsx([(what.value, columns, rows)])
    )
