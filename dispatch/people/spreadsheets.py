"""Reading and writing CSV and XLSX: plain rows in, bytes out; no database, no rules here."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from dispatch.errors import InvalidInput

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA = "text/csv; charset=utf-8"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _is_xlsx(content: bytes) -> bool:
    return content[:2] == b"PK"


def read_table(content: bytes, filename: str | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and data rows (as text) of a CSV (UTF-8, BOM allowed) or the first XLSX sheet."""
    if not content:
        raise InvalidInput("the file is empty", field="file")
    if len(content) > MAX_BYTES:
        raise InvalidInput(f"the file is larger than {MAX_BYTES // 2**20} MB", field="file")
    name = (filename or "").lower()
    if _is_xlsx(content) or name.endswith(".xlsx"):
        rows = _read_xlsx(content)
    else:
        rows = _read_csv(content)
    rows = [r for r in rows if any(c for c in r)]
    if not rows:
        raise InvalidInput("the file has no header row", field="file")
    if len(rows) - 1 > MAX_ROWS:
        raise InvalidInput(f"at most {MAX_ROWS} rows per import", field="file")
    header = [h.strip().lower() for h in rows[0]]
    width = len(header)
    body = [(r + [""] * width)[:width] if len(r) <= width else r for r in rows[1:]]
    return header, body


def _read_csv(content: bytes) -> list[list[str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("a CSV file must be UTF-8 encoded", field="file") from exc
    try:
        return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text))]
    except csv.Error as exc:
        raise InvalidInput(f"not a readable CSV file: {exc}", field="file") from exc


def _read_xlsx(content: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            return [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        finally:
            book.close()
    except Exception as exc:  # a broken upload (zip, XML, styles) is the sender's problem
        raise InvalidInput("not a readable XLSX file", field="file") from exc


def write_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens it as UTF-8


def write_xlsx(sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for title, columns, rows in sheets:
        sheet = book.create_sheet(title=title[:31])
        sheet.append(list(columns))
        for row in rows:
            sheet.append([_cell(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
