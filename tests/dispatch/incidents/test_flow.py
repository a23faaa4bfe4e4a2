"""From "roads are flooding" to supplies arriving, through a real server: declare, request,
plan, approve, and the street squads accept and complete their deliveries."""

from __future__ import annotations

import random

import httpx
import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.incidents.helpers import community_of, person, planned_request, stock
from tests.support import client, create_user, sql

STREETS = ("110101001", "110101002", "110101003")
ITEMS = ("WATER", "FOOD", "RAINGEAR", "SANDBAG")


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


@pytest.fixture(scope="module")
def leaders() -> dict[str, str]:
    return {street: create_user(Role.STREET_LEADER, street=street) for street in STREETS}


@pytest.fixture(scope="module")
def supplied() -> None:
    """The district reserve holds plenty, so every request can be met."""
    for item in ITEMS:
        stock("D110101000", item, 3000)


def _ledger_balances() -> None:
    mismatched = sql(
        """
        SELECT b.depot, b.lot, b.qty, coalesce(sum(m.qty), 0) AS ledger
        FROM stock_balance b LEFT JOIN stock_movement m ON m.depot=b.depot AND m.lot=b.lot
        GROUP BY b.id HAVING b.qty <> coalesce(sum(m.qty), 0)
        """
    )
    assert mismatched == []


def test_rainstorm_from_requests_to_deliveries(
    server: str, commander: str, leaders: dict[str, str], supplied: None
) -> None:
    communities = [community_of(s) for s in STREETS]
    crews = {s: [person(s), person(s)] for s in STREETS}
    rng = random.Random(20240730)
    with client(server, commander) as boss:
        declared = boss.post(
            "/api/incidents",
            json={
                "type": "rainstorm",
                "level": "III",
                "title": "暴雨内涝 测试",
                "communities": communities,
            },
        )
        assert declared.status_code == 201, declared.text
        incident = declared.json()["id"]
        assert boss.post(f"/api/incidents/{incident}/respond").json()["status"] == "responding"
        for i in range(20):
            body = {
                "community": communities[i % 3],
                "item": rng.choice(ITEMS),
                "quantity": rng.randint(5, 40),
                "priority": rng.choice(["critical", "high", "normal"]),
                "source": "hotline" if i % 5 == 0 else "community",
            }
            made = boss.post(f"/api/incidents/{incident}/requests", json=body)
            assert made.status_code == 201, made.text
        plan = boss.post(f"/api/incidents/{incident}/plans", json={}).json()
        assert plan["status"] == "proposed" and plan["unmet"] == []
        assert sum(line["quantity"] for line in plan["lines"]) == sum(
            r["quantity"] for r in boss.get(f"/api/incidents/{incident}/requests").json()
        )
        assert all(line["route"]["coordinates"] for line in plan["lines"])
        approved = boss.post(f"/api/plans/{plan['id']}/approve", json={})
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"

    for street, leader in leaders.items():
        with client(server, leader) as squad:
            tasks = squad.get("/api/tasks", params={"incident": incident}).json()
            assert tasks and {t["street"] for t in tasks} == {street}
            for t in tasks:
                v = t["version"]
                offered = squad.get(
                    f"/api/tasks/{t['id']}/suggestions", params={"on_duty_only": "false"}
                )
                assert offered.status_code == 200, offered.text
                assert offered.json()["wanted"] == t["people_needed"]
                assert offered.json()["staffed"] == t["people_needed"]  # drivers exist
                assert {s["person_id"] for s in offered.json()["suggestions"]} <= set(
                    p["id"] for p in sql("SELECT id FROM person WHERE active")
                )
                t = squad.post(
                    f"/api/tasks/{t['id']}/assign", json={"version": v, "people": crews[street]}
                ).json()
                t = squad.post(
                    f"/api/tasks/{t['id']}/accept", json={"version": t["version"]}
                ).json()
                t = squad.post(f"/api/tasks/{t['id']}/start", json={"version": t["version"]}).json()
                done = squad.post(f"/api/tasks/{t['id']}/complete", json={"version": t["version"]})
                assert done.status_code == 200, done.text
                assert done.json()["status"] == "done"

    with client(server, commander) as boss:
        requests = boss.get(f"/api/incidents/{incident}/requests").json()
        assert {r["status"] for r in requests} == {"fulfilled"}
        summary = boss.get(f"/api/incidents/{incident}/summary").json()
        assert summary["requests"] == 20 and summary["fill_rate"] == 1.0
        assert summary["first_delivery_minutes"] is not None
        assert summary["delivery_minutes"]["p50"] >= 0 and summary["people_hours"] >= 0
        assert summary["tasks_done"] == summary["tasks"] == len(plan["lines"])
        assert boss.post(f"/api/incidents/{incident}/stand-down").status_code == 200
        closed = boss.post(f"/api/incidents/{incident}/close").json()
    assert closed["status"] == "closed" and closed["summary"]["fill_rate"] == 1.0
    _ledger_balances()
    transfers = sql("SELECT status FROM stock_transfer WHERE incident_id=$1", incident)
    assert {t["status"] for t in transfers} == {"received"}


