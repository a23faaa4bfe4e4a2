"""The one reader and writer of spreadsheets that stock and people imports and exports share."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.errors import InvalidInput, TooManyRequests
from dispatch.spreadsheets import (
    MAX_UNPACKED,
    import_slot,
    read_rows,
    read_table,
    write_csv,
    write_xlsx,
)
from tests.support import raw_xlsx, xlsx_rows


def test_rows_keep_the_numbers_the_spreadsheet_shows_across_blank_lines() -> None:
    content = "code,name\nA1,甲\n\n,\nA2,乙\n".encode()
    header, body = read_table(content, "units.csv")
    assert header == ["code", "name"]
    assert body == [(2, ["A1", "甲"]), (5, ["A2", "乙"])]


def test_csv_saved_by_excel_in_gb18030_is_read() -> None:
    header, body = read_table("储备点,数量\nD110101001,5\n".encode("gb18030"), "r.csv")
    assert header == ["储备点", "数量"]
    assert body == [(2, ["D110101001", "5"])]


def test_short_rows_are_padded_and_long_rows_kept_whole() -> None:
    _, body = read_table(b"a,b,c\n1\n1,2,3,4\n")
    assert body == [(2, ["1", "", ""]), (3, ["1", "2", "3", "4"])]


@given(st.text(max_size=40))
def test_any_text_can_be_exported_to_xlsx_and_read_back(text: str) -> None:
    """Control characters are legal in our text but not in a sheet's XML: they are dropped,
    never a failed export (a 500 schemathesis once found)."""
    content = write_xlsx([("sheet", ["note", "qty", "day"], [[text, 3, date(2026, 12, 1)]])])
    rows = read_rows(content, "x.xlsx")
    assert rows[0] == (1, ["note", "qty", "day"])
    kept = "".join(c for c in text if c in "\t\n\r" or ord(c) >= 0x20)
    kept = kept.replace("\r\n", "\n").replace("\r", "\n")  # XML's own line ends
    if kept.strip():
        assert rows[1][1][0] == kept
    assert rows[-1][1][1] == 3  # numbers stay numbers


def test_text_that_looks_like_a_formula_is_never_run_as_one() -> None:
    note = '=HYPERLINK("http://example.invalid","点我")'
    sheet = write_xlsx([("s", ["note"], [[note], ["-5"], ["+86 10"]])])
    from openpyxl import load_workbook

    cells = [c for (c,) in load_workbook(io.BytesIO(sheet)).worksheets[0].iter_rows(min_row=2)]
    assert [c.data_type for c in cells] == ["s", "s", "s"]
    assert cells[0].value == note
    csv_rows = read_table(write_csv(["note"], [[note], ["-5"], ["+86 10"], [-5]]))[1]
    assert [r[0] for _, r in csv_rows] == ["'" + note, "-5", "'+86 10", "-5"]


def test_csv_export_opens_in_excel_as_utf8() -> None:
    content = write_csv(["名称"], [["东四街道"], [None]])
    assert content.startswith("\ufeff".encode())
    assert read_table(content) == (["名称"], [(2, ["东四街道"])])


def test_unreadable_files_are_the_senders_problem() -> None:
    with pytest.raises(InvalidInput) as empty:
        read_rows(b"", "x.csv")
    assert empty.value.field == "file"
    with pytest.raises(InvalidInput, match="XLSX"):
        read_rows(b"PK\x03\x04 not a zip", "x.xlsx")
    with pytest.raises(InvalidInput, match="header"):
        read_table(b"\n,\n")


def _timed(call: Callable[[], object]) -> tuple[InvalidInput, float]:
    """The refusal and the CPU seconds it took this process: how much was read before the
    limit stopped it, whatever else the shared machine is doing (wall time is not)."""
    started = time.process_time()
    with pytest.raises(InvalidInput) as refused:
        call()
    return refused.value, time.process_time() - started


def test_a_sheet_of_200000_rows_is_refused_at_the_limit_not_after_reading_it() -> None:
    content = raw_xlsx(xlsx_rows(200_000))
    assert len(content) < 4 * 2**20  # a small upload, as in the report
    refused, took = _timed(lambda: read_table(content, "big.xlsx", max_rows=2000))
    assert refused.code == "import.too_many_rows" and refused.field == "file"
    assert refused.params["limit"] == 2000
    # the limit's 2,000 rows are read, not the 200,000: well under what the whole takes
    assert took < 1.0
    header, body = read_table(raw_xlsx(xlsx_rows(2000)), "ok.xlsx", max_rows=2000)
    assert header == ["code"] and len(body) == 2000 and body[-1] == (2001, ["P2001", "2001"])


@pytest.mark.parametrize(
    ("rows", "dimension"),
    [
        ('<row r="1"><c r="A1"><v>1</v></c><c r="XFD1"><v>1</v></c></row>', "A1:XFD1"),
        ('<row r="1"><c r="A1"><v>1</v></c></row>', "A1:XFD1"),  # declared only
        ('<row r="1"><c r="A1"><v>1</v></c><c r="XFD1"/></row>', None),  # one far empty cell
        ('<row r="1">' + "<c><v>1</v></c>" * 16_384 + "</row>", None),  # no references
    ],
    ids=["declared-and-filled", "declared", "far-cell", "unreferenced-cells"],
)
def test_a_sheet_of_16384_columns_is_refused_at_once(rows: str, dimension: str | None) -> None:
    refused, took = _timed(lambda: read_rows(raw_xlsx(rows, dimension), "wide.xlsx"))
    assert refused.code == "import.too_many_columns" and refused.params["row"] == 1
    assert took < 0.5


def test_csv_limits_are_checked_while_reading() -> None:
    many = ("code\n" + "x\n" * 30).encode()
    assert read_table(many, max_rows=30)[1][-1] == (31, ["x"])
    assert _timed(lambda: read_table(many, max_rows=29))[0].code == "import.too_many_rows"
    wide = ("a" + "," * 16_383 + "\n").encode()
    assert _timed(lambda: read_rows(wide))[0].code == "import.too_many_columns"
    blank_rows_do_not_count = ("code\n" + "\n" * 100 + "x\n").encode()
    assert read_table(blank_rows_do_not_count, max_rows=1)[1] == [(102, ["x"])]


def test_an_xlsx_that_unpacks_to_too_much_is_refused_unread() -> None:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", b" " * (MAX_UNPACKED + 1))
    refused, _ = _timed(lambda: read_rows(out.getvalue(), "bomb.xlsx"))
    assert refused.code == "import.too_large"


def test_one_import_at_a_time_per_user() -> None:
    async def scenario() -> tuple[str, str]:
        async def first() -> str:
            async with import_slot("ana"):
                await asyncio.sleep(0.05)
                return "done"

        async def second() -> str:
            await asyncio.sleep(0.01)
            try:
                async with import_slot("ana"):
                    return "done"
            except TooManyRequests as exc:
                return exc.code

        async def someone_else() -> str:
            async with import_slot("bo"):
                return "done"

        a, b, c = await asyncio.gather(first(), second(), someone_else())
        async with import_slot("ana"):  # free again once the first has finished
            pass
        return b, a + c

    assert asyncio.run(scenario()) == ("import.busy", "donedone")
