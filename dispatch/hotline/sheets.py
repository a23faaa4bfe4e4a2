"""Tickets imported from a CSV or XLSX export of the 12345 platform: all rows or none,
every bad cell named by row and column (rows as the spreadsheet numbers them, the header
is row 1). Each row passes the rules of a call entered by hand: its category and urgency
(codes or their Chinese names), a phone not masked, a time not in the future (a time
without a zone is Beijing time), a number not taken; its community given or matched from
the address; its deadlines by the rules in force. District roles only (the platform's
export is the district's). The rows are written in a few statements, not row by row, so a
1,000-row export takes well under a second of database time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from dispatch import spreadsheets
from dispatch.clock import SHANGHAI
from dispatch.db import Command, Context, command
from dispatch.hotline.access import allow
from dispatch.hotline.matching import Named, match_address
from dispatch.hotline.records import normal_phone
from dispatch.hotline.schemas import Category, ImportResult, TicketCreate, Urgency
from dispatch.hotline.tickets import place_names
from dispatch.spreadsheets import RowErrors, checked_header

IMPORT_COLUMNS = (
    "number",
    "received_at",
    "caller_name",
    "caller_phone",
    "address",
    "community",
    "street",
    "category",
    "urgency",
    "content",
)
REQUIRED = ("category", "content")
HEADER_ALIASES = {
    "工单编号": "number",
    "编号": "number",
    "来电时间": "received_at",
    "受理时间": "received_at",
    "来电人": "caller_name",
    "来电人姓名": "caller_name",
    "来电号码": "caller_phone",
    "联系电话": "caller_phone",
    "地址": "address",
    "诉求地址": "address",
    "社区": "community",
    "社区编码": "community",
    "街道": "street",
    "街道编码": "street",
    "类别": "category",
    "诉求类别": "category",
    "紧急程度": "urgency",
    "内容": "content",
    "诉求内容": "content",
}
CATEGORY_NAMES = {
    "应急物资": Category.EMERGENCY_SUPPLIES,
    "疏散与安全": Category.EVACUATION_SAFETY,
    "疏散安全": Category.EVACUATION_SAFETY,
    "水电气热": Category.UTILITIES,
    "老人与困难家庭": Category.CARE_HOUSEHOLD,
    "道路": Category.ROAD,
    "其他": Category.OTHER,
}
URGENCY_NAMES = {"特急": Urgency.CRITICAL, "紧急": Urgency.URGENT, "一般": Urgency.NORMAL}


def _received(value: str, now: datetime) -> datetime:
    moment = datetime.fromisoformat(value.replace("/", "-"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    if moment > now:
        raise ValueError("a call cannot be received in the future")
    return moment


def _row(n: int, raw: dict[str, str], now: datetime, errors: RowErrors) -> TicketCreate | None:
    """One row as a call, or None when a cell is wrong (noted)."""
    body: dict[str, Any] = {c: v for c, v in raw.items() if v != ""}
    before = len(errors.items)
    if "category" in body:
        body["category"] = CATEGORY_NAMES.get(body["category"], body["category"])
    if "urgency" in body:
        body["urgency"] = URGENCY_NAMES.get(body["urgency"], body["urgency"])
    if "*" in body.get("caller_phone", ""):
        errors.add(n, "caller_phone", "a masked number (with *) cannot be imported")
    if "received_at" in body:
        try:
            body["received_at"] = _received(body["received_at"], now)
        except ValueError as exc:
            errors.add(n, "received_at", f"not a time of receipt: {exc}")
    if len(errors.items) > before:
        return None
    try:
        return msgspec.convert(body, TicketCreate, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        column = next((c for c in IMPORT_COLUMNS if f"`$.{c}`" in message), "content")
        if "required field" in message:
            column = message.split("`")[1]
        errors.add(n, column, message.split(" - at ")[0])
        return None


def _parse(
    header: list[str], body: list[tuple[int, list[str]]], now: datetime
) -> list[tuple[int, TicketCreate]]:
    errors, position = checked_header(
        header, len(body), columns=IMPORT_COLUMNS, required=REQUIRED, aliases=HEADER_ALIASES
    )
    parsed: list[tuple[int, TicketCreate]] = []
    seen: dict[str, int] = {}
    for n, values in body:
        raw = {c: values[i].strip() if i < len(values) else "" for c, i in position.items()}
        number = raw.get("number", "")
        if number and number in seen:
            errors.add(n, "number", f"duplicate of row {seen[number]}")
            continue
        seen[number] = n
        row = _row(n, raw, now, errors)
        if row is not None:
            parsed.append((n, row))
    if errors.items:
        raise errors.refusal(len(body))
    return parsed


@dataclass
class World:
    """What every row is checked and placed against, read once."""

    communities: list[Named]
    streets: list[Named]
    windows: dict[tuple[str, str], tuple[timedelta, timedelta]]


async def _world(conn: asyncpg.Connection) -> World:
    communities, streets = await place_names(conn)
    windows = {
        (r["urgency"], r["category"]): (
            timedelta(minutes=r["response_minutes"]),
            timedelta(minutes=r["resolution_minutes"]),
        )
        for r in await conn.fetch("SELECT * FROM hotline_deadline")
    }
    return World(communities, streets, windows)


def _place(n: int, call: TicketCreate, world: World, errors: RowErrors) -> tuple[Any, Any, Any]:
    """(street, community, source) of a row: as given (checked), else from the address."""
    street_of = {c.code: c.street for c in world.communities}
    if call.community is not None:
        if call.community not in street_of:
            errors.add(n, "community", f"unknown community {call.community}")
        elif call.street is not None and street_of[call.community] != call.street:
            errors.add(n, "community", f"community {call.community} is not in {call.street}")
        return street_of.get(call.community), call.community, "given"
    if call.street is not None:
        if call.street not in {s.code for s in world.streets}:
            errors.add(n, "street", f"unknown street {call.street}")
        return call.street, None, "given"
    match = match_address(call.address, world.communities, world.streets)
    return match.street, match.community, "address" if match.street else None


INSERT = """
INSERT INTO hotline_ticket (id, number, received_at, caller_name, caller_phone, address,
    street, community, place_source, category, urgency, content, response_due,
    resolution_due, created_at, created_by)
