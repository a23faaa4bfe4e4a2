"""Suggesting people for a need through the service endpoint: skills, hours, reasons."""

from __future__ import annotations

import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.people.seed import first_community
from tests.support import client, create_user, sql, unique

STREET = "110101005"


@pytest.fixture(scope="module")
def rare_skill(server: str, commander: str) -> tuple[str, list[int]]:
    """A new skill held by exactly two people, both checked in in one community."""
    code = f"diving_{unique('d')[-6:]}"
    community = first_community(STREET)
    with client(server, commander) as http:
        assert http.post("/api/skills", json={"code": code, "name": "潜水"}).status_code == 201
        ids = []
        for n in range(2):
            person = http.post(
                "/api/people",
                json={
                    "code": unique("D")[:20],
                    "name": f"潜水员{n}",
                    "kind": "community_worker",
                    "community": community,
                    "skills": [code, "first_aid"],
                },
            ).json()
            ids.append(person["id"])
            check = http.post("/api/duty/check-in", json={"person_id": person["id"]})
            assert check.status_code == 201, check.text
    return code, ids


def test_suggestions_have_the_skills_and_prefer_the_community(server: str, commander: str) -> None:
    community = first_community(STREET)
    with client(server, commander) as http:
        response = http.post(
            "/api/people/suggest",
            json={"community": community, "people": 4, "skills": ["lifting"], "duration_h": 2},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["wanted"] == 4 and body["considered"] > 100
    assert body["staffed"] == len(body["suggestions"]) == 4 and body["short"] == []
    for s in body["suggestions"]:
        assert "lifting" in s["skills"]
        assert s["hours_today"] + 2 <= 8
        assert s["explanation"] and s["travel_min"] >= 0
    # preferred people (paired units, residents) come before others, nearest first
    ranks = [0 if s["preferred"] in ("paired", "resident") else 1 for s in body["suggestions"]]
    assert ranks == sorted(ranks)
    on_duty = {
        r["person_id"] for r in sql("SELECT person_id FROM check_in WHERE checked_out_at IS NULL")
    }
    assert {s["person_id"] for s in body["suggestions"]} <= on_duty


def test_shortfall_reasons(server: str, commander: str, rare_skill: tuple[str, list[int]]) -> None:
    code, holders = rare_skill
    community = first_community("110101010")
    with client(server, commander) as http:
        enough = http.post(
            "/api/people/suggest", json={"community": community, "people": 2, "skills": [code]}
        ).json()
        assert {s["person_id"] for s in enough["suggestions"]} == set(holders)
        assert enough["short"] == []

        too_many = http.post(
            "/api/people/suggest", json={"community": community, "people": 5, "skills": [code]}
        ).json()
        assert too_many["staffed"] == 2
        assert [(s["missing"], s["reason"]) for s in too_many["short"]] == [(3, "all_assigned")]

        nobody = http.post(
            "/api/people/suggest",
            json={"community": community, "people": 1, "skills": [code, "interpreting"]},
        ).json()
        assert nobody["staffed"] == 0
        assert nobody["short"][0]["reason"] == "no_skill"
        assert "interpreting" in nobody["short"][0]["explanation"]

        too_long = http.post(
            "/api/people/suggest",
            json={"community": community, "people": 1, "skills": [code], "duration_h": 9},
        ).json()
        assert too_long["staffed"] == 0
        assert too_long["short"][0]["reason"] == "over_hours"
        assert "8 h limit" in too_long["short"][0]["explanation"]

        unknown = http.post(
            "/api/people/suggest", json={"community": community, "people": 1, "skills": ["zz_x"]}
        )
        assert unknown.status_code == 422 and unknown.json()["field"] == "skills"


def test_checked_out_people_are_not_suggested_unless_asked(
    server: str, commander: str, rare_skill: tuple[str, list[int]]
) -> None:
    code, holders = rare_skill
    community = first_community(STREET)
    with client(server, commander) as http:
        for person in holders:
            assert http.post("/api/duty/check-out", json={"person_id": person}).status_code == 200
        on_duty = http.post(
            "/api/people/suggest", json={"community": community, "people": 1, "skills": [code]}
        ).json()
        assert on_duty["staffed"] == 0 and on_duty["short"][0]["reason"] == "no_skill"
        anyone = http.post(
            "/api/people/suggest",
            json={"community": community, "people": 2, "skills": [code], "on_duty_only": False},
        ).json()
        assert {s["person_id"] for s in anyone["suggestions"]} == set(holders)
        assert {s["preferred"] for s in anyone["suggestions"]} == {"resident"}


def test_street_leader_suggests_only_for_their_street(server: str, district: None) -> None:
    leader = create_user(Role.STREET_LEADER, street=STREET)
    with client(server, leader) as http:
        own = http.post(
            "/api/people/suggest", json={"community": first_community(STREET), "people": 1}
        )
        other = http.post(
            "/api/people/suggest", json={"community": first_community("110101001"), "people": 1}
        )
    assert own.status_code == 200 and own.json()["staffed"] == 1
    assert other.status_code == 403
