"""Import people, units and pairings from CSV/XLSX (all or nothing); export masked."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook, load_workbook

from dispatch.accounts.policy import Role
from tests.support import client, create_user, sql, unique

COMMUNITY = "110101003001"


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _count(table: str) -> int:
    return int(sql(f"SELECT count(*) AS n FROM {table}")[0]["n"])


def test_a_bad_row_writes_nothing_and_names_row_and_column(server: str, commander: str) -> None:
    tag = unique("I")[-8:]
    header = ["code", "name", "kind", "phone", "community", "party_branch", "skills"]
    rows = [
        header,
        [f"A{tag}", "甲", "party_member", "10012340001", COMMUNITY, "某支部", "first_aid;driving"],
        [f"B{tag}", "乙", "party_member", "100****0002", COMMUNITY, "某支部", "lifting"],
        [f"C{tag}", "丙", "community_worker", "", "110101999999", "", "juggling"],
    ]
    people_before, audit_before = _count("person"), _count("audit_entry")
    with client(server, commander) as http:
        response = http.post("/api/imports/people", content=_csv(rows))
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert {"row": 3, "column": "phone"} in [
        {"row": e["row"], "column": e["column"]} for e in errors
    ]
    assert {(e["row"], e["column"]) for e in errors} >= {(4, "community"), (4, "skills")}
    assert "Row 3, column phone" in response.json()["detail"]
    assert response.json()["params"] == {"field": "phone", "count": 2, "row": 3, "column": "phone"}
    assert _count("person") == people_before
    assert _count("audit_entry") == audit_before


def test_import_people_units_and_pairings_then_update(server: str, commander: str) -> None:
    tag = unique("J")[-8:]
    named = f"导入单位{int(tag, 16) % 10**6}"  # in Chinese, as a unit is
    with client(server, commander) as http:
        units = http.post(
            "/api/imports/partner-units",
            content=_xlsx(
                [
                    ["code", "name", "kind", "contact_name", "contact_phone"],
                    [f"UX{tag}", named, "state_enterprise", "李四", "10098765432"],
                ]
            ),
        )
        assert units.status_code == 200, units.text
        assert units.json()["created"] == 1
        pairings = http.post(
            "/api/imports/pairings",
            content=_csv(
                [
                    [
                        "unit_code",
                        "community",
                        "signed_on",
                        "valid_from",
                        "valid_until",
                        "pledged_people",
                        "pledged_skills",
                    ],
                    [
                        f"UX{tag}",
                        COMMUNITY,
                        "2026-01-01",
                        "2026-01-01",
                        "2028-12-31",
                        "10",
                        "lifting;driving",
                    ],
                ]
            ),
        )
        assert pairings.status_code == 200, pairings.text
        people_rows = [
            ["code", "name", "kind", "phone", "address", "community", "unit_code", "skills"],
            [
                f"PX{tag}",
                "王五",
                "unit_member",
                "10011223344",
                "某楼1号",
                COMMUNITY,
                f"UX{tag}",
                "lifting",
            ],
        ]
        dry = http.post("/api/imports/people", content=_csv(people_rows), params={"dry_run": "1"})
        assert dry.status_code == 200 and dry.json()["dry_run"] is True
        assert not sql("SELECT 1 FROM person WHERE code=$1", f"PX{tag}")
        first = http.post("/api/imports/people", content=_csv(people_rows))
        assert first.json() == {
            "what": "people",
            "rows": 1,
            "created": 1,
            "updated": 0,
            "dry_run": False,
        }
        people_rows[1][1] = "王五五"
        again = http.post("/api/imports/people", content=_xlsx(people_rows))  # type: ignore[arg-type]
        assert again.json()["updated"] == 1 and again.json()["created"] == 0
        listed = http.get("/api/people", params={"q": f"PX{tag}"}).json()
        assert listed[0]["name"] == "王五五" and listed[0]["phone"] == "100****3344"
        coverage = http.get("/api/pairings", params={"community": COMMUNITY}).json()
        assert f"UX{tag}" in {p["unit_code"] for p in coverage if p["counts"]}
    assert sql("SELECT count(*) AS n FROM audit_entry WHERE action='people.import'")[0]["n"] >= 4


def test_wrong_files_are_refused_clearly(server: str, commander: str) -> None:
    with client(server, commander) as http:
        empty = http.post("/api/imports/people", content=b"")
        not_xlsx = http.post("/api/imports/people", content=b"PK\x03\x04garbage")
        latin = http.post("/api/imports/people", content="code,name\nä,ö".encode("latin-1"))
        header = http.post("/api/imports/units", content=b"x")
        wrong_columns = http.post("/api/imports/people", content=b"code,nom,kind\n1,2,3\n")
    assert empty.status_code == 422 and empty.json()["field"] == "file"
    assert not_xlsx.status_code == 422
    assert latin.status_code == 422
    assert header.status_code in (400, 404)
    assert wrong_columns.status_code == 422
    assert {(e["row"], e["column"]) for e in wrong_columns.json()["errors"]} == {
        (1, "name"),
        (1, "nom"),
    }


def test_exports_are_masked_and_care_households_only_for_commanders(
    server: str, commander: str
) -> None:
    leader = create_user(Role.STREET_LEADER, street="110101003")
    with client(server, commander) as http:
        people = http.get("/api/exports/people/csv")
        assert people.status_code == 200
        assert people.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(people.content.decode("utf-8-sig"))))
        assert len(rows) == _count("person")
        assert all(r["phone"].startswith("100****") for r in rows if r["phone"])
        book = http.get("/api/exports/pairings/xlsx")
        assert book.status_code == 200
        sheet = load_workbook(io.BytesIO(book.content)).worksheets[0]
        values = list(sheet.iter_rows(values_only=True))
        assert values[0][:2] == ("unit_code", "community") and len(values) > 169
        care = http.get("/api/exports/care-households/xlsx")
        assert care.status_code == 200
        cells = [
            c
            for row in load_workbook(io.BytesIO(care.content))
            .worksheets[0]
            .iter_rows(values_only=True)
            for c in row
        ]
        assert not any(isinstance(c, str) and c.isdigit() and len(c) == 11 for c in cells)
    with client(server, leader) as http:
        mine = http.get("/api/exports/people/csv")
        streets = {
            r["street"] for r in csv.DictReader(io.StringIO(mine.content.decode("utf-8-sig")))
        }
        assert streets == {"110101003"}
        assert http.get("/api/exports/care-households/csv").status_code == 403
    exports = sql(
        "SELECT entity_id FROM audit_entry WHERE action='people.export' AND actor=$1", commander
    )
    assert "care-households" in {e["entity_id"] for e in exports}


def test_a_sheet_with_chinese_headers_imports_and_a_bad_row_is_named(
    server: str, commander: str
) -> None:
    tag = unique("Z")[-8:]
    rows = [
        ["人员编号", "姓名", "人员类别", "手机号", "所在社区", "技能"],
        [f"PZ{tag}", "赵六", "community_worker", "10055667788", COMMUNITY, "first_aid"],
    ]
    with client(server, commander) as http:
        made = http.post("/api/imports/people", content=_csv(rows))
        assert made.status_code == 200, made.text
        assert made.json()["created"] == 1
        rows.append([f"PY{tag}", "钱七", "community_worker", "12345", COMMUNITY, ""])
        bad = http.post("/api/imports/people", content=_xlsx(rows))  # type: ignore[arg-type]
    assert bad.status_code == 422
    body = bad.json()
    assert body["code"] == "import.row_errors" and body["params"]["row"] == 3
    assert [(e["row"], e["column"]) for e in body["errors"]] == [(3, "phone")]
    assert not sql("SELECT 1 FROM person WHERE code=$1", f"PY{tag}")
