"""Reading and writing CSV and XLSX for every import and export: bytes in, numbered rows out;
rows in, bytes out. No database and no rules here, so stock and people files behave alike:
the same encodings are accepted, rows are numbered as the spreadsheet shows them, and an
export never fails on text a spreadsheet cannot hold.
"""

from __future__ import annotations

import asyncio
import csv
import io
import zipfile
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dispatch.errors import InvalidInput, TooManyRequests

MAX_BYTES = 10 * 1024 * 1024  # the file itself
MAX_UNPACKED = 100 * 1024 * 1024  # any one part of an XLSX (a zip) once unpacked
MAX_ROWS = 20_000  # data rows of one import
MAX_COLUMNS = 64
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


def read_rows(
    content: bytes,
    filename: str | None = None,
    max_rows: int | None = None,
    max_columns: int = MAX_COLUMNS,
) -> list[Row]:
    """The non-blank rows of a CSV (UTF-8 with or without BOM, or GB18030 as Excel saves it)
    or of an XLSX file's first sheet, each with the number the spreadsheet shows it under
    (blank rows are dropped after numbering, so errors point at the right line).

    The limits are checked while reading, never after: a file stops being read at the
    first row past `max_rows` non-blank rows or the first cell past `max_columns`, so a
    sheet of 200,000 rows or one declaring 16,384 columns costs no more than the limit."""
    if not content:
        raise InvalidInput("the file is empty", field="file")
    if len(content) > MAX_BYTES:
        raise InvalidInput(
            f"the file is larger than {MAX_BYTES // 2**20} MB",
            field="file",
            code="import.too_large",
            params={"limit_mb": MAX_BYTES // 2**20},
        )
    limits = Limits(max_rows if max_rows is not None else 10 * MAX_ROWS, max_columns)
    if content[:2] == b"PK" or (filename or "").lower().endswith(".xlsx"):
        return _kept(_read_xlsx(content, limits), limits)
    return _kept(_read_csv(content), limits)


def read_table(
    content: bytes, filename: str | None = None, max_rows: int = MAX_ROWS
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header (lower case) and the numbered data rows as text, each padded to the
    header's width (a longer row is kept whole, so the caller can say it is too long)."""
    rows = read_rows(content, filename, max_rows=max_rows + 1)
    if not rows:
        raise InvalidInput("the file has no header row", field="file")
    header = [text_of(h).lower() for h in rows[0][1]]
    width = len(header)
    body = [(n, [text_of(c) for c in cells] + [""] * (width - len(cells))) for n, cells in rows[1:]]
    return header, body


async def read_table_off_loop(
    content: bytes, filename: str | None = None, max_rows: int = MAX_ROWS
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """`read_table` in a worker thread: parsing a sheet is CPU work that would otherwise
    stop every other request of the process (even `/health`) while it runs."""
    return await asyncio.to_thread(read_table, content, filename, max_rows)


_IMPORTING: set[str] = set()  # users with an import running in this process


@asynccontextmanager
async def import_slot(username: str) -> AsyncIterator[None]:
    """One import at a time per user (429 for a second one meanwhile): an import holds a
    worker thread and up to a file's worth of memory of this process, so one user cannot
    take them all. Per process, as the threads and memory it protects are."""
    if username in _IMPORTING:
        raise TooManyRequests(
            "an import of yours is still running; send the next when it has finished",
            code="import.busy",
            retry_after=5,
        )
    _IMPORTING.add(username)
    try:
        yield
    finally:
        _IMPORTING.discard(username)


@dataclass(frozen=True)
class Limits:
    rows: int  # non-blank rows, the header included
    columns: int

    def too_many_rows(self) -> InvalidInput:
        return InvalidInput(
            f"at most {self.rows - 1} rows per file",
            field="file",
            code="import.too_many_rows",
            params={"limit": self.rows - 1},
        )

    def too_many_columns(self, row: int) -> InvalidInput:
        return InvalidInput(
            f"row {row} has cells beyond column {self.columns}; at most {self.columns} columns",
            field="file",
            code="import.too_many_columns",
            params={"limit": self.columns, "row": row},
            row=row,
        )


def _kept(rows: Iterator[Row], limits: Limits) -> list[Row]:
    """Non-blank rows, refused as soon as one too many (or one too wide) is read."""
    kept: list[Row] = []
    for number, cells in rows:
        if len(cells) > limits.columns:
            raise limits.too_many_columns(number)
        if any(text_of(c) for c in cells):
            if len(kept) >= limits.rows:
                raise limits.too_many_rows()
            kept.append((number, cells))
    return kept


def _read_csv(content: bytes) -> Iterator[Row]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise InvalidInput("the CSV is neither UTF-8 nor GB18030", field="file") from exc
    try:
        yield from enumerate(csv.reader(io.StringIO(text)), start=1)
    except csv.Error as exc:
        raise InvalidInput(f"not a readable CSV file: {exc}", field="file") from exc


def _unreadable() -> InvalidInput:
    return InvalidInput("not a readable XLSX file", field="file", code="import.unreadable_xlsx")


def _read_xlsx(content: bytes, limits: Limits) -> Iterator[Row]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            if any(i.file_size > MAX_UNPACKED for i in archive.infolist()):
                raise InvalidInput(
                    f"the file unpacks to more than {MAX_UNPACKED // 2**20} MB",
                    field="file",
                    code="import.too_large",
                    params={"limit_mb": MAX_UNPACKED // 2**20},
                )
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except InvalidInput:
        raise
    except Exception as exc:  # a broken upload (zip, XML, styles) is the sender's problem
        raise _unreadable() from exc
    try:
        sheet = book.worksheets[0]
        if (sheet.max_column or 0) > limits.columns:  # the sheet's own declared size
            raise limits.too_many_columns(1)
        yield from _sheet_rows(book, sheet, limits)
    except InvalidInput:
        raise
    except Exception as exc:
        raise _unreadable() from exc
    finally:
        book.close()


def _sheet_rows(book: Any, sheet: Any, limits: Limits) -> Iterator[Row]:
    """The sheet's rows as its XML streams by, one cell at a time: a row's cells are
    counted (and refused past the limit) as they are parsed, and every parsed element is
    dropped, so memory never holds more than one row of the limit's width."""
    from openpyxl.worksheet._reader import CELL_TAG, ROW_TAG, WorkSheetParser
    from openpyxl.xml.functions import iterparse

    with sheet._get_source() as source:
        parser = WorkSheetParser(
            source,
            sheet._shared_strings,
            data_only=True,
            epoch=book.epoch,
            date_formats=book._date_formats,
            timedelta_formats=book._timedelta_formats,
        )
        depth, rows_seen = 0, 0
        cells: list[dict[str, Any]] = []
        for event, element in iterparse(source, events=("start", "end")):
            if event == "start":
                depth += 1
                if element.tag == ROW_TAG:
                    rows_seen += 1
                    if rows_seen > 4 * limits.rows + 100:  # blank rows cost reading too
                        raise limits.too_many_rows()
                    number = element.get("r")
                    parser.row_counter = int(number) if number else parser.row_counter + 1
                    parser.col_counter, cells = 0, []
                continue
            depth -= 1
            if element.tag == CELL_TAG:
                cell = parser.parse_cell(element)
                element.clear()
                if cell["column"] > limits.columns or len(cells) >= limits.columns:
                    raise limits.too_many_columns(parser.row_counter)
                cells.append(cell)
            elif element.tag == ROW_TAG:
                element.clear()
                yield parser.row_counter, _values(cells)
            elif depth <= 2:
                element.clear()  # anything else of the sheet (merged cells, columns, ...)


def _values(cells: list[dict[str, Any]]) -> list[Any]:
    """A row's values by column, from the cells the sheet holds (gaps are None)."""
    width = max((c["column"] for c in cells if c["value"] is not None), default=0)
    values: list[Any] = [None] * width
    for cell in cells:
        if cell["value"] is not None:
            values[cell["column"] - 1] = cell["value"]
    return values


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
