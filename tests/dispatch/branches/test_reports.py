"""Service records against a real server: a visit's hours appear in the person's, the
branch's and the street's totals, a task done counts its minutes for each assignee, time on
duty counts inside the period beside the total, the
export says the same as the API, and a street leader's report holds their street only."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
from openpyxl import load_workbook

from tests.dispatch.branches.helpers import (
    HOME,
    OTHER,
    community_of,
    free_members,
    household,
    make_branch,
    pair,
)
from tests.support import client, sql

DAY = "2024-05-17"  # a day no other test records time on


def _rows(http: httpx.Client, by: str, day: str = DAY) -> dict[str | None, dict[str, Any]]:
    response = http.get(
        "/api/branches/reports", params={"by": by, "date_from": day, "date_to": day}
    )
    assert response.status_code == 200, response.text
    return {r["key"]: r for r in response.json()["rows"]} | {"*": response.json()["total"]}


def _hours(rows: dict[str | None, dict[str, Any]], key: str | None) -> float:
    return float(rows[key]["hours"]) if key in rows else 0.0


def test_a_visits_hours_appear_in_the_persons_branchs_and_streets_totals(
    server: str, commander: str
) -> None:
    members = free_members(HOME, 2)
    codes = [sql("SELECT code FROM person WHERE id=$1", m)[0]["code"] for m in members]
    with client(server, commander) as http:
        branch = make_branch(http, members)
        pairing = pair(http, branch["id"], household(HOME)[0])
        before = {by: _rows(http, by) for by in ("person", "branch", "street", "community")}
        visit = {"visited_on": DAY, "kind": "repair", "hours": 2.5, "people": members}
        assert http.post(f"/api/assistance/{pairing}/visits", json=visit).status_code == 201
        after = {by: _rows(http, by) for by in ("person", "branch", "street", "community")}
    for code in codes:
        assert _hours(after["person"], code) == _hours(before["person"], code) + 2.5
    assert _hours(after["branch"], branch["code"]) == 5.0  # two people, 2.5 hours each
    assert after["branch"][branch["code"]]["visits"] == 1
    assert after["branch"][branch["code"]]["households"] == 1
    assert after["branch"][branch["code"]]["people"] == 2
    assert _hours(after["street"], HOME) == _hours(before["street"], HOME) + 5.0
    assert after["street"]["*"]["visits"] == before["street"]["*"]["visits"] + 1
    homes = {sql("SELECT community FROM person WHERE id=$1", m)[0]["community"] for m in members}
    added = sum(_hours(after["community"], c) - _hours(before["community"], c) for c in homes)
    assert added == 5.0


def test_a_task_done_counts_its_minutes_for_each_assignee(server: str, commander: str) -> None:
    people = free_members(OTHER, 2)
    day = "2024-05-18"
    with client(server, commander) as http:
        before = _rows(http, "street", day)
        incident = sql(
            "INSERT INTO incident (type, level, title, status, declared_at, declared_by)"
            " VALUES ('fire', 'IV', '测试', 'closed', now(), 'test') RETURNING id"
        )[0]["id"]
        for status in ("done", "failed"):  # a failed task counts no hours
            task = sql(
                "INSERT INTO task (incident, kind, community, street, people_needed, minutes,"
                " status, created_at, finished_at) VALUES ($1, 'guard', $2, $3, 2, 90, $4, now(),"
                " '2024-05-18T10:00:00+08:00') RETURNING id",
                incident,
                community_of(OTHER),
                OTHER,
                status,
            )[0]["id"]
            for person in people:
                sql(
                    "INSERT INTO task_assignee (task, person, assigned_at) VALUES ($1, $2, now())",
                    task,
                    person,
                )
        after = _rows(http, "street", day)
    assert _hours(after, OTHER) == _hours(before, OTHER) + 3.0
    assert after[OTHER]["task_hours"] == before.get(OTHER, {"task_hours": 0})["task_hours"] + 3.0


def test_time_on_duty_counts_inside_the_period_beside_the_total(
    server: str, commander: str
) -> None:
    person = free_members(OTHER, 1)[0]
    code = sql("SELECT code FROM person WHERE id=$1", person)[0]["code"]
    day = "2024-05-19"
    with client(server, commander) as http:
        before = _rows(http, "person", day)
        # 22:00 the day before to 02:30 on the day (Beijing): 2.5 hours fall inside it
        sql(
            "INSERT INTO check_in (person_id, community, street, checked_in_at, checked_out_at)"
            " VALUES ($1, $2, $3, '2024-05-18T22:00:00+08:00', '2024-05-19T02:30:00+08:00')",
            person,
            community_of(OTHER),
            OTHER,
        )
        after = _rows(http, "person", day)
    was = before.get(code, {"duty_hours": 0.0, "hours": 0.0})
    assert after[code]["duty_hours"] == was["duty_hours"] + 2.5
    assert after[code]["hours"] == was["hours"]  # tasks are done on duty: never both
    assert after["*"]["duty_hours"] >= 2.5


def test_the_export_says_what_the_api_says(server: str, commander: str) -> None:
    params = {"by": "street", "date_from": "2024-01-01", "date_to": "2024-12-31"}
    with client(server, commander) as http:
        api = http.get("/api/branches/reports", params=params).json()
        as_csv = http.get("/api/branches/reports/csv", params=params)
        as_xlsx = http.get("/api/branches/reports/xlsx", params=params)
    assert as_csv.status_code == as_xlsx.status_code == 200
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "key",
        "name",
        "people",
        "hours",
        "task_hours",
        "visit_hours",
        "activity_hours",
        "duty_hours",
        "visits",
        "households",
        "activities",
    ]
    assert [r[0] for r in rows[1:-1]] == [r["key"] for r in api["rows"]]
    assert rows[-1][0] == "合计 / total" and float(rows[-1][3]) == api["total"]["hours"]
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    assert sheet is not None and sheet.max_row == len(rows)
    audits = sql("SELECT count(*) AS n FROM audit_entry WHERE action='service.export'")
    assert audits[0]["n"] >= 2


def test_a_street_leader_reports_their_street_only(server: str, leader: str) -> None:
    params = {"by": "street", "date_from": "2024-01-01", "date_to": "2024-12-31"}
    with client(server, leader) as http:
        report = http.get("/api/branches/reports", params=params).json()
        other = http.get("/api/branches/reports", params={**params, "street": OTHER})
        exported = http.get("/api/branches/reports/csv", params={**params, "street": OTHER})
        backwards = http.get(
            "/api/branches/reports", params={"date_from": "2024-02-01", "date_to": "2024-01-01"}
        )
        unknown = http.get("/api/branches/reports", params={"by": "planet"})
    assert report["street"] == HOME
    assert {r["key"] for r in report["rows"]} <= {HOME}
    assert other.status_code == exported.status_code == 403
    assert backwards.status_code == 422 and backwards.json()["code"] == "branches.period_order"
    assert unknown.status_code == 400
