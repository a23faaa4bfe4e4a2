"""Community emergency plans: every reference checked before it is written, versions that
supersede, approval by the plan's street (or a commander), coverage per street."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.preparedness.helpers import community_of, plans_made_here, shelter
from tests.support import client, create_user, sql

STREET = "110101013"
OTHER_STREET = "110101014"


@pytest.fixture(scope="module", autouse=True)
def _plans_superseded_after() -> Iterator[None]:
    yield from plans_made_here()


def _squad(street: str) -> int:
    return int(
        sql("SELECT min(id) AS i FROM team WHERE kind='street_squad' AND street=$1", street)[0]["i"]
    )


def _people(community: str, street: str) -> list[int]:
    rows = sql(
        "SELECT id FROM person WHERE active AND street=$1 ORDER BY community=$2 DESC, id LIMIT 2",
        street,
        community,
    )
    return [int(r["id"]) for r in rows]


def _body(community: str, street: str, shelter_id: int, **changes: Any) -> dict[str, Any]:
    first, second = _people(community, street)
    body: dict[str, Any] = {
        "community": community,
        "title": "社区防汛应急预案",
        "hazards": [{"type": "rainstorm", "min_level": "IV"}],
        "roles": [
            {
                "role": "现场总指挥",
                "holder": {"kind": "person", "id": first},
                "deputy": {"kind": "person", "id": second},
            },
            {
                "role": "抢险救援组",
                "holder": {"kind": "street_squad", "id": _squad(street)},
                "deputy": {"kind": "person", "id": first},
            },
        ],
        "shelters": [shelter_id],
        "tasks": [{"kind": "evacuation", "people": 4, "minutes": 90, "skills": ["lifting"]}],
    }
    body.update(changes)
    return body


def test_every_reference_is_checked_before_anything_is_written(boss: httpx.Client) -> None:
    community = community_of(STREET)
    place = shelter(boss, community, 39.9, 116.4)
    before = sql("SELECT count(*) AS n FROM community_plan")[0]["n"]
    good = _body(community, STREET, place["id"])
    cases = [
        ({"shelters": [2_000_000_000]}, "shelters[0]", "reference.unknown"),
        (
            {"roles": [{**good["roles"][0], "holder": {"kind": "person", "id": 2_000_000_000}}]},
            "roles[0].holder",
            "reference.unknown",
        ),
        (
            {
                "roles": [
                    {
                        **good["roles"][1],
                        "holder": {"kind": "street_squad", "id": _squad(OTHER_STREET)},
                    }
                ]
            },
            "roles[0].holder",
            "plan.not_street_squad",
        ),
        (
            {"roles": [{**good["roles"][0], "deputy": good["roles"][0]["holder"]}]},
            "roles[0].deputy",
            "plan.deputy_is_holder",
        ),
        (
            {"tasks": [{"kind": "guard", "people": 1, "skills": ["juggling"]}]},
            "tasks[0].skills[0]",
            "reference.unknown",
        ),
        ({"tasks": [{"kind": "delivery", "people": 1}]}, "tasks[0].kind", "plan.delivery_task"),
    ]
    for change, field, code in cases:
        answer = boss.post("/api/preparedness/plans", json={**good, **change})
        assert answer.status_code == 422, (change, answer.text)
        assert answer.json()["field"] == field and answer.json()["code"] == code, answer.json()
    assert sql("SELECT count(*) AS n FROM community_plan")[0]["n"] == before


def test_versions_supersede_and_approval_is_the_streets(server: str, boss: httpx.Client) -> None:
    community = community_of(STREET, 1)
    place = shelter(boss, community, 39.9, 116.41)
    leader = client(server, create_user(Role.STREET_LEADER, street=STREET))
    stranger = client(server, create_user(Role.STREET_LEADER, street=OTHER_STREET))
    first = leader.post("/api/preparedness/plans", json=_body(community, STREET, place["id"]))
    assert first.status_code == 201, first.text
    plan = first.json()
    assert plan["status"] == "draft" and plan["roles"][0]["holder"]["name"]
    phone = plan["roles"][0]["holder"]["phone"]
    assert phone is None or "****" in phone
    refused = stranger.post(f"/api/preparedness/plans/{plan['id']}/approve")
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden.scope"
    approved = leader.post(f"/api/preparedness/plans/{plan['id']}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    second = boss.post("/api/preparedness/plans", json=_body(community, STREET, place["id"]))
    assert second.json()["version"] == plan["version"] + 1
    boss.post(f"/api/preparedness/plans/{second.json()['id']}/approve").raise_for_status()
    statuses = {
        p["id"]: p["status"]
        for p in boss.get("/api/preparedness/plans", params={"community": community}).json()
    }
    assert statuses[plan["id"]] == "superseded" and statuses[second.json()["id"]] == "approved"
    again = boss.post(f"/api/preparedness/plans/{plan['id']}/approve")
    assert again.status_code == 409 and again.json()["code"] == "plan.not_draft"
    assert all(p["street"] == STREET for p in leader.get("/api/preparedness/plans").json())


def test_coverage_counts_communities_with_an_approved_plan_per_hazard(
    server: str, boss: httpx.Client
) -> None:
    community = community_of(STREET, 2)
    place = shelter(boss, community, 39.9, 116.42)
    body = _body(community, STREET, place["id"], hazards=[{"type": "fire", "min_level": "III"}])
    before = boss.get("/api/preparedness/plans/coverage").json()
    made = boss.post("/api/preparedness/plans", json=body).json()
    boss.post(f"/api/preparedness/plans/{made['id']}/approve").raise_for_status()
    after = boss.get("/api/preparedness/plans/coverage").json()
    street_before = next(s for s in before["streets"] if s["street"] == STREET)
    street_after = next(s for s in after["streets"] if s["street"] == STREET)
    had_one = bool(
        sql("SELECT 1 FROM community_plan WHERE community=$1 AND status='superseded'", community)
    )
    assert street_after["with_plan"] == street_before["with_plan"] + (0 if had_one else 1)
    assert after["communities"] == 169 and len(after["streets"]) == 17
    assert street_after["by_hazard"]["fire"] >= 1
    leader = client(server, create_user(Role.STREET_LEADER, street=STREET))
    assert [
        s["street"] for s in leader.get("/api/preparedness/plans/coverage").json()["streets"]
    ] == [STREET]
