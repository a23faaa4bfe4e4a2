"""Branches against a real server: records with their members by home community, the rules
of kind and membership, audit rows, and the street leader's scope (the streets where a
branch's members live or its households are)."""

from __future__ import annotations

from tests.dispatch.branches.helpers import (
    HOME,
    OTHER,
    branch_body,
    free_members,
    household,
    make_branch,
    pair,
)
from tests.support import client, sql


def test_a_commander_creates_gets_lists_and_patches_a_branch(server: str, commander: str) -> None:
    members = free_members(HOME, 2)
    with client(server, commander) as http:
        made = make_branch(http, members[:1], secretary_id=members[1])
        assert made["members"] == 2  # the secretary is a member
        assert made["streets"] == [HOME]
        assert made["secretary_id"] == members[1]
        assert http.get(f"/api/branches/{made['id']}").json()["code"] == made["code"]
        listed = http.get("/api/branches", params={"street": HOME, "limit": 2000}).json()
        assert made["id"] in {b["id"] for b in listed}
        kind = http.get("/api/branches", params={"kind": "employer", "limit": 2000}).json()
        assert made["id"] not in {b["id"] for b in kind}
        patched = http.patch(
            f"/api/branches/{made['id']}", json={"name": made["name"] + "二", "members": []}
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["members"] == 1  # the secretary stays
        groups = http.get(f"/api/branches/{made['id']}/members").json()
    assert [m["person_id"] for g in groups for m in g["members"]] == [members[1]]
    assert all(m["phone"] is None or "****" in m["phone"] for g in groups for m in g["members"])
    person = sql("SELECT party_branch FROM person WHERE id=$1", members[1])[0]
    assert person["party_branch"] == made["name"] + "二"
    audits = sql(
        "SELECT action FROM audit_entry WHERE entity='party_branch' AND entity_id=$1 ORDER BY id",
        str(made["id"]),
    )
    assert [a["action"] for a in audits] == ["branches.create", "branches.update"]


def test_members_are_listed_by_home_community(server: str, commander: str) -> None:
    home, other = free_members(HOME, 1), free_members(OTHER, 1)
    with client(server, commander) as http:
        made = make_branch(http, home + other)
        assert made["streets"] == sorted([HOME, OTHER])
        groups = http.get(f"/api/branches/{made['id']}/members").json()
        one = groups[0]["community"]
        only = http.get(f"/api/branches/{made['id']}/members", params={"community": one}).json()
        by_community = http.get("/api/branches", params={"community": one, "limit": 2000}).json()
    assert len(groups) == 2 and all(len(g["members"]) == 1 for g in groups)
    assert [g["community"] for g in only] == [one]
    assert made["id"] in {b["id"] for b in by_community}


def test_the_rules_of_kind_and_membership(server: str, commander: str) -> None:
    member = free_members(HOME, 1)
    with client(server, commander) as http:
        no_unit = http.post("/api/branches", json=branch_body([], kind="employer"))
        no_org = http.post("/api/branches", json=branch_body([], organisation=None))
        squad = sql("SELECT min(id) AS i FROM person WHERE kind='squad_member'")[0]["i"]
        not_party = http.post("/api/branches", json=branch_body([squad]))
        first = make_branch(http, member)
        taken = http.post("/api/branches", json=branch_body(member))
        same_code = http.post("/api/branches", json=branch_body([], code=first["code"]))
        bad = http.post("/api/branches", json={**branch_body([]), "kind": "club"})
    assert no_unit.status_code == 422 and no_unit.json()["code"] == "branches.unit_needed"
    assert no_org.json()["code"] == "branches.organisation_needed"
    assert not_party.status_code == 422 and not_party.json()["code"] == "branches.not_party_member"
    assert taken.status_code == 409 and taken.json()["code"] == "branches.member_taken"
    assert same_code.status_code == 409 and same_code.json()["code"] == "branches.code_taken"
    assert bad.status_code == 400


def test_a_street_leader_sees_only_branches_lying_in_their_street(
    server: str, commander: str, leader: str
) -> None:
    with client(server, commander) as http:
        mine = make_branch(http, free_members(HOME, 1) + free_members(OTHER, 1))
        theirs = make_branch(http, free_members(OTHER, 1))
        # a branch with no member in the street lies there through a household it assists
        assisting = make_branch(http, free_members(OTHER, 1))
        pair(http, assisting["id"], household(HOME)[0])
    with client(server, leader) as http:
        listed = {b["id"] for b in http.get("/api/branches", params={"limit": 2000}).json()}
        assert mine["id"] in listed and assisting["id"] in listed
        assert theirs["id"] not in listed
        assert http.get(f"/api/branches/{theirs['id']}").status_code == 403
        assert http.get(f"/api/branches/{theirs['id']}/members").status_code == 403
        assert http.get("/api/branches", params={"street": OTHER}).status_code == 403
        assert http.get("/api/branches/99999999").status_code == 404
        groups = http.get(f"/api/branches/{mine['id']}/members").json()
        assert {g["street"] for g in groups} == {HOME}  # their street's members only
        assert http.patch(f"/api/branches/{mine['id']}", json={"name": "x"}).status_code == 403
        assert http.post("/api/branches", json=branch_body([])).status_code == 403
