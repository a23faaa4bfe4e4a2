"""Spreadsheets: receipts imported from a delivery list (any bad row refuses the whole file)
and exports of stock, a stock card and the summary as CSV or XLSX."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg

from dispatch import spreadsheets
from dispatch.accounts.policy import authorize
from dispatch.db import Context, command
from dispatch.errors import Forbidden, InvalidInput, NotFound
from dispatch.places import lookups as places
from dispatch.stock.ledger import (
    Watch,
    idempotent_key,
)
from dispatch.stock.lookups import depot_target
from dispatch.stock.movements import post_receipt, receive_line
from dispatch.stock.queries import list_stock, stock_card, summary
from dispatch.stock.schemas import (
    ExportFormat,
    ImportResult,
    ReceiptLine,
)

IMPORT_COLUMNS = ("depot", "item", "lot", "expires_on", "qty")
HEADER_ALIASES = {
    "depot": "depot",
    "储备点": "depot",
    "仓库": "depot",
    "item": "item",
    "物资编码": "item",
    "物资": "item",
    "lot": "lot",
    "批号": "lot",
    "expires_on": "expires_on",
    "有效期": "expires_on",
    "有效期至": "expires_on",
    "qty": "qty",
    "数量": "qty",
    "note": "note",
    "备注": "note",
}


@dataclass
class Sheet:
    header: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)


async def _read_sheet(filename: str, content: bytes) -> Sheet:
    """A receipts list; Chinese column names are taken as their English ones."""
    header, rows = await spreadsheets.read_table_off_loop(content, filename, max_rows=5000)
    header = [HEADER_ALIASES.get(h, h) for h in header]
    missing = [c for c in IMPORT_COLUMNS if c not in header and c != "expires_on"]
    if missing:
        raise InvalidInput(
            f"missing column(s): {', '.join(missing)}; expected {', '.join(IMPORT_COLUMNS)}",
            field=missing[0],
        )
    return Sheet(header, rows)


def _cell_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip().replace("/", "-").replace(".", "-")
    return date.fromisoformat(text)


def _cell_qty(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(str(value).strip())


@dataclass
class RowError:
    row: int
    column: str
    message: str


async def import_receipts(
    ctx: Context, filename: str, content: bytes, key: str | None = None
) -> ImportResult:
    """Receipts from a delivery list; any bad row refuses the whole file, naming rows and
    columns, and nothing is written."""
    authorize(ctx.actor, "stock.receive")
    return await _import_sheet(ctx, filename, await _read_sheet(filename, content), key)


async def _import_sheet(ctx: Context, filename: str, sheet: Sheet, key: str | None) -> ImportResult:
    if not sheet.rows:
        raise InvalidInput("the file has a header but no rows", field="file")
    if len(sheet.rows) > 5000:
        raise InvalidInput("at most 5000 rows per file", field="file")
    errors, parsed = _parse_rows(sheet)
    async with command(ctx) as cmd:
        conn = cmd.connection
        depots: dict[str, asyncpg.Record] = {}
        resolved = []
        for number, code, line in parsed:
            if code not in depots:
                row = await places.depot_or_none(conn, code)
                if row is None:
                    errors.append(RowError(number, "depot", f"no depot {code}"))
                    continue
                if not ctx.actor.covers(depot_target(row)):
                    raise Forbidden(
                        f"row {number}: depot {code} is outside the scope of {ctx.actor.username}",
                        field="depot",
                        row=number,
                    )
                depots[code] = row
            await conn.execute("SAVEPOINT import_row")
            try:
                lot, expires_on = await receive_line(cmd, depots[code], line, "row")
            except (InvalidInput, NotFound) as exc:
                await conn.execute("ROLLBACK TO SAVEPOINT import_row")
                column = (exc.field or "item").split(".")[-1]
                column = column if column in IMPORT_COLUMNS else "item"
                errors.append(RowError(number, column, exc.detail))
                continue
            await conn.execute("RELEASE SAVEPOINT import_row")
            resolved.append((code, lot, number, expires_on, line))
        if errors:
            raise _row_errors(errors)
        watch = Watch(cmd)
        ids = []
        by_street: dict[str | None, list[int]] = {}
        for code, lot, _, expires_on, line in sorted(resolved, key=lambda r: r[:3]):
            receipt = (lot, expires_on, line)
            ids.append(await post_receipt(cmd, depots[code], receipt, watch, idempotent_key(key)))
            by_street.setdefault(depots[code]["street"], []).append(ids[-1])
        await cmd.audit(
            "stock.import_receipts",
            "file",
            filename[:80] or None,
            None,
            {"rows": len(parsed), "movements": ids},
        )
        await watch.announce()
        for street, moved in by_street.items():  # each street's leader hears theirs
            data = {"kind": "receipt", "movements": moved, "import": filename[:80]}
            cmd.emit("stock.moved", data, street=street)
    return ImportResult(rows=len(parsed), movements=sorted(ids))


def _parse_rows(sheet: Sheet) -> tuple[list[RowError], list[tuple[int, str, ReceiptLine]]]:
    """Check each row's cells; every problem is named by row and column."""
    errors: list[RowError] = []
    parsed: list[tuple[int, str, ReceiptLine]] = []
    for number, values in sheet.rows:
        cells = {n: values[i] if i < len(values) else None for i, n in enumerate(sheet.header)}
        before = len(errors)
        text = {c: str(cells.get(c) or "").strip() for c in ("depot", "item", "lot")}
        for c, limit in (("depot", 16), ("item", 20), ("lot", 60)):
            if not text[c]:
                errors.append(RowError(number, c, "empty"))
            elif len(text[c]) > limit:
                errors.append(RowError(number, c, f"longer than {limit} characters"))
        qty = 0
        try:
            qty = _cell_qty(cells.get("qty"))
            if not 1 <= qty <= 10_000_000:
                errors.append(RowError(number, "qty", "must be between 1 and 10000000"))
        except (TypeError, ValueError):
            errors.append(RowError(number, "qty", f"not a whole number: {cells.get('qty')!r}"))
        expires_on = None
        try:
            expires_on = _cell_date(cells.get("expires_on"))
        except (TypeError, ValueError):
            shown = cells.get("expires_on")
            errors.append(RowError(number, "expires_on", f"not a date (YYYY-MM-DD): {shown!r}"))
        item = text["item"].upper()
        if text["item"] and not re.fullmatch(r"[A-Z0-9_]{1,20}", item):
            errors.append(RowError(number, "item", f"not an item code: {text['item']!r}"))
        if len(errors) == before:
            line = ReceiptLine(item=item, lot=text["lot"], qty=qty, expires_on=expires_on)
            parsed.append((number, text["depot"], line))
    return errors, parsed


