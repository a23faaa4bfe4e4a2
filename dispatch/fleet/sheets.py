"""Vehicles imported from a CSV or XLSX sheet: all rows or none, every bad cell named by
row and column; a row whose code exists redefines that vehicle.

The file is read in a reader process with the limits of every import
(`dispatch.spreadsheets`); each row passes the rules a vehicle entered by hand passes
(`vehicles.checked_values`), and a depot outside the importer's scope refuses the file.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Any

import asyncpg
import msgspec

from dispatch import spreadsheets
from dispatch.accounts.policy import authorize
from dispatch.db import Command, Context, command
from dispatch.errors import DomainError, Forbidden
from dispatch.fleet.schemas import FleetImportResult, VehicleCreate, VehicleSource
from dispatch.fleet.vehicles import (
    VEHICLE_FIELDS,
    checked_values,
    insert_vehicle,
    rewrite_vehicle,
)
from dispatch.places import lookups as places
from dispatch.spreadsheets import RowErrors, checked_header

IMPORT_COLUMNS = VEHICLE_FIELDS
REQUIRED = ("code", "depot", "kind")
HEADER_ALIASES = {
    "编号": "code",
    "车辆编号": "code",
    "储备点": "depot",
    "车型": "kind",
    "通行类别": "lane_class",
    "车牌": "name",
    "名称": "name",
    "载重": "payload_kg",
    "载重kg": "payload_kg",
    "容积": "volume_m3",
    "容积m3": "volume_m3",
    "所需人数": "crew_needed",
    "状态": "status",
    "班次开始": "shift_start",
    "班次结束": "shift_end",
    "备注": "note",
}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_AT = re.compile(r"at `\$\.([a-z_0-9]+)`|required field `([a-z_0-9]+)`")


def _time_cell(value: str) -> time:
    """`8:00`, `08:00` or `08:00:00` (a spreadsheet's time cell arrives as the last)."""
    found = _TIME.match(value)
    if not found:
        raise ValueError(value)
    hour, minute, second = (int(g or 0) for g in found.groups())
    return time(hour, minute, second)


def _cells(n: int, raw: dict[str, str], errors: RowErrors) -> dict[str, Any] | None:
    """One row as the body of a new vehicle, or None when a cell is wrong (noted)."""
    body: dict[str, Any] = {c: v for c, v in raw.items() if v != ""}
    before = len(errors.items)
    for column in ("shift_start", "shift_end"):
        if column in body:
            try:
                body[column] = _time_cell(body[column])
            except ValueError:
                errors.add(n, column, f"not a time of day (HH:MM): {raw[column]!r}")
    if len(errors.items) > before:
        return None
    try:
        new = msgspec.convert(body, VehicleCreate, strict=False)
    except msgspec.ValidationError as exc:
        found = _AT.search(str(exc))
        column = (found.group(1) or found.group(2)) if found else "code"
        errors.add(n, column, str(exc).split(" - at ")[0])
        return None
    try:
        return checked_values(new)
    except DomainError as exc:
        errors.add(n, exc.field or "code", exc.detail)
        return None


def _parse(header: list[str], body: list[tuple[int, list[str]]]) -> list[tuple[int, dict]]:
    errors, position = checked_header(
        header, len(body), columns=IMPORT_COLUMNS, required=REQUIRED, aliases=HEADER_ALIASES
    )
    parsed: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for n, values in body:
        raw = {c: values[i].strip() if i < len(values) else "" for c, i in position.items()}
        code = raw.get("code", "")
        if code in seen:
            errors.add(n, "code", f"duplicate of row {seen[code]}")
            continue
        seen[code] = n
        row = _cells(n, raw, errors)
        if row is not None:
            parsed.append((n, row))
    if errors.items:
        raise errors.refusal(len(body))
    return parsed


async def import_vehicles(ctx: Context, filename: str, content: bytes) -> FleetImportResult:
    """Vehicles from a sheet (columns as `IMPORT_COLUMNS`, or their Chinese names): any bad
    row refuses the whole file, and nothing is written."""
    authorize(ctx.actor, "fleet.import")
    header, body = await spreadsheets.read_table_off_loop(content, filename)
    parsed = _parse(header, body)
    async with command(ctx) as cmd:
        created, updated = await _write(cmd, parsed)
        codes = [row["code"] for _, row in parsed]
        await cmd.audit(
            "fleet.import",
            "file",
            filename[:80] or None,
            None,
            {"rows": len(parsed), "created": created, "updated": updated, "codes": codes},
        )
        cmd.emit("vehicle.imported", {"created": created, "updated": updated})
    return FleetImportResult(rows=len(parsed), created=created, updated=updated, vehicles=codes)


async def _depot(cmd: Command, n: int, code: str, seen: dict[str, Any]) -> asyncpg.Record | None:
    """A row's depot, refused for the whole file (403) outside the importer's scope."""
    if code not in seen:
        seen[code] = await places.depot_or_none(cmd.connection, code)
        if seen[code] is not None and not cmd.ctx.actor.covers(places.depot_target(seen[code])):
            raise Forbidden(
                f"row {n}: depot {code} is outside the scope of {cmd.ctx.actor.username}",
                field="depot",
                row=n,
            )
    row: asyncpg.Record | None = seen[code]
    return row


async def _write(cmd: Command, parsed: list[tuple[int, dict[str, Any]]]) -> tuple[int, int]:
    """Insert new codes and redefine existing ones; errors found here refuse the file."""
    conn = cmd.connection
    errors = RowErrors(IMPORT_COLUMNS)
    depots: dict[str, Any] = {}
    created = updated = 0
    for n, row in parsed:
        if await _depot(cmd, n, row["depot"], depots) is None:
            errors.add(n, "depot", f"unknown depot {row['depot']}")
            continue
        current = await conn.fetchrow(
            "SELECT v.id, v.retired_at, d.code AS depot, d.street FROM vehicle v "
            "JOIN depot d ON d.code = v.depot WHERE v.code = $1 FOR UPDATE OF v",
            row["code"],
        )
        if current is None:
            await insert_vehicle(cmd, row, VehicleSource.IMPORT)
            created += 1
            continue
        await _depot(cmd, n, current["depot"], depots)  # moving it away needs its old scope
        if current["retired_at"] is not None:
            errors.add(n, "code", f"vehicle {row['code']} is retired")
            continue
        await rewrite_vehicle(cmd, current["id"], row)
        updated += 1
    if errors.items:
        raise errors.refusal(len(parsed))
    return created, updated
