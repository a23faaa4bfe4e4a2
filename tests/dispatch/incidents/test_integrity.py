"""Incidents and tasks keep their integrity: no stand-down or close over deliveries still
on the road unless they are cancelled (their stock returned), nothing assigned in an
incident that is over, and direct assignment by the rules the suggestions follow."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from dispatch.accounts.policy import Role
from tests.dispatch.incidents.helpers import community_of, person, planned_request, stock
from tests.support import client, create_user, sql

STREET = "110101017"
OTHER_STREET = "110101016"
ERRORS = Path(__file__).resolve().parents[3] / "dispatch" / "web" / "messages" / "errors.yaml"
MESSAGES = yaml.safe_load(ERRORS.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


@pytest.fixture(scope="module")
def leader() -> str:
    return create_user(Role.STREET_LEADER, street=STREET)


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The refusal, with a code the pages can show (it has a message in errors.yaml)."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert f"error.{code}" in MESSAGES
    return body


def _guard(http: httpx.Client, incident: int, **extra: Any) -> dict[str, Any]:
    body = {"kind": "guard", "community": community_of(STREET), "people": 1, **extra}
    made = http.post(f"/api/incidents/{incident}/tasks", json=body)
    assert made.status_code == 201, made.text
    return dict(made.json())


def _incident(http: httpx.Client) -> int:
    body = {
        "type": "rainstorm",
        "level": "IV",
        "title": "积水",
        "communities": [community_of(STREET)],
    }
    return int(http.post("/api/incidents", json=body).json()["id"])


def _written(task_id: int) -> tuple[Any, ...]:
    row = sql(
        "SELECT version, (SELECT count(*) FROM task_assignee WHERE task=$1) AS people, "
        "(SELECT count(*) FROM task_progress WHERE task=$1) AS progress FROM task WHERE id=$1",
        task_id,
    )[0]
    return (row["version"], row["people"], row["progress"])


# --- standing down with deliveries on the road ----------------------------------------------


def _on_hand(depot: str, item: str) -> int:
    return int(
        sql(
            "SELECT coalesce(sum(qty), 0) AS n FROM stock_balance WHERE depot=$1 AND item=$2",
            depot,
            item,
        )[0]["n"]
    )


def test_stand_down_over_a_delivery_in_transit_is_refused_until_cancelled(
    server: str, commander: str
) -> None:
    community = community_of(STREET)
    stock("D110101000", "QUILT", 50)
    with client(server, commander) as boss:
        incident, request, plan = planned_request(
            boss, community, "QUILT", 6, "snow_ice", "IV", "寒潮"
        )
        incident_id = incident["id"]
        assert boss.post(f"/api/incidents/{incident_id}/respond").status_code == 200
        (line,) = plan["lines"]
        before = _on_hand(line["depot"], "QUILT")
        assert boss.post(f"/api/plans/{plan['id']}/approve", json={}).status_code == 200
        assert _on_hand(line["depot"], "QUILT") == before - 6  # on the road
        (delivery,) = boss.get("/api/tasks", params={"incident": incident_id}).json()
        guard = _guard(boss, incident_id)  # open, not begun: it holds nothing up

        body = refused(
            boss.post(f"/api/incidents/{incident_id}/stand-down"), 409, "incident.open_work"
        )
        (open_work,) = body["open"]
        assert open_work["task"] == delivery["id"] and open_work["kind"] == "delivery"
        assert open_work["transfer"] == delivery["transfer"] and open_work["community_name"]
        assert f"task {delivery['id']}" in body["detail"]
        assert boss.get(f"/api/incidents/{incident_id}").json()["status"] == "responding"

        no_reason = boss.post(
            f"/api/incidents/{incident_id}/stand-down", json={"cancel_open": True}
        )
        assert refused(no_reason, 422, "incident.cancel_needs_reason")["field"] == "reason"

        done = boss.post(
            f"/api/incidents/{incident_id}/stand-down",
            json={"cancel_open": True, "reason": "雪停，撤回"},
        )
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "stood_down"
        for task in (delivery, guard):
            after = boss.get(f"/api/tasks/{task['id']}").json()
            assert after["status"] == "cancelled" and after["failed_reason"] == "雪停，撤回"
        again = boss.get(f"/api/requests/{request['id']}").json()
    assert again["status"] == "unmet" and again["planned_qty"] == 0
    assert _on_hand(line["depot"], "QUILT") == before  # the stock came back to its depot
    transfer = sql(
        "SELECT status, cancel_reason FROM stock_transfer WHERE id=$1", delivery["transfer"]
    )[0]
    assert (transfer["status"], transfer["cancel_reason"]) == ("cancelled", "雪停，撤回")
    audit = sql(
        "SELECT after FROM audit_entry WHERE action='incidents.cancel_open' AND entity_id=$1",
        str(incident_id),
    )
    assert len(audit) == 1 and "雪停，撤回" in audit[0]["after"]


def test_nothing_is_assigned_or_created_once_an_incident_is_over(
    server: str, commander: str
) -> None:
    with client(server, commander) as boss:
        incident = _incident(boss)
        guard = _guard(boss, incident)
        assert boss.post(f"/api/incidents/{incident}/respond").status_code == 200
        # an open task is not under way: standing down leaves it, but nobody goes now
        assert boss.post(f"/api/incidents/{incident}/stand-down").status_code == 200
        before = _written(guard["id"])
        late = boss.post(
            f"/api/tasks/{guard['id']}/assign",
            json={"version": guard["version"], "people": [person(STREET)]},
        )
        assert refused(late, 409, "incident.not_active")["field"] == "incident_id"
        assert _written(guard["id"]) == before
        body = {"kind": "guard", "community": community_of(STREET), "people": 1}
        made = boss.post(f"/api/incidents/{incident}/tasks", json=body)
        refused(made, 409, "incident.not_active")
        assert boss.post(f"/api/incidents/{incident}/close").status_code == 200
        closed = boss.post(
            f"/api/tasks/{guard['id']}/assign",
            json={"version": guard["version"], "people": [person(STREET)]},
        )
        refused(closed, 409, "incident.not_active")


def test_a_task_in_progress_holds_up_the_close_too(server: str, commander: str) -> None:
    with client(server, commander) as boss:
        incident = _incident(boss)
        guard = _guard(boss, incident)
        v = guard["version"]
        v = boss.post(
            f"/api/tasks/{guard['id']}/assign", json={"version": v, "people": [person(STREET)]}
        ).json()["version"]
        v = boss.post(f"/api/tasks/{guard['id']}/accept", json={"version": v}).json()["version"]
        assert boss.post(f"/api/incidents/{incident}/respond").status_code == 200
        body = refused(
            boss.post(f"/api/incidents/{incident}/stand-down"), 409, "incident.open_work"
        )
        assert [e["task"] for e in body["open"]] == [guard["id"]]
        assert body["open"][0]["status"] == "accepted" and body["open"][0]["people"]


# --- direct assignment: the rules of the suggestions --------------------------------------


def _assign(
    http: httpx.Client, task: dict[str, Any], people: list[int], **extra: Any
) -> httpx.Response:
    return http.post(
        f"/api/tasks/{task['id']}/assign",
        json={"version": task["version"], "people": people, **extra},
    )


def test_a_person_without_the_skill_is_refused_naming_them_and_the_rule(
    server: str, commander: str, leader: str
) -> None:
    with client(server, commander) as boss:
        incident = _incident(boss)
    with client(server, leader) as http:
        task = _guard(http, incident, skills=["medical"])
        untrained = person(STREET, ["driving"])
        before = _written(task["id"])
        body = refused(_assign(http, task, [untrained]), 422, "assign.skills")
        assert body["field"] == "people" and body["rule"] == "skills"
        assert body["params"]["person_id"] == untrained and body["params"]["skills"] == "medical"
        assert body["params"]["person"] == "测试队员"
        assert _written(task["id"]) == before
        medic = person(STREET, ["medical"])
        assert _assign(http, task, [medic]).status_code == 200


def test_over_the_eight_hour_day_is_refused(server: str, commander: str, leader: str) -> None:
    if sql("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::time < '07:31' AS early")[0]["early"]:
        pytest.skip("7.5 h of today have not gone by yet in Beijing")
    tired = person(STREET, ["first_aid"])
    sql(
        "INSERT INTO check_in (person_id, community, street, checked_in_at) "
        "VALUES ($1, $2, $3, now() - interval '7 hours 30 minutes')",
        tired,
        community_of(STREET),
        STREET,
    )
    with client(server, commander) as boss:
        incident = _incident(boss)
    with client(server, leader) as http:
        long_watch = _guard(http, incident, minutes=60)
        body = refused(_assign(http, long_watch, [tired]), 422, "assign.hours")
        assert body["params"]["person_id"] == tired and body["params"]["limit"] == 8.0
        assert body["params"]["hours"] >= 7.4
        short = _guard(http, incident, minutes=20)  # 7.5 h + 20 min is within the day
        assert _assign(http, short, [tired]).status_code == 200


def test_one_task_at_a_time_unless_the_task_allows_it(
    server: str, commander: str, leader: str
) -> None:
    with client(server, commander) as boss:
        incident = _incident(boss)
    busy = person(STREET)
    with client(server, leader) as http:
        first = _guard(http, incident)
        assert _assign(http, first, [busy]).status_code == 200
        second = _guard(http, incident)
        before = _written(second["id"])
        body = refused(_assign(http, second, [busy]), 409, "assign.one_task")
        assert body["params"]["tasks"] == str(first["id"])
        assert _written(second["id"]) == before
        watch = _guard(http, incident, concurrent=True)
        assert _assign(http, watch, [busy]).status_code == 200
        offered = http.get(
            f"/api/tasks/{second['id']}/suggestions", params={"on_duty_only": "false"}
        ).json()
        assert busy not in {s["person_id"] for s in offered["suggestions"]}


def test_one_person_is_never_put_on_two_tasks_at_once(
    server: str, commander: str, leader: str
) -> None:
    with client(server, commander) as boss:
        incident = _incident(boss)
        tasks = [_guard(boss, incident) for _ in range(4)]
    wanted = person(STREET)
    tablets = [client(server, leader) for _ in tasks]
    try:
        with ThreadPoolExecutor(len(tasks)) as pool:
            answers = list(
                pool.map(lambda p: _assign(p[0], p[1], [wanted]), zip(tablets, tasks, strict=True))
            )
    finally:
        for tablet in tablets:
            tablet.close()
    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409]
    on = sql("SELECT task FROM task_assignee WHERE person=$1", wanted)
    assert len(on) == 1


def test_scope_of_the_task_and_of_the_assigner(server: str, commander: str, leader: str) -> None:
    stranger = person(OTHER_STREET)
    with client(server, commander) as boss:
        incident = _incident(boss)
        task = _guard(boss, incident)
        body = refused(_assign(boss, task, [stranger]), 422, "assign.scope")
        assert body["params"]["person_id"] == stranger
    with client(server, leader) as http:
        before = _written(task["id"])
        body = refused(_assign(http, task, [stranger]), 403, "forbidden.person_out_of_scope")
        assert body["params"]["person_id"] == stranger
        # a street leader cannot override either
        overriding = _assign(http, task, [stranger], override_reason="short of hands")
        refused(overriding, 403, "forbidden.person_out_of_scope")
        busy = person(STREET)
        assert _assign(http, _guard(http, incident), [busy]).status_code == 200
        refused(_assign(http, task, [busy], override_reason="needed"), 403, "forbidden.override")
        assert _written(task["id"]) == before


def test_a_commander_overrides_with_a_reason_and_it_is_audited(server: str, commander: str) -> None:
    stranger = person(OTHER_STREET, ["driving"])
    with client(server, commander) as boss:
        task = _guard(boss, _incident(boss), skills=["medical"])
        done = _assign(boss, task, [stranger], override_reason="邻街医生支援")
        assert done.status_code == 200, done.text
        assert done.json()["assignees"] == [stranger]
    (row,) = sql(
        "SELECT actor, after FROM audit_entry WHERE action='tasks.assign_override' "
        "AND entity_id=$1",
        str(task["id"]),
    )
    assert row["actor"] == commander
    assert "邻街医生支援" in row["after"]
    assert '"skills"' in row["after"] and '"scope"' in row["after"]
