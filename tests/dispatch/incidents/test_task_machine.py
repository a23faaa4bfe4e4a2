"""Two tablets work one task through the real API, with stale versions and resent requests:
no illegal transition is ever accepted and no update is lost."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from dispatch.accounts.policy import Role
from dispatch.incidents.service import TRANSITIONS
from tests.dispatch.incidents.helpers import community_of, incident, person, task
from tests.support import client, create_user, sql

ACTIONS = ["assign", "accept", "start", "complete", "fail", "cancel", "note"]
STREET = "110101009"
PATHS = {action: action for action in ACTIONS} | {"note": "notes"}


def _body(action: str, version: int, worker: int) -> dict[str, Any]:
    body: dict[str, Any] = {"version": version}
    if action == "assign":
        body["people"] = [worker]
    elif action in ("fail", "cancel"):
        body["reason"] = "test"
    elif action == "note":
        body["note"] = "test"
    return body


@pytest.mark.e2e
def test_task_state_machine_from_two_tablets(server: str) -> None:
    commander = create_user(Role.COMMANDER)
    leader = create_user(Role.STREET_LEADER, street=STREET)
    community = community_of(STREET)
    tablets = [client(server, commander), client(server, leader)]

    class Tablets(RuleBasedStateMachine):
        @initialize()
        def new_task(self) -> None:
            made = task(incident([community], level="IV", kind="fire"), community)
            self.task_id = made["id"]
            # a person of their own: one task at a time, and an earlier task may still hold one
            self.worker = person(STREET)
            self.version = 1
            self.status = "open"
            self.changes = 1  # "created"
            self.seen = [1, 1]
            self.sent: list[tuple[int, str, str, dict[str, Any], httpx.Response]] = []

        @rule(
            who=st.integers(0, 1),
            action=st.sampled_from(ACTIONS),
            stale=st.booleans(),
            keyed=st.booleans(),
        )
        def act(self, who: int, action: str, stale: bool, keyed: bool) -> None:
            version = self.seen[who] if stale else self.version
            body = _body(action, version, self.worker)
            headers = {"Idempotency-Key": uuid.uuid4().hex} if keyed else {}
            response = tablets[who].post(
                f"/api/tasks/{self.task_id}/{PATHS[action]}", json=body, headers=headers
            )
            allowed, target = TRANSITIONS[action]
            if version != self.version:
                assert response.status_code == 412, response.text
                self.seen[who] = response.json()["current_version"]
            elif self.status not in allowed:
                assert response.status_code == 409, response.text
            else:
                assert response.status_code == 200, response.text
                self.version += 1
                self.changes += 1
                self.status = target.value if target is not None else self.status
                assert response.json()["version"] == self.version
                self.seen[who] = self.version
            if keyed:
                self.sent.append((who, action, headers["Idempotency-Key"], body, response))

        @rule(pick=st.integers(0, 1000))
        def resend(self, pick: int) -> None:
            """A tablet that never heard the answer sends the same request again."""
            if not self.sent:
                return
            who, action, key, body, first = self.sent[pick % len(self.sent)]
            again = tablets[who].post(
                f"/api/tasks/{self.task_id}/{PATHS[action]}",
                json=body,
                headers={"Idempotency-Key": key},
            )
            assert again.status_code == first.status_code
            assert again.json() == first.json()

        @invariant()
        def server_agrees(self) -> None:
            row = sql("SELECT status, version FROM task WHERE id=$1", self.task_id)[0]
            assert (row["status"], row["version"]) == (self.status, self.version)
            history = sql(
                "SELECT event, from_status, to_status FROM task_progress WHERE task=$1 ORDER BY id",
                self.task_id,
            )
            assert len(history) == self.changes  # no update lost, none applied twice
            for step in history[1:]:
                allowed, target = TRANSITIONS[step["event"]]
                assert step["from_status"] in allowed
                expected = target.value if target is not None else step["from_status"]
                assert step["to_status"] == expected

    try:
        run_machine = Tablets.TestCase
        run_machine.settings = settings(
            max_examples=10,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        run_machine().runTest()
    finally:
        for tablet in tablets:
            tablet.close()
