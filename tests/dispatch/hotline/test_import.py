"""Tickets from the 12345 platform's export: 1,000 rows with one bad row write nothing and
name the row and column; the good file imports whole (its time printed, not asserted)."""

from __future__ import annotations

import io
import time
import uuid

import httpx
import pytest
from openpyxl import Workbook

from dispatch.accounts.policy import Role
from tests.dispatch.hotline.helpers import HOME, URL, phone
from tests.support import client, create_user, sql

HEADER = "工单编号,来电时间,来电人,来电号码,诉求地址,类别,紧急程度,诉求内容"
PLACES = ["东四街道六条社区 12号", "南锣鼓巷58号", "前门街道 某胡同 3号", "东城区某小区"]


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


def _rows(prefix: str, n: int) -> list[str]:
    return [
        f"{prefix}-{i:04d},2026-12-01 08:{i % 60:02d}:00,居民{i},{phone()},"
        f"{PLACES[i % 4]},{'应急物资' if i % 2 else 'road'},{'紧急' if i % 3 else 'normal'},"
        f"第{i}号来电"
        for i in range(n)
    ]


def _upload(http: httpx.Client, name: str, content: bytes) -> httpx.Response:
    return http.post(f"{URL}/import", files={"data": (name, content)})


def _count(prefix: str) -> int:
    return int(
        sql("SELECT count(*) AS n FROM hotline_ticket WHERE number LIKE $1", prefix + "%")[0]["n"]
    )


def test_one_bad_row_of_1000_writes_nothing_and_is_named(server: str, commander: str) -> None:
    prefix = f"I{uuid.uuid4().hex[:8]}"
    rows = _rows(prefix, 1000)
    rows[500] = rows[500].replace("road", "天气")  # row 502: no such category
    content = "\n".join([HEADER, *rows]).encode("utf-8")
    with client(server, commander) as http:
        refused = _upload(http, "12345.csv", content)
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert (body["code"], body["row"], body["field"]) == ("import.row_errors", 502, "category")
    assert {(e["row"], e["column"]) for e in body["errors"]} == {(502, "category")}
    assert _count(prefix) == 0


def test_a_good_export_imports_whole_and_placed(server: str, commander: str) -> None:
    prefix = f"G{uuid.uuid4().hex[:8]}"
    content = "\n".join([HEADER, *_rows(prefix, 1000)]).encode("utf-8")
    with client(server, commander) as http:
        started = time.perf_counter()
        done = _upload(http, "12345.csv", content)
        seconds = time.perf_counter() - started
        assert done.status_code == 201, done.text
        assert done.json()["rows"] == 1000 and done.json()["unplaced"] == 250
        print(f"\nhotline import: 1000 rows in {seconds:.2f} s")
        again = _upload(http, "12345.csv", content)  # every number is taken now
        assert again.status_code == 422 and again.json()["field"] == "number"
        window = {
            "received_from": "2026-12-01T08:01:00+08:00",
            "received_to": "2026-12-01T08:02:00+08:00",
            "limit": 1000,
        }
        first = http.get(URL, params=window).json()
    assert _count(prefix) == 1000
    mine = {t["number"]: t for t in first if t["number"].startswith(prefix)}
    lane = mine[f"{prefix}-0001"]
    assert (lane["community_name"], lane["category"], lane["urgency"]) == (
        "南锣鼓巷社区",
        "emergency_supplies",
        "urgent",
    )
    assert lane["received_at"].startswith("2026-12-01T08:01:00+08:00")
    assert "****" in lane["caller_phone"]


def test_an_xlsx_export_with_a_masked_phone_is_refused(server: str, commander: str) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["number", "category", "content", "caller_phone", "street"])
    sheet.append([f"X{uuid.uuid4().hex[:8]}", "road", "路灯不亮", "100****1234", HOME])
    out = io.BytesIO()
    book.save(out)
    with client(server, commander) as http:
        refused = _upload(http, "t.xlsx", out.getvalue())
    assert refused.status_code == 422
    assert (refused.json()["row"], refused.json()["field"]) == (2, "caller_phone")
