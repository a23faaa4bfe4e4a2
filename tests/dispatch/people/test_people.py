"""People, partner units, pairings, teams and duty through the API: masked, audited, scoped."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import pytest

from dispatch.accounts.policy import Role
from dispatch.clock import SHANGHAI
from dispatch.people.service import effective_status, mask_address, mask_phone
from tests.dispatch.people.seed import first_community
from tests.support import client, create_user, sql, unique

HOME = "110101001"
OTHER = "110101002"


def _audit(action: str, entity_id: object) -> list[dict[str, object]]:
    return sql(
        "SELECT actor, action, before, after FROM audit_entry WHERE action=$1 AND entity_id=$2 "
        "ORDER BY id",
        action,
        str(entity_id),
    )


def test_masking_rules() -> None:
    assert mask_phone("10012345678") == "100****5678"
    assert mask_phone(None) is None
    assert mask_address("多福巷社区3号楼2单元401") == "多福巷社区****"
    assert mask_address("no digits here at all") == "no digi****"
    today = date(2026, 11, 27)
    assert effective_status("active", today, today, today).value == "active"
    assert effective_status("active", today, today - timedelta(days=1), today).value == "expired"
    assert effective_status("active", today + timedelta(days=1), today, today).value == "pending"
    assert effective_status("suspended", today, today, today).value == "suspended"


def test_register_a_party_member_masked_and_audited_and_revealed(
    server: str, commander: str
) -> None:
    community = first_community(HOME)
    body = {
        "code": unique("P")[:20],
        "name": "测试党员",
        "kind": "party_member",
        "phone": "10055501234",
        "address": "多福巷社区9号楼1单元101",
        "community": community,
        "party_branch": "国家测试部机关党支部",
        "skills": ["first_aid", "driving"],
        "availability": "weekends",
    }
    with client(server, commander) as http:
        created = http.post("/api/people", json=body)
        assert created.status_code == 201, created.text
        person = created.json()
        assert person["phone"] == "100****1234"
        assert person["address"] == "多福巷社区****"
        assert person["street"] == HOME and person["on_duty"] is False
        assert http.get(f"/api/people/{person['id']}").json()["phone"] == "100****1234"
        revealed = http.post(f"/api/people/{person['id']}/reveal")
        assert revealed.status_code == 200
        assert revealed.json()["phone"] == "10055501234"
        assert revealed.headers["cache-control"] == "no-store"
        changed = http.patch(f"/api/people/{person['id']}", json={"skills": ["medical"]})
        assert changed.status_code == 200 and changed.json()["skills"] == ["medical"]
        cleared = http.patch(f"/api/people/{person['id']}", json={"phone": ""})
        assert cleared.json()["phone"] is None
    created_audit = _audit("people.create", person["id"])
    assert len(created_audit) == 1
    assert "10055501234" not in str(created_audit[0]["after"])
    assert len(_audit("people.reveal", person["id"])) == 1
    assert len(_audit("people.update", person["id"])) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "party_member", "community": "110101001001"}, "party_branch"),
        ({"kind": "unit_member", "community": "110101001001"}, "unit_id"),
        ({"kind": "squad_member"}, "community"),
        ({"kind": "squad_member", "street": "110101999"}, "street"),
        ({"kind": "community_worker", "community": "110101999999"}, "community"),
        (
            {"kind": "community_worker", "community": "110101001001", "skills": ["juggling"]},
            "skills",
        ),
        ({"kind": "community_worker", "community": "110101001001", "phone": "12345"}, "phone"),
    ],
)
def test_bad_person_names_the_field(
    server: str, commander: str, change: dict[str, object], field: str
) -> None:
    body = {"code": unique("X")[:20], "name": "某人", **change}
    with client(server, commander) as http:
        response = http.post("/api/people", json=body)
    assert response.status_code in (400, 422), response.text
    assert response.json().get("field") == field, response.text


def test_commander_extends_the_skill_list(server: str, commander: str) -> None:
    code = f"rope_{unique('s')[-6:]}"
    leader = create_user(Role.STREET_LEADER, street=HOME)
    with client(server, commander) as http:
        skills = {s["code"] for s in http.get("/api/skills").json()}
        assert {"first_aid", "driving", "electrician", "plumbing", "counselling"} <= skills
        assert {"elderly_care", "lifting", "medical", "interpreting"} <= skills
        assert http.post("/api/skills", json={"code": code, "name": "绳索救援"}).status_code == 201
        assert http.post("/api/skills", json={"code": code, "name": "again"}).status_code == 409
        assert code in {s["code"] for s in http.get("/api/skills").json()}
    with client(server, leader) as http:
        assert http.post("/api/skills", json={"code": "x_" + code, "name": "n"}).status_code == 403


def test_an_expired_pairing_stops_counting_visibly(server: str, commander: str) -> None:
    community = first_community(OTHER)
    today = datetime.now(SHANGHAI).date()
    with client(server, commander) as http:
        unit = http.post(
            "/api/partner-units",
            json={
                "code": unique("U")[:20],
                "name": f"测试单位{uuid.uuid4().int % 10**8}",
                "kind": "municipal",
                "contact_name": "联系人",
                "contact_phone": "10011112222",
            },
        ).json()
        assert unit["contact_phone"] == "100****2222"
        before = _coverage(http, community)
        expired = http.post(
            "/api/pairings",
            json={
                "unit_id": unit["id"],
                "community": community,
                "signed_on": str(today - timedelta(days=800)),
                "valid_from": str(today - timedelta(days=800)),
                "valid_until": str(today - timedelta(days=1)),
                "pledged_people": 12,
                "pledged_skills": ["lifting"],
            },
        )
        assert expired.status_code == 201, expired.text
        assert expired.json()["effective_status"] == "expired"
        assert expired.json()["counts"] is False
        live = http.post(
            "/api/pairings",
            json={
                "unit_id": unit["id"],
                "community": community,
                "signed_on": str(today),
                "valid_from": str(today),
                "valid_until": str(today + timedelta(days=365)),
                "pledged_people": 8,
            },
        ).json()
        assert live["effective_status"] == "active" and live["counts"] is True
        after = _coverage(http, community)
        assert after["counting"] == before["counting"] + 1
        assert after["not_counting"] == before["not_counting"] + 1
        assert after["pledged_people"] == before["pledged_people"] + 8
        listed = http.get("/api/pairings", params={"community": community}).json()
        assert {p["effective_status"] for p in listed if p["unit_id"] == unit["id"]} == {
            "expired",
            "active",
        }
        counting = http.get(
            "/api/pairings", params={"community": community, "counting": "true"}
        ).json()
        assert all(p["counts"] for p in counting)
        suspended = http.put(f"/api/pairings/{live['id']}/status", json={"status": "suspended"})
        assert suspended.json()["counts"] is False
        assert _coverage(http, community)["counting"] == before["counting"]
        assert (
            http.put(
                f"/api/pairings/{live['id']}/status", json={"status": "terminated"}
            ).status_code
            == 200
        )
        reopened = http.put(f"/api/pairings/{live['id']}/status", json={"status": "active"})
        assert reopened.status_code == 409
        bad = http.post(
            "/api/pairings",
            json={
                "unit_id": unit["id"],
                "community": community,
                "signed_on": str(today),
                "valid_from": str(today),
                "valid_until": str(today - timedelta(days=2)),
            },
        )
        assert bad.status_code == 422 and bad.json()["field"] == "valid_until"


def _coverage(http: object, community: str) -> dict[str, int]:
    rows = http.get("/api/pairings/by-community").json()  # type: ignore[attr-defined]
    return next(r for r in rows if r["community"] == community)


def test_teams_squads_and_members(server: str, commander: str) -> None:
    leader = create_user(Role.STREET_LEADER, street=HOME)
    with client(server, leader) as http:
        listed = http.get("/api/teams", params={"kind": "street_squad"}).json()
        assert {t["street"] for t in listed} == {HOME}
        squads = [t for t in listed if t["name"].endswith("应急小分队")]  # the synthetic one
        assert len(squads) == 1
        assert 10 <= squads[0]["size"] <= 20
        assert squads[0]["leader_id"] in {m["id"] for m in squads[0]["members"]}
        members = [m["id"] for m in squads[0]["members"]]
        team = http.post(
            "/api/teams",
            json={
                "name": "第二小分队",
                "kind": "street_squad",
                "street": HOME,
                "leader_id": members[0],
                "member_ids": members[1:3],
            },
        )
        assert team.status_code == 201, team.text
        assert team.json()["size"] == 3
        team_id = team.json()["id"]
        changed = http.put(f"/api/teams/{team_id}/members", json={"member_ids": members[3:5]})
        assert changed.status_code == 200 and changed.json()["size"] == 2
        assert changed.json()["leader_id"] is None
        outsider = sql("SELECT min(id) AS i FROM person WHERE street=$1", OTHER)[0]["i"]
        refused = http.put(f"/api/teams/{team_id}/members", json={"member_ids": [outsider]})
        assert refused.status_code == 403
    with client(server, commander) as http:
        all_squads = http.get("/api/teams", params={"kind": "street_squad"}).json()
    assert len({t["street"] for t in all_squads}) == 17


def test_check_in_on_duty_counts_and_check_out(server: str, commander: str) -> None:
    community = first_community(HOME)
    person = sql(
        "SELECT min(p.id) AS i FROM person p WHERE p.community=$1 AND p.kind='party_member' "
        "AND NOT EXISTS (SELECT 1 FROM check_in c WHERE c.person_id=p.id "
        "AND c.checked_out_at IS NULL)",
        community,
    )[0]["i"]
    with client(server, commander) as http:
        before = _on_duty(http, community)
        streets_before = {
            s["street"]: s["on_duty"] for s in http.get("/api/duty/on-duty/streets").json()
        }
        response = http.post(
            "/api/duty/check-in", json={"person_id": person, "lat": 39.92, "lon": 116.41}
        )
        assert response.status_code == 201, response.text
        assert response.json()["community"] == community
        assert http.post("/api/duty/check-in", json={"person_id": person}).status_code == 409
        assert _on_duty(http, community)["on_duty"] == before["on_duty"] + 1
        streets = {s["street"]: s["on_duty"] for s in http.get("/api/duty/on-duty/streets").json()}
        assert streets[HOME] == streets_before[HOME] + 1
        people = http.get(f"/api/duty/on-duty/{community}/people").json()
        assert person in {p["person_id"] for p in people}
        assert http.get(f"/api/people/{person}").json()["on_duty"] is True
        out = http.post("/api/duty/check-out", json={"person_id": person})
        assert out.status_code == 200 and out.json()["checked_out_at"] is not None
        assert http.post("/api/duty/check-out", json={"person_id": person}).status_code == 409
        assert _on_duty(http, community)["on_duty"] == before["on_duty"]
        half = http.post("/api/duty/check-in", json={"person_id": person, "lat": 39.9})
        assert half.status_code == 422 and half.json()["field"] == "lon"
    assert len(_audit("duty.check_in", person)) >= 1
    assert len(_audit("duty.check_out", person)) >= 1


def _on_duty(http: object, community: str) -> dict[str, object]:
    rows = http.get("/api/duty/on-duty").json()  # type: ignore[attr-defined]
    return next(r for r in rows if r["community"] == community)


def test_duty_roster(server: str, commander: str) -> None:
    community = first_community(HOME)
    people = [
        r["id"]
        for r in sql("SELECT id FROM person WHERE community=$1 ORDER BY id LIMIT 3", community)
    ]
    start = datetime(2026, 12, 1, 8, tzinfo=SHANGHAI)
    with client(server, commander) as http:
        shift = http.post(
            "/api/duty/shifts",
            json={
                "community": community,
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=8)).isoformat(),
                "person_ids": people,
                "note": "早班",
            },
        )
        assert shift.status_code == 201, shift.text
        assert [p["id"] for p in shift.json()["people"]] == people
        listed = http.get("/api/duty/shifts", params={"community": community, "day": "2026-12-01"})
        assert shift.json()["id"] in {s["id"] for s in listed.json()}
        backwards = http.post(
            "/api/duty/shifts",
            json={
                "community": community,
                "starts_at": start.isoformat(),
                "ends_at": (start - timedelta(hours=1)).isoformat(),
            },
        )
        assert backwards.status_code == 422 and backwards.json()["field"] == "ends_at"
