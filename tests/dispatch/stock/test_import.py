"""Receipts from spreadsheets: all rows or none, every bad row named by row and column."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from dispatch.accounts.policy import Role
from tests.dispatch.stock.helpers import (
    HOME,
    HOME_DEPOT,
    OTHER_DEPOT,
    balances,
    in_days,
    new_item,
)
from tests.support import client, create_user, sql


@pytest.fixture(scope="module")
def leader() -> str:
    return create_user(Role.STREET_LEADER, street=HOME)


def _csv(rows: list[list[str]]) -> bytes:
    lines = ["depot,item,lot,expires_on,qty", *(",".join(r) for r in rows)]
    return ("\n".join(lines) + "\n").encode()


def _xlsx(rows: list[list[object]], header: list[str] | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header or ["depot", "item", "lot", "expires_on", "qty"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_csv_with_one_bad_row_writes_nothing_and_names_it(server: str, leader: str) -> None:
    item = new_item()
    good = [HOME_DEPOT, item, "L1", str(in_days(90)), "10"]
    bad = [HOME_DEPOT, item, "L2", str(in_days(90)), "ten"]
    content = _csv([good, [*good[:2], "L3", str(in_days(80)), "5"], bad])
    with client(server, leader) as http:
        response = http.post(
            "/api/stock/imports/receipts", files={"data": ("delivery.csv", content, "text/csv")}
        )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["row"] == 4 and body["field"] == "qty"
    assert body["errors"] == [{"row": 4, "column": "qty", "message": "not a whole number: 'ten'"}]
    assert balances(item) == {}
    assert sql("SELECT count(*) AS n FROM lot WHERE item=$1", item)[0]["n"] == 0


def test_database_level_errors_are_also_per_row(server: str, leader: str) -> None:
    item = new_item()
    content = _csv(
        [
            [HOME_DEPOT, item, "L1", str(in_days(90)), "10"],
            [HOME_DEPOT, "NOSUCHITEM", "L1", str(in_days(90)), "1"],
            [HOME_DEPOT, item, "L1", str(in_days(91)), "1"],
            ["D999", item, "L9", str(in_days(91)), "1"],
            [HOME_DEPOT, item, "L4", "", "1"],
        ]
    )
    with client(server, leader) as http:
        response = http.post(
            "/api/stock/imports/receipts", files={"data": ("delivery.csv", content, "text/csv")}
        )
    assert response.status_code == 422
    found = [(e["row"], e["column"]) for e in response.json()["errors"]]
    assert found == [(3, "item"), (4, "expires_on"), (5, "depot"), (6, "expires_on")]
    assert balances(item) == {}


def test_xlsx_import_writes_every_row(server: str, leader: str) -> None:
    item = new_item()
    content = _xlsx(
        [
            [HOME_DEPOT, item, "X1", in_days(120), 7],
            [HOME_DEPOT, item, "X2", str(in_days(200)), 3.0],
            [HOME_DEPOT, item, "X1", None, 2],
        ],
        header=["储备点", "物资编码", "批号", "有效期", "数量"],
    )
    with client(server, leader) as http:
        response = http.post(
            "/api/stock/imports/receipts",
            files={"data": ("delivery.xlsx", content, "application/octet-stream")},
            headers={"Idempotency-Key": f"import-{item}"},
        )
    assert response.status_code == 201, response.text
    assert response.json()["rows"] == 3 and len(response.json()["movements"]) == 3
    assert balances(item) == {(HOME_DEPOT, "X1"): 9, (HOME_DEPOT, "X2"): 3}
    keys = sql("SELECT DISTINCT idempotency_key AS k FROM stock_movement WHERE item=$1", item)
    assert keys == [{"k": f"import-{item}"}]


def test_xlsx_bad_row_names_row_and_column(server: str, leader: str) -> None:
    item = new_item()
    content = _xlsx(
        [[HOME_DEPOT, item, "X1", in_days(120), 7], [HOME_DEPOT, item, "X2", "next year", 1]]
    )
    with client(server, leader) as http:
        response = http.post(
            "/api/stock/imports/receipts", files={"data": ("d.xlsx", content, "application/zip")}
        )
    assert response.status_code == 422
    assert (response.json()["row"], response.json()["field"]) == (3, "expires_on")
    assert balances(item) == {}


def test_import_into_another_street_is_403_and_writes_nothing(server: str, leader: str) -> None:
    item = new_item(None)
    content = _csv([[HOME_DEPOT, item, "A", "", "1"], [OTHER_DEPOT, item, "A", "", "1"]])
    with client(server, leader) as http:
        response = http.post(
            "/api/stock/imports/receipts", files={"data": ("d.csv", content, "text/csv")}
        )
    assert response.status_code == 403
    assert balances(item) == {}


@pytest.mark.parametrize(
    "content", [b"", b"\x00\x01garbage", b"PK\x03\x04broken", b"depot,item\nD1,WATER\n"]
)
def test_unreadable_files_are_422(server: str, leader: str, content: bytes) -> None:
    with client(server, leader) as http:
        response = http.post(
            "/api/stock/imports/receipts", files={"data": ("d.csv", content, "text/csv")}
        )
    assert response.status_code == 422, response.text
