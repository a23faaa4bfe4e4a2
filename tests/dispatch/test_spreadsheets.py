"""The one reader and writer of spreadsheets that stock and people imports and exports share."""

from __future__ import annotations

import io
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.errors import InvalidInput
from dispatch.spreadsheets import read_rows, read_table, write_csv, write_xlsx


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