def _row_errors(errors: list[RowError]) -> InvalidInput:
    errors.sort(
        key=lambda e: (e.row, IMPORT_COLUMNS.index(e.column) if e.column in IMPORT_COLUMNS else 9)
    )
    first = errors[0]
    return InvalidInput(
        f"{len(errors)} error(s); nothing was imported. Row {first.row}, column "
        f"{first.column}: {first.message}",
        field=first.column,
        row=first.row,
        errors=[{"row": e.row, "column": e.column, "message": e.message} for e in errors],
    )


@dataclass
class Export:
    filename: str
    media_type: str
    content: bytes


XLSX_TYPE = spreadsheets.XLSX_MEDIA


def render(
    name: str, header: Sequence[str], rows: Iterable[Sequence[Any]], fmt: ExportFormat
) -> Export:
    """A table as CSV (UTF-8 with BOM, so Excel shows Chinese) or XLSX."""
    table = list(rows)
    if fmt is ExportFormat.CSV:
        return Export(f"{name}.csv", spreadsheets.CSV_MEDIA, spreadsheets.write_csv(header, table))
    return Export(f"{name}.xlsx", XLSX_TYPE, spreadsheets.write_xlsx([(name, header, table)]))


async def export_stock(
    ctx: Context, fmt: ExportFormat, depot: str | None = None, street: str | None = None
) -> Export:
    lines = await list_stock(ctx, depot=depot, street=street)
    return render(
        "stock",
        ("depot", "street", "item", "lot", "expires_on", "qty", "status"),
        ((s.depot, s.street, s.item, s.lot, s.expires_on, s.qty, s.status.value) for s in lines),
        fmt,
    )


async def export_card(ctx: Context, fmt: ExportFormat, depot: str, item: str) -> Export:
    card = await stock_card(ctx, depot, item)
    return render(
        f"card-{depot}-{item}",
        (
            "id",
            "at",
            "kind",
            "lot",
            "expires_on",
            "qty",
            "balance",
            "reason",
            "community",
            "transfer",
            "reverses",
            "actor",
            "note",
        ),
        (
            (
                r.id,
                r.at,
                r.kind.value,
                r.lot,
                r.expires_on,
                r.qty,
                r.balance,
                r.reason,
                r.community,
                r.transfer,
                r.reverses,
                r.actor,
                r.note,
            )
            for r in card.rows
        ),
        fmt,
    )


async def export_summary(ctx: Context, fmt: ExportFormat, street: str | None = None) -> Export:
    rows = await summary(ctx, street)
    return render(
        "summary",
        ("street", "street_name", "item", "on_hand", "standard", "gap", "percent"),
        ((r.street, r.street_name, r.item, r.on_hand, r.standard, r.gap, r.percent) for r in rows),
        fmt,
    )
