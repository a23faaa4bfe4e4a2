"""Assistance pairings (结对帮扶) against a real server: one branch in force per household
(the flag and the coverage follow), visits checked, household data masked and every read
of it audited, and the street leader's scope (the household's street)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx

from tests.dispatch.branches.helpers import (
    HOME,
    OTHER,
    free_members,
    household,
    make_branch,
    pair,
)
from tests.support import client, sql


def _coverage(http: httpx.Client, street: str) -> dict[str, Any]:
    rows = http.get("/api/branches/coverage", params={"street": street}).json()
    assert [r["street"] for r in rows] == [street]
    return dict(rows[0])


def test_a_pairing_covers_its_household_until_it_ends(server: str, commander: str) -> None:
    household_id, _ = household(HOME)
    with client(server, commander) as http:
        flagged = http.get(
            "/api/branches/households", params={"street": HOME, "unassisted": True, "limit": 2000}
        ).json()
        assert household_id in {h["household"]["id"] for h in flagged}
        before = _coverage(http, HOME)
        branch = make_branch(http, free_members(HOME, 1))
        other = make_branch(http, free_members(HOME, 1))
        pairing = pair(http, branch["id"], household_id)
        after = _coverage(http, HOME)
        assert after["assisted"] == before["assisted"] + 1
        assert after["low_income"] == before["low_income"]
        again = http.post(
            "/api/assistance",
            json={
                "branch_id": other["id"],
                "household_id": household_id,
                "starts_on": "2024-02-01",
            },
        )
        assert again.status_code == 409 and again.json()["code"] == "branches.household_assisted"
        still = http.get(
            "/api/branches/households", params={"street": HOME, "unassisted": True, "limit": 2000}
        ).json()
        assert household_id not in {h["household"]["id"] for h in still}
        early = http.post(f"/api/assistance/{pairing}/end", json={"ends_on": "2023-01-01"})
        assert early.status_code == 422 and early.json()["code"] == "branches.ends_early"
        ended = http.post(f"/api/assistance/{pairing}/end", json={"ends_on": "2024-06-30"})
        assert ended.status_code == 200 and ended.json()["in_force"] is False
        assert _coverage(http, HOME)["assisted"] == before["assisted"]
        assert http.get(f"/api/branches/{branch['id']}").json()["households"] == 0
        pair(http, other["id"], household_id, "2024-07-01")  # now another branch may


def test_household_data_is_masked_and_every_read_audited(server: str, commander: str) -> None:
    household_id, number = household(HOME)
    with client(server, commander) as http:
        branch = make_branch(http, free_members(HOME, 1))
        pairing = pair(http, branch["id"], household_id)
        listed = http.get("/api/assistance", params={"branch_id": branch["id"]})
        cover = http.get("/api/branches/households", params={"street": HOME, "limit": 2000})
        visits = http.get(f"/api/assistance/{pairing}/visits")
    for response in (listed, cover, visits):
        assert response.status_code == 200
        assert number not in response.text and "测试户主" not in response.text
    shown = listed.json()[0]["household"]
    assert shown["phone"] == f"{number[:3]}****{number[-4:]}"
    assert shown["address"].endswith("****") and "501" not in shown["address"]
    reads = sql(
        "SELECT after FROM audit_entry WHERE action='care.read' AND after->'ids' @> $1::jsonb",
        f"[{household_id}]",
    )
    assert len(reads) == 3  # the list, the households, the visits
    created = sql(
        "SELECT after::text AS a FROM audit_entry WHERE action='assistance.create'"
        " AND entity_id=$1",
        str(pairing),
    )[0]["a"]
    assert number not in created


def test_a_visit_is_on_a_day_of_the_pairing_by_active_people(server: str, commander: str) -> None:
    household_id, _ = household(HOME)
    student_home, _ = household(HOME, student=True)
    members = free_members(HOME, 2)
    with client(server, commander) as http:
        branch = make_branch(http, members)
        plain = pair(http, branch["id"], household_id)
        student = pair(http, branch["id"], student_home)
        url = f"/api/assistance/{plain}/visits"
        good = {"visited_on": "2024-03-02", "kind": "visit", "hours": 1.5, "people": members}
        made = http.post(url, json=good)
        assert made.status_code == 201, made.text
        assert made.json()["people"] == sorted(members)
        tomorrow = (date.today() + timedelta(days=2)).isoformat()
        future = http.post(url, json={**good, "visited_on": tomorrow})
        before = http.post(url, json={**good, "visited_on": "2023-12-31"})
        tutoring = http.post(url, json={**good, "kind": "tutoring"})
        nobody = http.post(url, json={**good, "people": [2**31 - 1]})
        too_long = http.post(url, json={**good, "hours": 25})
        tutored = http.post(f"/api/assistance/{student}/visits", json={**good, "kind": "tutoring"})
        listed = http.get(url).json()
    assert future.json()["code"] == before.json()["code"] == "branches.visit_day"
    assert tutoring.status_code == 422 and tutoring.json()["code"] == "branches.no_student"
    assert nobody.status_code == 422 and nobody.json()["code"] == "branches.no_person"
    assert too_long.status_code == 400
    assert tutored.status_code == 201
    assert [v["id"] for v in listed] == [made.json()["id"]]


def test_a_street_leader_pairs_and_visits_in_their_street_only(
    server: str, commander: str, leader: str
) -> None:
    home_id, _ = household(HOME)
    other_id, _ = household(OTHER)
    with client(server, commander) as http:
        branch = make_branch(http, free_members(HOME, 1) + free_members(OTHER, 1))
        theirs = pair(http, branch["id"], other_id)
    with client(server, leader) as http:
        mine = http.post(
            "/api/assistance",
            json={"branch_id": branch["id"], "household_id": home_id, "starts_on": "2024-01-01"},
        )
        assert mine.status_code == 201, mine.text
        refused = http.post(
            "/api/assistance",
            json={"branch_id": branch["id"], "household_id": other_id, "starts_on": "2024-01-01"},
        )
        assert refused.status_code == 403
        listed = http.get("/api/assistance", params={"branch_id": branch["id"]}).json()
        assert {a["household"]["street"] for a in listed} == {HOME}
        assert http.get("/api/assistance", params={"street": OTHER}).status_code == 403
        assert http.get(f"/api/assistance/{theirs}/visits").status_code == 403
        visit = {"visited_on": "2024-03-01", "kind": "visit", "hours": 1, "people": [1]}
        assert http.post(f"/api/assistance/{theirs}/visits", json=visit).status_code == 403
        assert http.get("/api/assistance/99999999/visits").status_code == 404
        cover = http.get("/api/branches/households", params={"limit": 2000}).json()
        assert {h["household"]["street"] for h in cover} == {HOME}
        # which households, not how to reach them: a street leader may not read care data
        assert all(h["household"]["phone"] is None for h in cover + listed)
        assert all(h["household"]["address"] is None for h in cover + listed)
        coverage = http.get("/api/branches/coverage").json()
        assert [c["street"] for c in coverage] == [HOME]
        assert http.get("/api/branches/coverage", params={"street": OTHER}).status_code == 403
