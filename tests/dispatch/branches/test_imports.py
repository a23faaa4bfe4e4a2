"""Imports of branches, pairings and visits: all rows or none, each bad cell named by row
and column, the same rules as records entered by hand."""

from __future__ import annotations

from typing import Any

import httpx

from tests.dispatch.branches.helpers import HOME, free_members, household
from tests.support import client, sql, unique


def _upload(http: httpx.Client, what: str, text: str) -> httpx.Response:
    files = {"data": (f"{what}.csv", text.encode("utf-8"), "text/csv")}
    return http.post(f"/api/branches/import/{what}", files=files)


def _code(table: str, row_id: int) -> str:
    return str(sql(f"SELECT code FROM {table} WHERE id=$1", row_id)[0]["code"])


def test_branches_pairings_and_visits_import_in_turn(server: str, commander: str) -> None:
    people = [_code("person", p) for p in free_members(HOME, 2)]
    home = _code("care_household", household(HOME)[0])
    unit = str(
        sql("SELECT code FROM partner_unit WHERE kind <> 'two_new' ORDER BY id LIMIT 1")[0]["code"]
    )
    a, b = unique("BI")[:20], unique("BI")[:20]
    branches = (
        "code,name,kind,unit_code,organisation,secretary_code,member_codes\n"
        f"{a},{unique('导入支部')},employer,{unit},,{people[0]},{people[0]}\n"
        f"{b},{unique('导入支部')},two_new,,导入科技有限公司,,{people[1]}\n"
    )
    with client(server, commander) as http:
        made = _upload(http, "branches", branches)
        assert made.status_code == 201, made.text
        assert made.json() == {"what": "branches", "rows": 2, "created": 2, "updated": 0}
        again = _upload(http, "branches", branches.replace("导入科技", "导入网络科技"))
        assert again.json()["updated"] == 2
        paired = _upload(
            http,
            "assistance",
            f"branch_code,household_code,starts_on,pledge\n{a},{home},2024-01-01,每月走访\n",
        )
        assert paired.status_code == 201, paired.text
        visited = _upload(
            http,
            "visits",
            "branch_code,household_code,visited_on,kind,hours,people\n"
            f"{a},{home},2024-02-01,visit,1.5,{people[0]}\n",
        )
        assert visited.status_code == 201, visited.text
    source = sql("SELECT source, organisation FROM party_branch WHERE code=$1", b)[0]
    assert source == {"source": "import", "organisation": "导入网络科技有限公司"}
    hours = sql(
        "SELECT sum(v.hours) AS h FROM assistance_visit v"
        " JOIN assistance s ON s.id = v.assistance_id"
        " JOIN care_household h ON h.id = s.household_id WHERE h.code = $1",
        home,
    )[0]["h"]
    assert hours == 1.5


def test_one_bad_row_refuses_the_file_naming_every_bad_cell(server: str, commander: str) -> None:
    person = _code("person", free_members(HOME, 1)[0])
    good = unique("BI")[:20]
    text = (
        "code,name,kind,organisation,member_codes\n"
        f"{good},{unique('导入支部')},two_new,某组织,{person}\n"
        f"{unique('BI')[:20]},{unique('导入支部')},employer,,\n"
        f"{unique('BI')[:20]},{unique('导入支部')},two_new,某组织,NOBODY\n"
        f"{unique('BI')[:20]},{unique('导入支部')},club,某组织,\n"
    )
    with client(server, commander) as http:
        refused = _upload(http, "branches", text)
        wrong_header = _upload(http, "visits", "branch_code,planet\nx,y\n")
    assert refused.status_code == 422
    body: dict[str, Any] = refused.json()
    assert body["code"] == "import.row_errors"
    cells = [(e["row"], e["column"]) for e in body["errors"]]
    assert cells == [(3, "unit_code"), (4, "member_codes"), (5, "kind")]
    assert sql("SELECT count(*) AS n FROM party_branch WHERE code=$1", good)[0]["n"] == 0
    assert (
        sql(
            "SELECT count(*) AS n FROM branch_member m JOIN person p ON p.id = m.person_id"
            " WHERE p.code = $1",
            person,
        )[0]["n"]
        == 0
    )
    assert wrong_header.status_code == 422


def test_only_commanders_import(server: str, leader: str) -> None:
    with client(server, leader) as http:
        assert _upload(http, "branches", "code,name,kind\nX,x,two_new\n").status_code == 403
