"""Reading and writing CSV and XLSX for every import and export: bytes in, numbered rows out;
rows in, bytes out. No database and no rules here, so stock and people files behave alike:
the same encodings are accepted, rows are numbered as the spreadsheet shows them, and an
export never fails on text a spreadsheet cannot hold.
"""

from __future__ import annotations

import asyncio
import csv
import io
import multiprocessing
import zipfile
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils.cell import range_boundaries
from openpyxl.worksheet._reader import CELL_TAG, ROW_TAG, WorkSheetParser
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import iterparse

from dispatch.errors import InvalidInput, TooManyRequests

MAX_BYTES = 10 * 1024 * 1024  # the file itself
MAX_UNPACKED = 100 * 1024 * 1024  # any one part of an XLSX (a zip) once unpacked
MAX_ROWS = 20_000  # data rows of one import
MAX_COLUMNS = 64
READERS = 2  # worker processes reading uploads, per server process
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
    """`read_table` in a worker process: parsing a sheet is CPU work that, on the event
    loop, stopped every other request (even `/health`) while it ran, and that in a thread
    still slowed them by holding the interpreter lock. A refusal comes back whole."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_pool(), read_table, content, filename, max_rows)
    except BrokenProcessPool as exc:  # the worker died (killed, out of memory): a new one next
        shutdown_readers()
        raise InvalidInput(
            "the file could not be read", field="file", code="import.unreadable"
        ) from exc


_READERS: list[ProcessPoolExecutor] = []  # this process's pool, started on first use


def _pool() -> ProcessPoolExecutor:
    if not _READERS:
        context = multiprocessing.get_context("spawn")  # never fork a process with threads
        _READERS.append(ProcessPoolExecutor(max_workers=READERS, mp_context=context))
    return _READERS[0]


def shutdown_readers() -> None:
    """Stop the worker processes (at shutdown, or after one died)."""
    while _READERS:
        _READERS.pop().shutdown(wait=False, cancel_futures=True)


_IMPORTING: set[str] = set()  # users with an import running in this process


@asynccontextmanager
async def import_slot(username: str) -> AsyncIterator[None]:
    """One import at a time per user (429 for a second one meanwhile): an import holds a
    reader process and up to a file's worth of memory, so one user cannot take them all.
    Per server process, as the readers and memory it protects are."""
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
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            if any(i.file_size > MAX_UNPACKED for i in archive.infolist()):
                raise InvalidInput(
                    f"the file unpacks to more than {MAX_UNPACKED // 2**20} MB",
                    field="file",
                    code="import.too_large",
                    params={"limit_mb": MAX_UNPACKED // 2**20},
                )
        reader, sheet_path = _open_book(content)
    except InvalidInput:
        raise
    except Exception as exc:  # a broken upload (zip, XML, styles) is the sender's problem
        raise _unreadable() from exc
    try:
        yield from _sheet_rows(reader, sheet_path, limits)
    except InvalidInput:
        raise
    except Exception as exc:
        raise _unreadable() from exc
    finally:
        reader.archive.close()


def _open_book(content: bytes) -> tuple[Any, str]:
    """The workbook's parts a sheet's values need (shared strings, date styles) and the
    first worksheet's path, without openpyxl's reading of the worksheets themselves (which
    parses a whole sheet that declares no size, before a single row can be refused)."""

    reader = ExcelReader(io.BytesIO(content), read_only=True, data_only=True)
    reader.read_manifest()
    reader.read_strings()
    reader.read_workbook()
    apply_stylesheet(reader.archive, reader.wb)
    for _, rel in reader.parser.find_sheets():
        if rel.target in reader.valid_files and "chartsheet" not in rel.Type:
            return reader, str(rel.target)
    raise _unreadable()


def _sheet_rows(reader: Any, sheet_path: str, limits: Limits) -> Iterator[Row]:
    """The sheet's rows as its XML streams by, one cell at a time: the declared size and
    each row's cells are checked (and refused past the limit) as they are parsed, and every
    parsed element is dropped, so memory never holds more than one row of the limit's
    width."""

    book = reader.wb
    with reader.archive.open(sheet_path) as source:
        parser = WorkSheetParser(
            source,
            reader.shared_strings,
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
                if element.tag == f"{{{SHEET_MAIN_NS}}}dimension":
                    declared = range_boundaries(element.get("ref", "A1"))[2] or 0
                    if declared > limits.columns:  # the sheet's own declared size
                        raise limits.too_many_columns(1)
                elif element.tag == ROW_TAG:
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

    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # XLSX has no zones; shown times are Beijing's
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"
        return cell
    return value


@dataclass
class RowErrors:
    """Every problem of an import by row and column: one bad row refuses the whole file,
    and the refusal lists them all (the first 500), in row then column order."""

    columns: Sequence[str]
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, row: int, column: str, message: str) -> None:
        self.items.append({"row": row, "column": column, "message": message})

    def refusal(self, rows: int) -> InvalidInput:
        order = {c: i for i, c in enumerate(self.columns)}
        self.items.sort(key=lambda e: (e["row"], order.get(e["column"], len(order))))
        first = self.items[0]
        bad = len({e["row"] for e in self.items})
        return InvalidInput(
            f"{bad} of {rows} rows have errors; nothing was imported. Row {first['row']}, "
            f"column {first['column']}: {first['message']}",
            field=first["column"],
            code="import.row_errors",
            params={"count": bad, "row": first["row"], "column": first["column"]},
            row=first["row"],
            errors=self.items[:500],
        )


def checked_header(
    header: Sequence[str],
    rows: int,
    *,
    columns: Sequence[str],
    required: Sequence[str],
    aliases: Mapping[str, str],
) -> tuple[RowErrors, dict[str, int]]:
    """A sheet's header read with its Chinese aliases, every missing or unknown column
    refused at once (row 1), and a file of no rows refused; the errors to fill while the
    rows are read, and each column's position."""
    errors = RowErrors(columns)
    named = [aliases.get(h, h) for h in header]
    for c in required:
        if c not in named:
            errors.add(1, c, "required column is missing")
    for h in named:
        if h and h not in columns:
            errors.add(1, h, f"unknown column; expected {', '.join(columns)}")
    if errors.items:
        raise errors.refusal(rows)
    if not rows:
        raise InvalidInput("the file has a header but no rows", field="file")
    return errors, {h: i for i, h in enumerate(named) if h}
