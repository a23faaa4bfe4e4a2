"""Reading and writing CSV and XLSX for every import and export: bytes in, numbered rows out;
rows in, bytes out. No database and no rules here, so stock and people files behave alike:
the same encodings are accepted, rows are numbered as the spreadsheet shows them, and an
export never fails on text a spreadsheet cannot hold.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from dispatch.errors import InvalidInput

MAX_BYTES = 10 * 1024 * 1024
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA = "text/csv; charset=utf-8"

Row = tuple[int, list[Any]]  # (the row number a spreadsheet shows, its cells)


def text_of(value: Any) -> str:
    """A cell as text: whole numbers without `.0`, dates as ISO, nothing as ""."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_rows(content: bytes, filename: str | None = None) -> list[Row]:
    """The non-blank rows of a CSV (UTF-8 with or without BOM, or GB18030 as Excel saves it)
    or of an XLSX file's first sheet, each with the number the spreadsheet shows it under
    (blank rows are dropped after numbering, so errors point at the right line)."""
    if not content:
        raise InvalidInput("the file is empty", field="file")
    if len(content) > MAX_BYTES:
        raise InvalidInput(f"the file is larger than {MAX_BYTES // 2**20} MB", field="file")
    if content[:2] == b"PK" or (filename or "").lower().endswith(".xlsx"):
        rows = _read_xlsx(content)
    else:
        rows = _read_csv(content)
    return [(n, row) for n, row in enumerate(rows, start=1) if any(text_of(c) for c in row)]


def read_table(
    content: bytes, filename: str | None = None, max_rows: int = 20_000
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header (lower case) and the numbered data rows as text, each padded to the
    header's width (a longer row is kept whole, so the caller can say it is too long)."""
    rows = read_rows(content, filename)
    if not rows:
        raise InvalidInput("the file has no header row", field="file")
    if len(rows) - 1 > max_rows:
        raise InvalidInput(f"at most {max_rows} rows per file", field="file")
    header = [text_of(h).lower() for h in rows[0][1]]
    width = len(header)
    body = [(n, [text_of(c) for c in cells] + [""] * (width - len(cells))) for n, cells in rows[1:]]
    return header, body


def _read_csv(content: bytes) -> list[list[Any]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise InvalidInput("the CSV is neither UTF-8 nor GB18030", field="file") from exc
    try:
        return [list(row) for row in csv.reader(io.StringIO(text))]
    except csv.Error as exc:
        raise InvalidInput(f"not a readable CSV file: {exc}", field="file") from exc


def _read_xlsx(content: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        try:
            return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
        finally:
            book.close()
    except Exception as exc:  # a broken upload (zip, XML, styles) is the sender's problem
        raise InvalidInput("not a readable XLSX file", field="file") from exc


def _formula_like(text: str) -> bool:
    """Text a spreadsheet would run as a formula (`=HYPERLINK(...)` in a note); a signed
    number such as `-5` or `+86` stays as it is."""
    if text[:1] in ("=", "@"):
        return True
    return text[:1] in ("+", "-") and not text[1:].replace(".", "", 1).isdigit()


def _csv_cell(value: Any) -> str:
    text = text_of(value)
    return "'" + text if isinstance(value, str) and _formula_like(text) else text


def write_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """Text that looks like a formula gets a leading `'`, as Excel itself marks text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens it as UTF-8


def write_xlsx(sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]]) -> bytes:
    """Numbers and dates stay typed, so the sheet can sum and sort them."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for title, columns, rows in sheets:
        sheet = book.create_sheet(title=title[:31])
        sheet.append(list(columns))
        for row in rows:
            sheet.append([_xlsx_cell(sheet, v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    """Text is always a text cell (openpyxl would store `=...` as a formula), without the
    control characters that a sheet's XML cannot hold."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # XLSX has no zones; shown times are Beijing's
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"
        return cell
    return value