SELECT r.*, $15::timestamptz, $16::varchar FROM unnest($1::bigint[], $2::varchar[],
    $3::timestamptz[], $4::varchar[], $5::varchar[], $6::varchar[], $7::varchar[],
    $8::varchar[], $9::varchar[], $10::varchar[], $11::varchar[], $12::varchar[],
    $13::timestamptz[], $14::timestamptz[]) AS r
"""
STEPS = """
INSERT INTO hotline_ticket_step (ticket, at, actor, step, to_status, street, community, note)
SELECT t.id, $2, $3, 'create', 'received', t.street, t.community, 'import'
FROM hotline_ticket t WHERE t.id = ANY($1::bigint[])
"""


async def _write(cmd: Command, parsed: list[tuple[int, TicketCreate]], world: World) -> list[str]:
    """Every row in one statement (ids drawn first, numbers generated from them); errors
    found against the database refuse the file."""
    conn = cmd.connection
    errors = RowErrors(IMPORT_COLUMNS)
    given = [call.number for _, call in parsed if call.number]
    taken = {
        r["number"]
        for r in await conn.fetch(
            "SELECT number FROM hotline_ticket WHERE number = ANY($1::varchar[])", given
        )
    }
    ids = [
        r["id"]
        for r in await conn.fetch(
            "SELECT nextval(pg_get_serial_sequence('hotline_ticket', 'id')) AS id "
            "FROM generate_series(1, $1)",
            len(parsed),
        )
    ]
    columns: list[list[Any]] = [[] for _ in range(14)]
    for (n, call), ticket_id in zip(parsed, ids, strict=True):
        if call.number in taken:
            errors.add(n, "number", f"ticket {call.number} exists")
        received = call.received_at or cmd.now
        street, community, source = _place(n, call, world, errors)
        response, resolution = world.windows[(call.urgency.value, call.category.value)]
        number = call.number or f"DC{received.astimezone(SHANGHAI):%Y%m%d}{ticket_id:06d}"
        values = [
            ticket_id,
            number,
            received,
            call.caller_name,
            normal_phone(call.caller_phone),
            call.address,
            street,
            community,
            source,
            call.category.value,
            call.urgency.value,
            call.content,
            received + response,
            received + resolution,
        ]
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    if errors.items:
        raise errors.refusal(len(parsed))
    await conn.execute(INSERT, *columns, cmd.now, cmd.ctx.actor.username)
    await conn.execute(STEPS, ids, cmd.now, cmd.ctx.actor.username)
    return list(columns[1])


async def import_tickets(ctx: Context, filename: str, content: bytes) -> ImportResult:
    """Calls from a sheet (columns as `IMPORT_COLUMNS`, or their Chinese names): any bad
    row refuses the whole file, and nothing is written; one audit row names every number."""
    allow(ctx.actor, "hotline.import")
    header, body = await spreadsheets.read_table_off_loop(content, filename)
    parsed = _parse(header, body, ctx.now())
    async with command(ctx) as cmd:
        numbers = await _write(cmd, parsed, await _world(cmd.connection))
        unplaced = await cmd.connection.fetchval(
            "SELECT count(*) FROM hotline_ticket WHERE number = ANY($1::varchar[]) "
            "AND street IS NULL",
            numbers,
        )
        after = {"rows": len(numbers), "numbers": numbers}
        await cmd.audit("hotline.import", "file", filename[:80] or None, None, after)
        cmd.emit("hotline.tickets_imported", {"rows": len(numbers), "unplaced": unplaced})
    return ImportResult(rows=len(numbers), numbers=numbers, unplaced=unplaced)
