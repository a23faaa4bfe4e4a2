"""Who may act on a task, through the real API: every task action for every role.

The people assigned act on their task (accept, start, complete, fail, notes); so do the
task's street leader and the commander; a volunteer or community worker acts only on a
task assigned to them, and only assigners assign. A refusal writes nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from dispatch.accounts.policy import Role
from dispatch.accounts.schemas import UserCreate
from dispatch.incidents.schemas import TaskAssign, TaskStep
from dispatch.incidents.service import assign_task, step_task
from tests.dispatch.incidents.helpers import community_of, incident, person, task
from tests.support import PASSWORD, client, create_user, run, sql, system_context

STREET = "110101015"
OTHER_STREET = "110101016"

# the state a task is brought to before each action is tried, and the action's body
BEFORE = {
    "assign": [],
    "accept": ["assign"],
    "start": ["assign", "accept"],
    "complete": ["assign", "accept", "start"],
    "fail": ["assign", "accept"],
    "notes": ["assign"],
}
WORK = ("accept", "start", "complete", "fail", "notes")
ROLES = (
    "commander",
    "leader_own_street",
    "leader_other_street",
    "community_worker",
    "volunteer_assigned",
    "volunteer_not_assigned",
)
ALLOWED = {
    "commander": set(BEFORE),
    "leader_own_street": set(BEFORE),
    "leader_other_street": set(),
    "community_worker": set(),  # of the task's own community, but not assigned to it
    "volunteer_assigned": set(WORK),
    "volunteer_not_assigned": set(),
}
RULE = {  # the code a refusal names
    "leader_other_street": "forbidden.scope",
    "community_worker": "forbidden.not_assignee",
    "volunteer_not_assigned": "forbidden.not_assignee",
}


def linked_user(role: Role, person_id: int, community: str) -> str:
    """A field user who is the person `person_id`."""
    from dispatch.accounts.service import create_user as create

    username = f"{role.value}_{uuid.uuid4().hex[:8]}"
    body = UserCreate(
        username=username, password=PASSWORD, role=role, community=community, person=person_id
    )
    run(create(system_context(), body))
    return username


@pytest.fixture(scope="module")
def users() -> dict[str, str]:
    community = community_of(STREET)
    return {
        "commander": create_user(Role.COMMANDER),
        "leader_own_street": create_user(Role.STREET_LEADER, street=STREET),
        "leader_other_street": create_user(Role.STREET_LEADER, street=OTHER_STREET),
        "community_worker": linked_user(Role.COMMUNITY_WORKER, person(STREET), community),
        "volunteer_not_assigned": linked_user(Role.VOLUNTEER, person(STREET), community),
    }


def _prepared(steps: list[str]) -> tuple[dict[str, Any], int]:
    """A new guard task brought through `steps` (by the system), and the person on it."""
    community = community_of(STREET)
    made = task(incident([community], level="IV", kind="fire"), community)
    worker = person(STREET)
    version = made["version"]
    for step in steps:
        if step == "assign":
            body = TaskAssign(version=version, people=[worker])
            version = run(assign_task(system_context(), made["id"], body)).version
        else:
            version = run(step_task(system_context(), made["id"], step, TaskStep(version))).version
    return {"id": made["id"], "version": version}, worker


def _body(action: str, version: int) -> dict[str, Any]:
    body: dict[str, Any] = {"version": version}
    if action == "assign":
        body["people"] = [person(STREET)]
    elif action == "fail":
        body["reason"] = "lane flooded"
    elif action == "notes":
        body["note"] = "at the east gate"
    return body


def _written(task_id: int) -> dict[str, Any]:
    """Everything an action on the task would write."""
    row = sql("SELECT status, version, note FROM task WHERE id=$1", task_id)[0]
    counts = sql(
        """
        SELECT (SELECT count(*) FROM task_progress WHERE task=$1) AS progress,
               (SELECT count(*) FROM audit_entry WHERE entity='task' AND entity_id=$1::text)
                   AS audit,
               (SELECT array_agg(person ORDER BY person) FROM task_assignee WHERE task=$1)
                   AS people
        """,
        task_id,
    )[0]
    return {**row, **counts}


@pytest.mark.parametrize("action", list(BEFORE))
@pytest.mark.parametrize("role", ROLES)
def test_who_may_act_on_a_task(server: str, users: dict[str, str], role: str, action: str) -> None:
    made, worker = _prepared(BEFORE[action])
    if role == "volunteer_assigned":
        user = linked_user(Role.VOLUNTEER, worker, community_of(STREET))
    else:
        user = users[role]
    before = _written(made["id"])
    with client(server, user) as http:
        response = http.post(
            f"/api/tasks/{made['id']}/{action}", json=_body(action, made["version"])
        )
    if action in ALLOWED[role]:
        assert response.status_code == 200, response.text
        assert response.json()["version"] == made["version"] + 1
        return
    assert response.status_code == 403, response.text
    if role in RULE and action != "assign":
        assert response.json()["code"] == RULE[role], response.text
    assert _written(made["id"]) == before  # nothing of the refused action was written


def test_the_person_assigned_reports_where_they_are_and_no_one_else_of_the_community(
    server: str, users: dict[str, str]
) -> None:
    made, worker = _prepared(["assign", "accept", "start"])
    volunteer = linked_user(Role.VOLUNTEER, worker, community_of(STREET))
    fix = {"lat": 39.93, "lon": 116.41}
    with client(server, users["volunteer_not_assigned"]) as http:
        refused = http.post(f"/api/tasks/{made['id']}/positions", json=fix)
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden.not_assignee"
    with client(server, volunteer) as http:
        # the task has no route, so any fix within reason is taken
        assert http.post(f"/api/tasks/{made['id']}/positions", json=fix).status_code == 201
    assert len(sql("SELECT 1 FROM task_position WHERE task=$1", made["id"])) == 1


def test_a_user_names_a_person_who_exists_and_has_no_other_account(server: str) -> None:
    commander = create_user(Role.COMMANDER)
    someone = person(STREET)
    body = {
        "username": f"v_{uuid.uuid4().hex[:8]}",
        "password": PASSWORD,
        "role": "volunteer",
        "community": community_of(STREET),
    }
    with client(server, commander) as http:
        unknown = http.post("/api/users", json={**body, "person": 2_000_000_000})
        assert unknown.status_code == 422 and unknown.json()["field"] == "person"
        made = http.post("/api/users", json={**body, "person": someone})
        assert made.status_code == 201 and made.json()["person_id"] == someone
        again = {**body, "username": body["username"] + "x", "person": someone}
        taken = http.post("/api/users", json=again)
        assert taken.status_code == 409 and taken.json()["field"] == "person"