def test_plan_whose_stock_changed_is_refused(server: str, commander: str, supplied: None) -> None:
    community = community_of("110101004")
    with client(server, commander) as boss:
        incident, _, plan = planned_request(boss, community, "WATER", 10, "heatwave", "IV", "高温")
        stock("D110101000", "WATER", 7)  # the world moves on
        refused = boss.post(f"/api/plans/{plan['id']}/approve", json={})
        assert refused.status_code == 409
        assert "re-plan" in refused.json()["detail"]
        assert (
            sql("SELECT count(*) AS n FROM stock_transfer WHERE incident_id=$1", incident["id"])[0][
                "n"
            ]
            == 0
        )
        fresh = boss.post(f"/api/incidents/{incident['id']}/plans", json={}).json()
        assert boss.post(f"/api/plans/{fresh['id']}/approve", json={}).status_code == 200
        assert boss.get(f"/api/plans/{plan['id']}").json()["status"] == "superseded"


def test_edited_approval_and_failed_delivery_returns_stock(
    server: str, commander: str, supplied: None
) -> None:
    community = community_of("110101005")
    street_leader = create_user(Role.STREET_LEADER, street="110101005")
    with client(server, commander) as boss:
        incident, request, plan = planned_request(
            boss, community, "FOOD", 30, "fire", "IV", "胡同火灾"
        )
        line = plan["lines"][0]
        too_much = boss.post(
            f"/api/plans/{plan['id']}/approve",
            json={"lines": [{"line": line["id"], "quantity": 999}]},
        )
        assert too_much.status_code == 422 and too_much.json()["field"] == "lines[0].quantity"
        edited = boss.post(
            f"/api/plans/{plan['id']}/approve",
            json={"lines": [{"line": line["id"], "quantity": 12}]},
        )
        assert edited.status_code == 200
        assert boss.get(f"/api/requests/{request['id']}").json()["planned_qty"] == 12
    on_hand = sql("SELECT sum(qty) AS n FROM stock_balance WHERE item='FOOD'")[0]["n"]
    with client(server, street_leader) as squad:
        (task,) = squad.get("/api/tasks", params={"incident": incident["id"]}).json()
        failed = squad.post(
            f"/api/tasks/{task['id']}/fail",
            json={"version": task["version"], "reason": "lane flooded"},
        )
        assert failed.status_code == 200, failed.text
    back = sql("SELECT sum(qty) AS n FROM stock_balance WHERE item='FOOD'")[0]["n"]
    assert back == on_hand + 12  # the stock came back to its depot
    with client(server, commander) as boss:
        again = boss.get(f"/api/requests/{request['id']}").json()
    assert again["status"] == "open" and again["planned_qty"] == 0
    _ledger_balances()


def test_versions_and_transitions(server: str, commander: str) -> None:
    community = community_of("110101006")
    with client(server, commander) as boss:
        incident = boss.post(
            "/api/incidents",
            json={"type": "snow_ice", "level": "IV", "title": "寒潮", "communities": [community]},
        ).json()
        task = boss.post(
            f"/api/incidents/{incident['id']}/tasks",
            json={"kind": "guard", "community": community, "people": 1},
        ).json()
        early = boss.post(f"/api/tasks/{task['id']}/accept", json={"version": 1})
        assert early.status_code == 409  # open -> accepted skips assignment
        worker = person("110101006", ["first_aid"])
        assigned = boss.post(
            f"/api/tasks/{task['id']}/assign", json={"version": 1, "people": [worker]}
        )
        assert assigned.json()["version"] == 2
        stale = boss.post(f"/api/tasks/{task['id']}/accept", json={"version": 1})
        assert stale.status_code == 412 and stale.json()["current_version"] == 2
        bad = boss.post(f"/api/tasks/{task['id']}/assign", json={"version": 2, "people": [0]})
        assert bad.status_code == 400
        history = boss.get(f"/api/tasks/{task['id']}/history").json()
    assert [h["event"] for h in history] == ["created", "assign"]


def test_unknown_things_are_named(server: str, commander: str) -> None:
    with client(server, commander) as boss:
        unknown = boss.post(
            "/api/incidents",
            json={"type": "rainstorm", "level": "V", "title": "x", "communities": ["110101001001"]},
        )
        assert unknown.status_code == 400 and unknown.json()["field"] == "level"
        nowhere = boss.post(
            "/api/incidents",
            json={
                "type": "rainstorm",
                "level": "II",
                "title": "x",
                "communities": ["110101999999"],
            },
        )
        assert nowhere.status_code == 422 and nowhere.json()["field"] == "communities[0]"
        assert boss.get("/api/incidents/999999").status_code == 404
        assert boss.get("/api/plans/999999").status_code == 404
        assert boss.post("/api/tasks/999999/accept", json={"version": 1}).status_code == 404


def test_street_leader_sees_only_their_streets_requests(server: str, commander: str) -> None:
    mine, theirs = community_of("110101007"), community_of("110101008")
    leader = create_user(Role.STREET_LEADER, street="110101007")
    with client(server, commander) as boss:
        incident = boss.post(
            "/api/incidents",
            json={
                "type": "utility_outage",
                "level": "IV",
                "title": "停暖",
                "communities": [mine, theirs],
            },
        ).json()
        for community in (mine, theirs):
            boss.post(
                f"/api/incidents/{incident['id']}/requests",
                json={"community": community, "item": "QUILT", "quantity": 3},
            )
    with client(server, leader) as squad:
        seen = squad.get(f"/api/incidents/{incident['id']}/requests").json()
        assert [r["community"] for r in seen] == [mine]
        other = sql("SELECT id FROM supply_request WHERE community=$1", theirs)[0]["id"]
        assert squad.get(f"/api/requests/{other}").status_code == 404
        assert isinstance(httpx, object)
