"""Door checks for care households, and rerouting deliveries when a road closes."""

from __future__ import annotations

import uuid

import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.incidents.helpers import community_of, stock
from tests.support import client, create_user, run, sql, system_context


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


def _households(community: str, kinds: list[str]) -> None:
    from dispatch.people.schemas import CareHouseholdCreate, CareKind
    from dispatch.people.service import create_care_household

    for kind in kinds:
        body = CareHouseholdCreate(
            code=f"H{uuid.uuid4().hex[:10]}",
            kind=CareKind(kind),
            community=community,
            head_name="测试户主",
        )
        run(create_care_household(system_context(), body))


def test_declaring_with_door_checks_groups_care_households(server: str, commander: str) -> None:
    community = community_of("110101010", 1)
    before = sql("SELECT count(*) AS n FROM care_household WHERE community=$1", community)[0]["n"]
    _households(community, ["elderly_alone"] * 9 + ["low_income"] * 3)
    total = before + 12
    with client(server, commander) as boss:
        incident = boss.post(
            "/api/incidents",
            json={
                "type": "heatwave",
                "level": "III",
                "title": "高温入户",
                "communities": [community],
                "door_checks": True,
            },
        ).json()
        tasks = boss.get("/api/tasks", params={"incident": incident["id"]}).json()
    assert {t["kind"] for t in tasks} == {"door_check"}
    assert sum(len(t["households"]) for t in tasks) == total
    assert all(len(t["households"]) <= 8 for t in tasks)
    assert "elderly_care" in tasks[0]["skills"]  # the elderly living alone come first


def test_a_closure_on_a_delivery_route_reroutes_it(server: str, commander: str) -> None:
    community = community_of("110101011")
    stock("D110101000", "TENT", 200)
    with client(server, commander) as boss:
        incident = boss.post(
            "/api/incidents",
            json={"type": "earthquake", "level": "II", "title": "震后", "communities": [community]},
        ).json()
        boss.post(
            f"/api/incidents/{incident['id']}/requests",
            json={"community": community, "item": "TENT", "quantity": 20},
        )
        plan = boss.post(f"/api/incidents/{incident['id']}/plans", json={}).json()
        assert boss.post(f"/api/plans/{plan['id']}/approve", json={}).status_code == 200
        (task,) = boss.get("/api/tasks", params={"incident": incident["id"]}).json()
        coords = task["route"]["coordinates"]
        assert len(coords) >= 5
        lon, lat = coords[len(coords) // 2]
        closed = boss.post(
            f"/api/incidents/{incident['id']}/closures",
            json={"near": [lat, lon], "radius_m": 15, "note": "积水"},
        )
        assert closed.status_code == 201, closed.text
        after = boss.get(f"/api/tasks/{task['id']}").json()
    # the synthetic lanes are dense: there is always a way around a 15 m closure mid-route
    assert closed.json()["rerouted_tasks"] == [task["id"]]
    assert after["route"]["nodes"] != task["route"]["nodes"]
    assert [lon, lat] not in after["route"]["coordinates"]
    assert after["route"]["nodes"][0] == task["route"]["nodes"][0]
    assert after["route"]["nodes"][-1] == task["route"]["nodes"][-1]
    assert after["version"] == task["version"] + 1
